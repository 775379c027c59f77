"""Seed 002's supervisor: a set GA over ``k`` latents minimising :class:`~latentbridge.CentroidDiversity`.

:class:`SupervisorProblem` is :class:`~latentbridge.CentroidDiversity` (NCC to the centroid of originals ∪
generated set) plus an optional *class-consistency* penalty, seed 002's stated future work: with a classifier
trained on the training originals only, each generated image that the classifier does not assign to the
intended class adds ``weight · (1 − p(class | image))`` (averaged over the set) to the fitness. With no
classifier it is exactly ``CentroidDiversity``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from .._problems import CentroidDiversity
from .._protocols import LatentGenerator, Scorer
from ..errors import InputError
from .selection import RecordsFirstBatch, SelectionProblem

__all__ = ["SupervisorProblem", "SupervisorRun", "run_supervisor"]

ProbaFn = Callable[[NDArray[np.float32]], NDArray[np.float64]]


class SupervisorProblem(RecordsFirstBatch, CentroidDiversity):
    """Centroid diversity with an optional class-consistency penalty; remembers its first evaluated batch.

    Args:
        generator: The class's generator.
        scorer: Similarity (``ncc`` in seed 002).
        originals: The class's training originals ``(N, C, H, W)`` in [-1, 1].
        k: Latents per set.
        batch_size: Images per forward pass.
        proba: ``images (m, C, H, W) → (m, n_classes)`` probabilities from a classifier trained on the
            training split only; ``None`` for seed 002's supervisor.
        label: The intended class (column of ``proba``).
        weight: Penalty weight (NCC is in [-1, 1], so 1.0 makes a wholly off-class set as bad as the
            whole NCC range).
    """

    kind = "supervisor"

    def __init__(
        self,
        generator: LatentGenerator,
        scorer: Scorer,
        originals: Any,
        *,
        k: int,
        batch_size: int = 256,
        proba: ProbaFn | None = None,
        label: int = 0,
        weight: float = 1.0,
    ) -> None:
        super().__init__(generator, scorer, originals, k=k, batch_size=batch_size)
        self.proba = proba
        self.label = int(label)
        self.weight = float(weight)

    def _extra_config(self) -> dict[str, Any]:
        out = super()._extra_config()
        if self.proba is not None:
            out.update({"consistency_label": self.label, "consistency_weight": self.weight})
        return out

    def _fitness(self, images: torch.Tensor) -> torch.Tensor:
        base = super()._fitness(images)
        if self.proba is None or self.weight == 0.0:
            return base
        m, k = images.shape[:2]
        flat = images.reshape(m * k, *images.shape[2:]).to("cpu", torch.float32).numpy()
        p = np.asarray(self.proba(flat), dtype=np.float64)[:, self.label].reshape(m, k)
        penalty = torch.from_numpy(self.weight * (1.0 - p).mean(axis=1, keepdims=True)).to(base.device, base.dtype)
        return base + penalty


@dataclass
class SupervisorRun:
    """What one supervisor run found.

    Attributes:
        latents: ``(k, latent_dim)`` of the best set.
        images: ``(k, C, H, W)`` float32 images of the best set.
        fitness: Its fitness (lower = further from the centroid, plus any penalty).
        first_images: ``(k, C, H, W)``: the best set of the initial (random) population.
        first_fitness: Its fitness.
        n_evals: Sets evaluated.
        trace: ``[evals, best]`` pairs.
        wall_s: Seconds.
    """

    latents: NDArray[np.float64]
    images: NDArray[np.float32]
    fitness: float
    first_images: NDArray[np.float32]
    first_fitness: float
    n_evals: int
    trace: list[list[float]] = field(default_factory=list)
    wall_s: float = 0.0


def run_supervisor(
    problem: SupervisorProblem | SelectionProblem,
    *,
    budget: int,
    seed: int,
    pop_size: int,
    optimizer: str = "set-ga",
) -> SupervisorRun:
    """Run a set search on ``problem``: seed 002's set GA by default, or any optimizer by name.

    Args:
        problem: A supervisor or :class:`~latentbridge.augment.selection.SelectionProblem` of one class.
        budget: Sets evaluated (at least ``pop_size`` for the GAs).
        seed: Optimizer seed.
        pop_size: Population of the set GA and of other pymoo algorithms (other optimizers choose their own).
        optimizer: Any name :func:`latentbridge.optimizers.resolve` accepts (``set-ga``, ``pymoo:DE``,
            ``ng:CMA``, ...).

    Returns:
        The best set and the initial population's best set (seed 002's Fig. 11 compares the two).
    """
    from ..optimizers import resolve

    t0 = time.perf_counter()
    params = {"pop_size": pop_size} if optimizer in ("set-ga", "paper-ga") or optimizer.startswith("pymoo:") else {}
    res = resolve(optimizer, params).solve(problem, budget, seed)
    latents = np.asarray(res.x, dtype=np.float64).reshape(problem.k, -1)
    if problem.first_batch is None:
        raise InputError(f"optimizer {optimizer!r} returned without evaluating a set")
    Z0, F0 = problem.first_batch
    best0 = int(np.argmin(F0))
    return SupervisorRun(
        latents=latents,
        images=problem.render(res.x).numpy().astype(np.float32),
        fitness=float(np.asarray(res.f).reshape(-1)[0]),
        first_images=problem.render(Z0[best0]).numpy().astype(np.float32),
        first_fitness=float(F0[best0]),
        n_evals=int(res.n_evals),
        trace=[[float(e), float(b)] for e, b in zip(res.trace.evals, res.trace.best, strict=True)],
        wall_s=time.perf_counter() - t0,
    )
