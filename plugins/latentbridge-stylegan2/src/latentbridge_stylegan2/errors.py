"""Exceptions of the StyleGAN2 plugin (they extend :mod:`latentbridge.errors`)."""

from __future__ import annotations

from latentbridge.errors import UnsafeFileError, UnsafePickleError, WeightsError

__all__ = ["SnapshotLayoutError", "SnapshotLimitError", "UnsafePickleError"]


class SnapshotLayoutError(WeightsError):
    """A weights file was read safely but does not hold the StyleGAN2 generator layout expected."""


class SnapshotLimitError(SnapshotLayoutError, UnsafeFileError):
    """A snapshot or state dict declares something out of bounds (a network size, a nesting, a count).

    The message names the field (e.g. ``G_ema._init_kwargs.mapping_kwargs.num_layers``) and the
    accepted range; nothing was allocated for it.
    """
