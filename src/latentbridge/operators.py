"""Variation and selection kernels of the seeds' GAs, vectorised over the whole population.

These are pure numpy functions: every random number comes from the explicit
``rng: numpy.random.Generator`` argument, inputs are never modified, and shapes are
``(n, d)`` for populations. :mod:`latentbridge.pymoo` wraps them as pymoo operators and
:mod:`latentbridge.nevergrad` builds optimizers from them.

- :func:`blx_alpha` — blend crossover BLX-α (Eshelman & Schaffer 1993; seed 000).
- :func:`uniform_crossover` — gene-wise swap with probability ``prob`` (seed 002).
- :func:`gaussian_mutation` — add ``N(mu, sigma²)`` to each gene with probability ``prob`` (seed 000).
- :func:`creep_mutation` — add ``U(-step, step)`` to each gene with probability ``prob`` (seed 002).
- :func:`tournament` — indices of tournament winners of size ``k`` (seed 000: ``k = 3``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InputError

__all__ = [
    "blx_alpha",
    "check_probability",
    "creep_mutation",
    "gaussian_mutation",
    "tournament",
    "uniform_crossover",
]

Array = NDArray[np.float64]


def check_probability(value: float, name: str) -> float:
    """``value`` as a float in [0, 1], or an :class:`InputError` naming ``name``."""
    v = float(value)
    if not (0.0 <= v <= 1.0):
        raise InputError(f"{name} must be a probability in [0, 1], got {value!r}")
    return v


def _pair(p1: NDArray[Any], p2: NDArray[Any], *, keep_dtype: bool = False) -> tuple[NDArray[Any], NDArray[Any]]:
    a, b = np.asarray(p1), np.asarray(p2)
    if not (keep_dtype and a.dtype == b.dtype):
        a, b = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
    if a.shape != b.shape or a.ndim != 2:
        raise InputError(f"parents must be two arrays of the same shape (m, d), got {a.shape} and {b.shape}")
    return a, b


def blx_alpha(
    p1: NDArray[np.floating],
    p2: NDArray[np.floating],
    *,
    alpha: float = 0.2,
    prob: float = 1.0,
    rng: np.random.Generator,
) -> tuple[Array, Array]:
    """BLX-α: each child gene is uniform on ``[lo - α·I, hi + α·I]`` with ``I = hi - lo``.

    Args:
        p1: First parents ``(m, d)``.
        p2: Second parents ``(m, d)``.
        alpha: Extension of the parents' interval on each side, ``>= 0``.
        prob: Probability that a pair is recombined at all; pairs that are not are
            copied unchanged.
        rng: Source of randomness.

    Returns:
        Two arrays of children ``(m, d)``.
    """
    if not (alpha >= 0):
        raise InputError(f"alpha must be >= 0, got {alpha!r}")
    prob = check_probability(prob, "prob")
    a, b = _pair(p1, p2)
    lo = np.minimum(a, b)
    span = np.abs(a - b)
    low = lo - alpha * span
    width = span * (1.0 + 2.0 * alpha)
    u = rng.random((2, *a.shape))
    c1 = low + u[0] * width
    c2 = low + u[1] * width
    if prob < 1.0:
        keep = rng.random(a.shape[0]) >= prob
        c1[keep] = a[keep]
        c2[keep] = b[keep]
    return c1, c2


def uniform_crossover(
    p1: NDArray[Any],
    p2: NDArray[Any],
    *,
    swap: float = 0.5,
    prob: float = 1.0,
    rng: np.random.Generator,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Uniform crossover: swap each gene between the two parents with probability ``swap``.

    Genes are only exchanged, never computed, so children keep the parents' dtype
    (float, int or bool) when both parents share it; mixed dtypes give float64.

    Args:
        p1: First parents ``(m, d)``.
        p2: Second parents ``(m, d)``.
        swap: Per-gene swap probability.
        prob: Probability that a pair is recombined at all.
        rng: Source of randomness.

    Returns:
        Two arrays of children ``(m, d)``.
    """
    swap = check_probability(swap, "swap")
    prob = check_probability(prob, "prob")
    a, b = _pair(p1, p2, keep_dtype=True)
    mask: NDArray[np.bool_] = rng.random(a.shape) < swap
    if prob < 1.0:
        pair_hit: NDArray[np.bool_] = np.asarray(rng.random(a.shape[0]) < prob)
        mask &= pair_hit[:, None]
    c1 = np.where(mask, b, a)
    c2 = np.where(mask, a, b)
    return c1, c2


def gaussian_mutation(
    X: NDArray[np.floating],
    *,
    mu: float = 0.0,
    sigma: float = 1.0,
    prob: float = 0.001,
    rng: np.random.Generator,
) -> Array:
    """Add ``N(mu, sigma²)`` noise to each gene independently with probability ``prob``.

    Args:
        X: Population ``(n, d)``; not modified.
        mu: Noise mean.
        sigma: Noise standard deviation, ``>= 0``.
        prob: Per-gene mutation probability (seed 000: 0.001).
        rng: Source of randomness.

    Returns:
        The mutated copy ``(n, d)``.
    """
    if not (sigma >= 0):
        raise InputError(f"sigma must be >= 0, got {sigma!r}")
    prob = check_probability(prob, "prob")
    out = np.array(X, dtype=np.float64, copy=True)
    if out.ndim != 2:
        raise InputError(f"X must have shape (n, d), got {out.shape}")
    if prob == 0.0 or out.size == 0:
        return out
    if prob < 0.05:  # sparse: draw only the mutated positions (seed 000 mutates 0.1% of genes)
        hit = np.flatnonzero(rng.random(out.size) < prob)
        flat = out.reshape(-1)
        flat[hit] += mu + sigma * rng.standard_normal(hit.size)
        return out
    mask = rng.random(out.shape) < prob
    out += np.where(mask, mu + sigma * rng.standard_normal(out.shape), 0.0)
    return out


def creep_mutation(
    X: NDArray[np.floating],
    *,
    step: float = 0.1,
    prob: float = 0.1,
    rng: np.random.Generator,
) -> Array:
    """Creep mutation: add ``U(-step, step)`` to each gene independently with probability ``prob``.

    Args:
        X: Population ``(n, d)``; not modified.
        step: Half-width of the uniform creep, ``>= 0``.
        prob: Per-gene mutation probability.
        rng: Source of randomness.

    Returns:
        The mutated copy ``(n, d)``.
    """
    if not (step >= 0):
        raise InputError(f"step must be >= 0, got {step!r}")
    prob = check_probability(prob, "prob")
    out = np.array(X, dtype=np.float64, copy=True)
    if out.ndim != 2:
        raise InputError(f"X must have shape (n, d), got {out.shape}")
    mask = rng.random(out.shape) < prob
    out += np.where(mask, rng.uniform(-step, step, out.shape), 0.0)
    return out


def tournament(
    fitness: NDArray[np.floating],
    n_select: int,
    *,
    k: int = 3,
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Indices of ``n_select`` tournament winners (lowest fitness wins), drawn with replacement.

    Args:
        fitness: ``(n,)`` fitness, lower is better (NaN loses every tournament).
        n_select: How many winners to return.
        k: Tournament size, ``1 <= k``; contenders are drawn with replacement.
        rng: Source of randomness.

    Returns:
        ``(n_select,)`` int64 indices into ``fitness``.
    """
    f = np.asarray(fitness, dtype=np.float64)
    if f.ndim != 1 or f.size == 0:
        raise InputError(f"fitness must be a non-empty 1-d array, got shape {f.shape}")
    if int(k) < 1:
        raise InputError(f"tournament size k must be >= 1, got {k}")
    f = np.where(np.isnan(f), np.inf, f)
    contenders = rng.integers(0, f.size, size=(int(n_select), int(k)))
    winners = np.argmin(f[contenders], axis=1)
    out: NDArray[np.int64] = contenders[np.arange(int(n_select)), winners].astype(np.int64)
    return out
