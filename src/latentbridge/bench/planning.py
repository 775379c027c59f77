"""Planning a suite: every run (problem, optimizer, replicate) as a :class:`RunTask`, validated before any runs.

A run's seed comes from :func:`~latentbridge.campaign.seeds.run_seed`, its key from (suite,
problem hash, optimizer + parameters, seed, budget). The :class:`RunTask` that travels to a
worker carries the problem *spec*, never the problem: workers rebuild the problem (once per
process) and check that its config hash matches the parent's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._problems import LatentProblem
from ..campaign.seeds import run_seed
from ..errors import InputError, UnknownNameError
from ..optimizers import applies, resolve, validate_optimizer
from . import problems as problems_mod
from .problems import cached_problem, trusted_imports
from .specs import OptimizerSpec, ProblemSpec, Suite, located

__all__ = ["RunTask", "plan", "run_key"]


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (picklable, small)."""

    key: str
    suite: str
    problem: ProblemSpec
    problem_hash: str
    optimizer: OptimizerSpec
    replicate: int
    seed: int
    budget: int
    threads: int = 1
    timeout: float | None = None
    allow_imports: tuple[str, ...] = ()


def run_key(suite: str, problem_hash: str, optimizer: OptimizerSpec, seed: int, budget: int) -> str:
    """The identity of a run in the store."""
    blob = json.dumps(
        {
            "suite": suite,
            "problem": problem_hash,
            "optimizer": optimizer.name,
            "params": optimizer.params,
            "label": optimizer.label,
            "seed": seed,
            "budget": budget,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def plan(
    suite: Suite,
    *,
    threads: int = 1,
    allow_imports: Sequence[str] = (),
    run_timeout: float | None = None,
) -> list[RunTask]:
    """All runs of ``suite`` in a deterministic order (problem, optimizer, replicate), validated.

    Everything that can be checked before a run is checked here, so a bad suite fails
    before any run starts and before anything is stored: every problem is built (models,
    options, devices, target and originals files), every optimizer name is resolved
    (``pymoo:``/``ng:`` names included, with close matches) and its parameters are checked.
    Errors name the suite file, line and key.

    Args:
        suite: The suite.
        threads: torch threads per run.
        allow_imports: Modules whose ``"pkg.module:factory"`` names may be imported
            (``--allow-import``); nothing else is ever imported by name.
        run_timeout: Seconds per run (default: the suite's ``run_timeout``).

    Raises:
        SuiteError: an invalid problem or optimizer (file, line and key in the message).
        InputError: no optimizer applies to any problem.
    """
    timeout = suite.run_timeout if run_timeout is None else float(run_timeout)
    imports = tuple(dict.fromkeys((*problems_mod.trusted_modules(), *allow_imports)))  # travels with each task
    with trusted_imports(imports):
        built = {spec.id: cached_problem(spec) for spec in suite.problems}  # errors name the key
        solvers: dict[str, Any] = {}
        for opt in suite.optimizers:
            try:
                solvers[opt.label] = resolve(opt.name, opt.params)
            except UnknownNameError as exc:
                raise located(opt.where, "name", exc) from None
            except Exception as exc:
                raise located(opt.where, "params", exc) from None
    tasks: list[RunTask] = []
    validated: set[str] = set()
    for spec in suite.problems:
        problem = built[spec.id]
        phash = problem.config_hash()
        for opt in suite.optimizers:
            if opt.problems is not None:
                if spec.id not in opt.problems:
                    continue
            elif not applies(solvers[opt.label], problem):
                continue
            if opt.label not in validated:
                _validate_optimizer(opt, solvers[opt.label], problem)
                validated.add(opt.label)
            _check_budget(suite, spec, opt, solvers[opt.label], problem)
            for rep in range(suite.seeds):
                seed = run_seed(suite.seed, spec.id, opt.label, rep)
                key = run_key(suite.name, phash, opt, seed, suite.budget)
                tasks.append(
                    RunTask(key, suite.name, spec, phash, opt, rep, seed, suite.budget, threads, timeout, imports)
                )
    for opt in suite.optimizers:
        if opt.label not in validated:
            _validate_optimizer(opt, solvers[opt.label], None)
    if not tasks:
        raise InputError(f"suite {suite.name!r}: no optimizer applies to any problem (see the applicability rule)")
    return tasks


def _check_budget(suite: Suite, spec: ProblemSpec, opt: OptimizerSpec, solver: Any, problem: LatentProblem) -> None:
    """Refuse, before any run, a budget smaller than what ``solver`` spends before its first result."""
    min_budget = getattr(solver, "min_budget", None)
    if not callable(min_budget):
        return
    try:
        need = int(min_budget(problem))
    except Exception as exc:
        raise located(opt.where, "params", exc) from None
    if suite.budget < need:
        raise located(
            opt.where,
            "params",
            InputError(
                f"budget={suite.budget} is smaller than one population of {opt.label} on problem {spec.id!r} "
                f"({need} evaluations): raise the suite's budget (or --budget) to at least {need}, or make "
                "the population smaller"
            ),
        )


def _validate_optimizer(opt: OptimizerSpec, solver: Any, problem: LatentProblem | None) -> None:
    try:
        validate_optimizer(opt.name, opt.params, solver, problem)
    except UnknownNameError as exc:
        raise located(opt.where, "name", exc) from None
    except Exception as exc:
        raise located(opt.where, "params", exc) from None
