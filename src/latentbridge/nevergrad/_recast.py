"""The background threads of nevergrad's sequential "recast" optimizers: one computes at a time, all stop at the end.

nevergrad runs scipy, ``directsearch``... solvers (``"DSproba"``, ``"MultiDS"``,
``"Powell"``, ``"SQP"``...) in a background thread that posts each point it wants
evaluated and blocks until its loss is told. The driver (:mod:`._driver`) waits after each
tell until the thread has settled (:func:`settle_recast_threads`), so runs are a function of
their seed, and stops the threads of the optimizers it built when the run ends
(:func:`stop_recast_threads`).
"""

from __future__ import annotations

import time
from typing import Any

from nevergrad.optimization import recaster as ngrecast

__all__ = ["recast_settled", "recast_threads", "settle_recast_threads", "stop_recast_threads"]


def recast_threads(opts: list[Any]) -> list[Any]:
    """The running background threads of the sequential "recast" optimizers among ``opts``.

    nevergrad runs scipy, ``directsearch``... solvers (``"DSproba"``, ``"MultiDS"``,
    ``"Powell"``, ``"SQP"``...) in a background thread that posts each point it wants
    evaluated and blocks until its loss is told.
    """
    out = []
    for o in opts:
        holder = getattr(o, "_messaging_thread", None) if isinstance(o, ngrecast.SequentialRecastOptimizer) else None
        thread = getattr(holder, "_thread", None)
        if thread is not None and thread.is_alive():
            out.append((o, thread))
    return out


#: Longest wait for one recast thread to post its next point (it then runs on, unsynchronised, as in nevergrad).
_RECAST_SETTLE_S = 60.0


def recast_settled(o: Any, thread: Any) -> bool:
    """The recast thread of ``o`` computes nothing: it finished, posted its next point, or waits for a loss."""
    if not thread.is_alive() or not thread.messages_ask.empty():
        return True
    asked_out = o.num_ask > o.num_tell - o.num_tell_not_asked  # its point is out, being evaluated
    return bool(asked_out and thread.messages_tell.empty())


def settle_recast_threads(threads: list[Any]) -> None:
    """Wait until each recast thread has posted its next point, finished, or waits for a loss.

    After a tell, nevergrad lets the thread compute its next point while the main
    thread goes on asking and telling others. Those solvers draw from numpy's *global*
    generator, so when several run at once (the portfolios ``"MultiDS"``, ``"DS14"``...)
    the order of their draws, and so the result, depended on thread scheduling: the
    same seed gave different runs. Letting one thread compute at a time makes the
    draws' order, and the run, a function of the seed. Nothing else changes: the
    thread computes exactly what it would have.
    """
    for o, thread in threads:
        deadline = time.perf_counter() + _RECAST_SETTLE_S
        pause = 1e-5
        while not recast_settled(o, thread) and time.perf_counter() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)


def stop_recast_threads(opts: list[Any]) -> None:
    """Stop and join the background threads of the recast optimizers among ``opts`` (those the driver built).

    nevergrad stops them only when the optimizer is garbage-collected, possibly during
    a later run, whose global random state the stopping thread could then disturb.
    """
    for _, thread in recast_threads(opts):
        thread.stop()
        thread.join(timeout=5.0)
