"""pymoo adapter: latentbridge problems as vectorized pymoo problems, the seeds' operators as pymoo operators.

Importing this module imports pymoo (``pip install 'latentbridge[pymoo]'``); ``import
latentbridge`` alone never does.

- :func:`as_pymoo` / :class:`PymooProblem` — any :class:`~latentbridge.LatentProblem`
  as a pymoo ``Problem`` with ``elementwise=False``: one batched ``evaluate`` per
  population.
- :class:`LatentSampling` — initial populations drawn from the latent prior.
- :class:`BLXAlpha`, :class:`UniformCrossover`, :class:`GaussianMutation`,
  :class:`CreepMutation`, :class:`TournamentSelection` — thin pymoo operator classes
  around the numpy kernels of :mod:`latentbridge.operators`, vectorized over the whole
  population.
- :class:`GenerationalGA` and the presets :func:`paper_ga` (seed 000), :func:`set_ga`
  (seed 002) and :func:`random_search` (prior sampling).
- :func:`solve` — run a preset or any pymoo algorithm by name on a latentbridge problem
  under an exact evaluation budget and return an :class:`~latentbridge.OptimizeResult`.

Example:
    >>> from latentbridge.pymoo import solve                      # doctest: +SKIP
    >>> res = solve(problem, "paper-ga", budget=20_000, seed=0)   # doctest: +SKIP
    >>> res.best, res.n_evals                                     # doctest: +SKIP
"""

from __future__ import annotations

import abc
import difflib
import importlib
import inspect
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import operators as ops
from ._presets import PAPER_GA, SET_GA
from ._problems import LatentProblem
from ._result import OptimizeResult, Trace
from ._validation import check_seed
from .errors import InputError, UnknownNameError, missing_extra

try:
    from pymoo.algorithms.base.genetic import GeneticAlgorithm
    from pymoo.core.algorithm import Algorithm
    from pymoo.core.crossover import Crossover
    from pymoo.core.mutation import Mutation
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem
    from pymoo.core.sampling import Sampling
    from pymoo.core.selection import Selection
    from pymoo.termination.max_eval import MaximumFunctionCallTermination
    from pymoo.util.display.single import SingleObjectiveOutput
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("pymoo", "pymoo", _exc) from _exc

__all__ = [
    # problem
    "LatentSampling",
    "PymooProblem",
    "as_pymoo",
    # operators
    "BLXAlpha",
    "CreepMutation",
    "GaussianMutation",
    "TournamentSelection",
    "UniformCrossover",
    # algorithms and presets
    "GenerationalGA",
    "PriorRandomSearch",
    "paper_ga",
    "random_search",
    "set_ga",
    # running
    "algorithm_names",
    "make_algorithm",
    "solve",
]

Array = NDArray[np.float64]
#: Receives every evaluated batch: ``(X (n, n_var), F (n, n_obj))``.
Recorder = Callable[[Array, Array], None]


# ============================================================================================
# Problem and sampling
# ============================================================================================


class PymooProblem(Problem):  # type: ignore[misc]  # pymoo is untyped
    """A :class:`~latentbridge.LatentProblem` as a vectorized pymoo ``Problem``.

    ``n_var = problem.dim``, ``n_obj = problem.n_obj``, no constraints. ``_evaluate``
    hands the whole population to ``problem.evaluate`` in one call (the problem chunks
    it into ``batch_size`` forwards), so pymoo never loops over individuals.

    Bounds ``xl, xu = problem.bounds(bounds_width)`` (prior mean ± ``bounds_width``
    prior std per coordinate) are only *used* by algorithms that need a box: DE and
    PSO (repair/velocity), CMAES (normalisation), and pymoo's default samplers. The
    latent prior, not the box, is the intended initialisation: use
    :class:`LatentSampling` (which :func:`solve` and the presets do).

    Args:
        problem: The latentbridge problem (not copied; its ``n_evals`` counter keeps
            counting).
        bounds_width: Half-width of the box in prior standard deviations.

    Attributes:
        latent_problem: The wrapped problem.
        recorder: Optional callable ``recorder(X, F)`` called with every evaluated batch
            (``X (n, n_var)``, ``F (n, n_obj)``); :func:`solve` uses it for the trace.
    """

    def __init__(self, problem: LatentProblem, *, bounds_width: float = 4.0) -> None:
        if not isinstance(problem, LatentProblem):
            raise InputError(f"problem must be a latentbridge.LatentProblem, got {type(problem).__name__}")
        if not (float(bounds_width) > 0):
            raise InputError(f"bounds_width must be > 0, got {bounds_width!r}")
        xl, xu = problem.bounds(float(bounds_width))
        super().__init__(n_var=problem.dim, n_obj=problem.n_obj, xl=xl, xu=xu, elementwise=False)
        self.latent_problem = problem
        self.bounds_width = float(bounds_width)
        self.recorder: Recorder | None = None

    def _evaluate(self, x: Array, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        X = np.asarray(x, dtype=np.float64)
        F = np.asarray(self.latent_problem.evaluate(X), dtype=np.float64).reshape(X.shape[0], self.n_obj)
        out["F"] = F
        if self.recorder is not None:
            self.recorder(X, F)


def as_pymoo(problem: LatentProblem, *, bounds_width: float = 4.0) -> PymooProblem:
    """Wrap ``problem`` as a vectorized pymoo problem; see :class:`PymooProblem`."""
    return PymooProblem(problem, bounds_width=bounds_width)


class LatentSampling(Sampling):  # type: ignore[misc]
    """Initial population drawn from the latent prior ``N(loc, scale²)``.

    For a :class:`PymooProblem` this is ``problem.latent_problem.sample(n, rng)`` (``k``
    independent latents per solution for set problems) with the random generator pymoo
    passes; for any other pymoo problem it is ``N(0, 1)`` per variable.
    """

    def _do(self, problem: Any, n_samples: int, *args: Any, random_state: Any = None, **kwargs: Any) -> Array:
        rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        lp = getattr(problem, "latent_problem", None)
        if isinstance(lp, LatentProblem):
            return lp.sample(int(n_samples), rng)
        out: Array = rng.standard_normal((int(n_samples), int(problem.n_var)))
        return out


# ============================================================================================
# Operators
# ============================================================================================


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def _stack(pop: Any, attr: str) -> Array:
    """``(len(pop), ·)`` float array of one attribute of every individual (no pymoo ``get`` loop)."""
    return np.asarray(np.stack([getattr(ind, attr) for ind in np.ravel(pop)]), dtype=np.float64)


def _selection_key(F: Array, CV: Array | None = None) -> Array:
    """Scalar selection key ``(n,)``, lower is better.

    Single objective: the fitness (NaN loses). Several objectives: the non-dominated rank
    (0 = first front). Constraint violations, if any, rank infeasible solutions last.
    """
    F = np.where(np.isnan(F), np.inf, F)
    if F.shape[1] == 1:
        key = F[:, 0].copy()
    else:
        key = np.empty(F.shape[0], dtype=np.float64)
        for r, front in enumerate(NonDominatedSorting().do(F)):
            key[front] = r
    if CV is not None and np.any(CV > 0):
        order = np.lexsort((key, CV))
        key = np.empty_like(key)
        key[order] = np.arange(order.size, dtype=np.float64)
    return key


class TournamentSelection(Selection):  # type: ignore[misc]
    """Tournament selection of size ``k`` (seed 000: ``k = 3``), vectorized over all matings.

    Each of the ``n_select * n_parents`` parents is the best of ``k`` contenders drawn
    uniformly with replacement (:func:`latentbridge.operators.tournament`). Lower fitness
    wins; with several objectives the non-dominated rank is compared; infeasible
    solutions lose to feasible ones.

    Args:
        k: Tournament size, ``>= 1`` (pymoo's ``pressure``).
    """

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"tournament size k must be an int >= 1, got {k!r}")
        self.k = int(k)

    @property
    def pressure(self) -> int:
        """pymoo's name for the tournament size."""
        return self.k

    def select(self, F: Array, n_select: int, n_parents: int, rng: np.random.Generator) -> NDArray[np.int64]:
        """Array form: indices ``(n_select, n_parents)`` into a population with fitness ``F (n, n_obj)``."""
        key = _selection_key(np.asarray(F, dtype=np.float64).reshape(len(F), -1))
        return ops.tournament(key, int(n_select) * int(n_parents), k=self.k, rng=rng).reshape(n_select, n_parents)

    def _do(
        self, problem: Any, pop: Any, n_select: int, n_parents: int, *args: Any, random_state: Any = None, **kwargs: Any
    ) -> NDArray[np.int64]:
        F = _stack(pop, "F")
        CV = _stack(pop, "CV")[:, 0] if problem.has_constraints() else None
        key = _selection_key(F.reshape(len(pop), -1), CV)
        idx = ops.tournament(key, int(n_select) * int(n_parents), k=self.k, rng=_rng(random_state))
        return idx.reshape(n_select, n_parents)


class _VectorCrossover(Crossover, abc.ABC):  # type: ignore[misc]
    """Two parents → two children; ``do`` gathers all parents into one array (no per-mating loop)."""

    def __init__(self, prob: float) -> None:
        super().__init__(n_parents=2, n_offsprings=2, prob=1.0)
        self.p_pair = ops.check_probability(prob, "prob")

    @abc.abstractmethod
    def _kernel(self, p1: Array, p2: Array, prob: float, rng: np.random.Generator) -> tuple[Array, Array]:
        """Children of parent pairs ``p1``, ``p2`` (each ``(m, d)``), pair probability ``prob``."""

    def cross(self, P: Array, rng: np.random.Generator) -> Array:
        """Array form: parents ``(2, m, d)`` → children ``(2 * m, d)`` (all first children, then all second).

        The pair probability ``prob`` is applied: a pair that is not recombined yields
        copies of its two parents.
        """
        c1, c2 = self._kernel(P[0], P[1], self.p_pair, rng)
        return np.concatenate([c1, c2])

    def _do(self, problem: Any, X: Array, *args: Any, random_state: Any = None, **kwargs: Any) -> Array:
        # pymoo's own Crossover.do applies the pair probability around _do: recombine always here.
        c1, c2 = self._kernel(X[0], X[1], 1.0, _rng(random_state))
        return np.stack([c1, c2])

    def do(
        self, problem: Any, pop: Any, parents: Any = None, *args: Any, random_state: Any = None, **kwargs: Any
    ) -> Any:
        """Children of all matings as a pymoo ``Population`` of ``2 * n_matings`` individuals.

        ``parents`` is an ``(n_matings, 2)`` index array into ``pop``; without it ``pop``
        is the ``(n_matings, 2)`` object array of parents pymoo's ``Mating`` passes.
        """
        if parents is not None:
            P = _stack(pop, "X")[np.asarray(parents, dtype=np.int64)]  # (m, 2, d)
        else:
            pairs = np.asarray(pop, dtype=object)
            P = _stack(pairs, "X").reshape(pairs.shape[0], pairs.shape[1], -1)
        return Population.new("X", self.cross(np.swapaxes(P, 0, 1), _rng(random_state)))


class BLXAlpha(_VectorCrossover):
    """BLX-α blend crossover (seed 000: ``alpha=0.2``, pair probability 0.75).

    Each child gene is uniform on ``[lo - α·I, hi + α·I]``, ``I = |p1 - p2|``
    (:func:`latentbridge.operators.blx_alpha`); a pair is recombined with probability
    ``prob``, otherwise both parents are copied.

    Args:
        alpha: Interval extension, ``>= 0``.
        prob: Per-pair crossover probability in [0, 1].
    """

    def __init__(self, alpha: float = 0.2, prob: float = 0.75) -> None:
        if not (float(alpha) >= 0):
            raise InputError(f"alpha must be >= 0, got {alpha!r}")
        super().__init__(prob)
        self.alpha = float(alpha)

    def _kernel(self, p1: Array, p2: Array, prob: float, rng: np.random.Generator) -> tuple[Array, Array]:
        return ops.blx_alpha(p1, p2, alpha=self.alpha, prob=prob, rng=rng)


class UniformCrossover(_VectorCrossover):
    """Uniform crossover (seed 002): swap each gene between the parents with probability ``swap``.

    Args:
        swap: Per-gene swap probability in [0, 1].
        prob: Per-pair crossover probability in [0, 1].
    """

    def __init__(self, swap: float = 0.5, prob: float = 1.0) -> None:
        super().__init__(prob)
        self.swap = ops.check_probability(swap, "swap")

    def _kernel(self, p1: Array, p2: Array, prob: float, rng: np.random.Generator) -> tuple[Array, Array]:
        return ops.uniform_crossover(p1, p2, swap=self.swap, prob=prob, rng=rng)


class _VectorMutation(Mutation, abc.ABC):  # type: ignore[misc]
    """Per-gene mutation applied to every individual (pymoo's per-individual ``prob`` is 1)."""

    def __init__(self, prob: float) -> None:
        p = ops.check_probability(prob, "prob")
        super().__init__(prob=1.0, prob_var=p)
        self.p_gene = p

    @abc.abstractmethod
    def mutate(self, X: Array, rng: np.random.Generator) -> Array:
        """Array form: mutated copy ``(n, d)`` of ``X``."""

    def _do(self, problem: Any, X: Array, *args: Any, random_state: Any = None, **kwargs: Any) -> Array:
        return self.mutate(np.asarray(X, dtype=np.float64), _rng(random_state))

    def do(
        self, problem: Any, pop: Any, inplace: bool = True, *args: Any, random_state: Any = None, **kwargs: Any
    ) -> Any:
        """Mutate every individual of ``pop`` (per-gene probability ``prob``); returns ``pop``."""
        if not inplace:
            pop = Population.new("X", _stack(pop, "X"))
        if len(pop) == 0:
            return pop
        Xp = self.mutate(_stack(pop, "X"), _rng(random_state))
        for ind, x in zip(pop, Xp, strict=True):
            ind.X = x
        return pop


class GaussianMutation(_VectorMutation):
    """Gaussian mutation (seed 000: ``mu=0, sigma=1``, per-gene probability 0.001).

    Every gene of every individual independently receives ``N(mu, sigma²)`` noise with
    probability ``prob`` (:func:`latentbridge.operators.gaussian_mutation`). ``prob`` is
    a *per-gene* probability (pymoo's ``prob_var``); pymoo's per-individual ``prob`` is
    fixed to 1.

    Args:
        mu: Noise mean.
        sigma: Noise standard deviation, ``>= 0``.
        prob: Per-gene mutation probability in [0, 1].
    """

    def __init__(self, mu: float = 0.0, sigma: float = 1.0, prob: float = 0.001) -> None:
        if not (float(sigma) >= 0):
            raise InputError(f"sigma must be >= 0, got {sigma!r}")
        super().__init__(prob)
        self.mu = float(mu)
        self.sigma = float(sigma)

    def mutate(self, X: Array, rng: np.random.Generator) -> Array:
        """Array form: mutated copy ``(n, d)`` of ``X``."""
        return ops.gaussian_mutation(X, mu=self.mu, sigma=self.sigma, prob=self.p_gene, rng=rng)


class CreepMutation(_VectorMutation):
    """Creep mutation (seed 002): add ``U(-step, step)`` to each gene with probability ``prob``.

    Args:
        step: Half-width of the creep, ``>= 0`` (latent units).
        prob: Per-gene mutation probability in [0, 1] (pymoo's ``prob_var``).
    """

    def __init__(self, step: float = 0.1, prob: float = 0.1) -> None:
        if not (float(step) >= 0):
            raise InputError(f"step must be >= 0, got {step!r}")
        super().__init__(prob)
        self.step = float(step)

    def mutate(self, X: Array, rng: np.random.Generator) -> Array:
        """Array form: mutated copy ``(n, d)`` of ``X``."""
        return ops.creep_mutation(X, step=self.step, prob=self.p_gene, rng=rng)


# ============================================================================================
# Algorithms
# ============================================================================================


def _evaluated_population(X: Array, F: Array) -> Any:
    """A pymoo ``Population`` of already evaluated, unconstrained individuals."""
    pop = Population.new("X", X, "F", F)
    for ind in pop:
        ind.evaluated.update(("F", "G", "H"))
    return pop


def _budget_left(algorithm: Any) -> float:
    term = algorithm.termination
    if isinstance(term, MaximumFunctionCallTermination) and term.n_max_evals is not None:
        return float(term.n_max_evals) - float(algorithm.evaluator.n_eval)
    return math.inf


def _prime_allocator(nbytes: int) -> None:
    """Allocate and free one block of ``nbytes`` (capped at 32 MiB) once.

    glibc raises its dynamic mmap/trim thresholds when a large mmapped block is freed;
    without this, the population-sized temporaries of every generation can be mmapped
    (or trimmed) and page-faulted afresh, which measured 2-3x slower than the kernels
    themselves at d = 512. Elsewhere this is a harmless malloc/free.
    """
    block = np.empty(int(min(max(nbytes, 1 << 20), 32 << 20)), dtype=np.uint8)
    del block


class GenerationalGA(GeneticAlgorithm):  # type: ignore[misc]
    """Generational GA: each generation the offspring replace the population, except ``elitism`` elites.

    One generation selects ``pop_size - elitism`` offspring worth of parents (tournament),
    recombines and mutates them, evaluates them in one batch and forms the next population
    from the ``elitism`` best current individuals plus all offspring (DEAP's ``eaSimple``
    when ``elitism=0``). ``algorithm.opt`` is the best solution *ever* evaluated (DEAP's
    hall of fame), not the best of the last population.

    With the latentbridge operators (:class:`TournamentSelection`, :class:`BLXAlpha`,
    :class:`UniformCrossover`, :class:`GaussianMutation`, :class:`CreepMutation`),
    :class:`LatentSampling` and an unconstrained problem, :meth:`next` runs on numpy
    arrays only: no pymoo ``Individual`` is created during the run (``algorithm.pop`` is
    materialised on demand), and offspring identical to their parent (no crossover, no
    mutated gene) inherit its fitness instead of being re-evaluated, as in DEAP. If the
    termination is ``("n_evals", budget)`` the last generation is truncated so that
    exactly ``budget`` evaluations are made. Other operators use pymoo's generic path.

    Args:
        pop_size: Population size.
        sampling: Initialisation (default :class:`LatentSampling`).
        selection: Parent selection.
        crossover: Two-parent crossover.
        mutation: Mutation.
        elitism: Number of best individuals carried over unchanged, ``0 <= elitism < pop_size``.
        reevaluate_clones: Evaluate unchanged offspring again (only useful for noisy problems).
        **kwargs: Passed to pymoo's ``GeneticAlgorithm``.
    """

    is_initialized: bool

    def __init__(
        self,
        pop_size: int,
        selection: Any,
        crossover: Any,
        mutation: Any,
        *,
        sampling: Any = None,
        elitism: int = 0,
        reevaluate_clones: bool = False,
        **kwargs: Any,
    ) -> None:
        pop_size = int(pop_size)
        if pop_size < 2:
            raise InputError(f"pop_size must be >= 2, got {pop_size}")
        if not (0 <= int(elitism) < pop_size):
            raise InputError(f"elitism must be in [0, pop_size), got {elitism} with pop_size={pop_size}")
        kwargs.setdefault("output", SingleObjectiveOutput())
        super().__init__(
            pop_size=pop_size,
            sampling=LatentSampling() if sampling is None else sampling,
            selection=selection,
            crossover=crossover,
            mutation=mutation,
            survival=None,
            n_offsprings=pop_size - int(elitism),
            eliminate_duplicates=False,
            **kwargs,
        )
        self.elitism = int(elitism)
        self.reevaluate_clones = bool(reevaluate_clones)
        self._X: Array | None = None  # current population, array form
        self._F: Array | None = None
        self._pop_cache: Any = None
        self._opt_cache: Any = None
        self._best: tuple[Array, Array] | None = None

    # -- population: pymoo object on demand ----------------------------------------------------
    @property
    def pop(self) -> Any:
        """The current population as a pymoo ``Population`` (built lazily on the fast path)."""
        X: Array | None = getattr(self, "_X", None)
        if self._pop_cache is None and X is not None:
            assert self._F is not None
            self._pop_cache = _evaluated_population(X, self._F)
        return self._pop_cache

    @pop.setter
    def pop(self, value: Any) -> None:
        self._pop_cache = value
        self._X = self._F = None

    @property
    def opt(self) -> Any:
        """Best solution ever evaluated, as a one-individual ``Population`` (built lazily on the fast path)."""
        if (
            self._opt_cache is None
            and getattr(self, "_best", None) is not None
            and getattr(self, "_X", None) is not None
        ):
            assert self._best is not None
            self._opt_cache = _evaluated_population(self._best[0][None, :], self._best[1][None, :])
        return self._opt_cache

    @opt.setter
    def opt(self, value: Any) -> None:
        self._opt_cache = value

    def _fast(self) -> bool:
        return (
            hasattr(self.mating.selection, "select")
            and hasattr(self.mating.crossover, "cross")
            and hasattr(self.mating.mutation, "mutate")
            and isinstance(self.initialization.sampling, Sampling)
            and not self.problem.has_constraints()
        )

    # -- fast path ------------------------------------------------------------------------------
    def next(self) -> None:
        """One generation (the initial population on the first call)."""
        if not self._fast():
            super().next()
            return
        rng = self.random_state
        if not self.is_initialized:
            self._initialize()
            self._best = None
            _prime_allocator(8 * self.pop_size * self.problem.n_var * 8)
            X = np.asarray(self.initialization.sampling._do(self.problem, self.pop_size, random_state=rng))
            left = _budget_left(self)
            if X.shape[0] > left:
                raise InputError(f"budget of {int(left)} evaluations is smaller than one population ({X.shape[0]})")
            F = self._eval(X)
            self._set_arrays(X, F)
            self.is_initialized = True
        else:
            assert self._X is not None
            assert self._F is not None
            X, F = self._generation(self._X, self._F, rng)
            if X.shape[0] == 0:  # budget exhausted
                self.termination.force_termination = True
            else:
                if self.elitism:
                    elite = np.argsort(_selection_key(self._F), kind="stable")[: self.elitism]
                    X, F = np.concatenate([self._X[elite], X]), np.concatenate([self._F[elite], F])
                self._set_arrays(X, F)
        self._post_advance()
        if self.termination.has_terminated():
            self.finalize()

    def _eval(self, X: Array) -> Array:
        if X.shape[0] == 0:
            return np.empty((0, self.problem.n_obj))
        F = self.problem.evaluate(X, return_values_of=["F"])
        self.evaluator.n_eval += X.shape[0]
        return np.asarray(F, dtype=np.float64).reshape(X.shape[0], -1)

    def _generation(self, X: Array, F: Array, rng: np.random.Generator) -> tuple[Array, Array]:
        """Offspring ``(m, d)`` and their fitness ``(m, n_obj)``; ``m < n_offsprings`` only when the budget ends."""
        sel, cx, mut = self.mating.selection, self.mating.crossover, self.mating.mutation
        n_off = self.n_offsprings
        n_mat = -(-n_off // cx.n_offsprings)
        idx = sel.select(F, n_mat, cx.n_parents, rng)  # (n_mat, n_parents)
        C = mut.mutate(cx.cross(X[idx.T], rng)[:n_off], rng)
        Fc = np.empty((C.shape[0], F.shape[1]), dtype=np.float64)
        todo = np.ones(C.shape[0], dtype=bool)
        if not self.reevaluate_clones and cx.n_offsprings == cx.n_parents:
            src = idx.T.reshape(-1)[:n_off]  # child j of mating i copies parent j when not recombined
            cand = np.flatnonzero(C[:, 0] == X[src, 0])  # cheap pre-filter on the first gene
            clone = cand[np.all(C[cand] == X[src[cand]], axis=1)]
            Fc[clone] = F[src[clone]]
            todo[clone] = False
        left = _budget_left(self)
        n_todo = int(todo.sum())
        if n_todo > left:  # last, truncated generation: keep only what the budget can evaluate
            keep = np.flatnonzero(todo)[: int(left)]
            if keep.size == 0:
                return C[:0], Fc[:0]
            C, Fc, todo = C[: keep[-1] + 1], Fc[: keep[-1] + 1], todo[: keep[-1] + 1]
        Fc[todo] = self._eval(C if todo.all() else C[todo])
        return C, Fc

    def _set_arrays(self, X: Array, F: Array) -> None:
        self._pop_cache = None
        self._X, self._F = X, F
        if F.shape[1] == 1:
            i = int(np.argmin(np.where(np.isnan(F[:, 0]), np.inf, F[:, 0])))
            if self._best is None or F[i, 0] < self._best[1][0]:
                self._best = (X[i].copy(), F[i].copy())

    # -- generic (pymoo ask/tell) path ----------------------------------------------------------
    def _initialize_advance(self, infills: Any = None, **kwargs: Any) -> None:
        pass

    def _advance(self, infills: Any = None, **kwargs: Any) -> None:
        if infills is None:
            return
        old = self.pop
        if self.elitism > 0:
            key = _selection_key(_stack(old, "F").reshape(len(old), -1))
            old_elite = old[np.argsort(key, kind="stable")[: self.elitism]]
            self.pop = Population.merge(old_elite, infills)
        else:
            self.pop = infills

    def _set_optimum(self) -> None:
        if self._X is not None and self._best is not None:
            self._opt_cache = None  # rebuilt from self._best on access
            return
        from pymoo.util.optimum import filter_optimum

        pop = self.pop if self.opt is None else Population.merge(self.opt, self.pop)
        self.opt = filter_optimum(pop, least_infeasible=True)


class PriorRandomSearch(Algorithm):  # type: ignore[misc]
    """Random search: every iteration evaluates ``pop_size`` fresh samples of the latent prior.

    ``algorithm.opt`` is the best solution ever seen (the non-dominated set of all
    samples for multi-objective problems).

    Args:
        pop_size: Samples per iteration (one batched evaluation).
        sampling: Where samples come from (default :class:`LatentSampling`).
        **kwargs: Passed to pymoo's ``Algorithm``.
    """

    opt: Any

    def __init__(self, pop_size: int = 100, sampling: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(pop_size) < 1:
            raise InputError(f"pop_size must be >= 1, got {pop_size}")
        self.pop_size = int(pop_size)
        self.sampling = LatentSampling() if sampling is None else sampling

    def _initialize_infill(self) -> Any:
        return self._infill()

    def _infill(self) -> Any:
        return self.sampling.do(self.problem, self.pop_size, random_state=self.random_state)

    def _initialize_advance(self, infills: Any = None, **kwargs: Any) -> None:
        pass

    def _advance(self, infills: Any = None, **kwargs: Any) -> None:
        if infills is not None:
            self.pop = infills

    def _set_optimum(self) -> None:
        from pymoo.util.optimum import filter_optimum

        pop = self.pop if self.opt is None else Population.merge(self.opt, self.pop)
        self.opt = filter_optimum(pop, least_infeasible=True)


# ============================================================================================
# Presets
# ============================================================================================


def paper_ga(
    pop_size: int = PAPER_GA["pop_size"],
    alpha: float = PAPER_GA["alpha"],
    p_crossover: float = PAPER_GA["p_crossover"],
    sigma: float = PAPER_GA["sigma"],
    p_mutation: float = PAPER_GA["p_mutation"],
    tournament_size: int = PAPER_GA["tournament_size"],
    *,
    mu: float = PAPER_GA["mu"],
    elitism: int = PAPER_GA["elitism"],
) -> GenerationalGA:
    """Seed 000's GA (DEAP ``eaSimple`` with the paper's operators) as a pymoo algorithm.

    Population 200 sampled from the prior; tournament selection of size 3; BLX-α with
    ``α = 0.2`` applied to each pair with probability 0.75; Gaussian mutation ``N(0, 1)``
    of each gene with probability 0.001; *generational* replacement: the 200 offspring
    replace the population, with no elite by default (the seed uses DEAP's ``eaSimple``,
    which keeps none; the best solution ever seen is still reported, like DEAP's hall of
    fame). Offspring identical to a parent inherit its fitness (DEAP re-evaluates only
    individuals whose fitness was invalidated).

    Args:
        pop_size: Population size.
        alpha: BLX-α extension, ``>= 0``.
        p_crossover: Per-pair crossover probability.
        sigma: Gaussian mutation standard deviation.
        p_mutation: Per-gene mutation probability.
        tournament_size: Tournament size.
        mu: Gaussian mutation mean.
        elitism: Elites kept per generation (0 in the seed).

    Returns:
        A :class:`GenerationalGA`.
    """
    return GenerationalGA(
        pop_size,
        TournamentSelection(tournament_size),
        BLXAlpha(alpha, p_crossover),
        GaussianMutation(mu, sigma, p_mutation),
        elitism=elitism,
    )


def set_ga(
    pop_size: int = SET_GA["pop_size"],
    step: float = SET_GA["step"],
    p_mutation: float = SET_GA["p_mutation"],
    tournament_size: int = SET_GA["tournament_size"],
    *,
    swap: float = SET_GA["swap"],
    p_crossover: float = SET_GA["p_crossover"],
    elitism: int = SET_GA["elitism"],
) -> GenerationalGA:
    """Seed 002's GA for sets of latents: uniform crossover, creep mutation, tournament, elitism 1.

    Seed 002 gives no numbers beyond "elitism of 1"; the defaults (population 100,
    creep ``U(-0.1, 0.1)`` per gene with probability 0.1, tournament 3, swap 0.5 on
    every pair) are ours, shared with nevergrad's ``"LatentSetGA"``. Each generation
    the ``pop_size - 1`` offspring plus the best individual form the new pool.

    Args:
        pop_size: Pool size.
        step: Creep half-width (latent units).
        p_mutation: Per-gene creep probability.
        tournament_size: Tournament size.
        swap: Per-gene swap probability of the uniform crossover.
        p_crossover: Per-pair crossover probability.
        elitism: Elites kept per generation.

    Returns:
        A :class:`GenerationalGA`.
    """
    return GenerationalGA(
        pop_size,
        TournamentSelection(tournament_size),
        UniformCrossover(swap, p_crossover),
        CreepMutation(step, p_mutation),
        elitism=elitism,
    )


def random_search(pop_size: int = 100) -> PriorRandomSearch:
    """Random sampling from the latent prior, ``pop_size`` solutions per batch (seed 002's RS, batched)."""
    return PriorRandomSearch(pop_size=pop_size)


# ============================================================================================
# Names
# ============================================================================================

_PYMOO_ALGORITHMS: dict[str, str] = {
    "GA": "pymoo.algorithms.soo.nonconvex.ga:GA",
    "DE": "pymoo.algorithms.soo.nonconvex.de:DE",
    "CMAES": "pymoo.algorithms.soo.nonconvex.cmaes:CMAES",
    "PSO": "pymoo.algorithms.soo.nonconvex.pso:PSO",
    "ES": "pymoo.algorithms.soo.nonconvex.es:ES",
    "SRES": "pymoo.algorithms.soo.nonconvex.sres:SRES",
    "ISRES": "pymoo.algorithms.soo.nonconvex.isres:ISRES",
    "G3PCX": "pymoo.algorithms.soo.nonconvex.g3pcx:G3PCX",
    "NelderMead": "pymoo.algorithms.soo.nonconvex.nelder:NelderMead",
    "PatternSearch": "pymoo.algorithms.soo.nonconvex.pattern:PatternSearch",
    "NSGA2": "pymoo.algorithms.moo.nsga2:NSGA2",
    "NSGA3": "pymoo.algorithms.moo.nsga3:NSGA3",
    "UNSGA3": "pymoo.algorithms.moo.unsga3:UNSGA3",
    "MOEAD": "pymoo.algorithms.moo.moead:MOEAD",
    "AGEMOEA": "pymoo.algorithms.moo.age:AGEMOEA",
    "SPEA2": "pymoo.algorithms.moo.spea2:SPEA2",
    "SMSEMOA": "pymoo.algorithms.moo.sms:SMSEMOA",
    "RVEA": "pymoo.algorithms.moo.rvea:RVEA",
}
_PRESETS: dict[str, Callable[..., Any]] = {"paper-ga": paper_ga, "set-ga": set_ga, "random": random_search}
# classes that forward ``eliminate_duplicates`` through **kwargs (DE, for one, sets it itself)
_DEDUP_VIA_KWARGS = {"NSGA2", "SPEA2", "AGEMOEA", "SMSEMOA"}
_NEEDS_REF_DIRS = {"NSGA3", "UNSGA3", "MOEAD", "RVEA"}


def _norm(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def algorithm_names() -> list[str]:
    """Names :func:`solve` and :func:`make_algorithm` accept: the presets, then pymoo classes."""
    return [*_PRESETS, *_PYMOO_ALGORITHMS]


def _lookup(name: str) -> str:
    table = {_norm(n): n for n in algorithm_names()}
    key = _norm(name)
    if key in table:
        return table[key]
    close = difflib.get_close_matches(key, list(table), n=4, cutoff=0.5)
    hint = f" Did you mean: {', '.join(table[c] for c in close)}?" if close else ""
    raise UnknownNameError(f"unknown optimizer {name!r}.{hint} Known: {', '.join(algorithm_names())}")


def _ref_dirs(n_obj: int, pop_size: int | None) -> Any:
    from pymoo.util.ref_dirs import get_reference_directions

    target = pop_size or 100
    p = 1
    while p < 100 and math.comb(p + 1 + n_obj - 1, n_obj - 1) <= target:
        p += 1
    return get_reference_directions("das-dennis", n_obj, n_partitions=p)


def make_algorithm(name: str, problem: LatentProblem, *, bounds_width: float = 4.0, **params: Any) -> Any:
    """Build a preset or pymoo algorithm by name, with latent-friendly defaults.

    Defaults filled in unless given in ``params``: ``sampling=LatentSampling()`` and
    ``eliminate_duplicates=False`` where the class takes them; das-dennis ``ref_dirs``
    (as many as fit in ``pop_size``, default 100) for NSGA3/UNSGA3/MOEAD/RVEA; for
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
    """
    canonical = _lookup(name)
    if canonical in _PRESETS:
        return _PRESETS[canonical](**params)
    module, _, attr = _PYMOO_ALGORITHMS[canonical].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    accepted = set(inspect.signature(cls.__init__).parameters)
    kw = dict(params)
    if "sampling" in accepted:
        kw.setdefault("sampling", LatentSampling())
    if "eliminate_duplicates" in accepted or canonical in _DEDUP_VIA_KWARGS:
        kw.setdefault("eliminate_duplicates", False)
    if canonical in _NEEDS_REF_DIRS:
        kw.setdefault("ref_dirs", _ref_dirs(problem.n_obj, kw.get("pop_size")))
    if canonical == "CMAES":
        kw.setdefault("x0", np.tile(problem.latent.mean, problem.k))
        kw.setdefault("sigma", 1.0 / (2.0 * float(bounds_width)))
    return cls(**kw)


def _single_objective_only(algorithm: Any) -> bool:
    if isinstance(algorithm, GenerationalGA):
        return True
    return str(type(algorithm).__module__).startswith("pymoo.algorithms.soo")


def _min_population(algorithm: Any, n_var: int) -> int:
    if type(algorithm).__name__ == "CMAES":
        popsize = algorithm.options.get("popsize") or 4 + int(3 * math.log(n_var))
        return int(popsize)
    size = getattr(algorithm, "pop_size", None)
    return int(size) if isinstance(size, (int, np.integer)) else 1


# ============================================================================================
# Running
# ============================================================================================


class _Recorder:
    """Best-ever solution, non-dominated archive and anytime trace of every evaluated batch."""

    def __init__(self, n_obj: int, ref_point: ArrayLike | None) -> None:
        self.n_obj = n_obj
        self.n = 0
        self.trace = Trace()
        self.x: Array | None = None
        self.f: Array | None = None
        self.ref: Array | None = None
        if ref_point is not None:
            ref = np.asarray(ref_point, dtype=np.float64).reshape(-1)
            if ref.shape != (n_obj,) or not np.all(np.isfinite(ref)):
                raise InputError(f"ref_point must be {n_obj} finite floats, got {ref_point!r}")
            self.ref = ref
        self.front_X: Array | None = None
        self.front_F: Array | None = None
        self.hv = 0.0

    def __call__(self, X: Array, F: Array) -> None:
        if X.shape[0] == 0:
            return
        self.n += X.shape[0]
        F = np.where(np.isnan(F), np.inf, F)
        if self.n_obj == 1:
            i = int(np.argmin(F[:, 0]))
            if self.f is None or F[i, 0] < self.f[0]:
                self.x, self.f = X[i].copy(), F[i].copy()
            assert self.f is not None
            self.trace.record(self.n, float(self.f[0]))
            return
        if self.ref is None:
            finite = F[np.all(np.isfinite(F), axis=1)]
            if finite.shape[0] == 0:
                return
            lo, hi = finite.min(axis=0), finite.max(axis=0)
            self.ref = hi + 0.1 * np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
        allX = X if self.front_X is None else np.concatenate([self.front_X, X])
        allF = F if self.front_F is None else np.concatenate([self.front_F, F])
        nd = NonDominatedSorting().do(allF, only_non_dominated_front=True)
        order = nd[np.lexsort(allF[nd].T[::-1])]  # sorted by first objective, then the next...
        self.front_X, self.front_F = allX[order].copy(), allF[order].copy()
        from pymoo.indicators.hv import HV

        inside = self.front_F[np.all(self.front_F < self.ref, axis=1)]
        self.hv = float(HV(ref_point=self.ref)(inside)) if inside.shape[0] else 0.0
        self.trace.record(self.n, self.hv)


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
    what the algorithm asks for)`` solutions are evaluated. Every evaluated batch
    updates the anytime trace: best-so-far fitness for one objective; for several, the
    hypervolume of the non-dominated set of everything evaluated so far, with respect to
    ``ref_point`` (default: the worst value of each objective in the *first* evaluated
    batch plus 10 % of that batch's range, fixed for the run and reported in
    ``extra["ref_point"]``).

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
        InputError: A multi-objective problem for a single-objective algorithm, a budget
            smaller than one population, invalid operator parameters.
    """
    if not isinstance(problem, LatentProblem):
        raise InputError(f"problem must be a latentbridge.LatentProblem, got {type(problem).__name__}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise InputError(f"budget must be a positive int (evaluations), got {budget!r}")
    budget = int(budget)
    seed = check_seed(seed)
    if isinstance(algorithm, str):
        label = _lookup(algorithm)
        alg = make_algorithm(label, problem, bounds_width=bounds_width, **params)
        label = label if label in _PRESETS else f"pymoo:{label}"
    else:
        if params:
            raise InputError("params are only accepted with an algorithm name, not with an Algorithm instance")
        if not isinstance(algorithm, Algorithm):
            raise InputError(f"algorithm must be a name or a pymoo Algorithm, got {type(algorithm).__name__}")
        alg, label = algorithm, f"pymoo:{type(algorithm).__name__}"
    if problem.n_obj > 1 and _single_objective_only(alg):
        raise InputError(
            f"{label} is single-objective but the problem has n_obj={problem.n_obj}; use a multi-objective "
            "algorithm (NSGA2, NSGA3, ...) or aggregate the objectives (TargetSimilarity(..., aggregate='mean'))"
        )
    n_pop = _min_population(alg, problem.dim)
    if budget < n_pop:
        raise InputError(f"budget={budget} is smaller than one population of {label} ({n_pop} evaluations)")

    pp = as_pymoo(problem, bounds_width=bounds_width)
    rec = _Recorder(problem.n_obj, ref_point)
    pp.recorder = rec
    start = time.perf_counter()
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
        left = budget - rec.n
        if len(infills) == 0 or left <= 0:
            break
        if len(infills) > left:
            if first:
                raise InputError(f"budget={budget} is smaller than one population of {label} ({len(infills)})")
            alg.evaluator.eval(pp, infills[:left], algorithm=alg)
            break
        alg.evaluator.eval(pp, infills, algorithm=alg)
        alg.tell(infills=infills)
        first = False
    wall = time.perf_counter() - start

    extra: dict[str, Any] = {"n_gen": int(getattr(alg, "n_iter", 0) or 0) - 1}
    if problem.n_obj == 1:
        if rec.x is None or rec.f is None:
            raise InputError(f"{label} evaluated no solution within budget={budget}")
        x, f_out = rec.x, float(rec.f[0])
        X_front = F_front = None
    else:
        if rec.front_X is None or rec.front_F is None or rec.ref is None:
            raise InputError(f"{label} evaluated no finite solution within budget={budget}")
        X_front, F_front = rec.front_X, rec.front_F
        x, f_out = X_front[0], F_front[0]
        extra.update(hypervolume=rec.hv, ref_point=rec.ref.tolist())
    return OptimizeResult(
        x=x,
        f=f_out,
        n_evals=rec.n,
        trace=rec.trace,
        optimizer=label,
        params=dict(params),
        seed=int(seed),
        wall_time=wall,
        X_front=X_front,
        F_front=F_front,
        extra=extra,
    )
