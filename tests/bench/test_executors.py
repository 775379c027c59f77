"""Process-pool and Dask executors give exactly the serial executor's results for the same seeds."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from latentbridge.bench import Store, load_suite, run_suite

pytest.importorskip("pymoo")

# optimizers the worker processes can build (no test-only registrations there)
OPTIMIZERS = """
[[optimizers]]
name = "paper-ga"
params = { pop_size = 10 }
[[optimizers]]
name = "pymoo:DE"
params = { pop_size = 10 }
"""


def _table(db: Path) -> dict[str, tuple[Any, ...]]:
    with Store(db, readonly=True) as store:
        runs = store.runs()
        assert all(r.status == "finished" for r in runs)
        return {
            r.run_key: (
                r.seed,
                r.n_evals,
                r.best,
                r.best_x.tobytes() if r.best_x is not None else None,
                tuple(r.trace_best),
            )
            for r in runs
        }


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's start-up chatter is not ours to fix
        cl = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        )
    try:
        yield cl
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cl.close()


def _run(suite_path: Path, db: Path, **kwargs: Any) -> None:
    with Store(db) as store:
        summary = run_suite(load_suite(suite_path), store, progress=False, threads=1, **kwargs)
    assert summary.failed == 0
    assert summary.finished == 8  # 2 problems x 2 optimizers x 2 seeds


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_process_and_dask_equal_serial(tmp_path: Path, write_suite: Callable[..., Path], cluster: Any) -> None:
    suite = write_suite(OPTIMIZERS, budget=60, seeds=2)
    _run(suite, tmp_path / "serial.sqlite")
    serial = _table(tmp_path / "serial.sqlite")
    assert len(serial) == 8
    _run(suite, tmp_path / "proc.sqlite", executor="process", workers=2)
    assert _table(tmp_path / "proc.sqlite") == serial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run(suite, tmp_path / "dask.sqlite", executor="dask", scheduler=cluster.scheduler_address)
    assert _table(tmp_path / "dask.sqlite") == serial


def test_process_workers_report_progress_while_they_run(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    """The parent hears of every evaluation from the pool's workers, before each run ends: the bar moves at once."""
    import io
    import multiprocessing

    from rich.console import Console

    from latentbridge.bench.runner import _LiveProgress, _process, plan

    suite = load_suite(write_suite(OPTIMIZERS, seeds=1))
    tasks = plan(suite)
    heard: list[int] = []
    live = _LiveProgress(multiprocessing.get_context("spawn").Queue(), heard.append)
    outcomes = list(_process(tasks, 2, live))
    left = sum(live.settle(o.task) for o in outcomes)
    live.close()
    assert sum(heard) + left == sum(t.budget for t in tasks)
    assert sum(heard) > 0  # sent from inside the runs, not only at their ends
    # the bench's bar reaches its total with the process executor
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with Store(tmp_path / "b.sqlite") as store:
        summary = run_suite(suite, store, executor="process", workers=2, console=console, progress=True)
    assert summary.finished == len(tasks)


def test_live_progress_ignores_messages_after_a_run_settled() -> None:
    import queue

    from latentbridge.bench.runner import _LiveProgress

    heard: list[int] = []
    q: queue.Queue[Any] = queue.Queue()
    live = _LiveProgress(q, heard.append)
    task = type("T", (), {"key": "k", "budget": 100})()
    q.put(("k", 30))
    q.put(None)  # stop the drain thread after the first message
    live.thread.join(timeout=5)
    assert heard == [30]
    assert live.settle(task) == 70  # type: ignore[arg-type]
    assert "k" in live.done  # later messages of this run are dropped, so the bar never counts it twice
