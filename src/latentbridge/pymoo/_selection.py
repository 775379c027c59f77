"""Tournament selection, vectorized over all matings."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from pymoo.core.selection import Selection
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from .. import operators as ops
from ..errors import InputError
from ._util import Array, as_rng, stack

__all__ = ["TournamentSelection", "selection_key"]


def selection_key(F: Array, CV: Array | None = None) -> Array:
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
        key = selection_key(np.asarray(F, dtype=np.float64).reshape(len(F), -1))
        return ops.tournament(key, int(n_select) * int(n_parents), k=self.k, rng=rng).reshape(n_select, n_parents)

    def _do(
        self, problem: Any, pop: Any, n_select: int, n_parents: int, *args: Any, random_state: Any = None, **kwargs: Any
    ) -> NDArray[np.int64]:
        F = stack(pop, "F")
        CV = stack(pop, "CV")[:, 0] if problem.has_constraints() else None
        key = selection_key(F.reshape(len(pop), -1), CV)
        idx = ops.tournament(key, int(n_select) * int(n_parents), k=self.k, rng=as_rng(random_state))
        return idx.reshape(n_select, n_parents)
