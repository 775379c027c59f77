"""The seeds' GA as a pymoo algorithm (:class:`GenerationalGA`) and prior random search."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymoo.algorithms.base.genetic import GeneticAlgorithm
from pymoo.core.algorithm import Algorithm
from pymoo.core.population import Population
from pymoo.core.sampling import Sampling
from pymoo.termination.max_eval import MaximumFunctionCallTermination
from pymoo.util.display.single import SingleObjectiveOutput

from ..errors import InputError
from ._problem import LatentSampling
from ._selection import selection_key
from ._util import Array, repair_to_bounds, stack

__all__ = ["GenerationalGA", "PriorRandomSearch"]


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
    exactly ``budget`` evaluations are made. Offspring are clipped to the box of a problem with
    hard bounds, as the operators do on pymoo's generic path (which other operators use).

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
                    elite = np.argsort(selection_key(self._F), kind="stable")[: self.elitism]
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
        C = repair_to_bounds(self.problem, mut.mutate(cx.cross(X[idx.T], rng)[:n_off], rng))
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
            key = selection_key(stack(old, "F").reshape(len(old), -1))
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
