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

import contextlib
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
    "validate_optimizer",
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


# --------------------------------------------------------------------------------------------
# validation before any run
# --------------------------------------------------------------------------------------------
#: Parameters that count something: ints >= 1 wherever they appear.
_POSITIVE_INT_PARAMS = frozenset(
    {"pop_size", "n_offsprings", "batch", "n_init", "popsize", "num_workers", "tournament_size", "n_partitions"}
)
#: Parameters that are probabilities: numbers in [0, 1].
_PROBABILITY_PARAMS = frozenset({"p_mutation", "swap", "CR", "prob", "crossover_prob", "mutation_prob", "pC", "pM"})
#: Keyword arguments of :func:`latentbridge.pymoo.solve` itself (not the algorithm's).
_PYMOO_SOLVE_KWARGS = frozenset({"bounds_width", "ref_point", "verbose"})
#: Keyword arguments of :func:`latentbridge.nevergrad.minimize` itself (not the optimizer's).
_NG_MINIMIZE_KWARGS = frozenset({"batch", "bounded", "fast"})


def _check_param_values(params: dict[str, Any]) -> None:
    from .errors import InputError

    for key, val in params.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise InputError(f"parameter names must be identifiers, got {key!r}")
        if key in _POSITIVE_INT_PARAMS and (isinstance(val, bool) or not isinstance(val, int) or val < 1):
            raise InputError(f"parameter {key!r} must be an integer >= 1, got {val!r}")
        if key in _PROBABILITY_PARAMS and (
            isinstance(val, bool) or not isinstance(val, (int, float)) or not 0.0 <= float(val) <= 1.0
        ):
            raise InputError(f"parameter {key!r} must be a probability in [0, 1], got {val!r}")
        if key == "cells":
            cells = val if isinstance(val, list) else [val]
            if not cells or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in cells):
                raise InputError(f"parameter 'cells' must be an integer >= 1 or a list of them, got {val!r}")


def _bind(fn: Callable[..., Any], what: str, args: tuple[Any, ...], params: dict[str, Any]) -> None:
    import difflib
    import inspect

    from .errors import InputError

    sig = inspect.signature(fn)
    try:
        sig.bind(*args, **params)
    except TypeError as exc:
        named = [p.name for p in list(sig.parameters.values())[len(args) :] if p.kind is not p.VAR_POSITIONAL]
        unknown = [k for k in params if k not in sig.parameters]
        hints = [c for k in unknown for c in difflib.get_close_matches(k, named, n=1)]
        hint = f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
        what_wrong = f"unknown parameter(s) {', '.join(map(repr, unknown))}" if unknown else str(exc)
        raise InputError(f"{what}: {what_wrong}{hint}; it accepts: {', '.join(named) or 'none'}") from None


def _check_pymoo_params(spec_name: str, path: str, params: dict[str, Any]) -> None:
    """pymoo classes pass ``**kwargs`` up their bases and ignore what none of them names: refuse those."""
    import difflib
    import importlib
    import inspect

    from .errors import InputError

    module, _, attr = path.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    known: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        with contextlib.suppress(TypeError, ValueError):
            for p in inspect.signature(init).parameters.values():
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                    known.add(p.name)
    unknown = sorted(k for k in params if k not in known)
    if unknown:
        hints = [c for k in unknown for c in difflib.get_close_matches(k, sorted(known), n=1)]
        hint = f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
        raise InputError(
            f"{spec_name}: unknown parameter(s) {', '.join(map(repr, unknown))}{hint}; "
            f"{attr} accepts: {', '.join(sorted(known))}"
        )


def validate_optimizer(spec_name: str, params: dict[str, Any], solver: Any, problem: LatentProblem | None) -> None:
    """Check an optimizer's name and parameters before any run, as far as can be done without running it.

    Checks that ``pymoo:<Algorithm>`` and ``ng:<name>`` exist (with close matches), that
    counts (``pop_size``, ``batch``, ...) are positive ints and probabilities lie in [0, 1],
    that every parameter is accepted, and, for pymoo, builds the algorithm on ``problem``.

    Args:
        spec_name: The name as written (``"pymoo:DE"``).
        params: Its parameters.
        solver: What :func:`resolve` built from them.
        problem: A problem it will run on (None: skip the checks that need one).

    Raises:
        UnknownNameError: an unknown pymoo or nevergrad algorithm.
        InputError: a bad parameter name or value.
    """
    from .errors import InputError, LatentBridgeError

    _check_param_values(params)
    if isinstance(solver, PymooOptimizer):
        from . import pymoo as lb_pymoo

        facts = lb_pymoo.algorithm_facts(solver.algorithm)
        kw = {k: v for k, v in solver.params.items() if k not in _PYMOO_SOLVE_KWARGS}
        if facts.target:
            _check_pymoo_params(spec_name, facts.target, kw)
        if problem is not None:
            try:
                lb_pymoo.make_algorithm(solver.algorithm, problem, **kw)
            except LatentBridgeError:
                raise
            except Exception as exc:
                raise InputError(f"{spec_name} cannot be built with {kw}: {type(exc).__name__}: {exc}") from None
    elif isinstance(solver, NevergradOptimizer):
        from . import nevergrad as lb_ng

        factory = lb_ng._lookup(solver.optimizer)
        rest = {k: v for k, v in solver.params.items() if k not in _NG_MINIMIZE_KWARGS}
        lb_ng._configure(factory, spec_name, rest)
        if isinstance(factory, type) and rest:
            _bind(factory, spec_name, (None,), {"budget": 1, "num_workers": 1, **rest})
        for key in ("bounded", "fast"):
            if key in solver.params and not isinstance(solver.params[key], bool):
                raise InputError(f"parameter {key!r} must be true or false, got {solver.params[key]!r}")
    elif isinstance(solver, BaselineOptimizer):
        from . import baselines

        fn = baselines.random_search if solver.method == "random" else baselines.map_elites
        if solver.method == "random" and problem is not None and problem.n_obj > 1:
            return
        _bind(fn, spec_name, (None, 1, 0), solver.params)
