"""One bench run as stored in ``bench.sqlite`` and handed to the leaderboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["RunRecord"]


@dataclass
class RunRecord:
    """One run as stored (and as handed to the leaderboard).

    ``best`` is the score the leaderboard ranks, lower is better: the best fitness among
    the first ``budget`` evaluations, or minus the hypervolume for multi-objective problems.
    """

    run_key: str
    suite: str
    problem_id: str
    problem_kind: str
    problem_hash: str
    problem_config: dict[str, Any]
    problem_spec: dict[str, Any]
    n_obj: int
    optimizer: str
    optimizer_name: str
    optimizer_params: dict[str, Any]
    replicate: int
    seed: int
    budget: int
    n_evals: int
    best: float
    reported_best: float | None
    best_x: NDArray[np.float64] | None
    front: NDArray[np.float64] | None
    ref_point: list[float] | None
    wall_time: float
    solve_time: float
    eval_time: float
    status: str
    error: str | None
    warnings: list[str]
    versions: dict[str, str]
    host: str
    python: str
    config: dict[str, Any]
    trace_evals: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    trace_best: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    created: float = 0.0
    n_failed: int = 0
    n_grad_evals: int = 0
    forward_equivalents: float | None = None
    qd_archive: bytes | None = None
    qd_metrics: dict[str, Any] | None = None
