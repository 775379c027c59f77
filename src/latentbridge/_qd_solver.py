"""Quality-diversity optimizers by name (``qd:map-elites``, ``qd:cma-me``, ...): :func:`latentbridge.qd.solve`.

:func:`latentbridge.optimizers.resolve` turns ``qd:<algorithm>`` into a :class:`QDOptimizer`, as it
turns ``pymoo:<Algorithm>`` and ``ng:<name>`` into theirs. It lives apart from ``_solvers`` (which the
plugin registry imports) because :mod:`latentbridge.qd` resolves measure names through the registry.
Like every adapter it has ``applies_to``, ``validate``, ``min_budget`` and ``solve``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._problems import LatentProblem
from ._result import OptimizeResult
from .errors import InputError

__all__ = ["QD_PREFIX", "QDOptimizer", "qd_optimizer_names"]

#: The prefix of quality-diversity optimizer names.
QD_PREFIX = "qd"


def _is_qd(problem: LatentProblem) -> bool:
    from .qd import QualityDiversity

    return isinstance(problem, QualityDiversity)


def qd_optimizer_names() -> list[str]:
    """Every ``qd:<algorithm>`` name (pyribs' algorithms :func:`latentbridge.qd.algorithm_names` knows)."""
    from .qd import algorithm_names

    return [f"{QD_PREFIX}:{n}" for n in algorithm_names()]


@dataclass(frozen=True)
class QDOptimizer:
    """A quality-diversity algorithm of :mod:`latentbridge.qd` run by :func:`latentbridge.qd.solve`.

    The archive's grid is the problem's own (``QualityDiversity(cells=...)``), so every optimizer on
    the problem fills the same grid.

    Attributes:
        algorithm: ``map-elites``, ``cma-me``, ``cma-mae``, ``cma-mega`` or ``cma-maega``.
        params: The algorithm's parameters (``latentbridge.qd.algorithm(name).defaults``).
    """

    algorithm: str
    params: dict[str, Any] = field(default_factory=dict)

    def applies_to(self, problem: LatentProblem) -> bool:
        """Quality-diversity problems; gradient algorithms (CMA-MEGA, CMA-MAEGA) only differentiable ones."""
        if not _is_qd(problem):
            return False
        from .qd import algorithm

        return not algorithm(self.algorithm).gradient or bool(getattr(problem, "differentiable", False))

    def validate(self, label: str, problem: LatentProblem | None) -> None:
        """Check the algorithm's name and parameters (and, given a problem, that it can run on it).

        Raises:
            UnknownNameError: an unknown algorithm (close matches listed).
            InputError: an unknown parameter or a bad value, a problem that is not a
                quality-diversity problem, or a gradient algorithm on non-differentiable measures.
        """
        from .qd import algorithm

        algo = algorithm(self.algorithm)
        try:
            algo.params(self.params)
        except InputError as exc:
            raise InputError(f"{label}: {exc}") from None
        if problem is None:
            return
        if not _is_qd(problem):
            raise InputError(
                f"{label} runs on quality-diversity problems (kind = 'quality-diversity'), not on {problem.kind!r}"
            )
        if algo.gradient and not bool(getattr(problem, "differentiable", False)):
            raise InputError(
                f"{label} needs objective and measure gradients, but this problem's measures are not "
                "differentiable; use smooth measures (e.g. boldness/lightness with temperature = 0.05) or qd:cma-me"
            )

    def min_budget(self, problem: LatentProblem) -> int:
        """Evaluations of one ask/tell iteration: a smaller budget cannot run."""
        from .qd import algorithm

        algo = algorithm(self.algorithm)
        return algo.iteration_size(algo.params(self.params))

    def solve(self, problem: LatentProblem, budget: int, seed: int) -> OptimizeResult:
        """Run :func:`latentbridge.qd.solve` on the problem's grid; its ``extra`` holds the QD metrics and archive."""
        from . import qd

        if not isinstance(problem, qd.QualityDiversity):
            raise InputError(f"qd:{self.algorithm} needs a latentbridge.qd.QualityDiversity problem")
        res = qd.solve(problem, self.algorithm, budget=budget, seed=seed, grid=problem.grid(), **self.params)
        return res.result
