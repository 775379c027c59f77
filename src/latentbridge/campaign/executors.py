"""Executors: run picklable tasks serially, in a spawn process pool or on Dask, yielding results as they finish.

Every unit of a campaign is a picklable task and a module-level function; :func:`run_tasks` yields
``fn(task)`` for each task in completion order, with at most ``2 · workers`` tasks in flight, so the parent can
store each result as it arrives. On Ctrl-C or an error (or when the caller closes the iterator), the units in
flight are abandoned: pool processes are terminated, Dask futures cancelled, and a worker whose parent dies
exits too. Example::

    from latentbridge.campaign.executors import run_tasks

    for result in run_tasks(pow_two, range(10), executor="process", workers=2):
        store(result)
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, TypeVar

from ..errors import InputError, missing_extra
from ..validation import check_positive_int

__all__ = ["EXECUTORS", "ExecutorName", "check_executor", "init_worker", "run_tasks"]

ExecutorName = Literal["serial", "process", "dask"]
#: The executors, by name.
EXECUTORS: tuple[str, ...] = ("serial", "process", "dask")

T = TypeVar("T")
R = TypeVar("R")


def check_executor(executor: str, workers: Any, scheduler: str | None = None) -> int:
    """The number of workers ``executor`` will use (1 for ``serial``), after checking the combination.

    Raises:
        InputError: An unknown executor, ``workers`` not an int >= 1, or a scheduler without ``dask``.
    """
    if executor not in EXECUTORS:
        raise InputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    workers = check_positive_int(workers, "workers")
    if scheduler is not None and executor != "dask":
        raise InputError("--scheduler needs --executor dask")
    return 1 if executor == "serial" else workers


def init_worker(threads: int) -> None:
    """Set up a pool worker: ``threads`` torch threads, Ctrl-C left to the parent, exit when the parent dies.

    The parent handles Ctrl-C by terminating the pool; a parent killed with SIGKILL must not leave orphans
    computing, so a daemon thread waits on the parent's sentinel and exits the worker.
    """
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(max(1, threads))
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(1)


def run_tasks(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    *,
    executor: str,
    workers: int = 1,
    threads: int = 1,
    scheduler: str | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: Sequence[Any] | None = None,
    key: Callable[[T], str] | None = None,
) -> Iterator[R]:
    """Yield ``fn(task)`` for every task, in completion order, with at most ``2 · workers`` tasks in flight.

    Args:
        fn: A module-level function (pickled by reference for ``process`` and ``dask``).
        tasks: The tasks (consumed lazily, so a generator of large tasks is fine).
        executor: ``"serial"`` (this process; torch's thread count is restored afterwards), ``"process"``
            (a spawn process pool of ``workers``) or ``"dask"`` (a local cluster of ``workers`` processes, or
            the running ``scheduler``).
        workers: Parallel workers of ``process`` and ``dask``.
        threads: torch threads of each ``process`` worker (see :func:`init_worker`).
        scheduler: Address of a running Dask scheduler (``dask`` only).
        initializer: ``process`` worker set-up instead of :func:`init_worker` (call it from yours).
        initargs: Its arguments (default ``(threads,)``).
        key: A Dask task key per task (default: Dask's own).

    Raises:
        InputError: Bad executor options (see :func:`check_executor`).
        MissingDependencyError: ``dask`` without the ``distributed`` package.
    """
    workers = check_executor(executor, workers, scheduler)
    if executor == "serial":
        return _serial(fn, tasks)
    if executor == "process":
        init = initializer or init_worker
        return _process(fn, tasks, workers, init, tuple(initargs) if initargs is not None else (threads,))
    return _dask(fn, tasks, workers, scheduler, key)


def _serial(fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
    import torch

    before = torch.get_num_threads()
    try:
        for task in tasks:
            yield fn(task)
    finally:
        torch.set_num_threads(before)


def _process(
    fn: Callable[[T], R], tasks: Iterable[T], workers: int, init: Callable[..., None], initargs: tuple[Any, ...]
) -> Iterator[R]:
    it = iter(tasks)
    first = list(itertools.islice(it, 2 * workers))
    if not first:
        return
    pool = cf.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=init, initargs=initargs
    )
    clean = False
    try:
        pending = {pool.submit(fn, t) for t in first}
        while pending:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                for t in itertools.islice(it, 1):
                    pending.add(pool.submit(fn, t))
                yield fut.result()
        clean = True
    finally:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=clean, cancel_futures=True)
        if not clean:  # Ctrl-C, an error or an abandoned iterator: stop the units in flight
            for proc in procs:
                proc.terminate()


def _dask(
    fn: Callable[[T], R], tasks: Iterable[T], workers: int, scheduler: str | None, key: Callable[[T], str] | None
) -> Iterator[R]:
    import importlib

    try:  # distributed is untyped; treat it as Any
        distributed: Any = importlib.import_module("distributed")
    except ImportError as exc:  # pragma: no cover
        raise missing_extra("distributed", "bench", exc) from exc
    cluster = None
    if scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        )
        client = distributed.Client(cluster)
    else:
        client = distributed.Client(scheduler)

    def submit(task: T) -> Any:
        if key is None:
            return client.submit(fn, task, pure=False)
        return client.submit(fn, task, key=key(task), pure=False)

    it = iter(tasks)
    futures: list[Any] = []
    try:
        futures = [submit(t) for t in itertools.islice(it, 2 * workers)]
        ac = distributed.as_completed(futures)
        for fut in ac:
            for t in itertools.islice(it, 1):
                new = submit(t)
                futures.append(new)
                ac.add(new)
            yield fut.result()
    finally:
        client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()
