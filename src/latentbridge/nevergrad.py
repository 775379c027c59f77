"""nevergrad adapter: latent parametrization, batched driver, the seeds' GAs and an ExperimentFunction.

nevergrad's ``ask()`` hands out one candidate at a time, and its maintainers keep it
that way (nevergrad issue #1509). A GAN objective is only fast in batches, so
:func:`minimize` runs its own loop: ask ``batch`` candidates, evaluate them with *one*
``problem.evaluate`` call, tell the losses back. Any optimizer of nevergrad's registry
works (``"NGOpt"``, ``"CMA"``, ``"DiagonalCMA"``, ``"TwoPointsDE"``, ``"PSO"``...), as does
an optimizer instance or a ``ConfiguredOptimizer``::

    import latentbridge.nevergrad as lbng
    res = lbng.minimize(problem, "TwoPointsDE", budget=4000, batch=200, seed=0)
    res.best, res.x.shape, res.trace.as_array()[-1]

Importing this module registers the seeds' genetic algorithms in
``nevergrad.optimizers.registry`` (idempotently): ``"LatentPaperGA"`` (seed 000: pop
200, tournament 3, BLX-α α=0.2 with p=0.75, Gaussian N(0, 1) mutation per gene with
p=0.001, generational) and ``"LatentSetGA"`` (seed 002: tournament, uniform crossover,
creep mutation, elitism 1). :class:`LatentExperiment` lets ``nevergrad.benchmark`` run
latentbridge problems.

Public names:

- :func:`parametrization` — ``ng.p.Array`` over flattened solutions, centred on the prior.
- :func:`minimize` — the batched ask/evaluate/tell driver.
- :class:`SeedGA`, :data:`LatentPaperGA`, :data:`LatentSetGA`, :func:`register_seed_gas`.
- :class:`LatentExperiment` — a :class:`nevergrad.functions.ExperimentFunction`.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._presets import PAPER_GA, SET_GA
from ._problems import LatentProblem
from ._result import OptimizeResult, Trace
from ._validation import check_positive_int
from .errors import InputError, RegistryConflictError, UnknownNameError, missing_extra

try:
    import nevergrad as ng
    from nevergrad.functions import base as ngfbase
    from nevergrad.optimization import base as ngbase
    from nevergrad.optimization import optimizerlib as nglib

    from ._ng_ga import SeedGA, _SeedGA
    from ._ng_light import lighten
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    if getattr(_exc, "name", None) and not str(_exc.name).startswith("nevergrad"):
        raise
    raise missing_extra("nevergrad", "nevergrad", _exc) from _exc

__all__ = [
    # parametrization and driver
    "minimize",
    "parametrization",
    # the seeds' GAs
    "LatentPaperGA",
    "LatentSetGA",
    "SeedGA",
    "register_seed_gas",
    # benchmarking
    "LatentExperiment",
]

Array = NDArray[np.float64]

#: Registry names of the seeds' GAs and their configuration (the values of the pymoo presets,
#: ``latentbridge._presets``).
_SEED_GA_CONFIGS: dict[str, dict[str, Any]] = {
    "LatentPaperGA": dict(crossover="blx", mutation="gaussian", **PAPER_GA),
    "LatentSetGA": dict(crossover="uniform", mutation="creep", **SET_GA),
}


# -- parametrization -------------------------------------------------------------------------------
def parametrization(
    problem: LatentProblem,
    *,
    bounded: bool = False,
    width: float = 4.0,
    seed: int | None = None,
) -> Any:
    """An ``ng.p.Array`` of shape ``(problem.dim,)`` centred on the latent prior.

    The array holds one *flattened* solution (for set problems the ``k`` latents of a
    set one after the other, ``k * latent.dim`` floats), which is what nevergrad's
    optimizers work on. Its ``init`` is the prior mean (tiled ``k`` times) and its
    mutation ``sigma`` the prior standard deviation (a scalar when it is the same for
    every coordinate, the lighter option, else a ``(dim,)`` array), so nevergrad's
    standardized space is the prior whitened: ``CMA``, ``DE``... start from the prior,
    and ``parametrization(...).sample()`` draws from it (untruncated, even when the
    latent space has a truncation).

    Args:
        problem: The problem.
        bounded: Add box bounds ``problem.bounds(width)`` (prior mean ± ``width`` std, or
            the truncation box). Off by default: the Gaussian prior is unbounded, and
            bounds make nevergrad switch some algorithms to bounded variants and add a
            transform to every candidate.
        width: Half-width of the box in prior standard deviations (``bounded`` only).
        seed: Seed of the parametrization's ``random_state`` (a legacy
            ``numpy.random.RandomState``), which every nevergrad optimizer draws from.

    Returns:
        A (not yet frozen) ``nevergrad.p.Array`` named ``"Latent(k=..,d=..)"``.
    """
    _check_problem(problem)
    mean = np.tile(problem.latent.mean, problem.k)
    std = np.tile(problem.latent.std, problem.k)
    param = ng.p.Array(init=mean)
    sigma: float | Array = float(std[0]) if np.all(std == std[0]) else std
    param.set_mutation(sigma=sigma)
    if bounded:
        lo, hi = problem.bounds(width)
        param.set_bounds(lo, hi, full_range_sampling=False)
    param.set_name(f"Latent(k={problem.k},d={problem.latent.dim}{',bounded' if bounded else ''})")
    if seed is not None:
        param.random_state = np.random.RandomState(check_positive_int(seed, "seed", minimum=0))
    return param


# -- optimizer resolution ------------------------------------------------------------------------
def _check_problem(problem: Any) -> None:
    if not isinstance(problem, LatentProblem):
        raise InputError(f"problem must be a latentbridge.LatentProblem, got {type(problem).__name__}")


def _lookup(name: str) -> Any:
    registry = ng.optimizers.registry
    if name in registry:
        return registry[name]
    names = list(registry)
    lower = {n.lower(): n for n in names}
    close = [lower[name.lower()]] if name.lower() in lower else []
    close += [n for n in difflib.get_close_matches(name, names, n=5, cutoff=0.6) if n not in close]
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownNameError(
        f"no optimizer named {name!r} in nevergrad's registry ({len(names)} names){hint} "
        "List them with sorted(nevergrad.optimizers.registry)."
    )


def _is_optimizer_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, ngbase.Optimizer)


def _configure(factory: Any, name: str, params: Mapping[str, Any]) -> Any:
    """``factory`` with ``params`` overriding its configuration (ConfiguredOptimizer only)."""
    if not params:
        return factory
    if not isinstance(factory, ngbase.ConfiguredOptimizer):
        return factory  # an Optimizer class: params go to its constructor
    config = factory.config()
    unknown = sorted(set(params) - set(config))
    if unknown:
        raise InputError(
            f"unknown parameter(s) {', '.join(unknown)} for optimizer {name!r}; "
            f"it accepts: {', '.join(sorted(config)) or '(none)'}"
        )
    return type(factory)(**{**config, **params})


def _unwrap(opt: Any) -> Any:
    """The sub-optimizer chosen by a competence-map wrapper (``NGOpt``, ``CMA``), if any.

    ``NGOptBase`` / ``ChoiceBase`` only forward ``ask`` / ``tell`` to the optimizer they
    select at the first ask; driving that one directly yields the same candidates and
    halves the per-candidate bookkeeping. Wrappers that override the forwarding are
    left alone.
    """
    wrappers = (nglib.NGOptBase, nglib.ChoiceBase)
    while isinstance(opt, wrappers) and opt.num_ask == 0:
        base = next(w for w in wrappers if isinstance(opt, w))
        cls = type(opt)
        if any(
            getattr(cls, m) is not getattr(base, m) for m in ("_internal_ask_candidate", "_internal_tell_candidate")
        ):
            break
        opt = opt.optim
    return opt


class _CachedCMA(nglib._CMA):  # type: ignore[misc]  # nevergrad ships no type information
    """nevergrad's ``_CMA`` whose ``es`` property skips rebuilding a ``Normalizer`` on every access.

    ``_CMA.es`` builds ``p.helpers.Normalizer(parametrization)`` (about 0.5 ms) on every
    call, i.e. once per ``tell``, only to compute a scale used when the strategy is
    (re)created. This subclass returns the running strategy directly and defers to
    the original property whenever it would create one, so candidates are identical.
    """

    @property
    def es(self) -> Any:
        current = self._es
        if current is not None and (self._config.fcmaes or not current.stop()):
            return current
        return nglib._CMA.es.fget(self)


def _speed_up(opt: Any) -> Any:
    """Driver shortcuts that leave the candidates unchanged (see :func:`minimize`'s ``fast``)."""
    opt = _unwrap(opt)
    if type(opt) is nglib._CMA and isinstance(getattr(nglib._CMA, "es", None), property):
        opt.__class__ = _CachedCMA
    return opt


@contextlib.contextmanager
def _young_collections_only(active: bool) -> Iterator[Callable[[], object]]:
    """Pause Python's automatic garbage collection; yield a function that collects the young generations.

    nevergrad's archive keeps every candidate told, each a tree of some 40 objects in
    reference cycles (a parameter's ``_layers`` list holds the parameter). Each automatic
    full collection rescans all of them: with a 0.5 ms model that was about a quarter of
    the driver's time per candidate by 6,000 candidates, and it grows with the run. The
    driver calls the yielded function after every batch, which frees cyclic garbage of
    the batch (young objects) without rescanning the archive; the full collections
    resume when the run ends, whatever way it ends. A no-op when ``active`` is false
    or automatic collection was already off.
    """
    if not active or not gc.isenabled():
        yield lambda: None
        return
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        gc.enable()


def _default_batch(problem: LatentProblem, budget: int) -> int:
    return min(budget, max(1, problem.batch_size // problem.k))


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
    """Minimise ``problem`` with a nevergrad optimizer, evaluating ``batch`` candidates per call.

    Each step asks ``batch`` candidates (the last step fewer, so exactly ``budget``
    solutions are evaluated), stacks their values into ``(b, dim)``, evaluates them
    with one ``problem.evaluate`` call and tells each loss back. Optimizers are built
    with ``num_workers=batch``, which is how population-based nevergrad optimizers
    learn the batch size (CMA's population is ``max(batch, 4 + 3 ln dim)``).

    Args:
        problem: A single-objective :class:`~latentbridge.LatentProblem`.
        optimizer: A name in ``nevergrad.optimizers.registry`` (``"CMA"``,
            ``"TwoPointsDE"``, ``"LatentPaperGA"``...), a ``ConfiguredOptimizer``, an
            ``Optimizer`` class, or an ``Optimizer`` instance whose parametrization has
            dimension ``problem.dim`` (its own parametrization, budget and
            ``num_workers`` are then used as they are).
        budget: Solutions to evaluate, exactly.
        batch: Candidates per evaluation call. Defaults to the population size for
            :class:`SeedGA` optimizers, ``num_workers`` for an instance, and otherwise
            the solutions of one forward chunk (``problem.batch_size // problem.k``),
            capped at ``budget``.
        seed: Seed of the parametrization's random state (all nevergrad randomness);
            the same seed gives the same result.
        bounded: Passed to :func:`parametrization` (ignored for an instance).
        fast: Driver shortcuts that change no candidate, loss or recommendation
            (measured in ``benchmarks/README.md``): drive the sub-optimizer that ``NGOpt`` /
            ``CMA`` select directly; cache the CMA strategy object that nevergrad's
            ``_CMA.es`` re-validates at every tell; a lighter parameter tree (same
            attributes, fewer steps: ``latentbridge._ng_light``); and Python's
            automatic full garbage collections paused for the run (young objects
            are still collected after every batch). Ignored for an instance.
            ``fast=False`` runs the stock optimizer.
        **optimizer_params: Overrides of a ``ConfiguredOptimizer``'s configuration (e.g.
            ``pop_size=50`` for ``"LatentPaperGA"``, ``scale=0.5`` for ``"DiagonalCMA"``),
            or keyword arguments of an ``Optimizer`` class.

    Returns:
        An :class:`~latentbridge.OptimizeResult`: best solution ``x`` ``(dim,)`` and
        fitness ``f`` seen during the run, ``n_evals == budget``, a best-so-far trace
        with one point per batch, ``optimizer="ng:<name>"``, and in ``extra`` the
        optimizer's own recommendation (``"recommendation"`` ``(dim,)``, not
        evaluated, to keep the budget exact), the name of the optimizer actually
        driven (``"driven"``) and, for :class:`SeedGA`, ``"generations"``.

    Raises:
        UnknownNameError: ``optimizer`` is not a registered name (close matches listed).
        InputError: multi-objective problem, ``budget`` smaller than one batch or one
            GA population, bad ``optimizer_params``, or an instance of the wrong
            dimension.
    """
    _check_problem(problem)
    budget = check_positive_int(budget, "budget")
    if problem.n_obj != 1:
        raise InputError(
            f"{type(problem).__name__} has {problem.n_obj} objectives, but latentbridge.nevergrad.minimize "
            "optimizes a single objective; average them with aggregate='mean' (e.g. TargetSimilarity(..., "
            "aggregate='mean')) or use a multi-objective algorithm such as latentbridge.pymoo with NSGA2"
        )
    if seed is not None:
        seed = check_positive_int(seed, "seed", minimum=0)

    instance = isinstance(optimizer, ngbase.Optimizer)
    factory: Any = None
    if instance:
        name = str(optimizer.name)
        config = getattr(optimizer, "_configured_optimizer", None)
    elif isinstance(optimizer, str):
        name = optimizer
        factory = _configure(_lookup(optimizer), optimizer, optimizer_params)
        config = factory if isinstance(factory, ngbase.ConfiguredOptimizer) else None
    elif isinstance(optimizer, ngbase.ConfiguredOptimizer) or _is_optimizer_class(optimizer):
        name = str(getattr(optimizer, "name", None) or optimizer.__name__)
        factory = _configure(optimizer, name, optimizer_params)
        config = factory if isinstance(factory, ngbase.ConfiguredOptimizer) else None
    else:
        raise InputError(
            "optimizer must be a name in nevergrad.optimizers.registry, a ConfiguredOptimizer, an Optimizer "
            f"class or an Optimizer instance; got {type(optimizer).__name__}"
        )
    if instance and optimizer_params:
        raise InputError("optimizer_params cannot be applied to an optimizer instance; configure it before")
    ga = config if isinstance(config, SeedGA) else None
    if ga is None and instance and isinstance(optimizer, _SeedGA):
        ga = optimizer._config

    if batch is None:
        batch = ga.pop_size if ga is not None else (int(optimizer.num_workers) if instance else 0)
        batch = batch or _default_batch(problem, budget)
    batch = check_positive_int(batch, "batch")
    if ga is not None and budget < ga.pop_size:
        raise InputError(
            f"budget ({budget}) is smaller than one population of {name} (pop_size={ga.pop_size}); "
            f"raise the budget or pass pop_size=... (at most {budget})"
        )
    if budget < batch:
        raise InputError(f"budget ({budget}) is smaller than one batch (batch={batch}); pass batch <= budget")

    if instance:
        opt = optimizer
        if opt.dimension != problem.dim:
            raise InputError(
                f"optimizer instance has dimension {opt.dimension}, but the problem's solutions have "
                f"dim={problem.dim}; build it on latentbridge.nevergrad.parametrization(problem)"
            )
        if seed is not None:
            opt.parametrization.random_state = np.random.RandomState(seed)
        driven = opt
    else:
        param = parametrization(problem, bounded=bounded, seed=seed)
        if fast:
            lighten(param)
        kwargs = dict(optimizer_params) if _is_optimizer_class(factory) else {}
        try:
            opt = factory(param, budget=budget, num_workers=batch, **kwargs)
        except TypeError as exc:
            raise InputError(f"cannot build optimizer {name!r} with {kwargs}: {exc}") from exc
        except ValueError as exc:
            if "parallel" in str(exc):
                raise InputError(f"{name} cannot ask several candidates at once: pass batch=1 ({exc})") from exc
            raise
        driven = _speed_up(opt) if fast else opt

    dim = problem.dim
    trace = Trace()
    best_f = float("inf")
    best_x: Array | None = None
    n = 0
    t0 = time.perf_counter()
    with _young_collections_only(fast and not instance) as collect_young:
        while n < budget:
            b = min(batch, budget - n)
            cands = [driven.ask() for _ in range(b)]
            X = np.empty((b, dim), dtype=np.float64)
            for j, c in enumerate(cands):
                X[j] = c.value  # raises if the instance's values are not (dim,) arrays
            F = np.asarray(problem.evaluate(X), dtype=np.float64)
            for c, f in zip(cands, F.tolist(), strict=True):
                driven.tell(c, f)
            Fs = np.where(np.isnan(F), np.inf, F)
            i = int(np.argmin(Fs))
            if best_x is None or Fs[i] < best_f:
                best_f, best_x = float(Fs[i]), X[i].copy()
            n += b
            trace.record(n, best_f)
            collect_young()
    wall = time.perf_counter() - t0
    assert best_x is not None  # budget >= 1

    extra: dict[str, Any] = {"driven": str(driven.name), "num_workers": int(driven.num_workers)}
    try:
        extra["recommendation"] = np.asarray(driven.provide_recommendation().value, dtype=np.float64).reshape(dim)
    except Exception as exc:
        extra["recommendation_error"] = f"{type(exc).__name__}: {exc}"
    if ga is not None and isinstance(driven, _SeedGA):
        extra["generations"] = driven.generation

    params: dict[str, Any] = {"batch": batch, "bounded": bounded} if not instance else {"batch": batch}
    if isinstance(config, ngbase.ConfiguredOptimizer):
        params.update(
            {
                k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
                for k, v in config.config().items()
            }
        )
    params.update(optimizer_params)
    return OptimizeResult(
        x=best_x,
        f=best_f,
        n_evals=n,
        trace=trace,
        optimizer=f"ng:{name}",
        params=params,
        seed=seed,
        wall_time=wall,
        extra=extra,
    )


# -- the seeds' GAs in nevergrad's registry --------------------------------------------------------
def register_seed_gas() -> dict[str, SeedGA]:
    """Register ``"LatentPaperGA"`` and ``"LatentSetGA"`` in ``nevergrad.optimizers.registry``.

    Called when :mod:`latentbridge.nevergrad` is imported. Idempotent: names already
    registered by latentbridge (e.g. after a module reload) are replaced.

    Returns:
        The registered configurations by name.

    Raises:
        RegistryConflictError: another package registered one of these names.
    """
    registry = ng.optimizers.registry
    out: dict[str, SeedGA] = {}
    for name, cfg in _SEED_GA_CONFIGS.items():
        existing = registry.get(name)
        if existing is not None:
            owner = type(existing).__module__
            if not owner.startswith("latentbridge."):
                raise RegistryConflictError(
                    f"nevergrad optimizer name {name!r} is already registered by {owner}; latentbridge cannot "
                    "register its seed GA under that name"
                )
            registry.unregister(name)
        out[name] = SeedGA(**cfg).set_name(name, register=True)
    return out


_REGISTERED = register_seed_gas()
#: Seed 000's GA (``nevergrad.optimizers.registry["LatentPaperGA"]``).
LatentPaperGA: SeedGA = _REGISTERED["LatentPaperGA"]
#: Seed 002's set GA (``nevergrad.optimizers.registry["LatentSetGA"]``).
LatentSetGA: SeedGA = _REGISTERED["LatentSetGA"]


# -- benchmarking --------------------------------------------------------------------------------
def _flat_descriptors(problem: LatentProblem) -> dict[str, str | int | float | bool]:
    cfg = problem.config()
    gen = cfg.get("generator", {})
    out: dict[str, str | int | float | bool] = {
        "problem": problem.name,
        "kind": str(cfg.get("kind", problem.kind)),
        "dim": problem.dim,
        "k": problem.k,
        "n_obj": problem.n_obj,
        "generator": str(gen.get("name", gen.get("class", "?"))) if isinstance(gen, dict) else str(gen),
        "scorers": ",".join(str(s.get("name", s.get("class", "?"))) for s in cfg.get("scorers", [])),
    }
    for key, value in cfg.items():
        if key not in out and key not in ("generator", "scorers") and isinstance(value, (str, int, float, bool)):
            out[key] = value
    return out


class LatentExperiment(ngfbase.ExperimentFunction):  # type: ignore[misc]  # nevergrad ships no type information
    """A latentbridge problem as a ``nevergrad.functions.ExperimentFunction``.

    Lets nevergrad's benchmark machinery (``nevergrad.benchmark.xpbase.Experiment``,
    experiment plans) run a :class:`~latentbridge.LatentProblem`. nevergrad calls the
    function on one candidate at a time, i.e. one generator forward per candidate,
    which is slow for GANs; use :func:`minimize` (or :meth:`evaluate_batch`) for batched
    runs. ``copy()`` (used by every benchmark run) shares the same ``problem`` object.

    Descriptors (benchmark table columns) are the scalars of ``problem.config()``
    (kind, dim, k, n_obj, generator name, scorer names, problem name...) plus
    ``bounded``.

    Args:
        problem: A single-objective problem.
        bounded: Passed to :func:`parametrization`.

    Raises:
        InputError: multi-objective problem.
    """

    def __init__(self, problem: LatentProblem, bounded: bool = False) -> None:
        _check_problem(problem)
        if problem.n_obj != 1:
            raise InputError(
                f"LatentExperiment needs a single-objective problem, got n_obj={problem.n_obj}; use aggregate='mean'"
            )
        self.problem = problem
        super().__init__(self._evaluate_one, parametrization(problem, bounded=bool(bounded)))
        self.add_descriptors(**_flat_descriptors(problem))

    def _evaluate_one(self, x: ArrayLike) -> float:
        return float(self.problem.evaluate(np.asarray(x, dtype=np.float64).reshape(1, -1))[0])

    def evaluate_batch(self, X: ArrayLike) -> Array:
        """Losses ``(n,)`` of solutions ``X`` ``(n, dim)`` in one batched call."""
        out: Array = np.asarray(self.problem.evaluate(X), dtype=np.float64)
        return out

    def evaluation_function(self, *recommendations: Any) -> float:
        """Final (noise-free) loss of the recommendation: the problem is deterministic, so its loss."""
        if len(recommendations) != 1:
            raise InputError(f"expected one recommendation, got {len(recommendations)}")
        return self._evaluate_one(recommendations[0].value)
