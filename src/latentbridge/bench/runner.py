"""Planning and executing a suite: independent runs, seeded per run, on a serial, process or Dask executor.

A run is (problem, optimizer, replicate). Its seed comes from :func:`~.suite.run_seed`, its
key from (suite, problem hash, optimizer + parameters, seed, budget). The :class:`RunTask`
that travels to a worker carries the problem *spec*, never the problem: workers rebuild
the problem (once per process) and check that its config hash matches the parent's.

Each run observes its problem (``problem.observe``) with a :class:`~latentbridge.Tracker`
limited to the budget: it keeps the best solution among the first ``budget`` evaluations,
the anytime trace (best-so-far, or −hypervolume for several objectives) and the count of
failed (non-finite) evaluations, and the evaluations' own timing gives the time spent in
the generator and scorer. Evaluations past the budget (an optimizer that overshoots) are
computed but ignored, so all optimizers are compared on the same number of evaluations.
A run whose evaluations were all non-finite is stored as failed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing
import platform
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._problems import LatentProblem
from .._tracking import Evaluation, Tracker, default_ref_point
from ..campaign.executors import ExecutorName, check_executor, init_worker, run_tasks
from ..campaign.render import console_text as escape  # rich markup and control characters
from ..campaign.store import CORE_PACKAGES, versions
from ..errors import (
    InputError,
    LatentBridgeError,
    NonFiniteFitnessError,
    RunTimeoutError,
    StoreError,
    UnknownNameError,
)
from ..optimizers import applies, resolve, validate_optimizer
from . import problems as problems_mod
from .problems import build_problem, cached_problem, emulated_precisions, trusted_imports
from .store import RunRecord, Store
from .suite import OptimizerSpec, ProblemSpec, Suite, SuiteError, Where, run_seed

__all__ = [
    "BenchInterrupted",
    "BenchSummary",
    "ExecutorName",
    "RunOutcome",
    "RunTask",
    "execute",
    "plan",
    "run_suite",
    "run_task",
]


class BenchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a bench; finished runs are stored and ``--resume`` continues."""

    def __init__(self, finished: int, remaining: int) -> None:
        super().__init__(f"interrupted: {finished} runs stored, {remaining} not run")
        self.finished = finished
        self.remaining = remaining


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


# --------------------------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------------------------
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


class SuiteNameError(SuiteError, UnknownNameError):
    """An unknown name in a suite (a :class:`SuiteError` that is also an ``UnknownNameError``/``KeyError``)."""


def _located(where: Where, key: str, exc: BaseException) -> SuiteError:
    """``exc`` re-raised as a :class:`SuiteError` that names the suite file, line and key."""
    text = str(exc) if isinstance(exc, LatentBridgeError) else f"{type(exc).__name__}: {exc}"
    cls = SuiteNameError if isinstance(exc, UnknownNameError) else SuiteError
    err = cls(f"{where.at(key)}: {text}")
    err.__cause__ = exc
    return err


def _plan_problem(spec: ProblemSpec) -> LatentProblem:
    """Build ``spec`` step by step, so that an error names the key it comes from."""
    where = spec.where
    try:
        return cached_problem(spec)
    except SuiteError:
        raise
    except Exception as exc:
        first = exc
    # find the step that fails, for the message (models are small to reload next to a failed build)
    from .._plugins import load_problem
    from .problems import _load, load_originals, load_target

    try:
        gen = _load("generator", spec.generator, spec.generator_options)
    except Exception as exc:
        raise _located(where, "generator", exc) from None
    try:
        scorer = _load("scorer", spec.scorer, spec.scorer_options)
    except Exception as exc:
        raise _located(where, "scorer", exc) from None
    kwargs = dict(spec.options)
    if spec.target is not None:
        try:
            target = load_target(spec.target, gen)
        except Exception as exc:
            raise _located(where, "target", exc) from None
        kwargs["target"] = list(target) if target.ndim == len(gen.image_shape) + 1 else target
    if spec.originals is not None:
        try:
            kwargs["originals"] = load_originals(spec.originals)
        except Exception as exc:
            raise _located(where, "originals", exc) from None
    try:
        load_problem(spec.kind, gen, scorer, **kwargs)
    except UnknownNameError as exc:
        raise _located(where, "kind", exc) from None
    except Exception as exc:
        keys = [k for k in ("options", "k", "batch_size", "aggregate") if k in dict(where.keys)]
        raise _located(where, keys[0] if keys else "kind", exc) from None
    raise _located(where, "kind", first) from None  # pragma: no cover - the stepwise build succeeded


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
        built = {spec.id: _plan_problem(spec) for spec in suite.problems}
        solvers: dict[str, Any] = {}
        for opt in suite.optimizers:
            try:
                solvers[opt.label] = resolve(opt.name, opt.params)
            except UnknownNameError as exc:
                raise _located(opt.where, "name", exc) from None
            except Exception as exc:
                raise _located(opt.where, "params", exc) from None
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
        raise _located(opt.where, "params", exc) from None
    if suite.budget < need:
        raise _located(
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
        raise _located(opt.where, "name", exc) from None
    except Exception as exc:
        raise _located(opt.where, "params", exc) from None


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------
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
        before = self.tracker.n_evals
        self.tracker(evaluation)
        self.seconds += time.perf_counter() - t0
        counted = self.tracker.n_evals - before
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
    if tracker.n_evals == 0:
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
    ref: list[float] | None = None
    tracker = Tracker(problem.n_obj, budget=task.budget)
    book = _Bookkeeper(tracker, on_evals)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ref = _ref_point(task, problem)
            tracker = book.tracker = Tracker(problem.n_obj, budget=task.budget, ref_point=ref)
            with problem.observe(book):
                result = solver.solve(problem, task.budget, task.seed)
            reported = result.best
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
    )


# --------------------------------------------------------------------------------------------
# executors
# --------------------------------------------------------------------------------------------
#: In a process-pool worker: where :func:`_run_reporting` sends ``(run key, evaluations)`` progress messages.
_PROGRESS_QUEUE: Any = None
#: Seconds between two progress messages of one run (a message per batch would flood the pipe).
_PROGRESS_EVERY = 0.25


def _init_worker(threads: int, progress: Any = None) -> None:
    """Worker set-up: :func:`~latentbridge.campaign.executors.init_worker`, plus where progress messages go."""
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = progress
    init_worker(threads)


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


def _run_reporting(task: RunTask) -> RunOutcome:
    """:func:`run_task` in a pool worker, sending its progress to the parent every ``_PROGRESS_EVERY`` seconds."""
    queue = _PROGRESS_QUEUE
    if queue is None:
        return run_task(task)
    pending = [0, time.monotonic()]

    def report(n: int) -> None:
        pending[0] += n
        now = time.monotonic()
        if now - pending[1] >= _PROGRESS_EVERY:
            queue.put((task.key, pending[0]))
            pending[0], pending[1] = 0, now

    outcome = run_task(task, report)
    if pending[0]:
        queue.put((task.key, pending[0]))
    return outcome


class _LiveProgress:
    """The parent's side of the workers' progress messages: each run advances the bar while it runs.

    A thread drains the queue into ``on_evals``; :meth:`settle` says how much of a finished
    run's budget is still to be shown, and ignores that run's late messages from then on.
    """

    def __init__(self, queue: Any, on_evals: Callable[[int], None] | None) -> None:
        self.queue = queue
        self.on_evals = on_evals
        self.shown: dict[str, int] = {}
        self.done: set[str] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            key, n = item
            with self.lock:
                if key in self.done:
                    continue
                self.shown[key] = self.shown.get(key, 0) + int(n)
            if self.on_evals is not None:
                self.on_evals(int(n))

    def settle(self, task: RunTask) -> int:
        """Evaluations of ``task``'s budget not shown yet (the run has finished)."""
        with self.lock:
            self.done.add(task.key)
            return max(0, task.budget - min(self.shown.pop(task.key, 0), task.budget))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=5)


def _process(tasks: Sequence[RunTask], workers: int, live: _LiveProgress | None = None) -> Iterator[RunOutcome]:
    if not tasks:
        return iter(())
    queue = live.queue if live is not None else None
    return run_tasks(
        _run_reporting,
        tasks,
        executor="process",
        workers=workers,
        initializer=_init_worker,
        initargs=(tasks[0].threads, queue),
    )


# --------------------------------------------------------------------------------------------
# orchestration
# --------------------------------------------------------------------------------------------
@dataclass
class BenchSummary:
    """What a bench did, with the time accounting behind the overhead figure.

    Attributes:
        planned: Runs in the suite.
        skipped: Runs already stored (``--resume``).
        finished: Runs finished now.
        failed: Runs that failed now (the optimizer raised, or no evaluation was finite;
            stored with ``status='failed'``).
        wall_time: Seconds from start to the last stored run.
        eval_time: Seconds inside ``problem.evaluate`` (generator + scorer), summed over runs.
        solve_time: Seconds inside ``optimizer.solve``, summed over runs.
        book_time: Seconds of the bench's per-evaluation bookkeeping inside ``solve``.
        evals: Evaluations performed.
        failed_evals: Of the counted evaluations, those with a non-finite fitness.
        workers: Parallel workers.
    """

    planned: int = 0
    skipped: int = 0
    finished: int = 0
    failed: int = 0
    wall_time: float = 0.0
    eval_time: float = 0.0
    solve_time: float = 0.0
    book_time: float = 0.0
    evals: int = 0
    failed_evals: int = 0
    workers: int = 1

    @property
    def worker_time(self) -> float:
        """Wall time times workers: the capacity the bench had."""
        return self.wall_time * self.workers

    @property
    def overhead(self) -> float:
        """Fraction of worker time spent in the bench machinery (setup, dispatch, bookkeeping, store).

        ``1 - (solve_time - book_time) / worker_time``: what remains after the optimizers'
        own runs (evaluations plus optimizer internals) is the bench's.
        """
        if self.worker_time <= 0:
            return 0.0
        return max(0.0, 1.0 - (self.solve_time - self.book_time) / self.worker_time)

    @property
    def eval_fraction(self) -> float:
        """Fraction of worker time spent evaluating (generator + scorer)."""
        return self.eval_time / self.worker_time if self.worker_time > 0 else 0.0

    def describe(self) -> str:
        """One paragraph for the console."""
        opt_time = max(0.0, self.solve_time - self.eval_time - self.book_time)
        wt = max(self.worker_time, 1e-12)
        failed_evals = (
            f" {self.failed_evals:,} evaluations failed (non-finite fitness, scored +inf)." if self.failed_evals else ""
        )
        return (
            f"{self.finished + self.failed} runs finished ({self.failed} failed), {self.skipped} already stored, "
            f"{self.evals:,} evaluations in {self.wall_time:.1f} s wall × {self.workers} worker(s). "
            f"Time: evaluations {self.eval_time:.1f} s ({100 * self.eval_time / wt:.1f} %), "
            f"optimizer internals {opt_time:.1f} s ({100 * opt_time / wt:.1f} %), "
            f"bench machinery {self.overhead * wt:.1f} s ({100 * self.overhead:.1f} %)." + failed_evals
        )


def _progress(console: Any, enabled: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class EvalsPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-- evals/s" if speed is None else f"{speed:,.0f} evals/s", style="progress.data.speed")

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        EvalsPerSecond(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        speed_estimate_period=60.0,
    )


def run_suite(
    suite: Suite,
    store: Store,
    *,
    executor: ExecutorName = "serial",
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    threads: int | None = None,
    console: Any = None,
    progress: bool = True,
    on_stored: Callable[[RunRecord], None] | None = None,
    allow_imports: Sequence[str] = (),
    run_timeout: float | None = None,
    tasks: Sequence[RunTask] | None = None,
) -> BenchSummary:
    """Run every unfinished run of ``suite`` and store each as it finishes.

    Args:
        suite: The suite.
        store: Where runs go (only this process writes).
        executor: ``"serial"``, ``"process"`` (a spawn process pool) or ``"dask"``.
        workers: Parallel runs (processes / Dask workers of a local cluster).
        scheduler: Address of a running Dask scheduler (``executor="dask"``); default: a
            local cluster of ``workers`` processes.
        resume: Skip runs already stored as finished; without it, a store that already
            holds runs of this suite is an error.
        threads: torch threads per run (default 1: on a shared CPU, OpenMP threads of
            concurrent runs oversubscribe the cores and slow evaluation down by 10× or
            more; scale out with ``workers`` instead). Keep it fixed to compare executors
            bit for bit.
        console: A :class:`rich.console.Console` for the progress bar.
        progress: Show the progress bar.
        on_stored: Called with each stored record.
        allow_imports: Modules whose ``"pkg.module:factory"`` generator/scorer names may be
            imported (the command line's ``--allow-import``); by default only registered
            names resolve.
        run_timeout: Seconds one run may take (default: the suite's ``run_timeout``); a run
            over it is stored as failed.
        tasks: The runs, if already planned with :func:`plan` (default: planned here).

    Returns:
        The :class:`BenchSummary`.

    Raises:
        BenchInterrupted: on Ctrl-C, after keeping every finished run.
        InputError: the store already holds this suite and ``resume`` is false; bad options.
    """
    workers = check_executor(executor, workers, scheduler)
    if tasks is None:
        tasks = plan(suite, threads=threads or 1, allow_imports=allow_imports, run_timeout=run_timeout)
    todo = _unfinished(suite, store, tasks, resume)
    summary = BenchSummary(planned=len(tasks), skipped=len(tasks) - len(todo), workers=workers)
    store.save_suite(suite.name, {**suite.to_dict(), "planned_runs": len(tasks)})  # `leaderboard` compares
    config = {"suite": suite.to_dict(), "executor": executor, "workers": workers, "argv": sys.argv}
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    _note_emulation(todo, console)
    start = time.perf_counter()
    with _progress(console, progress and bool(todo)) as bar:
        task_id = bar.add_task(escape(f"{suite.name}: {len(todo)} runs"), total=sum(t.budget for t in todo))

        def on_evals(n: int) -> None:
            bar.advance(task_id, n)

        live = None
        if progress and executor == "process":  # workers report their evaluations while they run
            live = _LiveProgress(multiprocessing.get_context("spawn").Queue(), on_evals)
        outcomes = _outcomes(todo, executor, workers, scheduler, on_evals, live)
        runs_done = 0
        try:
            for outcome in outcomes:
                record = to_record(outcome, config)
                store.add_run(record)
                runs_done += 1
                _count(summary, outcome, console)
                bar.advance(task_id, _not_yet_shown(outcome, executor, live))
                bar.update(task_id, description=escape(f"{suite.name}: {runs_done}/{len(todo)} runs"))
                if on_stored is not None:
                    on_stored(record)
        except KeyboardInterrupt:
            _abandon(outcomes)
            summary.wall_time = time.perf_counter() - start
            raise BenchInterrupted(runs_done, len(todo) - runs_done) from None
        except StoreError as exc:  # a full disk, a lock: the runs stored so far stay, the rest is stopped
            _abandon(outcomes)
            raise StoreError(f"{exc} [{runs_done} runs of this bench were stored before it stopped]") from None
        finally:
            if live is not None:
                live.close()
    summary.wall_time = time.perf_counter() - start
    return summary


def _note_emulation(todo: Sequence[RunTask], console: Any) -> None:
    """One line, once per run of the bench, when a reduced precision is emulated on this CPU."""
    specs = {t.problem.id: t.problem for t in todo}
    with trusted_imports(tuple(dict.fromkeys(m for t in todo for m in t.allow_imports))):
        slow = emulated_precisions([cached_problem(s) for s in specs.values()])
    if slow:
        from ..precision import cpu_description

        names = " and ".join(slow)
        console.print(
            f"note: {names} is emulated on this CPU ({cpu_description()}): results are correct but usually "
            f"several times slower than fp32 (up to ~20x); --precision fp32 runs faster here",
            highlight=False,
            soft_wrap=True,
        )


def _unfinished(suite: Suite, store: Store, tasks: Sequence[RunTask], resume: bool) -> list[RunTask]:
    """The runs still to do; a store that already holds finished runs of the suite needs ``resume``."""
    finished = store.finished_keys(suite.name)  # failed runs do not count: they are simply run again
    if finished and not resume:
        raise InputError(
            f"{store.path} already holds {len(finished)} finished runs of suite {suite.name!r}; pass --resume to "
            "continue it or choose another --out directory"
        )
    return [t for t in tasks if t.key not in finished]


def _outcomes(
    todo: Sequence[RunTask],
    executor: str,
    workers: int,
    scheduler: str | None,
    on_evals: Callable[[int], None],
    live: _LiveProgress | None,
) -> Iterator[RunOutcome]:
    """The runs' outcomes, as the executor finishes them."""
    if executor == "serial":
        return run_tasks(functools.partial(run_task, on_evals=on_evals), todo, executor="serial")
    if executor == "process":
        return _process(todo, workers, live)
    return run_tasks(run_task, todo, executor="dask", workers=workers, scheduler=scheduler, key=_dask_key)


def _dask_key(task: RunTask) -> str:
    return f"latentbridge-run-{task.key}"


def _count(summary: BenchSummary, outcome: RunOutcome, console: Any) -> None:
    """Add a stored run to the summary; say why a failed run failed."""
    summary.eval_time += outcome.eval_time
    summary.solve_time += outcome.solve_time
    summary.book_time += outcome.book_time
    summary.evals += outcome.n_evals
    summary.failed_evals += outcome.n_failed
    if outcome.status == "finished":
        summary.finished += 1
        return
    summary.failed += 1
    last = (outcome.error or "").strip().splitlines()[-1:]
    console.print(
        "[red]failed:[/red] "
        + escape(
            f"{outcome.task.problem.id} × {outcome.task.optimizer.label} "
            f"seed {outcome.task.seed}: {last[0] if last else 'unknown error'}"
        )
    )


def _not_yet_shown(outcome: RunOutcome, executor: str, live: _LiveProgress | None) -> int:
    """How much of a finished run's budget the progress bar has not shown yet."""
    budget = outcome.task.budget
    if executor == "serial":  # shown evaluation by evaluation already
        return budget - min(outcome.n_evals, budget)
    if executor == "process" and live is not None:  # shown while it ran, in a worker
        return live.settle(outcome.task)
    return budget


def _abandon(outcomes: Iterator[RunOutcome]) -> None:
    """Stop the executor's runs in flight (after Ctrl-C)."""
    close = getattr(outcomes, "close", None)
    if callable(close):
        with contextlib.suppress(Exception, KeyboardInterrupt):  # the pool may be broken by the signal
            close()


def rebuild_problem(spec: dict[str, Any]) -> LatentProblem:
    """The problem of a stored run, rebuilt from its stored spec (for image grids)."""
    return build_problem(ProblemSpec.from_dict(spec))
