"""Seed 002's baselines: random search and MAP-Elites (via pyribs) on latentbridge problems.

- :func:`random_search` — sample batches from the latent prior, keep the best (numpy only).
- :func:`map_elites` — MAP-Elites with seed 002's variation (two random elites, uniform
  crossover, creep mutation) on a pyribs ``GridArchive`` (``pip install
  'latentbridge[qd]'``; pyribs is imported only when this function runs).
- :func:`image_descriptors` — the default MAP-Elites descriptors, computed from the images
  of the same batched forward as the fitness.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from . import operators as ops
from ._problems import LatentProblem
from ._result import OptimizeResult
from ._tracking import Tracker
from ._validation import check_positive_int, check_seed
from .errors import InputError, missing_extra

__all__ = ["image_descriptors", "map_elites", "random_search"]

Array = NDArray[np.float64]
#: Maps a chunk of images ``(m, k, C, H, W)`` to descriptors ``(m, n_desc)``.
DescriptorFn = Callable[[torch.Tensor], "torch.Tensor | NDArray[np.floating]"]


def _check_problem(problem: Any, who: str) -> LatentProblem:
    if not isinstance(problem, LatentProblem):
        raise InputError(f"{who} needs a latentbridge.LatentProblem, got {type(problem).__name__}")
    if problem.n_obj != 1:
        raise InputError(
            f"{who} is single-objective but the problem has n_obj={problem.n_obj}; use "
            "latentbridge.pymoo.solve(problem, 'random' or 'NSGA2', ...) for multi-objective problems"
        )
    return problem


def random_search(problem: LatentProblem, budget: int, seed: int, *, batch: int = 100) -> OptimizeResult:
    """Seed 002's random sampling (RS), batched: draw from the latent prior, keep the best.

    The seed draws one random individual per step and keeps the better of it and the
    incumbent; drawing ``batch`` per step and evaluating them in one forward is the same
    search (the incumbent after ``n`` draws is the best of ``n`` prior samples).

    Args:
        problem: A single-objective latentbridge problem.
        budget: Number of evaluations (exactly this many are made).
        seed: Seed of the sampler.
        batch: Solutions per batched evaluation.

    Returns:
        An :class:`~latentbridge.OptimizeResult` (``optimizer="random"``) with the best
        solution and a best-so-far trace after each batch.
    """
    problem = _check_problem(problem, "random_search")
    budget = check_positive_int(budget, "budget")
    batch = check_positive_int(batch, "batch")
    rng = np.random.default_rng(check_seed(seed))
    tracker = Tracker(1, budget=budget)
    start = time.perf_counter()
    with problem.observe(tracker):
        for n in _batches(budget, batch):
            problem.evaluate(problem.sample(n, rng))
    return tracker.result("random", params={"batch": batch}, seed=seed, wall_time=time.perf_counter() - start)


def _batches(budget: int, batch: int) -> list[int]:
    """Sizes of consecutive batches of at most ``batch`` that add up to ``budget``."""
    return [min(batch, budget - done) for done in range(0, budget, batch)]


# ============================================================================================
# MAP-Elites
# ============================================================================================

#: Names of the columns :func:`image_descriptors` returns.
DESCRIPTOR_NAMES = ("mean_intensity", "mean_contrast")


def image_descriptors(images: torch.Tensor) -> torch.Tensor:
    """Default MAP-Elites descriptors of sets of images: mean intensity and mean contrast.

    Seed 002 says only that individuals are mapped to the archive "using multiple feature
    dimensions". We use two cheap pixel statistics of the set's images, in the problem's
    [-1, 1] image range:

    1. *mean intensity*: mean pixel value over the ``k`` images (in [-1, 1]; for MNIST-like
       data, how much ink the set has);
    2. *mean contrast*: mean over the ``k`` images of each image's pixel standard
       deviation (in [0, 1]).

    Both are independent of the fitness scorer (an archive along the objective itself
    would be degenerate), defined for any ``k`` and any image shape, and computed from
    the images of the same batched forward as the fitness.

    Args:
        images: ``(m, k, C, H, W)`` images in [-1, 1].

    Returns:
        ``(m, 2)`` descriptors.
    """
    m, k = images.shape[:2]
    flat = images.reshape(m, k, -1).to(torch.float64)
    return torch.stack([flat.mean(dim=(1, 2)), flat.std(dim=2, correction=0).mean(dim=1)], dim=1)


def map_elites(
    problem: LatentProblem,
    budget: int,
    seed: int,
    *,
    batch: int = 100,
    cells: int | Sequence[int] = 10,
    descriptors: DescriptorFn | None = None,
    ranges: Sequence[tuple[float, float]] | None = None,
    n_init: int | None = None,
    swap: float = 0.5,
    step: float = 0.1,
    p_mutation: float = 0.1,
) -> OptimizeResult:
    """Seed 002's MAP-Elites on a pyribs ``GridArchive``, batched.

    Initialisation: ``n_init`` solutions from the latent prior are evaluated and inserted.
    Evolution: each new solution is made from 2 elites drawn uniformly at random from the
    archive, uniform crossover (per-gene ``swap``), then creep mutation (``U(-step,
    step)`` per gene with probability ``p_mutation``) — the seed's variation, implemented
    as a custom pyribs emitter around :mod:`latentbridge.operators` (pyribs' Gaussian /
    iso-line emitters are a different operator). The seed generates one solution per
    step; here ``batch`` are generated and evaluated per step (``batch=1`` is the seed's
    steady state). Every solution goes to the single cell of its descriptors; only the
    best per cell is kept (pyribs maximises, so it stores ``-fitness``).

    Args:
        problem: A single-objective latentbridge problem (seed 002: :class:`~latentbridge.SetDiversity`).
        budget: Number of evaluations (exactly this many are made).
        seed: Seed (archive sampling, variation, prior samples).
        batch: Solutions per step (one batched evaluation).
        cells: Grid cells per descriptor (an int for all, or one per descriptor).
        descriptors: ``fn(images (m, k, C, H, W)) -> (m, n_desc)``; default
            :func:`image_descriptors` (mean intensity, mean contrast).
        ranges: ``(low, high)`` per descriptor. Default: the initial population's range
            widened by 50 % on each side (values outside go to the edge cells).
        n_init: Initial prior samples (default ``batch``).
        swap: Per-gene swap probability of the uniform crossover.
        step: Creep half-width (latent units).
        p_mutation: Per-gene creep probability.

    Returns:
        An :class:`~latentbridge.OptimizeResult` (``optimizer="map-elites"``): the best
        solution ever evaluated, a best-so-far trace after each step, and in ``extra``
        the archive (``"archive"``), its ``"coverage"``, ``"num_elites"``,
        ``"qd_score"`` (sum of ``-fitness`` over elites), ``"ranges"`` and
        ``"descriptor_names"``.
    """
    problem = _check_problem(problem, "map_elites")
    cfg = _MapElitesConfig.checked(budget, batch, n_init, swap, step, p_mutation)
    GridArchive, EmitterBase = _import_ribs()
    desc_fn = image_descriptors if descriptors is None else descriptors
    ss = np.random.SeedSequence(check_seed(seed))
    init_rng, var_rng = (np.random.default_rng(s) for s in ss.spawn(2))
    tracker = Tracker(1, budget=cfg.budget)
    start = time.perf_counter()
    with problem.observe(tracker):
        Z0 = problem.sample(cfg.n_init, init_rng)
        F0, D0 = problem.evaluate_with(Z0, desc_fn)
        dims, rng_list = _grid(D0, cells, ranges)
        archive = GridArchive(solution_dim=problem.dim, dims=dims, ranges=rng_list, seed=int(ss.generate_state(1)[0]))
        archive.add(Z0, -F0, D0)
        emitter = _seed_variation(EmitterBase, archive, problem.dim, cfg, var_rng)
        _evolve(problem, archive, emitter, desc_fn, cfg, tracker)
    stats = archive.stats
    names = DESCRIPTOR_NAMES if descriptors is None else None
    return tracker.result(
        "map-elites",
        params={**cfg.params(dims), "descriptors": getattr(desc_fn, "__name__", type(desc_fn).__name__)},
        seed=seed,
        wall_time=time.perf_counter() - start,
        extra={
            "archive": archive,
            "coverage": float(stats.coverage),
            "num_elites": int(stats.num_elites),
            "qd_score": float(stats.qd_score),
            "ranges": rng_list,
            "descriptor_names": list(names) if names else None,
        },
    )


@dataclass(frozen=True)
class _MapElitesConfig:
    """Validated MAP-Elites settings."""

    budget: int
    batch: int
    n_init: int
    swap: float
    step: float
    p_mutation: float

    @classmethod
    def checked(
        cls, budget: int, batch: int, n_init: int | None, swap: float, step: float, p_mutation: float
    ) -> _MapElitesConfig:
        budget = check_positive_int(budget, "budget")
        batch = check_positive_int(batch, "batch")
        n_init = batch if n_init is None else check_positive_int(n_init, "n_init")
        if budget < n_init:
            raise InputError(f"budget={budget} is smaller than the initial population (n_init={n_init})")
        if not (float(step) >= 0):
            raise InputError(f"step must be >= 0, got {step!r}")
        return cls(
            budget,
            batch,
            n_init,
            ops.check_probability(swap, "swap"),
            float(step),
            ops.check_probability(p_mutation, "p_mutation"),
        )

    def params(self, cells: list[int]) -> dict[str, Any]:
        """The settings a result reports."""
        return {
            "batch": self.batch,
            "cells": cells,
            "n_init": self.n_init,
            "swap": self.swap,
            "step": self.step,
            "p_mutation": self.p_mutation,
        }


def _import_ribs() -> tuple[Any, Any]:
    """pyribs' ``GridArchive`` and ``EmitterBase`` (the ``qd`` extra)."""
    try:
        from ribs.archives import GridArchive
        from ribs.emitters import EmitterBase
    except ImportError as exc:
        raise missing_extra("ribs", "qd", exc) from exc
    return GridArchive, EmitterBase


def _grid(
    D0: Array, cells: int | Sequence[int], ranges: Sequence[tuple[float, float]] | None
) -> tuple[list[int], list[tuple[float, float]]]:
    """Cells per descriptor and their ranges (default: the initial descriptors' range widened by 50 %)."""
    n_desc = D0.shape[1]
    dims = [int(cells)] * n_desc if isinstance(cells, (int, np.integer)) else [int(c) for c in cells]
    if len(dims) != n_desc or any(c < 1 for c in dims):
        raise InputError(f"cells must be a positive int or {n_desc} positive ints (one per descriptor), got {cells!r}")
    if ranges is None:
        lo, hi = D0.min(axis=0), D0.max(axis=0)
        pad = np.where(hi > lo, 0.5 * (hi - lo), 0.5)
        return dims, [(float(a), float(b)) for a, b in zip(lo - pad, hi + pad, strict=True)]
    rng_list = [(float(a), float(b)) for a, b in ranges]
    if len(rng_list) != n_desc or any(not a < b for a, b in rng_list):
        raise InputError(f"ranges must be {n_desc} (low, high) pairs with low < high, got {ranges!r}")
    return dims, rng_list


def _seed_variation(EmitterBase: Any, archive: Any, dim: int, cfg: _MapElitesConfig, rng: np.random.Generator) -> Any:
    """A pyribs emitter with seed 002's variation: 2 random elites → uniform crossover → creep mutation."""

    class SeedVariation(EmitterBase):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(archive, solution_dim=dim, bounds=None, lower_bounds=None, upper_bounds=None)

        def ask(self, n: int = cfg.batch) -> Array:
            parents = np.asarray(archive.sample_elites(2 * n)["solution"], dtype=np.float64)
            child, _ = ops.uniform_crossover(parents[:n], parents[n:], swap=cfg.swap, prob=1.0, rng=rng)
            return ops.creep_mutation(child, step=cfg.step, prob=cfg.p_mutation, rng=rng)

    return SeedVariation()


def _evolve(
    problem: LatentProblem, archive: Any, emitter: Any, desc_fn: DescriptorFn, cfg: _MapElitesConfig, tracker: Tracker
) -> None:
    """Ask ``batch`` children, evaluate them with their descriptors, insert them, until the budget is spent."""
    while tracker.n_seen < cfg.budget:
        Z = emitter.ask(min(cfg.batch, cfg.budget - tracker.n_seen))
        F, D = problem.evaluate_with(Z, desc_fn)
        archive.add(Z, -F, D)
