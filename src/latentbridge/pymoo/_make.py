"""Algorithm names: look-up with close matches, latent-friendly defaults, and clear refusals.

Everything known about each algorithm lives in one table,
:data:`latentbridge._algorithm_facts.PYMOO_ALGORITHMS`.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import math
from typing import Any

import numpy as np

from .._algorithm_facts import PRESET_FACTS, PYMOO_ALGORITHMS, AlgorithmFacts, pymoo_facts
from .._problems import LatentProblem
from ..errors import InputError, MissingDependencyError, UnknownNameError
from ._algorithms import GenerationalGA
from ._presets import PRESETS
from ._problem import LatentSampling

__all__ = ["algorithm_names", "make_algorithm"]


def algorithm_names(*, supported_only: bool = False) -> list[str]:
    """Names :func:`solve` and :func:`make_algorithm` know: the presets, then pymoo classes.

    Args:
        supported_only: Leave out the algorithms latentbridge refuses outright (see
            :func:`algorithm_facts`). Algorithms that only need an argument you must pass
            (``RNSGA2``'s ``ref_points``) are kept.
    """
    pymoo_names = [n for n, f in PYMOO_ALGORITHMS.items() if not (supported_only and f.refused)]
    return [*PRESET_FACTS, *pymoo_names]


def algorithm_facts(name: str) -> AlgorithmFacts:
    """What latentbridge knows about algorithm ``name`` (objectives, needs, refusal reason).

    Raises:
        UnknownNameError: ``name`` is unknown; the message lists close matches.
    """
    facts = pymoo_facts(name)
    if facts is None:
        known = {_norm(n): n for n in algorithm_names()}
        close = difflib.get_close_matches(_norm(name), list(known), n=4, cutoff=0.5)
        hint = f" Did you mean: {', '.join(known[c] for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown optimizer {name!r}.{hint} Known: {', '.join(algorithm_names())}")
    return facts


def _norm(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def _ref_dirs(n_obj: int, pop_size: int | None) -> Any:
    from pymoo.util.ref_dirs import get_reference_directions

    target = pop_size or 100
    p = 1
    while p < 100 and math.comb(p + 1 + n_obj - 1, n_obj - 1) <= target:
        p += 1
    return get_reference_directions("das-dennis", n_obj, n_partitions=p)


def single_objective_error(label: str, n_obj: int) -> InputError:
    """The error for a single-objective algorithm given a problem with ``n_obj > 1`` objectives."""
    return InputError(
        f"{label} is single-objective but the problem has n_obj={n_obj}; use a multi-objective "
        "algorithm (NSGA2, NSGA3, ...) or aggregate the objectives (TargetSimilarity(..., aggregate='mean'))"
    )


def check_fits(facts: AlgorithmFacts, n_obj: int, params: dict[str, Any]) -> None:
    """Refuse, with the reason, an algorithm that cannot run on a problem with ``n_obj`` objectives.

    Raises:
        InputError: refused outright, missing required arguments, or wrong number of objectives.
    """
    name = facts.name
    if facts.refused:
        raise InputError(f"pymoo algorithm {name} is not supported by latentbridge: {facts.refused}")
    missing = [p for p in facts.requires if p not in params]
    if missing:
        args = ", ".join(f"{p}=..." for p in missing)
        raise InputError(
            f"pymoo algorithm {name} needs {', '.join(missing)}, which latentbridge cannot choose for you "
            f"(points in objective space that express your preferences); pass them: solve(problem, {name!r}, {args})"
        )
    if n_obj > 1 and not facts.multi_objective:
        raise single_objective_error(name, n_obj)
    if n_obj == 1 and facts.one_objective:
        raise InputError(
            f"pymoo algorithm {name} needs at least two objectives but the problem has one: {facts.one_objective}; "
            "use a single-objective algorithm (GA, DE, CMAES, ...) or NSGA2"
        )


def make_algorithm(name: str, problem: LatentProblem, *, bounds_width: float = 4.0, **params: Any) -> Any:
    """Build a preset or pymoo algorithm by name, with latent-friendly defaults.

    Defaults filled in unless given in ``params``: ``sampling=LatentSampling()`` and
    ``eliminate_duplicates=False`` where the class takes them; das-dennis ``ref_dirs``
    (as many as fit in ``pop_size``, default 100; classes without a ``pop_size``
    argument, MOEAD and CTAEA, take it for this only) for NSGA3/UNSGA3/MOEAD/CTAEA/RVEA;
    fresh copies of the class's default operators (pymoo shares them between instances,
    with state); for
    CMAES ``x0`` = the prior mean and ``sigma = 1 / (2 * bounds_width)``, i.e. the
    prior's standard deviation in pymoo's normalised box.

    Args:
        name: ``"paper-ga"``, ``"set-ga"``, ``"random"`` or a pymoo class name (``"DE"``,
            ``"NSGA2"``...); case, ``-`` and ``_`` are ignored.
        problem: The problem (for ``dim``, ``n_obj`` and the prior).
        bounds_width: Box half-width in prior std, as in :class:`PymooProblem`.
        **params: Constructor arguments.

    Raises:
        UnknownNameError: ``name`` is unknown; the message lists close matches.
        InputError: the algorithm cannot run on ``problem`` (the message says why).
    """
    facts = algorithm_facts(name)
    check_fits(facts, problem.n_obj, params)
    if facts.name in PRESETS:
        return PRESETS[facts.name](**params)
    module, _, attr = facts.target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except Exception as exc:  # pymoo raises a bare Exception when numba (AGEMOEA) is missing
        raise MissingDependencyError(f"pymoo algorithm {facts.name} could not be loaded: {exc}") from exc
    signature = inspect.signature(cls.__init__).parameters
    accepted = set(signature)
    kw = dict(params)
    if "sampling" in accepted:
        kw.setdefault("sampling", LatentSampling())
    if "eliminate_duplicates" in accepted or facts.dedup_via_kwargs:
        kw.setdefault("eliminate_duplicates", False)
    if facts.ref_dirs:
        # classes sized by their directions (MOEAD, CTAEA) take pop_size as "about this many directions"
        size = kw.get("pop_size") if "pop_size" in accepted else kw.pop("pop_size", None)
        kw.setdefault("ref_dirs", _ref_dirs(problem.n_obj, size))
    if "ref_points" in kw:
        kw["ref_points"] = np.atleast_2d(np.asarray(kw["ref_points"], dtype=np.float64))
    if facts.name == "CMAES":
        kw.setdefault("x0", np.tile(problem.latent.mean, problem.k))
        kw.setdefault("sigma", 1.0 / (2.0 * float(bounds_width)))
    for key, param in signature.items():  # pymoo's default operators are shared objects that keep state
        if key not in kw and type(param.default).__module__.startswith("pymoo."):
            kw[key] = copy.deepcopy(param.default)
    return cls(**kw)


def single_objective_only(algorithm: Any) -> bool:
    """Whether a pymoo ``Algorithm`` instance handles one objective only."""
    if isinstance(algorithm, GenerationalGA):
        return True
    return str(type(algorithm).__module__).startswith("pymoo.algorithms.soo")


def min_population(algorithm: Any, n_var: int) -> int:
    """Evaluations of the first population of ``algorithm`` (what a budget must at least allow)."""
    if type(algorithm).__name__ == "CMAES":
        popsize = algorithm.options.get("popsize") or 4 + int(3 * math.log(n_var))
        return int(popsize)
    size = getattr(algorithm, "pop_size", None)
    return int(size) if isinstance(size, (int, np.integer)) else 1
