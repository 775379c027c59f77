"""Realism columns of the leaderboard: how real each optimizer's best images look, beside its fitness rank.

Fitness says how close a solution comes to the target (or how diverse a set is), not
whether its images still look like the data: gradient methods in particular can reach low
distances from latents far outside the prior. For every instance and optimizer,
:func:`attach_realism` rebuilds the problem from the stored spec (as the image grids do)
and measures the best latents of its runs with :func:`latentbridge.realism.realism`, then
keeps per (instance, optimizer):

- ``latent_p`` — median latent typicality: the two-sided chi tail probability of the
  solution's prior-normalised norm (Gaussian latents only; small = atypical);
- ``discriminator_percentile`` — median fraction of held-out real digits the embedded
  DCGAN's discriminator scores lower than the image (0.5 = as real as a median real digit;
  only where the generator ships a discriminator);
- ``digit_match`` and ``digit_confidence`` — for digit targets, the fraction of runs whose
  best image the embedded classifier assigns the target's class, and the median probability
  it gives that class.

A problem that cannot be rebuilt (a generator no longer installed) gets no realism columns;
the rest of the report is unaffected.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..campaign.render import number as _fmt
from .leaderboard import Instance, Leaderboard, spent

__all__ = [
    "REALISM_CSV_COLUMNS",
    "REALISM_MEASURES",
    "attach_realism",
    "cost_cells",
    "cost_headers",
    "realism_cells",
    "realism_headers",
    "realism_of",
]

#: Measure name → (column header, how the runs' values are summarised).
REALISM_MEASURES: dict[str, tuple[str, str]] = {
    "latent_p": ("latent p", "median"),
    "discriminator_percentile": ("D pct", "median"),
    "digit_match": ("digit ✓", "mean"),
    "digit_confidence": ("digit conf", "median"),
}
#: CSV columns of the realism measures (empty where a measure does not apply).
REALISM_CSV_COLUMNS = tuple(f"realism_{m}" for m in REALISM_MEASURES)


def realism_of(problem: Any, X: np.ndarray) -> dict[str, float]:
    """The realism summary of solutions ``X`` (the best latents of several runs) of ``problem``.

    Returns:
        ``{measure: value}`` for the measures of :data:`REALISM_MEASURES` that apply.
    """
    from ..realism import realism

    values = realism(problem, X)
    out: dict[str, float] = {}
    for name, (_, how) in REALISM_MEASURES.items():
        if name in values:
            v = np.asarray(values[name], dtype=np.float64)
            out[name] = float(np.mean(v) if how == "mean" else np.median(v))
    return out


def attach_realism(board: Leaderboard, rebuild: Callable[[dict[str, Any]], Any] | None = None) -> Leaderboard:
    """Measure the realism of every single-objective instance's best latents, per optimizer, into ``board.realism``.

    Args:
        board: The leaderboard (changed in place and returned).
        rebuild: Builds a problem from a stored spec (default
            :func:`latentbridge.bench.problems.rebuild_problem`).

    Returns:
        ``board``, with ``board.realism[(instance label, optimizer)]`` filled where the problem
        could be rebuilt and the runs stored their best latents.
    """
    if rebuild is None:
        from .problems import rebuild_problem

        rebuild = rebuild_problem
    built: dict[str, Any] = {}
    for inst in board.instances:
        if inst.n_obj > 1:
            continue  # a multi-objective run's result is a front, not one best latent
        first = next(iter(inst.runs.values()))[0]
        key = json.dumps(first.problem_spec, sort_keys=True, default=str)
        if key not in built:
            try:
                built[key] = rebuild(first.problem_spec)
            except Exception:  # a generator no longer installed: no realism columns for it
                built[key] = None
        problem = built[key]
        if problem is None:
            continue
        for name, recs in inst.runs.items():
            xs = [np.asarray(r.best_x, dtype=np.float64).reshape(-1) for r in recs if r.best_x is not None]
            if not xs or any(x.size != problem.dim for x in xs):
                continue
            try:
                board.realism[(inst.label, name)] = realism_of(problem, np.stack(xs))
            except Exception:  # a model that cannot measure these latents loses its columns only
                continue
    return board


def realism_headers(board: Leaderboard, inst: Instance) -> list[str]:
    """The realism columns ``inst`` has (none when nothing was measured)."""
    present = {m for (label, _), vals in board.realism.items() if label == inst.label for m in vals}
    return [header for m, (header, _) in REALISM_MEASURES.items() if m in present]


def realism_cells(board: Leaderboard, inst: Instance, optimizer: str) -> list[str]:
    """The realism cells of ``optimizer`` on ``inst``, in :func:`realism_headers` order ("" where unmeasured)."""
    vals = board.realism.get((inst.label, optimizer), {})
    cells = []
    for m, (header, _) in REALISM_MEASURES.items():
        if header not in realism_headers(board, inst):
            continue
        v = vals.get(m)
        if v is None or not math.isfinite(v):
            cells.append("")
        elif m == "digit_match":
            cells.append(f"{100 * v:.0f} %")
        else:
            cells.append(_fmt(v, 3))
    return cells


def cost_headers(inst: Instance) -> list[str]:
    """``grad evals`` and ``fwd-equiv`` when any run of ``inst`` evaluated gradients (else none)."""
    grad = any(r.n_grad_evals for recs in inst.runs.values() for r in recs)
    return ["grad evals", "fwd-equiv"] if grad else []


def cost_cells(inst: Instance, optimizer: str) -> list[str]:
    """Mean gradient evaluations and forward-equivalents of ``optimizer``'s runs, in :func:`cost_headers` order."""
    if not cost_headers(inst):
        return []
    recs = inst.runs[optimizer]
    grad = float(np.mean([r.n_grad_evals for r in recs]))
    cost = float(np.mean([min(spent(r), r.budget) for r in recs]))
    return [f"{grad:,.0f}", f"{cost:,.0f}"]
