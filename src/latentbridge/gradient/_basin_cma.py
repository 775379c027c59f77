"""``basin-cma``: CMA-ES proposals refined by a few Adam steps each, in the style of pix2latent's BasinCMA."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import missing_extra
from ._adam import adam_chains
from ._run import GradientRun

__all__ = ["basin_cma", "default_popsize"]

#: Above this many dimensions the covariance is diagonal (sep-CMA-ES) unless ``diagonal`` says otherwise:
#: a full covariance of StyleGAN2's w+ (thousands of dimensions) costs O(d²) memory and O(d³) per update.
DIAGONAL_ABOVE = 1000


def default_popsize(dim: int) -> int:
    """CMA-ES's default population ``4 + ⌊3 ln d⌋``."""
    return 4 + int(3 * math.log(dim))


@contextlib.contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    """``cma`` draws from numpy's global generator: seed it for the run and restore the caller's state after."""
    state = np.random.get_state()  # noqa: NPY002 - cma's generator is numpy's global one
    np.random.seed(seed % 2**32)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def basin_cma(
    run: GradientRun,
    *,
    popsize: int | None = None,
    sigma0: float = 1.0,
    grad_steps: int = 10,
    lr: float = 0.05,
    betas: tuple[float, float] = (0.9, 0.999),
    lamarckian: bool = False,
    diagonal: bool | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """BasinCMA: each CMA-ES generation's proposals start ``grad_steps`` Adam steps; CMA learns from the results.

    Every generation asks CMA-ES (``cma``, in the prior-normalised coordinates, started at
    the prior mean with step size ``sigma0``) for ``popsize`` proposals, refines them all
    together (one batched gradient evaluation per Adam step, constant learning rate ``lr``)
    and tells CMA-ES the best fitness each refinement reached: at the *proposals* (as
    pix2latent's ``cma_update`` does: the distribution learns where good basins start), or
    at the refined points with ``lamarckian=True``. When a whole generation no longer
    fits the budget, what is left refines the best solution found with Adam.

    Returns:
        ``{"generations": ..., "diagonal": ...}`` for the result's ``extra``.
    """
    try:
        import cma
    except ImportError as exc:  # pragma: no cover - cma comes with the nevergrad extra
        raise missing_extra("cma", "nevergrad", exc) from exc
    dim = run.dim
    lam = default_popsize(dim) if popsize is None else popsize
    diag = dim > DIAGONAL_ABOVE if diagonal is None else diagonal
    generations = 0
    with _numpy_global_seed(seed):
        opts = {
            "popsize": lam,
            "seed": seed % 2**32 or 1,
            "verbose": -9,
            "CMA_diagonal": diag,
            # cumulative step-size adaptation: cma's default for diagonal CMA (two-point adaptation) injects
            # points whose raw fitness it compares, which refinement replaces by the basin's fitness
            "AdaptSigma": cma.sigma_adaptation.CMAAdaptSigmaCSA,
        }
        es = cma.CMAEvolutionStrategy(np.zeros(dim), sigma0, opts)
        while run.affordable() >= lam * grad_steps:
            proposals = np.asarray(es.ask(), dtype=np.float64)
            refined, fitness = adam_chains(run, proposals, grad_steps, lr=lr, betas=betas)
            told = np.where(np.isfinite(fitness), fitness, np.finfo(np.float64).max / 1e10)
            if lamarckian:  # points CMA did not sample: cma repairs their length and warns it sees "injections"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", cma.evolution_strategy.InjectionWarning)
                    es.tell(list(refined), told.tolist(), check_points=True)
            else:
                es.tell(list(proposals), told.tolist())
            generations += 1
    left = run.affordable()
    best = run.best_u()
    if left > 0:
        start = (best if best is not None else np.zeros(dim))[None, :]
        adam_chains(run, start, left, lr=lr, betas=betas)
    return {"generations": generations, "diagonal": diag, "popsize": lam}
