"""Small helpers shared by the pymoo adapter's modules."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def as_rng(random_state: Any) -> np.random.Generator:
    """The ``numpy.random.Generator`` pymoo passes as ``random_state`` (or one seeded from it)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def stack(pop: Any, attr: str) -> Array:
    """``(len(pop), ·)`` float array of one attribute of every individual (no pymoo ``get`` loop)."""
    return np.asarray(np.stack([getattr(ind, attr) for ind in np.ravel(pop)]), dtype=np.float64)


def repair_to_bounds(problem: Any, X: NDArray[Any]) -> NDArray[Any]:
    """Clip floating-point solutions ``X`` to the box of a pymoo ``problem`` that has one.

    A latentbridge problem's box is only a search hint (its latent space is unbounded, see
    :class:`~latentbridge.pymoo.PymooProblem`, ``soft_bounds = True``), so its solutions
    are left alone; so are integer and boolean solutions.
    """
    if getattr(problem, "soft_bounds", False) or not np.issubdtype(X.dtype, np.floating):
        return X
    has_bounds = getattr(problem, "has_bounds", None)
    if not callable(has_bounds) or not has_bounds():
        return X
    xl, xu = problem.bounds()
    lo = np.where(np.isnan(xl), -np.inf, np.asarray(xl, dtype=np.float64))
    hi = np.where(np.isnan(xu), np.inf, np.asarray(xu, dtype=np.float64))
    out: NDArray[Any] = np.clip(X, lo, hi)
    return out
