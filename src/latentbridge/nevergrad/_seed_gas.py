"""The seeds' generational GAs as nevergrad optimizers, built on :mod:`latentbridge.operators`.

:class:`SeedGA` is the configurable optimizer; :func:`register_seed_gas` puts seed 000's and
seed 002's configurations in ``nevergrad.optimizers.registry`` as ``"LatentPaperGA"`` and
``"LatentSetGA"`` (the package does when it is imported).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

import nevergrad as ng
import numpy as np
from nevergrad.optimization import base as ngbase
from numpy.typing import NDArray

from .. import operators as ops
from .._presets import PAPER_GA, SET_GA
from .._validation import check_positive_int
from ..errors import InputError, RegistryConflictError

__all__ = ["SeedGA", "register_seed_gas"]

Array = NDArray[np.float64]

_CROSSOVERS = ("blx", "uniform")
_MUTATIONS = ("gaussian", "creep")

#: Registry names of the seeds' GAs and their configuration (the values of the pymoo presets,
#: ``latentbridge._presets``).
_SEED_GA_CONFIGS: dict[str, dict[str, Any]] = {
    "LatentPaperGA": dict(crossover="blx", mutation="gaussian", **PAPER_GA),
    "LatentSetGA": dict(crossover="uniform", mutation="creep", **SET_GA),
}


def _check_nonneg(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a float >= 0, got {value!r}") from exc
    if not (v >= 0.0) or not np.isfinite(v):
        raise InputError(f"{name} must be a finite float >= 0, got {value!r}")
    return v


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return str(value)


class _SeedGA(ngbase.Optimizer):  # type: ignore[misc]  # nevergrad ships no type information
    """Generational GA (tournament → crossover → mutation, optional elitism), batched with numpy.

    The whole offspring of a generation is created at once by the vectorised kernels
    of :mod:`latentbridge.operators` when its first member is asked, then handed out
    one candidate at a time; once ``pop_size - elitism`` offspring have been told, the
    next population is the ``elitism`` best parents plus those offspring. All
    randomness comes from a ``numpy.random.Generator`` seeded from the
    parametrization's ``random_state`` at the first ask, so seeding the
    parametrization makes runs reproducible.

    The GA works in nevergrad's *standardized* space, where the latentbridge
    parametrization maps the prior to ``N(0, I)``: the initial population is a prior
    sample, and ``sigma`` / ``step`` are in units of the prior standard deviation
    (the same as value units for the ``N(0, 1)`` prior of seed 000).

    Asynchronous use is supported: asking past the end of a generation's offspring
    queue creates more offspring from the current parents, candidates told after
    their generation was closed count for the next one, and candidates told but not
    asked (e.g. ``suggest``) join the current generation.
    """

    def __init__(
        self,
        parametrization: Any,
        budget: int | None = None,
        num_workers: int = 1,
        *,
        config: SeedGA | None = None,
    ) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self._config = SeedGA() if config is None else config
        self._gen: np.random.Generator | None = None
        self._parents: Array | None = None  # (pop_size, d), standardized
        self._parent_f: Array | None = None  # (pop_size,)
        self._queue: deque[Array] = deque()
        self._pending: dict[str, Array] = {}  # uid -> standardized data of asked candidates
        self._told_x: list[Array] = []
        self._told_f: list[float] = []
        self.generation = 0

    # -- helpers -------------------------------------------------------------------------------
    @property
    def _np_rng(self) -> np.random.Generator:
        if self._gen is None:
            seed = self._rng.randint(0, 2**32, size=4, dtype=np.uint64)
            self._gen = np.random.default_rng([int(s) for s in seed])
        return self._gen

    def _needed(self) -> int:
        """Offspring to be told before the next population is formed."""
        cfg = self._config
        return cfg.pop_size if self._parents is None else cfg.pop_size - cfg.elitism

    def _breed(self, n: int) -> Array:
        """``n`` new standardized candidates ``(n, d)``: prior samples or offspring of the parents."""
        cfg, rng, d = self._config, self._np_rng, self.dimension
        if self._parents is None or self._parent_f is None:
            return rng.standard_normal((n, d))
        m = (n + 1) // 2
        sel = ops.tournament(self._parent_f, 2 * m, k=cfg.tournament_size, rng=rng)
        p1, p2 = self._parents[sel[:m]], self._parents[sel[m:]]
        if cfg.crossover == "blx":
            c1, c2 = ops.blx_alpha(p1, p2, alpha=cfg.alpha, prob=cfg.p_crossover, rng=rng)
        else:
            c1, c2 = ops.uniform_crossover(p1, p2, swap=cfg.swap, prob=cfg.p_crossover, rng=rng)
        kids = np.concatenate([c1, c2])[:n]
        if cfg.mutation == "gaussian":
            return ops.gaussian_mutation(kids, mu=cfg.mu, sigma=cfg.sigma, prob=cfg.p_mutation, rng=rng)
        return ops.creep_mutation(kids, step=cfg.step, prob=cfg.p_mutation, rng=rng)

    def _close_generation(self) -> None:
        cfg, need = self._config, self._needed()
        X = np.stack(self._told_x[:need])
        F = np.asarray(self._told_f[:need], dtype=np.float64)
        del self._told_x[:need], self._told_f[:need]
        if self._parents is not None and self._parent_f is not None and cfg.elitism:
            elite = np.argsort(self._parent_f, kind="stable")[: cfg.elitism]
            X = np.concatenate([self._parents[elite], X])
            F = np.concatenate([self._parent_f[elite], F])
        self._parents, self._parent_f = X, F
        self._queue.clear()  # unasked offspring of the old parents are dropped (they cost no budget)
        self.generation += 1

    # -- nevergrad interface -------------------------------------------------------------------
    def _internal_ask_candidate(self) -> Any:
        if not self._queue:
            self._queue.extend(self._breed(self._needed()))
        x = self._queue.popleft()
        cand = self.parametrization.spawn_child().set_standardized_data(x)
        self._pending[cand.uid] = x
        return cand

    def _internal_tell_candidate(self, candidate: Any, loss: float) -> None:
        x = self._pending.pop(candidate.uid, None)
        if x is None:
            x = np.asarray(candidate.get_standardized_data(reference=self.parametrization), dtype=np.float64)
        self._told_x.append(x)
        self._told_f.append(float(loss))  # nevergrad's tell already clipped NaN and inf to 5e20
        if len(self._told_x) >= self._needed():
            self._close_generation()

    def _internal_tell_not_asked(self, candidate: Any, loss: float) -> None:
        self._internal_tell_candidate(candidate, loss)

    # no _internal_provide_recommendation: nevergrad's default recommends the best point told


class SeedGA(ngbase.ConfiguredOptimizer):  # type: ignore[misc]  # nevergrad ships no type information
    """The seeds' generational GA as a configurable nevergrad optimizer.

    Each generation: ``tournament`` selection of parents (size ``tournament_size``,
    lowest loss wins), pairwise crossover (BLX-α or uniform, applied to a pair with
    probability ``p_crossover``), per-gene mutation (Gaussian ``N(mu, sigma²)`` or creep
    ``U(-step, step)``, each gene with probability ``p_mutation``), then generational
    replacement keeping the ``elitism`` best parents. The kernels are
    :func:`latentbridge.operators.blx_alpha`, :func:`~latentbridge.operators.uniform_crossover`,
    :func:`~latentbridge.operators.gaussian_mutation`,
    :func:`~latentbridge.operators.creep_mutation` and
    :func:`~latentbridge.operators.tournament`.

    Two configurations are registered in ``nevergrad.optimizers.registry`` when
    :mod:`latentbridge.nevergrad` is imported: ``"LatentPaperGA"`` (seed 000) and
    ``"LatentSetGA"`` (seed 002). The defaults are seed 000's (``latentbridge._presets``
    ``PAPER_GA``; ``swap`` and ``step`` from ``SET_GA``).

    It differs from the pymoo presets of the same names in two ways: it works in
    nevergrad's standardized space, so ``sigma`` / ``step`` are in prior-std units (value
    units only for a ``N(0, 1)`` prior), and it evaluates every offspring it asks,
    including offspring identical to a parent (pymoo's GA reuses their fitness).

    Args:
        pop_size: Population size (``>= 2``); one generation asks ``pop_size - elitism``
            candidates (``pop_size`` for the initial one).
        tournament_size: Contenders per tournament, ``>= 1``.
        crossover: ``"blx"`` (BLX-α) or ``"uniform"``.
        alpha: BLX-α extension, ``>= 0``.
        swap: Per-gene swap probability of uniform crossover, in [0, 1].
        p_crossover: Probability that a pair of parents is recombined, in [0, 1].
        mutation: ``"gaussian"`` or ``"creep"``.
        mu: Mean of the Gaussian mutation.
        sigma: Standard deviation of the Gaussian mutation, ``>= 0`` (prior-std units).
        step: Half-width of the creep mutation, ``>= 0`` (prior-std units).
        p_mutation: Per-gene mutation probability, in [0, 1].
        elitism: Parents carried over unchanged, ``0 <= elitism < pop_size``.

    Raises:
        InputError: any parameter out of range (e.g. ``alpha < 0``, a probability
            outside [0, 1], an unknown operator name).

    Example:
        >>> import nevergrad as ng, latentbridge.nevergrad as lbng  # doctest: +SKIP
        >>> opt = ng.optimizers.registry["LatentPaperGA"](parametrization=512, budget=4000)  # doctest: +SKIP
        >>> opt = lbng.SeedGA(pop_size=50, elitism=2)(parametrization=512, budget=1000)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        pop_size: int = PAPER_GA["pop_size"],
        tournament_size: int = PAPER_GA["tournament_size"],
        crossover: Literal["blx", "uniform"] = "blx",
        alpha: float = PAPER_GA["alpha"],
        swap: float = SET_GA["swap"],
        p_crossover: float = PAPER_GA["p_crossover"],
        mutation: Literal["gaussian", "creep"] = "gaussian",
        mu: float = PAPER_GA["mu"],
        sigma: float = PAPER_GA["sigma"],
        step: float = SET_GA["step"],
        p_mutation: float = PAPER_GA["p_mutation"],
        elitism: int = PAPER_GA["elitism"],
    ) -> None:
        super().__init__(_SeedGA, dict(locals()), as_config=True)
        self.pop_size = check_positive_int(pop_size, "pop_size", minimum=2)
        self.tournament_size = check_positive_int(tournament_size, "tournament_size")
        self.crossover = _check_choice(crossover, "crossover", _CROSSOVERS)
        self.alpha = _check_nonneg(alpha, "alpha")
        self.swap = ops.check_probability(swap, "swap")
        self.p_crossover = ops.check_probability(p_crossover, "p_crossover")
        self.mutation = _check_choice(mutation, "mutation", _MUTATIONS)
        try:
            self.mu = float(mu)
        except (TypeError, ValueError) as exc:
            raise InputError(f"mu must be a float, got {mu!r}") from exc
        if not np.isfinite(self.mu):
            raise InputError(f"mu must be finite, got {mu!r}")
        self.sigma = _check_nonneg(sigma, "sigma")
        self.step = _check_nonneg(step, "step")
        self.p_mutation = ops.check_probability(p_mutation, "p_mutation")
        self.elitism = check_positive_int(elitism, "elitism", minimum=0)
        if self.elitism >= self.pop_size:
            raise InputError(f"elitism must be < pop_size ({self.pop_size}), got {self.elitism}")

    def evals_per_generation(self) -> int:
        """Candidates asked per generation after the first: ``pop_size - elitism``."""
        return self.pop_size - self.elitism


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
