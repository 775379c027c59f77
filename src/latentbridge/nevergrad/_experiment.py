"""Benchmarking: :class:`LatentExperiment`, a latentbridge problem as a nevergrad ``ExperimentFunction``."""

from __future__ import annotations

from typing import Any

import numpy as np
from nevergrad.functions import base as ngfbase
from numpy.typing import ArrayLike, NDArray

from .._problems import LatentProblem
from ..errors import InputError
from ._parametrization import check_problem, parametrization

__all__ = ["LatentExperiment"]

Array = NDArray[np.float64]


def _flat_descriptors(problem: LatentProblem) -> dict[str, str | int | float | bool]:
    cfg = problem.config()
    gen = cfg.get("generator", {})
    out: dict[str, str | int | float | bool] = {
        "problem": problem.name,
        "kind": str(cfg.get("kind", problem.kind)),
        "dim": problem.dim,
        "k": problem.k,
        "n_obj": problem.n_obj,
        "generator": str(gen.get("name", gen.get("class", "?"))) if isinstance(gen, dict) else str(gen),
        "scorers": ",".join(str(s.get("name", s.get("class", "?"))) for s in cfg.get("scorers", [])),
    }
    for key, value in cfg.items():
        if key not in out and key not in ("generator", "scorers") and isinstance(value, (str, int, float, bool)):
            out[key] = value
    return out


class LatentExperiment(ngfbase.ExperimentFunction):  # type: ignore[misc]  # nevergrad ships no type information
    """A latentbridge problem as a ``nevergrad.functions.ExperimentFunction``.

    Lets nevergrad's benchmark machinery (``nevergrad.benchmark.xpbase.Experiment``,
    experiment plans) run a :class:`~latentbridge.LatentProblem`. nevergrad calls the
    function on one candidate at a time, i.e. one generator forward per candidate,
    which is slow for GANs; use :func:`minimize` (or :meth:`evaluate_batch`) for batched
    runs. ``copy()`` (used by every benchmark run) shares the same ``problem`` object.

    Descriptors (benchmark table columns) are the scalars of ``problem.config()``
    (kind, dim, k, n_obj, generator name, scorer names, problem name...) plus
    ``bounded``.

    Args:
        problem: A single-objective problem.
        bounded: Passed to :func:`parametrization`.

    Raises:
        InputError: multi-objective problem.
    """

    def __init__(self, problem: LatentProblem, bounded: bool = False) -> None:
        check_problem(problem)
        if problem.n_obj != 1:
            raise InputError(
                f"LatentExperiment needs a single-objective problem, got n_obj={problem.n_obj}; use aggregate='mean'"
            )
        self.problem = problem
        super().__init__(self._evaluate_one, parametrization(problem, bounded=bool(bounded)))
        self.add_descriptors(**_flat_descriptors(problem))

    def _evaluate_one(self, x: ArrayLike) -> float:
        return float(self.problem.evaluate(np.asarray(x, dtype=np.float64).reshape(1, -1))[0])

    def evaluate_batch(self, X: ArrayLike) -> Array:
        """Losses ``(n,)`` of solutions ``X`` ``(n, dim)`` in one batched call."""
        out: Array = np.asarray(self.problem.evaluate(X), dtype=np.float64)
        return out

    def evaluation_function(self, *recommendations: Any) -> float:
        """Final (noise-free) loss of the recommendation: the problem is deterministic, so its loss."""
        if len(recommendations) != 1:
            raise InputError(f"expected one recommendation, got {len(recommendations)}")
        return self._evaluate_one(recommendations[0].value)
