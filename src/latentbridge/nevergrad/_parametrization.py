"""The latent parametrization: an ``ng.p.Array`` over flattened solutions, centred on the prior."""

from __future__ import annotations

from typing import Any

import nevergrad as ng
import numpy as np
from numpy.typing import NDArray

from .._problems import LatentProblem
from .._validation import check_positive_int
from ..errors import InputError
from . import _light as light

__all__ = ["check_problem", "parametrization"]

Array = NDArray[np.float64]


def check_problem(problem: Any) -> None:
    """Refuse anything but a :class:`~latentbridge.LatentProblem`."""
    if not isinstance(problem, LatentProblem):
        raise InputError(f"problem must be a latentbridge.LatentProblem, got {type(problem).__name__}")


def parametrization(
    problem: LatentProblem,
    *,
    bounded: bool = False,
    width: float = 4.0,
    seed: int | None = None,
    _lean: bool = False,
) -> Any:
    """An ``ng.p.Array`` of shape ``(problem.dim,)`` centred on the latent prior.

    The array holds one *flattened* solution (for set problems the ``k`` latents of a
    set one after the other, ``k * latent.dim`` floats), which is what nevergrad's
    optimizers work on. Its ``init`` is the prior mean (tiled ``k`` times) and its
    mutation ``sigma`` the prior standard deviation (a scalar when it is the same for
    every coordinate, the lighter option, else a ``(dim,)`` array), so nevergrad's
    standardized space is the prior whitened: ``CMA``, ``DE``... start from the prior,
    and ``parametrization(...).sample()`` draws from it (untruncated, even when the
    latent space has a truncation).

    Args:
        problem: The problem.
        bounded: Add box bounds ``problem.bounds(width)`` (prior mean ± ``width`` std, or
            the truncation box). Off by default: the Gaussian prior is unbounded, and
            bounds make nevergrad switch some algorithms to bounded variants and add a
            transform to every candidate.
        width: Half-width of the box in prior standard deviations (``bounded`` only).
        seed: Seed of the parametrization's ``random_state`` (a legacy
            ``numpy.random.RandomState``), which every nevergrad optimizer draws from.

    Returns:
        A (not yet frozen) ``nevergrad.p.Array`` named ``"Latent(k=..,d=..)"``.
    """
    check_problem(problem)
    mean = np.tile(problem.latent.mean, problem.k)
    std = np.tile(problem.latent.std, problem.k)
    param = light.lean_array(mean) if _lean else ng.p.Array(init=mean)
    sigma: float | Array = float(std[0]) if np.all(std == std[0]) else std
    param.set_mutation(sigma=sigma)
    if bounded:
        lo, hi = problem.bounds(width)
        param.set_bounds(lo, hi, full_range_sampling=False)
    param.set_name(f"Latent(k={problem.k},d={problem.latent.dim}{',bounded' if bounded else ''})")
    if seed is not None:
        param.random_state = np.random.RandomState(check_positive_int(seed, "seed", minimum=0))
    if _lean:
        light.fix_subobjects(param)  # the sigma constant and bounds added above
    return param
