"""Watching evaluations: the one place that keeps best-so-far, trace, front and failure counts.

Every evaluation of a :class:`~latentbridge.LatentProblem` goes through one method
(``LatentProblem._run``), which reports each batch as an :class:`Evaluation` to the
listeners registered with :meth:`LatentProblem.observe`. A :class:`Tracker` is such a
listener: every driver (pymoo, nevergrad, the baselines) and the bench use it to know
the best solution, the anytime trace, the non-dominated front (several objectives),
the hypervolume and how many evaluations failed. Adding a metric means changing this
file only.

Example:
    >>> tracker = Tracker(problem.n_obj, budget=1000)          # doctest: +SKIP
    >>> with problem.observe(tracker):                          # doctest: +SKIP
    ...     run_any_optimizer(problem)
    >>> tracker.best_x, tracker.best_f, tracker.trace           # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._result import OptimizeResult, Trace
from .errors import InputError, NonFiniteFitnessError, NonFiniteFitnessWarning

if TYPE_CHECKING:
    from ._problems import LatentProblem

__all__ = [
    "Evaluation",
    "EvaluationListener",
    "Tracker",
    "default_ref_point",
    "hypervolume",
    "nondominated",
]


@dataclass(frozen=True)
class Evaluation:
    """One batch that went through :meth:`LatentProblem.evaluate` (or ``evaluate_with``).

    Attributes:
        X: The solutions ``(n, dim)`` as float64 (a view of the caller's array when it
            already was float64: listeners must not modify it).
        F: Their fitness ``(n, n_obj)`` float64, with failed rows already ``+inf``.
        failed: ``(n,)`` bool, rows whose fitness was non-finite (NaN or ±inf).
        first: How many solutions the problem had evaluated before this batch (with or
            without gradients).
        seconds: Wall time of the batch's forward (and backward) passes.
        gradient: Whether it was a value-and-gradient evaluation (:meth:`LatentProblem.evaluate_grad`).
        G: The gradients ``(n, n_obj, dim)`` of a gradient evaluation (failed rows 0), else None.
        cost: Forward-equivalents of one row: 1, or the problem's ``grad_cost`` for a gradient evaluation.
        D: Descriptors ``(n, n_desc)`` float64 computed from the same images (``evaluate_with``, and
            every evaluation of a :class:`latentbridge.qd.QualityDiversity` problem: its measures), else None.
    """

    X: NDArray[np.float64]
    F: NDArray[np.float64]
    failed: NDArray[np.bool_]
    first: int
    seconds: float
    gradient: bool = False
    G: NDArray[np.float64] | None = None
    cost: float = 1.0
    D: NDArray[np.float64] | None = None

    @property
    def n(self) -> int:
        """Rows in the batch."""
        return int(self.F.shape[0])

    @property
    def n_failed(self) -> int:
        """Failed rows in the batch."""
        return int(np.count_nonzero(self.failed))


class EvaluationListener(Protocol):
    """Anything called with each :class:`Evaluation` (see :meth:`LatentProblem.observe`)."""

    def __call__(self, evaluation: Evaluation, /) -> None:
        """Receive one evaluated batch."""


def nondominated(F: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Mask of the non-dominated rows of ``F`` ``(p, m)`` (minimisation; duplicates are all kept)."""
    F = np.asarray(F, dtype=np.float64)
    if F.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    le = np.all(F[:, None, :] <= F[None, :, :], axis=2)
    lt = np.any(F[:, None, :] < F[None, :, :], axis=2)
    keep: NDArray[np.bool_] = ~np.any(le & lt, axis=0)
    return keep


def hypervolume(front: NDArray[np.float64], ref_point: Sequence[float] | NDArray[np.float64]) -> float:
    """Hypervolume of ``front`` ``(p, m)`` w.r.t. ``ref_point`` (pymoo's HV); 0 when nothing dominates it."""
    ref = np.asarray(ref_point, dtype=np.float64)
    front = np.asarray(front, dtype=np.float64).reshape(-1, ref.shape[0])
    inside = front[np.all(front < ref, axis=1)]
    if inside.shape[0] == 0:
        return 0.0
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=ref)(inside))


def _ref_from(F: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """Worst finite value of each objective plus 10 % of its range (or of its magnitude, min 1)."""
    finite = F[np.all(np.isfinite(F), axis=1)]
    if finite.shape[0] == 0:
        return None
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    out: NDArray[np.float64] = hi + 0.1 * np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
    return out


def default_ref_point(problem: LatentProblem, n: int = 256) -> list[float]:
    """A hypervolume reference point independent of any optimizer.

    The worst value of each objective over ``n`` prior samples (fixed seed 0), plus
    10 % of its range. These evaluations are not reported to listeners' budgets in
    any meaningful way: call it before observing a run.
    """
    F = np.asarray(problem.evaluate(problem.sample(n, seed=0)), dtype=np.float64).reshape(n, -1)
    ref = _ref_from(F)
    if ref is None:
        raise NonFiniteFitnessError(
            f"cannot choose a hypervolume reference point: all {n} prior samples of {problem.name} "
            "gave non-finite fitness; pass ref_point explicitly or fix the generator/scorer"
        )
    return [float(v) for v in ref]


class Tracker:
    """Best solution, anytime trace, non-dominated front and failure count of one run.

    Use it as a listener (``with problem.observe(tracker): ...``) or feed it batches
    with :meth:`update`. Only the first ``budget`` evaluations count (a driver may
    evaluate a last population past the budget; those rows are ignored here).

    Budgets and the trace count *forward-equivalents*: a plain evaluation costs 1, a
    value-and-gradient evaluation the problem's ``grad_cost`` (its :class:`Evaluation`'s
    ``cost``). Without gradient evaluations that is simply the number of evaluations.

    Single objective: :attr:`best_f` is the lowest finite fitness and the trace records
    it after every batch. Several objectives: the tracker keeps the non-dominated set of
    every finite evaluation, the trace records its hypervolume w.r.t. ``ref_point``
    (higher is better; default: the worst value of each objective in the first
    finite batch plus 10 % of its range), and :attr:`best_x` is the front member with
    the lowest first objective.

    Args:
        n_obj: Number of objectives.
        budget: Evaluations that count (None: all).
        ref_point: Hypervolume reference point ``(n_obj,)`` (several objectives only).

    Attributes:
        n_evals: Plain evaluations counted.
        n_grad_evals: Gradient evaluations counted.
        forward_equivalents: ``n_evals`` plus each gradient evaluation's cost (at most ``budget``).
        n_seen: Evaluations seen, counted or not.
        n_failed: Counted evaluations whose fitness was non-finite.
        eval_seconds: Wall time of the forwards of every batch seen.
        trace: The anytime :class:`~latentbridge.Trace`.
    """

    def __init__(self, n_obj: int = 1, *, budget: int | None = None, ref_point: ArrayLike | None = None) -> None:
        self.n_obj = int(n_obj)
        self.budget = None if budget is None else int(budget)
        self.ref: NDArray[np.float64] | None = None
        if ref_point is not None:
            ref = np.asarray(ref_point, dtype=np.float64).reshape(-1)
            if ref.shape != (self.n_obj,) or not np.all(np.isfinite(ref)):
                raise InputError(f"ref_point must be {self.n_obj} finite floats, got {ref_point!r}")
            self.ref = ref
        self.n_evals = 0
        self.n_grad_evals = 0
        self.forward_equivalents = 0.0
        self.n_seen = 0
        self.n_failed = 0
        self.eval_seconds = 0.0
        self.trace = Trace()
        self.best_x: NDArray[np.float64] | None = None
        self._best_f: NDArray[np.float64] | None = None
        self.front_X: NDArray[np.float64] | None = None
        self.front_F: NDArray[np.float64] | None = None
        self.hv = 0.0

    # -- feeding -------------------------------------------------------------------------------
    def __call__(self, evaluation: Evaluation, /) -> None:
        """Listener entry point: count the batch's time, then :meth:`update`."""
        self.eval_seconds += evaluation.seconds
        self.update(evaluation.X, evaluation.F, gradient=evaluation.gradient, cost=evaluation.cost)

    def update(self, X: ArrayLike, F: ArrayLike, *, gradient: bool = False, cost: float = 1.0) -> int:
        """Take one batch ``X (n, dim)``, ``F (n,)`` or ``(n, n_obj)``; return how many rows counted.

        Non-finite fitness rows count as failed evaluations and never become the best.
        ``gradient`` marks a value-and-gradient batch whose rows cost ``cost`` forward-equivalents each.
        """
        Fa = np.asarray(F, dtype=np.float64).reshape(-1, self.n_obj)
        n = Fa.shape[0]
        cost = float(cost) if gradient else 1.0
        if self.budget is None:
            take = n
        else:
            left = self.budget - self.forward_equivalents
            take = min(n, max(0, math.floor(left / cost + 1e-9)))
        self.n_seen += n
        if take == 0:
            return 0
        if take < n:
            Fa = Fa[:take]
        if gradient:
            self.n_grad_evals += take
        else:
            self.n_evals += take
        self.forward_equivalents += take * cost
        if self.n_obj == 1:
            self._update_single(X, n, Fa[:, 0])
        else:
            Xa = np.asarray(X, dtype=np.float64).reshape(n, -1)[:take]
            ok = np.all(np.isfinite(Fa), axis=1)
            self.n_failed += int(take - np.count_nonzero(ok))
            self._update_front(Xa[ok], Fa[ok])
        return take

    def _update_single(self, X: ArrayLike, n: int, f: NDArray[np.float64]) -> None:
        # the hot path of every single-objective run: X is only touched when the best improves
        finite = np.isfinite(f)
        n_ok = int(np.count_nonzero(finite))
        self.n_failed += f.shape[0] - n_ok
        if n_ok:
            g = f if n_ok == f.shape[0] else np.where(finite, f, np.inf)
            i = int(np.argmin(g))
            if self._best_f is None or g[i] < self._best_f[0]:
                self.best_x = np.asarray(X, dtype=np.float64).reshape(n, -1)[i].copy()
                self._best_f = np.array([g[i]], dtype=np.float64)
        if self._best_f is not None:
            self.trace.record(self._trace_x(), float(self._best_f[0]))

    def _update_front(self, X: NDArray[np.float64], F: NDArray[np.float64]) -> None:
        if X.shape[0]:
            if self.ref is None:
                self.ref = _ref_from(F)
            allX = X if self.front_X is None else np.concatenate([self.front_X, X])
            allF = F if self.front_F is None else np.concatenate([self.front_F, F])
            keep = nondominated(allF)
            order = np.flatnonzero(keep)
            order = order[np.lexsort(allF[order].T[::-1])]  # by first objective, then the next...
            self.front_X, self.front_F = allX[order].copy(), allF[order].copy()
            assert self.ref is not None
            self.hv = hypervolume(self.front_F, self.ref)
            self.best_x, self._best_f = self.front_X[0].copy(), self.front_F[0].copy()
        if self.front_F is not None:
            self.trace.record(self._trace_x(), self.hv)

    def _trace_x(self) -> int:
        """The trace's x: forward-equivalents so far (rounded up), i.e. evaluations when none had gradients."""
        return self.n_evals if not self.n_grad_evals else math.ceil(self.forward_equivalents - 1e-9)

    # -- reading -------------------------------------------------------------------------------
    @property
    def best_f(self) -> float | NDArray[np.float64] | None:
        """Best fitness: a float (one objective), the ``(n_obj,)`` row of :attr:`best_x`, or None."""
        if self._best_f is None:
            return None
        return float(self._best_f[0]) if self.n_obj == 1 else self._best_f.copy()

    @property
    def score(self) -> float:
        """One number to rank runs by, lower is better: best fitness, or ``-hypervolume``; inf if none."""
        if self._best_f is None:
            return float("inf")
        return float(self._best_f[0]) if self.n_obj == 1 else -self.hv

    def check(self, label: str = "the run") -> None:
        """Raise :class:`NonFiniteFitnessError` if nothing finite was seen; warn if some evaluations failed."""
        total = self.n_evals + self.n_grad_evals
        if total and self.best_x is None:
            raise NonFiniteFitnessError(
                f"all {total} evaluations of {label} gave a non-finite fitness (NaN or inf), so there is no "
                "best solution; check that the generator's images and the scorer's outputs are finite "
                "(e.g. try precision='fp32', smaller latents or a smaller bounds_width)"
            )
        if self.n_failed:
            warnings.warn(
                f"{self.n_failed} of {total} evaluations of {label} gave a non-finite fitness; "
                "they were counted as failed and scored +inf",
                NonFiniteFitnessWarning,
                stacklevel=3,
            )

    def result(
        self,
        optimizer: str,
        *,
        params: dict[str, Any] | None = None,
        seed: int | None = None,
        wall_time: float = 0.0,
        extra: dict[str, Any] | None = None,
    ) -> OptimizeResult:
        """The run's :class:`~latentbridge.OptimizeResult` (after :meth:`check`).

        Raises:
            NonFiniteFitnessError: no evaluation, or none finite.
        """
        self.check(optimizer)
        if self.best_x is None or self._best_f is None:
            raise NonFiniteFitnessError(f"{optimizer} evaluated no solution")
        more: dict[str, Any] = dict(extra or {})
        if self.n_obj > 1:
            assert self.ref is not None
            more.setdefault("hypervolume", self.hv)
            more.setdefault("ref_point", [float(v) for v in self.ref])
        return OptimizeResult(
            x=self.best_x.copy(),
            f=self.best_f,  # type: ignore[arg-type]  # not None here
            n_evals=self.n_evals,
            trace=self.trace,
            optimizer=optimizer,
            params=dict(params or {}),
            seed=seed,
            wall_time=wall_time,
            X_front=None if self.front_X is None else self.front_X.copy(),
            F_front=None if self.front_F is None else self.front_F.copy(),
            extra=more,
            n_failed=self.n_failed,
            n_grad_evals=self.n_grad_evals,
            forward_equivalents=self.forward_equivalents,
        )
