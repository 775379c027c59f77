"""The description of a generator's latent space: shape, Gaussian prior, truncation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InputError

__all__ = ["LatentSpace"]


def _as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A Generator from an int seed, a Generator, or None (fresh OS entropy, as numpy does)."""
    if isinstance(seed, np.random.Generator):
        return seed
    from ._validation import check_seed

    return np.random.default_rng(check_seed(seed, allow_none=True))


@dataclass(frozen=True)
class LatentSpace:
    """A latent space with an axis-aligned Gaussian prior.

    A latent vector has shape ``shape`` (``(512,)`` for StyleGAN2's z, ``(14, 512)`` for
    w+) and is flattened to ``dim = prod(shape)`` floats for optimizers. Its prior is
    ``N(loc, scale²)`` per coordinate; ``loc`` / ``scale`` are scalars or arrays of
    ``shape`` (e.g. the mapping network's statistics for StyleGAN2's w space).

    Args:
        shape: Shape of one latent, without the batch axis.
        loc: Prior mean: a scalar or an array broadcastable to ``shape``.
        scale: Prior standard deviation (> 0), scalar or broadcastable to ``shape``.
        truncation: If set, :meth:`sample` draws from the prior truncated to
            ``|z - loc| <= truncation * scale`` (the "truncation trick" on inputs).
        name: Short label (``"z"``, ``"w"``, ``"w+"``) recorded in configs.
    """

    shape: tuple[int, ...]
    loc: float | NDArray[np.float64] = 0.0
    scale: float | NDArray[np.float64] = 1.0
    truncation: float | None = None
    name: str = "z"
    _loc_flat: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _scale_flat: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in (self.shape if isinstance(self.shape, Sequence) else (self.shape,)))
        if not shape or any(s < 1 for s in shape):
            raise InputError(f"LatentSpace.shape must be a non-empty tuple of positive ints, got {self.shape!r}")
        object.__setattr__(self, "shape", shape)
        try:
            loc = np.broadcast_to(np.asarray(self.loc, dtype=np.float64), shape)
            scale = np.broadcast_to(np.asarray(self.scale, dtype=np.float64), shape)
        except ValueError as exc:
            raise InputError(
                f"LatentSpace loc/scale must broadcast to shape {shape}; got loc shape "
                f"{np.shape(self.loc)} and scale shape {np.shape(self.scale)}"
            ) from exc
        if not np.all(np.isfinite(loc)) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise InputError("LatentSpace loc must be finite and scale finite and > 0")
        if self.truncation is not None and not (self.truncation > 0):
            raise InputError(f"LatentSpace.truncation must be > 0 or None, got {self.truncation!r}")
        object.__setattr__(self, "_loc_flat", np.ascontiguousarray(loc.reshape(-1)))
        object.__setattr__(self, "_scale_flat", np.ascontiguousarray(scale.reshape(-1)))

    @property
    def dim(self) -> int:
        """Number of floats in one flattened latent (``prod(shape)``)."""
        return math.prod(self.shape)

    @property
    def mean(self) -> NDArray[np.float64]:
        """Prior mean, flattened to ``(dim,)``."""
        return self._loc_flat

    @property
    def std(self) -> NDArray[np.float64]:
        """Prior standard deviation, flattened to ``(dim,)``."""
        return self._scale_flat

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> NDArray[np.float64]:
        """Draw ``n`` latents from the (optionally truncated) prior.

        Args:
            n: Number of latents.
            seed: An int seed, a ``numpy.random.Generator`` or None (fresh OS entropy:
                not reproducible). Floats and strings are refused.

        Returns:
            Array of shape ``(n, dim)``, dtype float64.
        """
        if n < 0:
            raise InputError(f"n must be >= 0, got {n}")
        rng = _as_rng(seed)
        if self.truncation is None:
            eps = rng.standard_normal((n, self.dim))
        else:
            from scipy.stats import truncnorm

            t = float(self.truncation)
            eps = truncnorm.rvs(-t, t, size=(n, self.dim), random_state=rng)
        out: NDArray[np.float64] = self._loc_flat + self._scale_flat * eps
        return out

    def bounds(self, width: float = 4.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Box bounds for algorithms that need them: ``loc ± width * scale``.

        The default ``width=4`` holds 99.994% of each coordinate's prior mass; with
        truncation the box is ``loc ± truncation * scale`` instead.
        """
        w = float(self.truncation) if self.truncation is not None else float(width)
        return self._loc_flat - w * self._scale_flat, self._loc_flat + w * self._scale_flat

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description (arrays summarised by their mean)."""

        def _summ(v: float | NDArray[np.float64]) -> float | str:
            a = np.asarray(v)
            return float(a) if a.ndim == 0 else f"array{list(a.shape)}(mean={float(a.mean()):.6g})"

        return {
            "name": self.name,
            "shape": list(self.shape),
            "loc": _summ(self.loc),
            "scale": _summ(self.scale),
            "truncation": self.truncation,
        }
