"""The built-in solver adapters (pymoo, nevergrad, baselines): one ``solve`` each, and each checks its parameters.

:mod:`latentbridge.optimizers` resolves names to these adapters and :mod:`latentbridge._builtins`
registers the built-in names (``paper-ga``, ``set-ga``, ``random``, ``map-elites``) from
:data:`BUILTIN_OPTIMIZERS`; this module imports neither, nor the plugin registry. Each adapter
imports its framework (pymoo, nevergrad, pyribs) only when it runs or validates, and has

- ``applies_to(problem)`` — whether it runs on ``problem`` (the applicability rule);
- ``validate(label, problem)`` — its parameters checked before any run (names against what
  the algorithm accepts, with close matches; for pymoo a build on ``problem``);
- ``solve(problem, budget, seed)`` — the run.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._algorithm_facts import PRESET_FACTS, pymoo_facts
from ._problems import LatentProblem
from ._result import OptimizeResult
from ._signature import check_call, unknown_names_error
from .errors import InputError, LatentBridgeError

__all__ = [
    "BUILTIN_OPTIMIZERS",
    "BaselineOptimizer",
    "NevergradOptimizer",
    "PymooOptimizer",
    "Solver",
    "builtin_optimizer",
]

#: Keyword arguments of :func:`latentbridge.pymoo.solve` itself (not the algorithm's).
_PYMOO_SOLVE_KWARGS = frozenset({"bounds_width", "ref_point", "verbose"})
#: Keyword arguments of :func:`latentbridge.nevergrad.minimize` itself (not the optimizer's).
_NG_MINIMIZE_KWARGS = frozenset({"batch", "bounded", "fast"})


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

    def validate(self, label: str, problem: LatentProblem | None) -> None:
        """Check the algorithm's parameters before any run, and build it on ``problem`` when given.

        Names are checked against the preset's signature (``paper-ga``, ``set-ga``, ``random``)
        or every constructor of the pymoo class's bases.

        Args:
            label: The optimizer as the user wrote it (``"pymoo:DE"``, ``"paper-ga"``), for messages.
            problem: A problem it will run on (None: skip the build).

        Raises:
            UnknownNameError: an unknown algorithm (close matches listed).
            InputError: an unknown parameter (close matches listed), or the algorithm cannot be
                built with these parameters.
        """
        from . import pymoo as lb_pymoo

        facts = lb_pymoo.algorithm_facts(self.algorithm)
        kw = {k: v for k, v in self.params.items() if k not in _PYMOO_SOLVE_KWARGS}
        if facts.target:
            _check_pymoo_params(label, facts.target, kw)
        else:
            presets: dict[str, Callable[..., Any]] = {
                "paper-ga": lb_pymoo.paper_ga,
                "set-ga": lb_pymoo.set_ga,
                "random": lb_pymoo.random_search,
            }
            check_call(presets[facts.name], label, kw)
        if problem is not None:
            try:
                lb_pymoo.make_algorithm(self.algorithm, problem, **kw)
            except LatentBridgeError:
                raise
            except Exception as exc:
                raise InputError(f"{label} cannot be built with {kw}: {type(exc).__name__}: {exc}") from None

    def min_budget(self, problem: LatentProblem) -> int:
        """Evaluations of the first population on ``problem``: a smaller budget cannot run."""
        from . import pymoo as lb_pymoo

        kw = {k: v for k, v in self.params.items() if k not in _PYMOO_SOLVE_KWARGS}
        return lb_pymoo.min_population(lb_pymoo.make_algorithm(self.algorithm, problem, **kw), problem.dim)

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

    def validate(self, label: str, problem: LatentProblem | None) -> None:
        """Check the registry name and the parameters before any run (nothing is built).

        Args:
            label: The optimizer as the user wrote it (``"ng:CMA"``), for messages.
            problem: Unused (nevergrad optimizers are built on the problem only when they run).

        Raises:
            UnknownNameError: not a name in nevergrad's registry (close matches listed).
            InputError: an unknown parameter (close matches listed) or a bad value.
        """
        from . import nevergrad as lb_ng

        rest = {k: v for k, v in self.params.items() if k not in _NG_MINIMIZE_KWARGS}
        lb_ng.check_params(self.optimizer, rest, what=label)
        for key in ("bounded", "fast"):
            if key in self.params and not isinstance(self.params[key], bool):
                raise InputError(f"parameter {key!r} must be true or false, got {self.params[key]!r}")

    def min_budget(self, problem: LatentProblem) -> int:
        """The first batch, or one population of the seeds' GAs (``LatentPaperGA``...): a smaller budget cannot run."""
        from . import nevergrad as lb_ng

        rest = {k: v for k, v in self.params.items() if k not in _NG_MINIMIZE_KWARGS}
        factory = lb_ng.configure(lb_ng.lookup(self.optimizer), self.optimizer, rest)
        pop = getattr(factory, "pop_size", None) if isinstance(factory, lb_ng.SeedGA) else None
        batch = self.params.get("batch")
        return max(int(pop or 1), int(batch) if isinstance(batch, int) and not isinstance(batch, bool) else 1)

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

    def validate(self, label: str, problem: LatentProblem | None) -> None:
        """Check the parameters against the baseline's signature before any run.

        ``random`` on a multi-objective problem runs pymoo's prior sampling (``batch`` is its
        population) and is not checked against :func:`~latentbridge.baselines.random_search`.

        Args:
            label: The optimizer as the user wrote it, for messages.
            problem: A problem it will run on, or None.

        Raises:
            InputError: an unknown parameter (close matches listed).
        """
        from . import baselines

        if self.method == "random" and problem is not None and problem.n_obj > 1:
            return
        fn = baselines.random_search if self.method == "random" else baselines.map_elites
        check_call(fn, label, self.params, args=(None,), fixed={"budget": 1, "seed": 0})

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


def _check_pymoo_params(label: str, path: str, params: dict[str, Any]) -> None:
    """pymoo classes pass ``**kwargs`` up their bases and ignore what none of them names: refuse those."""
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
        raise unknown_names_error(label, unknown, sorted(known), owner=attr)
