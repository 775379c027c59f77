"""One run: the optimizer on its problem under the budget, the time limit and the import permissions.

Each run observes its problem (``problem.observe``) with a :class:`~latentbridge.Tracker`
limited to the budget: it keeps the best solution among the first ``budget`` evaluations,
the anytime trace (best-so-far, or −hypervolume for several objectives) and the count of
failed (non-finite) evaluations, and the evaluations' own timing gives the time spent in
the generator and scorer. Evaluations past the budget (an optimizer that overshoots) are
computed but ignored, so all optimizers are compared on the same number of evaluations.
A run whose evaluations were all non-finite is stored as failed. :func:`run_task` is what
every executor runs; :func:`to_record` turns its :class:`RunOutcome` into the store's row.
"""

from __future__ import annotations

import contextlib
import platform
import socket
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._problems import LatentProblem
from .._tracking import Evaluation, Tracker, default_ref_point
from ..campaign.store import CORE_PACKAGES, versions
from ..errors import InputError, NonFiniteFitnessError, RunTimeoutError
from ..optimizers import resolve
from .planning import RunTask
from .problems import cached_problem, trusted_imports
from .qd_runs import recorder_for, summarise
from .store import RunRecord

__all__ = ["RunOutcome", "execute", "library_versions", "run_task", "to_record"]


@dataclass
class RunOutcome:
    """What a worker sends back for one run."""

    task: RunTask
    status: str
    best: float
    best_x: NDArray[np.float64] | None
    reported_best: float | None
    n_evals: int
    trace_evals: NDArray[np.int64]
    trace_best: NDArray[np.float64]
    front: NDArray[np.float64] | None
    ref_point: list[float] | None
    n_obj: int
    problem_kind: str
    problem_config: dict[str, Any]
    wall_time: float
    solve_time: float
    eval_time: float
    book_time: float
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    host: str = ""
    python: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    n_failed: int = 0
    n_grad_evals: int = 0
    forward_equivalents: float | None = None
    qd_archive: bytes | None = None
    qd_metrics: dict[str, Any] | None = None


_VERSION_PACKAGES = (*CORE_PACKAGES, "nevergrad", "ribs")


def library_versions() -> dict[str, str]:
    """Versions of latentbridge and the libraries a run depends on (those installed)."""
    return versions(_VERSION_PACKAGES)


class _Bookkeeper:
    """The run's one listener: feeds the Tracker, times that bookkeeping, reports progress."""

    def __init__(self, tracker: Tracker, on_evals: Callable[[int], None] | None) -> None:
        self.tracker = tracker
        self.on_evals = on_evals
        self.seconds = 0.0

    def __call__(self, evaluation: Evaluation, /) -> None:
        t0 = time.perf_counter()
        before = self.tracker.n_evals + self.tracker.n_grad_evals
        self.tracker(evaluation)
        self.seconds += time.perf_counter() - t0
        counted = self.tracker.n_evals + self.tracker.n_grad_evals - before
        if self.on_evals is not None and counted:
            self.on_evals(counted)


def _stored_trace(tracker: Tracker) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The trace as the store keeps it: minimisation scores (−hypervolume if several objectives),
    one point per improvement plus the last counted evaluation."""
    e = np.asarray(tracker.trace.evals, dtype=np.int64)
    b = np.asarray(tracker.trace.best, dtype=np.float64)
    if tracker.n_obj > 1:
        b = -b
    if e.size == 0:
        return e, b
    keep = np.zeros(e.size, dtype=bool)
    keep[0] = keep[-1] = True
    keep[1:] |= b[1:] < b[:-1]
    return e[keep], b[keep]


def _no_result(tracker: Tracker, label: str) -> str | None:
    """Why a run that returned has no result to store (None if it has one)."""
    if tracker.best_x is not None:
        return None
    if tracker.n_evals + tracker.n_grad_evals == 0:
        return "the optimizer evaluated no solution"
    try:
        tracker.check(label)
    except NonFiniteFitnessError as exc:
        return f"NonFiniteFitnessError: {exc}"
    return "the optimizer found no finite solution"  # pragma: no cover - check() raises above


_REF_CACHE: dict[str, list[float]] = {}


def execute(task: RunTask, on_evals: Callable[[int], None] | None = None) -> RunOutcome:
    """Run one task in this process (the function workers call).

    Args:
        task: The run.
        on_evals: Called with the number of solutions after every ``evaluate`` (progress).

    Returns:
        The outcome: ``status="failed"`` with the traceback if the optimizer raised, or
        with the :class:`~latentbridge.errors.NonFiniteFitnessError` message if no
        evaluation had a finite fitness; ``n_failed`` counts the non-finite evaluations
        of a finished run.
    """
    import torch

    torch.set_num_threads(max(1, task.threads))
    problem = cached_problem(task.problem)
    phash = problem.config_hash()
    if phash != task.problem_hash:
        raise InputError(
            f"problem {task.problem.id!r} built on {socket.gethostname()} has config hash {phash[:12]}, "
            f"but the parent built {task.problem_hash[:12]}: different weights or library versions on this worker"
        )
    solver = resolve(task.optimizer.name, task.optimizer.params)
    problem.reset_counter()
    status, error, reported = "finished", None, None
    qd_archive: bytes | None = None
    qd_metrics: dict[str, Any] | None = None
    ref: list[float] | None = None
    tracker = Tracker(problem.n_obj, budget=task.budget)
    book = _Bookkeeper(tracker, on_evals)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ref = _ref_point(task, problem)
            tracker = book.tracker = Tracker(problem.n_obj, budget=task.budget, ref_point=ref)
            recorder = recorder_for(problem, task.budget)  # QD problems: every optimizer fills an archive
            with problem.observe(book), contextlib.ExitStack() as stack:
                if recorder is not None:
                    stack.enter_context(problem.observe(recorder))
                result = solver.solve(problem, task.budget, task.seed)
            reported = result.best
            if recorder is not None:
                qd_archive, qd_metrics = summarise(problem, recorder)
        except NonFiniteFitnessError as exc:  # nothing finite: a short message, not a traceback
            status, error = "failed", f"NonFiniteFitnessError: {exc}"
        except Exception:
            status, error = "failed", traceback.format_exc(limit=20)
    solve_time = time.perf_counter() - start
    if status == "finished":
        error = _no_result(tracker, task.optimizer.label)
        status = "finished" if error is None else "failed"
    trace_evals, trace_best = _stored_trace(tracker)
    return RunOutcome(
        task=task,
        status=status,
        best=tracker.score,
        best_x=tracker.best_x,
        reported_best=reported,
        n_evals=problem.n_evals,
        trace_evals=trace_evals,
        trace_best=trace_best,
        front=tracker.front_F,
        ref_point=ref,
        n_obj=problem.n_obj,
        problem_kind=problem.kind,
        problem_config=problem.config(),
        wall_time=time.perf_counter() - start,
        solve_time=solve_time,
        eval_time=tracker.eval_seconds,
        book_time=book.seconds,
        error=error,
        warnings=_summarise_warnings(caught),
        host=socket.gethostname(),
        python=platform.python_version(),
        versions=library_versions(),
        n_failed=tracker.n_failed,
        n_grad_evals=problem.n_grad_evals,
        forward_equivalents=problem.n_evals + problem.n_grad_evals * float(problem.grad_cost),
        qd_archive=qd_archive if status == "finished" else None,
        qd_metrics=qd_metrics if status == "finished" else None,
    )


def _ref_point(task: RunTask, problem: LatentProblem) -> list[float] | None:
    """The hypervolume reference point of a multi-objective run: the suite's, or a default one per problem."""
    if problem.n_obj == 1:
        return None
    if task.problem.ref_point is not None:
        return [float(v) for v in task.problem.ref_point]
    key = task.problem.cache_key()
    if key not in _REF_CACHE:
        _REF_CACHE[key] = default_ref_point(problem)
        problem.reset_counter()  # the prior samples are no part of the run
    return _REF_CACHE[key]


def _summarise_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Distinct warnings of a run (first line, at most 20), with repeat counts."""
    seen: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
        seen[text] = seen.get(text, 0) + 1
    return [f"{text} (x{n})" if n > 1 else text for text, n in list(seen.items())[:20]]


def to_record(outcome: RunOutcome, config: dict[str, Any]) -> RunRecord:
    """The store row of an outcome."""
    t = outcome.task
    return RunRecord(
        run_key=t.key,
        suite=t.suite,
        problem_id=t.problem.id,
        problem_kind=outcome.problem_kind,
        problem_hash=t.problem_hash,
        problem_config=outcome.problem_config,
        problem_spec=t.problem.to_dict(),
        n_obj=outcome.n_obj,
        optimizer=t.optimizer.label,
        optimizer_name=t.optimizer.name,
        optimizer_params=t.optimizer.params,
        replicate=t.replicate,
        seed=t.seed,
        budget=t.budget,
        n_evals=outcome.n_evals,
        best=outcome.best,
        reported_best=outcome.reported_best,
        best_x=outcome.best_x,
        front=outcome.front,
        ref_point=outcome.ref_point,
        wall_time=outcome.wall_time,
        solve_time=outcome.solve_time,
        eval_time=outcome.eval_time,
        status=outcome.status,
        error=outcome.error,
        warnings=outcome.warnings,
        versions=outcome.versions,
        host=outcome.host,
        python=outcome.python,
        config={**config, "threads": t.threads},
        trace_evals=outcome.trace_evals,
        trace_best=outcome.trace_best,
        n_failed=outcome.n_failed,
        n_grad_evals=outcome.n_grad_evals,
        forward_equivalents=outcome.forward_equivalents,
        qd_archive=outcome.qd_archive,
        qd_metrics=outcome.qd_metrics,
    )


class _Deadline:
    """A run's time limit: checked after every evaluation, and enforced by SIGALRM where possible.

    The alarm interrupts optimizer code between evaluations too, but only in a process's
    main thread on POSIX (the serial and process executors); Dask runs tasks in worker
    threads, where the limit is checked after each evaluation.
    """

    def __init__(self, task: RunTask) -> None:
        self.limit = task.timeout
        self.what = f"{task.problem.id} x {task.optimizer.label} (seed {task.seed})"
        self.end = None if self.limit is None else time.monotonic() + self.limit
        self.fired = False
        self._old: Any = None

    def error(self) -> RunTimeoutError:
        self.fired = True
        return RunTimeoutError(f"run {self.what} exceeded run_timeout = {self.limit:g} s and was stopped")

    def check(self) -> None:
        if self.end is not None and time.monotonic() > self.end:
            raise self.error()

    def _alarm(self, signum: int, frame: Any) -> None:
        raise self.error()

    def __enter__(self) -> _Deadline:
        import signal

        if (
            self.limit is not None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        ):
            self._old = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, self.limit)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
            self._old = None


def _timed_out(task: RunTask, message: str, elapsed: float) -> RunOutcome:
    """The outcome of a run stopped by its time limit outside the optimizer (e.g. while building the problem)."""
    return RunOutcome(
        task=task,
        status="failed",
        best=float("inf"),
        best_x=None,
        reported_best=None,
        n_evals=0,
        trace_evals=np.zeros(0, dtype=np.int64),
        trace_best=np.zeros(0, dtype=np.float64),
        front=None,
        ref_point=None,
        n_obj=1,
        problem_kind=task.problem.kind,
        problem_config={},
        wall_time=elapsed,
        solve_time=0.0,
        eval_time=0.0,
        book_time=0.0,
        error=message,
        host=socket.gethostname(),
        python=platform.python_version(),
        versions=library_versions(),
    )


def run_task(task: RunTask, on_evals: Callable[[int], None] | None = None) -> RunOutcome:
    """:func:`execute` under the task's time limit and import permissions (what every executor runs).

    A run over ``task.timeout`` is stopped and returned with ``status="failed"`` and a
    :class:`~latentbridge.errors.RunTimeoutError` message.
    """
    start = time.perf_counter()
    deadline = _Deadline(task)

    def guarded(n: int) -> None:
        if on_evals is not None:
            on_evals(n)
        deadline.check()

    try:
        with trusted_imports(task.allow_imports), deadline:
            outcome = execute(task, guarded if task.timeout is not None else on_evals)
    except RunTimeoutError as exc:
        return _timed_out(task, str(exc), time.perf_counter() - start)
    if deadline.fired and outcome.status == "finished":  # fired as the run returned: keep the promise anyway
        outcome.status, outcome.error = "failed", str(deadline.error())
    return outcome
