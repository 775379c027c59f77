"""Exceptions of the StyleGAN2 plugin (they extend :mod:`latentbridge.errors`)."""

from __future__ import annotations

import pickle

from latentbridge.errors import LatentBridgeError, WeightsError

__all__ = ["SnapshotLayoutError", "UnsafePickleError"]


class UnsafePickleError(LatentBridgeError, pickle.UnpicklingError):
    """A pickle asked for a global or an opcode outside the allow-list; nothing was executed."""


class SnapshotLayoutError(WeightsError):
    """A weights file was read safely but does not hold the StyleGAN2 generator layout expected."""
