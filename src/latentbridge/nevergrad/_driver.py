"""The driver: :func:`minimize`, nevergrad's ask/tell loop with one batched evaluation per step.

nevergrad's ``ask()`` hands out one candidate at a time, and its maintainers keep it
that way (nevergrad issue #1509). A GAN objective is only fast in batches, so
:func:`minimize` runs its own loop: ask up to ``batch`` candidates (what the optimizer can
take before a tell: never a new CMA-ES generation before the last was told), evaluate them
with *one* ``problem.evaluate`` call, tell the losses back. The steps, in order:
:func:`_resolve` (what ``optimizer`` names), :func:`_prepare` / :func:`_build` (the optimizer
and its batch plan), :func:`_drive` (the loop), then the result from the
:class:`~latentbridge.Tracker` that watched the problem.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nevergrad.optimization import base as ngbase
from nevergrad.optimization import optimizerlib as nglib

from .._problems import LatentProblem
from .._result import OptimizeResult
from .._tracking import Tracker
from .._validation import check_positive_int
from ..errors import InputError, UnsupportedOptimizerError
from . import _light as light
from ._failures import release_quietly, upstream_failure
from ._names import configure, is_optimizer_class, lookup
from ._parametrization import check_problem, parametrization
from ._recast import recast_threads, settle_recast_threads, stop_recast_threads
from ._seed_gas import SeedGA, _SeedGA

__all__ = ["minimize"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _default_batch(problem: LatentProblem, budget: int) -> int:
    return min(budget, max(1, problem.batch_size // problem.k))


# -- ask/tell contracts ------------------------------------------------------------------------------
def _sub_optimizers(opt: Any) -> list[Any]:
    """``opt`` and every optimizer it holds (a wrapper's selected one, a portfolio's, a chain's...)."""
    out: list[Any] = []
    seen: set[int] = set()
    stack = [opt]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        out.append(o)
        for value in vars(o).values():
            if isinstance(value, ngbase.Optimizer):
                stack.append(value)
            elif isinstance(value, (list, tuple)) and value and isinstance(value[0], ngbase.Optimizer):
                stack.extend(v for v in value if isinstance(v, ngbase.Optimizer))
    return out


def _cma_generation_in_flight(opts: list[Any]) -> bool:
    """True if one more ask could make a CMA-ES start a generation before the last one was told.

    nevergrad's ``_CMA`` asks ``cma`` for a whole population when its queue is empty and
    tells it once ``popsize`` candidates came back. Asking again while some are still
    out makes ``cma`` sample a second generation from the same state, which its TPA
    step-size adaptation (the default from about 300 dimensions) refuses ("Mean shift
    samples are expected but missing").
    """
    for o in opts:
        if isinstance(o, nglib._CMA) and not o._to_be_asked and o.num_ask > o.num_tell - o.num_tell_not_asked:
            return True
    return False


def _cma_population(opt: Any) -> int | None:
    """CMA-ES population size when ``opt`` (after wrappers that only select) is nevergrad's ``_CMA``."""
    while isinstance(opt, (nglib.NGOptBase, nglib.ChoiceBase)):
        opt = opt.optim  # the selection nevergrad would make at the first ask
    return int(opt._popsize) if isinstance(opt, nglib._CMA) else None


# -- driver steps --------------------------------------------------------------------------------------
@dataclass
class _Spec:
    """What ``optimizer`` resolved to."""

    name: str
    instance: Any  # an Optimizer instance, or None
    factory: Any  # a ConfiguredOptimizer or an Optimizer class, or None
    config: Any  # its ConfiguredOptimizer, or None
    ga: SeedGA | None
    kwargs: dict[str, Any]  # keyword arguments of an Optimizer class


@dataclass
class _Plan:
    """How the run asks: at most ``batch`` candidates per evaluation call."""

    batch: int
    notes: list[str] = field(default_factory=list)


def _check_run(problem: Any, budget: Any, seed: Any) -> tuple[int, int | None]:
    check_problem(problem)
    budget = check_positive_int(budget, "budget")
    if problem.n_obj != 1:
        raise InputError(
            f"{type(problem).__name__} has {problem.n_obj} objectives, but latentbridge.nevergrad.minimize "
            "optimizes a single objective; average them with aggregate='mean' (e.g. TargetSimilarity(..., "
            "aggregate='mean')) or use a multi-objective algorithm such as latentbridge.pymoo with NSGA2"
        )
    return budget, None if seed is None else check_positive_int(seed, "seed", minimum=0)


def _resolve(optimizer: Any, optimizer_params: Mapping[str, Any]) -> _Spec:
    if isinstance(optimizer, ngbase.Optimizer):
        if optimizer_params:
            raise InputError("optimizer_params cannot be applied to an optimizer instance; configure it before")
        config = getattr(optimizer, "_configured_optimizer", None)
        ga = optimizer._config if isinstance(optimizer, _SeedGA) else None
        return _Spec(str(optimizer.name), optimizer, None, config, ga, {})
    if isinstance(optimizer, str):
        name, factory = optimizer, lookup(optimizer)
    elif isinstance(optimizer, ngbase.ConfiguredOptimizer) or is_optimizer_class(optimizer):
        name, factory = str(getattr(optimizer, "name", None) or optimizer.__name__), optimizer
    else:
        raise InputError(
            "optimizer must be a name in nevergrad.optimizers.registry, a ConfiguredOptimizer, an Optimizer "
            f"class or an Optimizer instance; got {type(optimizer).__name__}"
        )
    factory = configure(factory, name, optimizer_params)
    config = factory if isinstance(factory, ngbase.ConfiguredOptimizer) else None
    kwargs = dict(optimizer_params) if is_optimizer_class(factory) else {}
    return _Spec(name, None, factory, config, config if isinstance(config, SeedGA) else None, kwargs)


def _check_batch(spec: _Spec, batch: int, budget: int) -> None:
    if spec.ga is not None and budget < spec.ga.pop_size:
        raise InputError(
            f"budget ({budget}) is smaller than one population of {spec.name} (pop_size={spec.ga.pop_size}); "
            f"raise the budget or pass pop_size=... (at most {budget})"
        )
    if budget < batch:
        raise InputError(f"budget ({budget}) is smaller than one batch (batch={batch}); pass batch <= budget")


def _build(problem: LatentProblem, spec: _Spec, param: Any, budget: int, batch: int | None) -> tuple[Any, _Plan]:
    """The optimizer, built with ``num_workers`` = the batch, and the batch plan.

    Optimizers that cannot run several candidates at once (nevergrad refuses
    ``num_workers > 1``, or its constructor fails with it) run with batch 1 when the
    batch was the driver's choice, and are refused with that advice when the caller
    chose it. Without an explicit batch, a CMA-ES asks one whole population per call.
    """
    chosen = batch if batch is not None else (spec.ga.pop_size if spec.ga is not None else 0)
    plan = _Plan(check_positive_int(chosen or _default_batch(problem, budget), "batch"))
    _check_batch(spec, plan.batch, budget)
    if plan.batch > 1 and _sequential_only(spec.factory):
        # nevergrad's constructor would refuse num_workers > 1, and the half-built optimizer's
        # __del__ would then print an "Exception ignored" traceback: build it sequential at once
        if batch is not None:
            raise UnsupportedOptimizerError(
                f"nevergrad optimizer {spec.name!r} cannot ask several candidates at once (it runs one at a "
                f"time, e.g. a scipy or directsearch solver in a thread); pass batch=1, or leave batch unset "
                "and latentbridge runs it with batch 1"
            )
        plan = _Plan(1, [f"{spec.name} cannot batch (it evaluates one candidate at a time); ran with batch 1"])
    try:
        opt = spec.factory(param, budget=budget, num_workers=plan.batch, **spec.kwargs)
    except TypeError as exc:
        if spec.kwargs:
            raise InputError(f"cannot build optimizer {spec.name!r} with {spec.kwargs}: {exc}") from exc
        raise upstream_failure(spec.name, "being built", exc) from exc
    except Exception as exc:
        if isinstance(exc, ImportError) or plan.batch == 1:
            raise upstream_failure(spec.name, "being built", exc) from exc
        try:
            opt = spec.factory(param, budget=budget, num_workers=1, **spec.kwargs)
        except Exception:
            raise upstream_failure(spec.name, "being built", exc) from exc
        if batch is not None:
            raise UnsupportedOptimizerError(
                f"nevergrad optimizer {spec.name!r} cannot ask several candidates at once "
                f"(with num_workers={batch}: {type(exc).__name__}: {exc}); pass batch=1, or leave batch unset "
                "and latentbridge runs it with batch 1"
            ) from exc
        plan = _Plan(1, [f"{spec.name} cannot batch ({type(exc).__name__}: {exc}); ran with batch 1"])
        release_quietly(exc)
    if spec.ga is None and plan.batch > 1:
        opt = _fit_cma_population(spec, param, budget, plan, opt, explicit=batch is not None)
    return opt, plan


def _sequential_only(factory: Any) -> bool:
    """The optimizer class ``factory`` builds declares ``no_parallelization`` (nevergrad refuses num_workers > 1)."""
    cls = getattr(factory, "_OptimizerClass", factory)
    return isinstance(cls, type) and bool(getattr(cls, "no_parallelization", False))


def _fit_cma_population(spec: _Spec, param: Any, budget: int, plan: _Plan, opt: Any, *, explicit: bool) -> Any:
    """Make a CMA-ES generation one evaluation call: its population equal to the batch when possible.

    nevergrad's population is ``max(num_workers, 4 + popsize_factor ln d)``, plus one for
    elitist variants (``CMApara``, which ``NGOpt`` and ``CMA`` select for batched runs). When
    it exceeds the batch by ``e``, the optimizer is rebuilt once with ``num_workers`` smaller
    by ``e``, kept if its population then equals the batch. Otherwise a default batch
    becomes the population, and an explicit one is kept (steps then end at generation
    boundaries, see :func:`_drive`).
    """
    try:
        popsize = _cma_population(opt)
        if popsize is not None and popsize > plan.batch and plan.batch - (popsize - plan.batch) >= 1:
            workers = plan.batch - (popsize - plan.batch)
            other = spec.factory(param, budget=budget, num_workers=workers, **spec.kwargs)
            if _cma_population(other) == plan.batch:
                plan.notes.append(f"num_workers={workers} so that the CMA-ES population is the batch ({plan.batch})")
                return other
    except Exception as exc:
        raise upstream_failure(spec.name, "selecting its sub-optimizer", exc) from exc
    if popsize is not None and popsize != plan.batch and not explicit:
        plan.batch = min(popsize, budget)
        plan.notes.append(f"batch = CMA-ES population ({popsize})")
    return opt


def _prepare(
    problem: LatentProblem, spec: _Spec, budget: int, batch: int | None, seed: int | None, bounded: bool, lean: bool
) -> tuple[Any, _Plan]:
    """The optimizer to run and its batch plan: the caller's instance (checked, reseeded) or a new one."""
    if spec.instance is None:
        param = parametrization(problem, bounded=bounded, seed=seed, _lean=lean)
        return _build(problem, spec, param, budget, batch)
    opt = spec.instance
    if opt.dimension != problem.dim:
        raise InputError(
            f"optimizer instance has dimension {opt.dimension}, but the problem's solutions have "
            f"dim={problem.dim}; build it on latentbridge.nevergrad.parametrization(problem)"
        )
    default = spec.ga.pop_size if spec.ga is not None else int(opt.num_workers)
    plan = _Plan(check_positive_int(batch if batch is not None else default, "batch"))
    _check_batch(spec, plan.batch, budget)
    if seed is not None:
        opt.parametrization.random_state = np.random.RandomState(seed)
    return opt, plan


def _drive(
    problem: LatentProblem, opt: Any, name: str, plan: _Plan, budget: int, after_ask: Callable[[], None] | None = None
) -> int:
    """Ask at most ``plan.batch`` candidates, evaluate them in one call, tell them; until ``budget``.

    A step stops early when one more ask would start a CMA-ES generation before the
    previous one was told (see :func:`_cma_generation_in_flight`). ``after_ask`` (the
    fast samplers' watch, :class:`~latentbridge.nevergrad._light.SamplerWatch`) runs after each
    ask. Each tell to a recast optimizer waits for its thread (see
    :func:`~latentbridge.nevergrad._recast.settle_recast_threads`). Returns the number of evaluation calls.
    """
    dim, n, steps = problem.dim, 0, 0
    while n < budget:
        b = min(plan.batch, budget - n)
        cands: list[Any] = []
        try:
            cands.append(opt.ask())
            if after_ask is not None:
                after_ask()
            while len(cands) < b and not _cma_generation_in_flight(_sub_optimizers(opt)):
                cands.append(opt.ask())
                if after_ask is not None:
                    after_ask()
        except Exception as exc:
            raise upstream_failure(name, f"asking candidate {n + len(cands) + 1}", exc, plan.batch) from exc
        X = np.empty((len(cands), dim), dtype=np.float64)
        for j, c in enumerate(cands):
            X[j] = c.value  # raises if the instance's values are not (dim,) arrays
        bad = ~np.all(np.abs(X) <= _FLOAT32_MAX, axis=1)  # NaN compares False
        if bad.any():
            raise UnsupportedOptimizerError(
                f"nevergrad optimizer {name!r} asked candidate {n + 1 + int(np.argmax(bad))} with NaN, inf or "
                "coordinates beyond the float32 range, which no model can evaluate; this is an upstream bug "
                "(docs/optimizers.md lists the optimizers that run): pick another optimizer, e.g. 'NGOpt', 'CMA', "
                "'DiagonalCMA' or 'TwoPointsDE'"
            )
        F = np.asarray(problem.evaluate(X), dtype=np.float64)
        recast = recast_threads(_sub_optimizers(opt))
        try:
            for c, f in zip(cands, F.tolist(), strict=True):
                opt.tell(c, f)
                if recast:
                    settle_recast_threads(recast)
        except Exception as exc:
            raise upstream_failure(name, f"being told candidates {n + 1}-{n + len(cands)}", exc, plan.batch) from exc
        n += len(cands)
        steps += 1
    return steps


@contextlib.contextmanager
def _global_rngs_seeded(seed: int | None) -> Iterator[None]:
    """Seed numpy's and Python's global random generators for the block, then restore their states.

    Some nevergrad optimizers draw from ``np.random`` or ``random`` directly (lognormal
    and "smooth" (1+1) mutations, several portfolios) instead of the parametrization's
    ``random_state``, so a seed alone would not make them reproducible. Nothing outlives
    the call; runs in concurrent threads share these generators (as they always do).
    """
    if seed is None:
        yield
        return
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002 - what those optimizers use
    np.random.seed(seed)  # noqa: NPY002
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)


def _recommendation(opt: Any, dim: int) -> dict[str, Any]:
    try:
        return {"recommendation": np.asarray(opt.provide_recommendation().value, dtype=np.float64).reshape(dim)}
    except Exception as exc:
        return {"recommendation_error": f"{type(exc).__name__}: {exc}"}


def _params(spec: _Spec, plan: _Plan, bounded: bool, optimizer_params: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = (
        {"batch": plan.batch} if spec.instance is not None else {"batch": plan.batch, "bounded": bounded}
    )
    if isinstance(spec.config, ngbase.ConfiguredOptimizer):
        params.update(
            {
                k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
                for k, v in spec.config.config().items()
            }
        )
    params.update(optimizer_params)
    return params


# -- driver ----------------------------------------------------------------------------------------
def minimize(
    problem: LatentProblem,
    optimizer: Any,
    budget: int,
    *,
    batch: int | None = None,
    seed: int | None = None,
    bounded: bool = False,
    fast: bool = True,
    **optimizer_params: Any,
) -> OptimizeResult:
    """Minimise ``problem`` with a nevergrad optimizer, evaluating up to ``batch`` candidates per call.

    Each step asks candidates, stacks their values into ``(b, dim)``, evaluates them
    with one ``problem.evaluate`` call and tells each loss back, until exactly
    ``budget`` solutions were evaluated. Optimizers are built with
    ``num_workers=batch``, which is how nevergrad's population-based optimizers learn
    the batch size. A step asks what the optimizer can take before a tell: never more
    than ``batch``, and never more than what is left of a CMA-ES generation (nevergrad's
    CMA variants may use a population larger than ``num_workers``, e.g. ``CMApara``'s
    ``4 + 8 ln(dim)``, which ``NGOpt`` and ``CMA`` select for batched runs; ``cma``
    refuses a new generation before the last was told). Without an explicit ``batch``,
    a CMA-ES asks one population per call.

    Optimizers that cannot ask several candidates at once run with batch 1 when
    ``batch`` is not given (``extra["notes"]`` says so) and are refused when it is.
    Every failure inside nevergrad or a package it imports becomes a latentbridge
    error (see Raises); ``docs/optimizers.md`` lists how each registry name fares.

    Args:
        problem: A single-objective :class:`~latentbridge.LatentProblem`.
        optimizer: A name in ``nevergrad.optimizers.registry`` (``"CMA"``,
            ``"TwoPointsDE"``, ``"LatentPaperGA"``...), a ``ConfiguredOptimizer``, an
            ``Optimizer`` class, or an ``Optimizer`` instance whose parametrization has
            dimension ``problem.dim`` (its own parametrization, budget and
            ``num_workers`` are then used as they are).
        budget: Solutions to evaluate, exactly.
        batch: Most candidates per evaluation call. Defaults to the population size
            for :class:`SeedGA` optimizers, ``num_workers`` for an instance, the
            population for a CMA-ES, and otherwise the solutions of one forward chunk
            (``problem.batch_size // problem.k``); always capped at ``budget``.
        seed: Seed of the parametrization's random state (nevergrad's randomness) and,
            for the duration of the call, of numpy's and Python's global generators,
            which some nevergrad optimizers draw from directly (their states are
            restored afterwards); the same seed gives the same result.
        bounded: Passed to :func:`parametrization` (ignored for an instance).
        fast: Driver shortcuts that change no candidate, loss or recommendation,
            applied only on the nevergrad versions they were checked against
            (``latentbridge.nevergrad._light``): a lighter parameter tree (same attributes,
            fewer steps) and, for wrappers that only forward (``"CMA"``, not
            ``"NGOpt"``), driving the optimizer they select. Ignored for an
            instance. ``fast=False`` runs the stock optimizer.
        **optimizer_params: Overrides of a ``ConfiguredOptimizer``'s configuration (e.g.
            ``pop_size=50`` for ``"LatentPaperGA"``, ``scale=0.5`` for ``"DiagonalCMA"``),
            or keyword arguments of an ``Optimizer`` class.

    Returns:
        An :class:`~latentbridge.OptimizeResult`: best solution ``x`` ``(dim,)`` and
        fitness ``f`` seen during the run, ``n_evals == budget``, a best-so-far trace
        with one point per evaluation call, ``optimizer="ng:<name>"``, and in
        ``extra`` the optimizer's own recommendation (``"recommendation"`` ``(dim,)``,
        not evaluated, to keep the budget exact), the optimizer actually driven
        (``"driven"``), ``"num_workers"``, the evaluation calls (``"steps"``), the
        batch decisions (``"notes"``) and, for :class:`SeedGA`, ``"generations"``.

    Raises:
        UnknownNameError: ``optimizer`` is not a registered name (close matches listed).
        InputError: multi-objective problem, ``budget`` smaller than one batch or one
            GA population, bad ``optimizer_params``, or an instance of the wrong
            dimension.
        MissingDependencyError: the optimizer needs a package that is not installed
            (the message names the ``pip install``).
        UnsupportedOptimizerError: the optimizer failed inside nevergrad (the message
            names the optimizer, where it failed and the upstream exception, which is
            the ``__cause__``), or cannot ask several candidates and ``batch > 1`` was
            passed.
        NonFiniteFitnessError: every evaluation gave a non-finite fitness.
    """
    budget, seed = _check_run(problem, budget, seed)
    spec = _resolve(optimizer, optimizer_params)
    shortcuts = fast and spec.instance is None and light.shortcuts_apply()
    tracker = Tracker(1, budget=budget)
    with _global_rngs_seeded(seed):
        opt, plan = _prepare(problem, spec, budget, batch, seed, bounded, shortcuts)
        driven = light.unwrap(opt) if shortcuts else opt
        watch = light.SamplerWatch(_sub_optimizers(driven)) if shortcuts else None
        t0 = time.perf_counter()
        with problem.observe(tracker):
            steps = _drive(problem, driven, spec.name, plan, budget, watch.after_ask if watch is not None else None)
        wall = time.perf_counter() - t0
        recommendation = _recommendation(driven, problem.dim)
        if spec.instance is None:
            stop_recast_threads(_sub_optimizers(opt))

    extra: dict[str, Any] = {"driven": str(driven.name), "num_workers": int(driven.num_workers), "steps": steps}
    if plan.notes:
        extra["notes"] = list(plan.notes)
    extra.update(recommendation)
    if spec.ga is not None and isinstance(driven, _SeedGA):
        extra["generations"] = driven.generation
    return tracker.result(
        f"ng:{spec.name}",
        params=_params(spec, plan, bounded, optimizer_params),
        seed=seed,
        wall_time=wall,
        extra=extra,
    )
