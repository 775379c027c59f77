"""``solve``: run a preset or pymoo algorithm under an exact budget, watched by a :class:`~latentbridge.Tracker`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pymoo.core.algorithm import Algorithm
from pymoo.core.individual import Individual

from .._problems import LatentProblem
from .._result import OptimizeResult
from .._tracking import Tracker
from .._validation import check_seed
from ..errors import InputError
from ._algorithms import GenerationalGA
from ._make import algorithm_facts, make_algorithm, min_population, single_objective_error, single_objective_only
from ._presets import PRESETS
from ._problem import PymooProblem, as_pymoo

__all__ = ["solve"]


def solve(
    problem: LatentProblem,
    algorithm: str | Any,
    *,
    budget: int,
    seed: int,
    bounds_width: float = 4.0,
    ref_point: ArrayLike | None = None,
    verbose: bool = False,
    **params: Any,
) -> OptimizeResult:
    """Minimise ``problem`` with a preset or any pymoo algorithm under an exact evaluation budget.

    The run is pymoo's ask → evaluate → tell loop with termination ``("n_evals",
    budget)`` and ``seed``; a last population that would overshoot the budget is
    truncated and evaluated but not told to the algorithm, so exactly ``min(budget,
    what the algorithm asks for)`` solutions are evaluated. A
    :class:`~latentbridge.Tracker` observes every evaluated batch: best-so-far fitness
    for one objective; for several, the hypervolume of the non-dominated set of
    everything evaluated so far, with respect to ``ref_point`` (default: the worst value
    of each objective in the *first* evaluated batch plus 10 % of that batch's range,
    fixed for the run and reported in ``extra["ref_point"]``). Non-finite evaluations
    count as failed (``result.n_failed``, with a
    :class:`~latentbridge.errors.NonFiniteFitnessWarning`).

    Args:
        problem: A single- or multi-objective latentbridge problem.
        algorithm: A name (see :func:`algorithm_names`; unknown names raise
            :class:`~latentbridge.errors.UnknownNameError` with close matches) or a pymoo
            ``Algorithm`` instance (used as is, not copied).
        budget: Maximum number of problem evaluations, at least one population.
        seed: Seed of pymoo's random generator (and CMA-ES's).
        bounds_width: Box half-width in prior std (see :class:`PymooProblem`).
        ref_point: Hypervolume reference point ``(n_obj,)`` for multi-objective problems.
        verbose: Print pymoo's progress table.
        **params: Constructor arguments for a named algorithm (e.g. ``pop_size=50``).

    Returns:
        An :class:`~latentbridge.OptimizeResult` with the best-ever solution (single
        objective) or the non-dominated set in ``X_front``/``F_front`` and ``x``/``f``
        its member with the lowest first objective (multi-objective, with
        ``extra["hypervolume"]``).

    Raises:
        UnknownNameError: Unknown algorithm name.
        InputError: An algorithm that cannot run on this problem (the message says why),
            a budget smaller than one population, invalid operator parameters.
        NonFiniteFitnessError: every evaluation gave a non-finite fitness.
    """
    problem, budget = _check_inputs(problem, budget)
    seed = check_seed(seed)
    alg, label = _algorithm(algorithm, problem, bounds_width, params)
    tracker = Tracker(problem.n_obj, budget=budget, ref_point=ref_point)
    start = time.perf_counter()
    with problem.observe(tracker):
        _ask_tell(alg, as_pymoo(problem, bounds_width=bounds_width), tracker, budget, seed, verbose, label)
    extra = {"n_gen": int(getattr(alg, "n_iter", 0) or 0) - 1}
    return tracker.result(label, params=dict(params), seed=seed, wall_time=time.perf_counter() - start, extra=extra)


def _check_inputs(problem: Any, budget: Any) -> tuple[LatentProblem, int]:
    if not isinstance(problem, LatentProblem):
        raise InputError(f"problem must be a latentbridge.LatentProblem, got {type(problem).__name__}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise InputError(f"budget must be a positive int (evaluations), got {budget!r}")
    return problem, int(budget)


def _algorithm(algorithm: Any, problem: LatentProblem, bounds_width: float, params: dict[str, Any]) -> tuple[Any, str]:
    """The algorithm object and its result label, refused if it cannot run on ``problem``."""
    if isinstance(algorithm, str):
        name = algorithm_facts(algorithm).name
        alg = make_algorithm(name, problem, bounds_width=bounds_width, **params)
        label = name if name in PRESETS else f"pymoo:{name}"
    else:
        if params:
            raise InputError("params are only accepted with an algorithm name, not with an Algorithm instance")
        if not isinstance(algorithm, Algorithm):
            raise InputError(f"algorithm must be a name or a pymoo Algorithm, got {type(algorithm).__name__}")
        alg, label = algorithm, f"pymoo:{type(algorithm).__name__}"
        if problem.n_obj > 1 and single_objective_only(alg):
            raise single_objective_error(label, problem.n_obj)
    return alg, label


def _ask_tell(alg: Any, pp: PymooProblem, tracker: Tracker, budget: int, seed: int, verbose: bool, label: str) -> None:
    """pymoo's ask → evaluate → tell loop, stopped at exactly ``budget`` evaluations."""
    n_pop = min_population(alg, pp.n_var)
    if budget < n_pop:
        raise InputError(f"budget={budget} is smaller than one population of {label} ({n_pop} evaluations)")
    alg.setup(pp, termination=("n_evals", budget), seed=seed, verbose=verbose)
    first = True
    while alg.has_next():
        if isinstance(alg, GenerationalGA) and alg._fast():
            alg.next()
            continue
        infills = alg.ask()
        if infills is None:
            alg.tell()
            continue
        n = 1 if isinstance(infills, Individual) else len(infills)  # NelderMead, PatternSearch ask for one
        left = budget - tracker.n_seen
        if n == 0 or left <= 0:
            break
        if n > left:
            if first:
                raise InputError(f"budget={budget} is smaller than one population of {label} ({n})")
            alg.evaluator.eval(pp, infills[:left], algorithm=alg)
            break
        alg.evaluator.eval(pp, infills, algorithm=alg)
        alg.tell(infills=infills)
        first = False
