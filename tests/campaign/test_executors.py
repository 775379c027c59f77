"""Executors: one checked set of options; serial and process pools give every result and abandon work on close."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import torch

from latentbridge.campaign.executors import check_executor, run_tasks
from latentbridge.errors import InputError


def test_check_executor() -> None:
    assert check_executor("serial", 4) == 1
    assert check_executor("process", 3) == 3
    assert check_executor("dask", 2, "tcp://127.0.0.1:8786") == 2
    with pytest.raises(InputError, match="executor must be one of serial, process, dask, got 'threads'"):
        check_executor("threads", 1)
    for bad in (0, -1, True, "2", 1.5):
        with pytest.raises(InputError, match="workers must be"):
            check_executor("process", bad)
    with pytest.raises(InputError, match="--scheduler needs --executor dask"):
        check_executor("process", 2, "tcp://127.0.0.1:8786")


def test_bad_options_raise_at_the_call() -> None:
    with pytest.raises(InputError, match="executor"):
        run_tasks(abs, [1], executor="nope")


def test_serial_runs_in_order_and_restores_torch_threads() -> None:
    before = torch.get_num_threads()

    def task(n: int) -> int:
        torch.set_num_threads(1)
        return n * n

    assert list(run_tasks(task, range(5), executor="serial")) == [0, 1, 4, 9, 16]
    assert torch.get_num_threads() == before


def test_process_pool_gives_every_result() -> None:
    tasks = list(range(-7, 8))
    assert sorted(run_tasks(abs, iter(tasks), executor="process", workers=2)) == sorted(abs(t) for t in tasks)
    assert list(run_tasks(abs, [], executor="process", workers=2)) == []


def test_closing_the_results_abandons_the_work_in_flight() -> None:
    others = {p.pid for p in multiprocessing.active_children()}

    def ours() -> list[int]:
        return [p.pid for p in multiprocessing.active_children() if p.pid not in others]

    results = run_tasks(time.sleep, [0.0, 600.0, 600.0, 600.0], executor="process", workers=2)
    assert next(results) is None
    assert ours()
    results.close()  # what a caller does on Ctrl-C: the sleeping workers are terminated, not waited for
    deadline = time.monotonic() + 60
    while ours() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ours()
