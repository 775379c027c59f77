"""The seeds' variation operators as pymoo operators around :mod:`latentbridge.operators`.

Each operator implements pymoo's ``_do(problem, X, random_state=...)`` contract, so
pymoo's own ``Crossover.do`` / ``Mutation.do`` drive them: the per-pair crossover
probability is the Crossover's ``prob`` (pymoo decides which pairs recombine and copies
the others), the per-gene mutation probability is the Mutation's ``prob_var``.
Each also has an array form (:meth:`cross`, :meth:`mutate`) that
:class:`~latentbridge.pymoo.GenerationalGA` uses on its fast path.

Offspring are clipped to the problem's box when it has one (pymoo's benchmark problems,
your own bounded problems); a :class:`~latentbridge.pymoo.PymooProblem` box is soft
and not enforced (see :func:`repair_to_bounds`).
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pymoo.core.crossover import Crossover
from pymoo.core.mutation import Mutation
from pymoo.core.variable import get

from .. import operators as ops
from ..errors import InputError
from ._util import Array, as_rng, repair_to_bounds

__all__ = ["BLXAlpha", "CreepMutation", "GaussianMutation", "UniformCrossover"]


class _VectorCrossover(Crossover, abc.ABC):  # type: ignore[misc]
    """Two parents → two children, vectorized over all matings."""

    def __init__(self, prob: float) -> None:
        super().__init__(n_parents=2, n_offsprings=2, prob=ops.check_probability(prob, "prob"))

    @property
    def p_pair(self) -> float:
        """The per-pair crossover probability (pymoo's ``prob``)."""
        return float(get(self.prob))

    @abc.abstractmethod
    def _kernel(self, p1: NDArray[Any], p2: NDArray[Any], prob: float, rng: np.random.Generator) -> tuple[Any, Any]:
        """Children of parent pairs ``p1``, ``p2`` (each ``(m, d)``), pair probability ``prob``."""

    def cross(self, P: Array, rng: np.random.Generator) -> Array:
        """Array form: parents ``(2, m, d)`` → children ``(2 * m, d)`` (all first children, then all second).

        The pair probability ``prob`` is applied: a pair that is not recombined yields
        copies of its two parents. No bounds repair (no problem is known here).
        """
        c1, c2 = self._kernel(P[0], P[1], self.p_pair, rng)
        out: Array = np.concatenate([c1, c2])
        return out

    def _do(self, problem: Any, X: NDArray[Any], *args: Any, random_state: Any = None, **kwargs: Any) -> NDArray[Any]:
        """pymoo's contract: parents ``(2, m, d)`` → children ``(2, m, d)``, every pair recombined.

        pymoo's ``Crossover.do`` has already drawn which pairs recombine (``prob``) and
        copies the parents of the others.
        """
        c1, c2 = self._kernel(X[0], X[1], 1.0, as_rng(random_state))
        return repair_to_bounds(problem, np.stack([c1, c2]))


class BLXAlpha(_VectorCrossover):
    """BLX-α blend crossover (seed 000: ``alpha=0.2``, pair probability 0.75).

    Each child gene is uniform on ``[lo - α·I, hi + α·I]``, ``I = |p1 - p2|``
    (:func:`latentbridge.operators.blx_alpha`); a pair is recombined with probability
    ``prob``, otherwise both parents are copied.

    Args:
        alpha: Interval extension, ``>= 0``.
        prob: Per-pair crossover probability in [0, 1] (pymoo's ``prob``).
    """

    def __init__(self, alpha: float = 0.2, prob: float = 0.75) -> None:
        if not (float(alpha) >= 0):
            raise InputError(f"alpha must be >= 0, got {alpha!r}")
        super().__init__(prob)
        self.alpha = float(alpha)

    def _kernel(self, p1: NDArray[Any], p2: NDArray[Any], prob: float, rng: np.random.Generator) -> tuple[Any, Any]:
        return ops.blx_alpha(p1, p2, alpha=self.alpha, prob=prob, rng=rng)


class UniformCrossover(_VectorCrossover):
    """Uniform crossover (seed 002): swap each gene between the parents with probability ``swap``.

    Children keep the parents' dtype, so it also works on binary and integer problems.

    Args:
        swap: Per-gene swap probability in [0, 1].
        prob: Per-pair crossover probability in [0, 1] (pymoo's ``prob``).
    """

    def __init__(self, swap: float = 0.5, prob: float = 1.0) -> None:
        super().__init__(prob)
        self.swap = ops.check_probability(swap, "swap")

    def _kernel(self, p1: NDArray[Any], p2: NDArray[Any], prob: float, rng: np.random.Generator) -> tuple[Any, Any]:
        return ops.uniform_crossover(p1, p2, swap=self.swap, prob=prob, rng=rng)


class _VectorMutation(Mutation, abc.ABC):  # type: ignore[misc]
    """Per-gene mutation of every individual: pymoo's per-individual ``prob`` is 1, ``prob_var`` is per gene."""

    def __init__(self, prob: float) -> None:
        super().__init__(prob=1.0, prob_var=ops.check_probability(prob, "prob"))

    @property
    def p_gene(self) -> float:
        """The per-gene mutation probability (pymoo's ``prob_var``)."""
        return float(get(self.prob_var))

    @abc.abstractmethod
    def mutate(self, X: Array, rng: np.random.Generator) -> Array:
        """Array form: mutated copy ``(n, d)`` of ``X`` (no bounds repair)."""

    def _do(self, problem: Any, X: NDArray[Any], *args: Any, random_state: Any = None, **kwargs: Any) -> Array:
        """pymoo's contract: the mutated copy of ``X (n, d)``, clipped to a hard box."""
        return repair_to_bounds(problem, self.mutate(np.asarray(X, dtype=np.float64), as_rng(random_state)))


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
