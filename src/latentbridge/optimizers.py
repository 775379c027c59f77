"""Optimizers by name: objects with ``solve(problem, budget, seed)``, and which problems they fit.

This is the library's one home for solver adapters: ``latentbridge bench`` and the
optimizer registry (:func:`latentbridge.registry` ``("optimizer")``) use them. Each
adapter imports its framework (pymoo, nevergrad, pyribs) only when it runs.

Names:

- ``paper-ga``, ``set-ga`` — the seeds' GAs (:func:`latentbridge.pymoo.solve` presets);
- ``random`` — prior random search (:func:`latentbridge.baselines.random_search`);
- ``map-elites`` — pyribs MAP-Elites (:func:`latentbridge.baselines.map_elites`);
- ``pymoo:<Algorithm>`` — any pymoo algorithm class (``pymoo:DE``, ``pymoo:CMAES``, ``pymoo:NSGA2``);
- ``ng:<name>`` — any nevergrad registry name (``ng:CMA``, ``ng:TwoPointsDE``, ``ng:NGOpt``);
- anything a plugin registers with ``latentbridge_register_optimizers``.

Applicability rule (which optimizer runs on which problem of a suite unless the suite
lists ``problems`` for it):

- multi-objective problems (``n_obj > 1``): ``random`` and the multi-objective pymoo
  algorithms (NSGA2, NSGA3, ...) only;
- single-objective problems: everything else, except that ``set-ga`` and ``map-elites``
  (operators and descriptors defined on sets of latents) need ``k > 1``;
- a plugin optimizer decides with an ``applies_to(problem) -> bool`` method; without one
  it runs on single-objective problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._algorithm_facts import PRESET_FACTS, PYMOO_ALGORITHMS, pymoo_facts
from ._plugins import registry
from ._problems import LatentProblem
from ._result import OptimizeResult
from .errors import UnknownNameError

__all__ = [
    "BUILTIN_OPTIMIZERS",
    "MULTI_OBJECTIVE_PYMOO",
    "BaselineOptimizer",
    "NevergradOptimizer",
    "PymooOptimizer",
    "Solver",
    "applies",
    "builtin_optimizer",
    "resolve",
]

#: pymoo algorithms that handle several objectives (they run on multi-objective problems only).
MULTI_OBJECTIVE_PYMOO = frozenset(name for name, facts in PYMOO_ALGORITHMS.items() if facts.multi_objective)


@runtime_checkable
class Solver(Protocol):
    """What an optimizer factory returns."""

    def solve(self, problem: LatentProblem, budget: int, seed: int) -> OptimizeResult:
        """Minimise ``problem`` with at most ``budget`` evaluations, deterministically under ``seed``."""
        ...


@dataclass(frozen=True)
class PymooOptimizer:
    """A pymoo preset (``paper-ga``, ``set-ga``) or algorithm class run by :func:`latentbridge.pymoo.solve`.

    Attributes:
        algorithm: Preset or pymoo class name.
        params: Constructor arguments (``pop_size``, ...).
        min_k: Smallest ``k`` (latents per solution) the algorithm is meant for.
    """

    algorithm: str
    params: dict[str, Any] = field(default_factory=dict)
    min_k: int = 1

    @property
    def multi_objective(self) -> bool:
        """Whether this is a multi-objective algorithm (from the table of algorithm facts)."""
        facts = pymoo_facts(self.algorithm)
        return facts is not None and facts.multi_objective

    def applies_to(self, problem: LatentProblem) -> bool:
        """Multi-objective algorithms on multi-objective problems, the rest on single-objective ones.

        ``random`` (prior sampling) runs on both.
        """
        if problem.k < self.min_k:
            return False
        facts = pymoo_facts(self.algorithm)
        if facts is not None and facts.name == "random":
            return True
        return (problem.n_obj > 1) == self.multi_objective

    def solve(self, problem: LatentProblem, budget: int, seed: int) -> OptimizeResult:
        """Run :func:`latentbridge.pymoo.solve`."""
        from . import pymoo as lb_pymoo

        return lb_pymoo.solve(problem, self.algorithm, budget=budget, seed=seed, **self.params)


@dataclass(frozen=True)
class NevergradOptimizer:
    """A nevergrad optimizer by registry name, run by :func:`latentbridge.nevergrad.minimize`.

    Attributes:
        optimizer: nevergrad registry name (``"CMA"``, ``"TwoPointsDE"``, ...).
        params: ``batch`` (solutions per ``evaluate`` call) and nevergrad options.
    """

    optimizer: str
    params: dict[str, Any] = field(default_factory=dict)

    def applies_to(self, problem: LatentProblem) -> bool:
        """Single-objective problems."""
        return problem.n_obj == 1

    def solve(self, problem: LatentProblem, budget: int, seed: int) -> OptimizeResult:
        """Run :func:`latentbridge.nevergrad.minimize`."""
        from . import nevergrad as lb_ng

        params = dict(self.params)
        batch = params.pop("batch", None)
        return lb_ng.minimize(problem, self.optimizer, budget, batch=batch, seed=seed, **params)


@dataclass(frozen=True)
class BaselineOptimizer:
    """``random`` or ``map-elites`` from :mod:`latentbridge.baselines`.

    Attributes:
        method: ``"random"`` or ``"map-elites"``.
        params: Keyword arguments of the baseline.
    """

    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def applies_to(self, problem: LatentProblem) -> bool:
        """``random``: every problem (pymoo's prior sampling when ``n_obj > 1``); ``map-elites``: set problems."""
        if self.method == "random":
            return True
        return problem.n_obj == 1 and problem.k > 1

    def solve(self, problem: LatentProblem, budget: int, seed: int) -> OptimizeResult:
        """Run the baseline."""
        from . import baselines

        if self.method == "random" and problem.n_obj > 1:  # baselines are single-objective
            from . import pymoo as lb_pymoo

            params = dict(self.params)
            if "batch" in params:
                params["pop_size"] = params.pop("batch")
            out: OptimizeResult = lb_pymoo.solve(problem, "random", budget=budget, seed=seed, **params)
            return out
        if self.method == "random":
            out = baselines.random_search(problem, budget, seed, **self.params)
        else:
            out = baselines.map_elites(problem, budget, seed, **self.params)
        return out


def _paper_ga(**params: Any) -> PymooOptimizer:
    return PymooOptimizer("paper-ga", params)


def _set_ga(**params: Any) -> PymooOptimizer:
    return PymooOptimizer("set-ga", params, min_k=PRESET_FACTS["set-ga"].min_k)


def _random(**params: Any) -> BaselineOptimizer:
    return BaselineOptimizer("random", params)


def _map_elites(**params: Any) -> BaselineOptimizer:
    return BaselineOptimizer("map-elites", params)


#: Built-in optimizers, registered by :mod:`latentbridge._builtins` (descriptions live there).
BUILTIN_OPTIMIZERS: dict[str, Callable[..., Solver]] = {
    "paper-ga": _paper_ga,
    "set-ga": _set_ga,
    "random": _random,
    "map-elites": _map_elites,
}


def builtin_optimizer(name: str, **params: Any) -> Solver:
    """Build the built-in optimizer ``name`` with ``params``."""
    return BUILTIN_OPTIMIZERS[name](**params)


def resolve(name: str, params: dict[str, Any] | None = None) -> Solver:
    """The optimizer called ``name`` with ``params``.

    Registry names (built-ins and plugins) come first; ``pymoo:<Algorithm>`` and
    ``ng:<name>`` are resolved dynamically.

    Raises:
        UnknownNameError: no such optimizer (the message lists close matches and the prefixes).
    """
    params = dict(params or {})
    reg = registry("optimizer")
    if name in reg:
        solver = reg.create(name, **params)
        if not callable(getattr(solver, "solve", None)):
            raise UnknownNameError(f"optimizer {name!r} built a {type(solver).__name__} without a solve() method")
        return solver  # type: ignore[no-any-return]
    prefix, sep, rest = name.partition(":")
    if sep and rest:
        if prefix == "pymoo":
            return PymooOptimizer(rest, params)
        if prefix in ("ng", "nevergrad"):
            return NevergradOptimizer(rest, params)
    try:
        reg.get(name)
    except UnknownNameError as exc:
        raise UnknownNameError(
            f"{exc} Also accepted: pymoo:<Algorithm> (e.g. pymoo:DE), ng:<name> (e.g. ng:CMA)."
        ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def applies(solver: Any, problem: LatentProblem) -> bool:
    """Whether ``solver`` runs on ``problem`` under the applicability rule (module docstring)."""
    rule = getattr(solver, "applies_to", None)
    if callable(rule):
        return bool(rule(problem))
    return problem.n_obj == 1
