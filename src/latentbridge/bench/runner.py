"""Running a suite: its planned runs on a serial, process or Dask executor, each stored as it finishes.

:func:`run_suite` plans the suite (:mod:`~latentbridge.bench.planning`), skips what the
store already holds (``--resume``), hands the runs to :func:`~latentbridge.campaign.executors.run_tasks`
(each one is :func:`~latentbridge.bench.execution.run_task`), stores every outcome in this
process, one transaction per run, and keeps the progress bar and the time accounting
(:class:`BenchSummary`). Process-pool workers report their evaluations while they run.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..campaign.executors import ExecutorName, check_executor, init_worker, run_tasks
from ..campaign.render import console_text as escape  # rich markup and control characters
from ..errors import InputError, StoreError
from .execution import RunOutcome, execute, run_task, to_record
from .planning import RunTask, plan
from .problems import cached_problem, emulated_precisions, trusted_imports
from .problems import rebuild_problem as rebuild_problem  # its home before; kept importable from here
from .store import RunRecord, Store
from .suite import Suite

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
