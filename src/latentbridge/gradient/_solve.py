"""``solve``: run a white-box optimizer by name under a budget in forward-equivalents, watched by a Tracker."""

from __future__ import annotations

import contextlib
import difflib
import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._problems import LatentProblem
from .._result import OptimizeResult
from .._tracking import Tracker
from .._validation import check_seed
from ..errors import InputError, UnknownNameError
from ._adam import adam
from ._basin_cma import basin_cma
from ._lbfgs import lbfgs
from ._run import BudgetExhausted, GradientRun

__all__ = ["OPTIMIZERS", "GradientOptimizer", "check_params", "optimizer_names", "solve"]

#: The white-box optimizers by name.
OPTIMIZERS: dict[str, Callable[..., dict[str, Any]]] = {"adam": adam, "basin-cma": basin_cma, "lbfgs": lbfgs}
_SEEDED = {"basin-cma"}  # optimizers whose function takes the run's seed itself (cma's own generator)


def optimizer_names() -> list[str]:
    """The names :func:`solve` knows: ``adam``, ``basin-cma``, ``lbfgs``."""
    return sorted(OPTIMIZERS)


def _defaults(name: str) -> dict[str, Any]:
    sig = inspect.signature(OPTIMIZERS[name])
    return {p.name: p.default for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY and p.name != "seed"}


def _number(name: str, value: Any, *, low: float, high: float = math.inf, integer: bool = False) -> None:
    ok = isinstance(value, (int, np.integer) if integer else (int, float, np.integer, np.floating))
    ok = ok and not isinstance(value, bool) and math.isfinite(float(value)) and low <= float(value) <= high
    if not ok:
        kind = "an int" if integer else "a number"
        bound = f"in [{low:g}, {high:g}]" if math.isfinite(high) else f">= {low:g}"
        raise InputError(f"{name} must be {kind} {bound}, got {value!r}")


def check_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate the parameters of optimizer ``name``; return them with the defaults filled in.

    Raises:
        UnknownNameError: an unknown optimizer name (with close matches).
        InputError: an unknown parameter (with close matches) or a bad value (named, with what is accepted).
    """
    if name not in OPTIMIZERS:
        close = difflib.get_close_matches(str(name), list(OPTIMIZERS), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown gradient optimizer {name!r}; known: {', '.join(optimizer_names())}{hint}")
    defaults = _defaults(name)
    for key in params:
        if key not in defaults:
            close = difflib.get_close_matches(key, list(defaults), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise InputError(f"{name} has no parameter {key!r}{hint} (its parameters: {', '.join(sorted(defaults))})")
    p = {**defaults, **params}
    for key in ("lr", "sigma0"):
        if key in p:
            _number(f"{name}: {key}", p[key], low=1e-12)
    for key in ("steps", "parallel", "grad_steps", "memory", "maxiter"):
        if key in p:
            _number(f"{name}: {key}", p[key], low=1, integer=True)
    for key in ("rampup", "rampdown", "noise_ramp"):
        if key in p:
            _number(f"{name}: {key}", p[key], low=0.0, high=1.0)
    for key in ("noise", "prior_weight", "gtol"):
        if key in p:
            _number(f"{name}: {key}", p[key], low=0.0)
    if "betas" in p:
        b = p["betas"]
        if not (isinstance(b, (tuple, list)) and len(b) == 2):
            raise InputError(f"{name}: betas must be a pair (beta1, beta2) in [0, 1), got {b!r}")
        for v in b:
            _number(f"{name}: betas", v, low=0.0, high=0.999999)
        p["betas"] = (float(b[0]), float(b[1]))
    if "init" in p and p["init"] not in ("mean", "sample"):
        raise InputError(f"{name}: init must be 'mean' (start at the prior mean) or 'sample', got {p['init']!r}")
    if p.get("popsize") is not None:
        _number(f"{name}: popsize", p["popsize"], low=2, integer=True)
    if p.get("bounds_width") is not None:
        _number(f"{name}: bounds_width", p["bounds_width"], low=1e-6)
    for key in ("lamarckian", "diagonal"):
        if key in p and p[key] is not None and not isinstance(p[key], bool):
            raise InputError(f"{name}: {key} must be True or False, got {p[key]!r}")
    return p


def solve(problem: LatentProblem, name: str, *, budget: float, seed: int, **params: Any) -> OptimizeResult:
    """Minimise a single-objective ``problem`` with a white-box optimizer, under a budget in forward-equivalents.

    Every evaluation is one :meth:`~latentbridge.LatentProblem.evaluate_grad` batch,
    costing ``problem.grad_cost`` forward-equivalents per solution (measured per model by
    ``benchmarks/gradient_cost.py``), so a budget of ``B`` buys ``⌊B / grad_cost⌋``
    gradient evaluations: the same currency as an evolutionary run's ``B`` evaluations.
    A :class:`~latentbridge.Tracker` observes the run; the budget is never exceeded.

    Args:
        problem: A single-objective problem (several objectives: use ``aggregate="mean"``).
        name: ``"adam"``, ``"basin-cma"`` or ``"lbfgs"`` (see :func:`optimizer_names`).
        budget: Forward-equivalents the run may spend (at least one gradient evaluation).
        seed: Seed of every random choice (inits, latent noise, CMA-ES).
        **params: The optimizer's parameters (see :func:`~latentbridge.gradient.adam` ...).

    Returns:
        An :class:`~latentbridge.OptimizeResult` with ``n_evals`` (0), ``n_grad_evals``,
        ``forward_equivalents``, ``wall_time`` and, in ``extra``, ``grad_cost`` and the
        optimizer's own counts (restarts, generations).

    Raises:
        UnknownNameError: an unknown optimizer name.
        InputError: a multi-objective problem, a bad budget, seed or parameter.
        NotDifferentiableError: the problem's generator or a scorer blocks gradients.
    """
    if not isinstance(problem, LatentProblem):
        raise InputError(f"problem must be a latentbridge.LatentProblem, got {type(problem).__name__}")
    p = check_params(name, params)
    if problem.n_obj != 1:
        raise InputError(
            f"{name} minimises one objective, but this problem has {problem.n_obj}; use aggregate='mean' "
            "(TargetSimilarity) for one objective, or a multi-objective optimizer such as pymoo's NSGA2"
        )
    seed = check_seed(seed)
    cost = float(problem.grad_cost)
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.integer, np.floating)) or budget < cost:
        raise InputError(
            f"budget must be a number of forward-equivalents >= one gradient evaluation of this problem "
            f"({cost:g}), got {budget!r}"
        )
    tracker = Tracker(1, budget=budget)  # type: ignore[arg-type]  # float budgets: forward-equivalents
    rng = np.random.default_rng(seed)
    run = GradientRun(problem, tracker, rng)
    start = time.perf_counter()
    kwargs = {**p, "seed": seed} if name in _SEEDED else p
    extra: dict[str, Any] = {}
    # BudgetExhausted: the budget ended the run mid-step; what was evaluated counts
    with problem.observe(tracker), contextlib.suppress(BudgetExhausted):
        extra = OPTIMIZERS[name](run, **kwargs)
    extra = {**extra, "grad_cost": cost}
    return tracker.result(name, params=dict(params), seed=seed, wall_time=time.perf_counter() - start, extra=extra)


@dataclass(frozen=True)
class GradientOptimizer:
    """A white-box optimizer by name with its parameters: what the optimizer registry returns.

    ``GradientOptimizer("adam", {"lr": 0.05}).solve(problem, budget, seed)`` is
    :func:`solve` with those parameters; :meth:`applies_to` says it runs on single-objective
    problems only.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_params(self.name, self.params)

    def applies_to(self, problem: LatentProblem) -> bool:
        """Single-objective problems only."""
        return problem.n_obj == 1

    def solve(self, problem: LatentProblem, budget: int, seed: int) -> OptimizeResult:
        """:func:`solve` with this optimizer's name and parameters."""
        return solve(problem, self.name, budget=budget, seed=seed, **self.params)
