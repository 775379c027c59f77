"""Optimizers by name: objects with ``solve(problem, budget, seed)``, and which problems they fit.

This is the library's one entry to solver adapters: ``latentbridge bench`` and the
optimizer registry (:func:`latentbridge.registry` ``("optimizer")``) use them. The adapters
themselves live in :mod:`latentbridge._solvers` (re-exported here); each imports its
framework (pymoo, nevergrad, pyribs) only when it runs, and checks its own parameters
(``validate(label, problem)``, called by :func:`validate_optimizer`).

Names:

- ``paper-ga``, ``set-ga`` — the seeds' GAs (:func:`latentbridge.pymoo.solve` presets);
- ``random`` — prior random search (:func:`latentbridge.baselines.random_search`);
- ``map-elites`` — pyribs MAP-Elites (:func:`latentbridge.baselines.map_elites`);
- ``pymoo:<Algorithm>`` — any pymoo algorithm class (``pymoo:DE``, ``pymoo:CMAES``, ``pymoo:NSGA2``);
- ``ng:<name>`` — any nevergrad registry name (``ng:CMA``, ``ng:TwoPointsDE``, ``ng:NGOpt``);
- ``qd:<algorithm>`` — pyribs' quality-diversity algorithms through :func:`latentbridge.qd.solve`
  (``qd:map-elites``, ``qd:cma-me``, ``qd:cma-mae``, ``qd:cma-mega``, ``qd:cma-maega``), on
  quality-diversity problems only (the gradient ones on differentiable measures only);
- anything a plugin registers with ``latentbridge_register_optimizers``.

Applicability rule (which optimizer runs on which problem of a suite unless the suite
lists ``problems`` for it):

- multi-objective problems (``n_obj > 1``): ``random`` and the multi-objective pymoo
  algorithms (NSGA2, NSGA3, ...) only;
- single-objective problems: everything else, except that ``set-ga`` and ``map-elites``
  (operators and descriptors defined on sets of latents) need ``k > 1``;
- a plugin optimizer decides with an ``applies_to(problem) -> bool`` method; without one
  it runs on single-objective problems.

A plugin optimizer may also check its parameters before any run with a
``validate(label, problem) -> None`` method (``problem`` may be None) that raises a
:class:`~latentbridge.errors.LatentBridgeError`; :func:`validate_optimizer` calls it.
"""

from __future__ import annotations

import difflib
from typing import Any

from ._algorithm_facts import PYMOO_ALGORITHMS, pymoo_facts
from ._plugins import registry
from ._problems import LatentProblem
from ._qd_solver import QD_PREFIX, QDOptimizer
from ._signature import check_call
from ._solvers import (
    BUILTIN_OPTIMIZERS,
    BaselineOptimizer,
    NevergradOptimizer,
    PymooOptimizer,
    Solver,
    builtin_optimizer,
)
from .errors import InputError, UnknownNameError

__all__ = [
    "BUILTIN_OPTIMIZERS",
    "MULTI_OBJECTIVE_PYMOO",
    "BaselineOptimizer",
    "NevergradOptimizer",
    "PymooOptimizer",
    "QDOptimizer",
    "Solver",
    "applies",
    "builtin_optimizer",
    "resolve",
    "validate_optimizer",
]

#: pymoo algorithms that handle several objectives (they run on multi-objective problems only).
MULTI_OBJECTIVE_PYMOO = frozenset(name for name, facts in PYMOO_ALGORITHMS.items() if facts.multi_objective)


def resolve(name: str, params: dict[str, Any] | None = None) -> Solver:
    """The optimizer called ``name`` with ``params``.

    Registry names (built-ins and plugins) come first; ``pymoo:<Algorithm>`` and
    ``ng:<name>`` are resolved dynamically (pymoo names against the table of algorithm
    facts; nevergrad names when the optimizer is validated or run).

    Raises:
        UnknownNameError: no such optimizer (the message lists close matches, with their
            ``pymoo:`` prefix for pymoo names, and the prefixes).
        InputError: a parameter the registered factory does not take (close matches listed).
    """
    params = dict(params or {})
    reg = registry("optimizer")
    if name in reg:
        entry = reg.get(name)
        check_call(entry.factory, f"optimizer {name!r} ({entry.distribution})", params)
        solver = entry.factory(**params)
        if not callable(getattr(solver, "solve", None)):
            raise UnknownNameError(f"optimizer {name!r} built a {type(solver).__name__} without a solve() method")
        return solver  # type: ignore[no-any-return]
    prefix, sep, rest = name.partition(":")
    if sep and rest:
        if prefix == "pymoo":
            if pymoo_facts(rest) is None:
                raise _unknown_pymoo(rest)
            return PymooOptimizer(rest, params)
        if prefix in ("ng", "nevergrad"):
            return NevergradOptimizer(rest, params)
        if prefix == QD_PREFIX:
            from .qd import algorithm

            algorithm(rest)  # an unknown algorithm: one error with close matches
            return QDOptimizer(rest, params)
    try:
        reg.get(name)
    except UnknownNameError as exc:
        facts = pymoo_facts(name) if not sep else None
        pymoo = f" pymoo's {facts.name} is written pymoo:{facts.name}." if facts is not None else ""
        raise UnknownNameError(
            f"{exc}{pymoo} Also accepted: pymoo:<Algorithm> (e.g. pymoo:DE), ng:<name> (e.g. ng:CMA), "
            "qd:<algorithm> (e.g. qd:cma-me)."
        ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _unknown_pymoo(algorithm: str) -> UnknownNameError:
    """No pymoo algorithm ``algorithm``: close matches and the known names, all written ``pymoo:<Algorithm>``."""
    known = {n.lower(): n for n in PYMOO_ALGORITHMS}
    close = difflib.get_close_matches(algorithm.lower(), list(known), n=4, cutoff=0.5)
    hint = f" Did you mean: {', '.join(f'pymoo:{known[c]}' for c in close)}?" if close else ""
    return UnknownNameError(
        f"unknown optimizer 'pymoo:{algorithm}': pymoo has no algorithm {algorithm!r}.{hint} "
        f"pymoo algorithms: {', '.join(f'pymoo:{n}' for n in PYMOO_ALGORITHMS)}; "
        "`latentbridge plugins` lists the other optimizer names."
    )


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


def _check_param_values(params: dict[str, Any]) -> None:
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


def validate_optimizer(spec_name: str, params: dict[str, Any], solver: Any, problem: LatentProblem | None) -> None:
    """Check an optimizer's parameters before any run, as far as can be done without running it.

    Checks that counts (``pop_size``, ``batch``, ...) are positive ints and probabilities
    lie in [0, 1], then lets the adapter check the rest with its ``validate(label, problem)``
    method: the built-in adapters check that ``ng:<name>`` exists, that every parameter is
    accepted (close matches suggested: "did you mean 'pop_size'?") and, for pymoo, build the
    algorithm on ``problem``. A plugin optimizer without a ``validate`` method gets the
    generic checks only.

    Args:
        spec_name: The name as written (``"pymoo:DE"``).
        params: Its parameters.
        solver: What :func:`resolve` built from them.
        problem: A problem it will run on (None: skip the checks that need one).

    Raises:
        UnknownNameError: an unknown pymoo or nevergrad algorithm.
        InputError: a bad parameter name or value.
    """
    _check_param_values(params)
    validate = getattr(solver, "validate", None)
    if callable(validate):
        validate(spec_name, problem)
