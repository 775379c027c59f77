"""A latentbridge problem as a vectorized pymoo problem, and prior sampling."""

from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.core.problem import Problem
from pymoo.core.sampling import Sampling

from .._problems import LatentProblem
from ..errors import InputError
from ._util import Array, as_rng

__all__ = ["LatentSampling", "PymooProblem", "as_pymoo"]


class PymooProblem(Problem):  # type: ignore[misc]  # pymoo is untyped
    """A :class:`~latentbridge.LatentProblem` as a vectorized pymoo ``Problem``.

    ``n_var = problem.dim``, ``n_obj = problem.n_obj``; inequality constraints only with
    ``constraints`` (a :class:`latentbridge.realism.RealismConstraints`: ``n_ieq_constr``
    columns of ``G``, ``<= 0`` where satisfied, computed from the *same* evaluation through
    ``problem.evaluate_with``). ``_evaluate``
    hands the whole population to ``problem.evaluate`` in one call (the problem chunks
    it into ``batch_size`` forwards), so pymoo never loops over individuals. To watch
    the evaluations, observe the latentbridge problem
    (``with problem.observe(listener): ...``).

    Bounds ``xl, xu = problem.bounds(bounds_width)`` (prior mean ± ``bounds_width``
    prior std per coordinate) are only *used* by algorithms that need a box: DE and
    PSO (repair/velocity), CMAES (normalisation), and pymoo's default samplers. The
    latent prior, not the box, is the intended initialisation: use
    :class:`LatentSampling` (which :func:`solve` and the presets do). The box is soft
    (``soft_bounds = True``): latentbridge's operators do not clip to it, as they do
    for other pymoo problems with bounds.

    Args:
        problem: The latentbridge problem (not copied; its ``n_evals`` counter keeps
            counting).
        bounds_width: Half-width of the box in prior standard deviations.
        constraints: Realism constraints (``RealismConstraints(problem, max_latent_ratio=1.1, ...)``).

    Attributes:
        latent_problem: The wrapped problem.
        soft_bounds: Always True: the box is a hint, not a constraint.
    """

    soft_bounds = True

    def __init__(self, problem: LatentProblem, *, bounds_width: float = 4.0, constraints: Any = None) -> None:
        if not isinstance(problem, LatentProblem):
            raise InputError(f"problem must be a latentbridge.LatentProblem, got {type(problem).__name__}")
        if not (float(bounds_width) > 0):
            raise InputError(f"bounds_width must be > 0, got {bounds_width!r}")
        n_constr = 0
        if constraints is not None:
            from ..realism import RealismConstraints

            if not isinstance(constraints, RealismConstraints) or constraints.problem is not problem:
                raise InputError(
                    "constraints must be latentbridge.realism.RealismConstraints(problem, ...) built for this problem"
                )
            n_constr = constraints.n_constr
        xl, xu = problem.bounds(float(bounds_width))
        super().__init__(n_var=problem.dim, n_obj=problem.n_obj, n_ieq_constr=n_constr, xl=xl, xu=xu, elementwise=False)
        self.latent_problem = problem
        self.bounds_width = float(bounds_width)
        self.constraints = constraints

    def _evaluate(self, x: Array, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        X = np.asarray(x, dtype=np.float64)
        c = self.constraints
        if c is not None and c.needs_images:  # the constraint's images are the fitness's images: one evaluation
            F, D = self.latent_problem.evaluate_with(X, c.describe)
        else:
            F, D = self.latent_problem.evaluate(X), None
        out["F"] = np.asarray(F, dtype=np.float64).reshape(X.shape[0], self.n_obj)
        if c is not None:
            out["G"] = c.values(X, D)


def as_pymoo(problem: LatentProblem, *, bounds_width: float = 4.0, constraints: Any = None) -> PymooProblem:
    """Wrap ``problem`` as a vectorized pymoo problem (with realism ``constraints``); see :class:`PymooProblem`."""
    return PymooProblem(problem, bounds_width=bounds_width, constraints=constraints)


class LatentSampling(Sampling):  # type: ignore[misc]
    """Initial population drawn from the latent prior ``N(loc, scale²)``.

    For a :class:`PymooProblem` this is ``problem.latent_problem.sample(n, rng)`` (``k``
    independent latents per solution for set problems) with the random generator pymoo
    passes; for any other pymoo problem it is ``N(0, 1)`` per variable.
    """

    def _do(self, problem: Any, n_samples: int, *args: Any, random_state: Any = None, **kwargs: Any) -> Array:
        rng = as_rng(random_state)
        lp = getattr(problem, "latent_problem", None)
        if isinstance(lp, LatentProblem):
            return lp.sample(int(n_samples), rng)
        out: Array = rng.standard_normal((int(n_samples), int(problem.n_var)))
        return out
