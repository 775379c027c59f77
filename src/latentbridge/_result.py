"""What every optimizer run returns: best solution, fitness, budget used and an anytime trace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["OptimizeResult", "Trace"]


@dataclass
class Trace:
    """Best-so-far fitness after each batch: parallel arrays ``evals`` and ``best``.

    For single-objective problems ``best[i]`` is the lowest fitness seen in the first
    ``evals[i]`` evaluations (forward-equivalents, rounded up, for runs with gradient
    evaluations); multi-objective runs record the hypervolume of the
    non-dominated set instead (higher is better) when a reference point is known.
    """

    evals: list[int] = field(default_factory=list)
    best: list[float] = field(default_factory=list)

    def record(self, evals: int, best: float) -> None:
        """Append one point."""
        self.evals.append(int(evals))
        self.best.append(float(best))

    def as_array(self) -> NDArray[np.float64]:
        """``(m, 2)`` array of ``[evals, best]`` rows."""
        return np.column_stack([np.asarray(self.evals, dtype=np.float64), np.asarray(self.best, dtype=np.float64)])

    def __len__(self) -> int:
        return len(self.evals)


@dataclass
class OptimizeResult:
    """The outcome of one optimizer run on a :class:`~latentbridge.LatentProblem`.

    Attributes:
        x: Best solution ``(dim,)`` (for multi-objective runs: the first of the front).
        f: Its fitness: a float, or ``(n_obj,)`` for multi-objective problems.
        n_evals: Solutions evaluated (the budget actually used), without gradients.
        trace: Anytime best-so-far curve.
        optimizer: Name of the optimizer (``"paper-ga"``, ``"pymoo:DE"``, ``"ng:CMA"``...).
        params: Its parameters.
        seed: The seed the run used.
        wall_time: Seconds.
        X_front: Non-dominated solutions ``(p, dim)`` for multi-objective runs, else None.
        F_front: Their fitness ``(p, n_obj)``, else None.
        extra: Anything else the adapter wants to report (e.g. hypervolume).
        n_failed: Evaluations whose fitness was non-finite (counted as failed, scored ``+inf``).
        n_grad_evals: Value-and-gradient evaluations (white-box optimizers; 0 otherwise).
        forward_equivalents: Budget used in forward passes: ``n_evals`` plus ``grad_cost`` per gradient
            evaluation (None: ``n_evals``).
    """

    x: NDArray[np.float64]
    f: float | NDArray[np.float64]
    n_evals: int
    trace: Trace
    optimizer: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    wall_time: float = 0.0
    X_front: NDArray[np.float64] | None = None
    F_front: NDArray[np.float64] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    n_failed: int = 0
    n_grad_evals: int = 0
    forward_equivalents: float | None = None

    def __post_init__(self) -> None:
        if self.forward_equivalents is None:
            self.forward_equivalents = float(self.n_evals)

    @property
    def best(self) -> float:
        """Best fitness as a float (first objective for multi-objective runs)."""
        return float(np.ravel(np.asarray(self.f, dtype=np.float64))[0])

    def __repr__(self) -> str:
        """A one-line summary (the full arrays are in the attributes)."""
        if self.X_front is not None and self.F_front is not None:
            what = f"front={self.F_front.shape[0]} points"
            if "hypervolume" in self.extra:
                what += f", hypervolume={float(self.extra['hypervolume']):.6g}"
        else:
            what = f"best={self.best:.6g}"
        failed = f", n_failed={self.n_failed}" if self.n_failed else ""
        if self.n_grad_evals:
            failed += f", n_grad_evals={self.n_grad_evals}, forward_equivalents={self.forward_equivalents:.6g}"
        return (
            f"OptimizeResult(optimizer={self.optimizer!r}, {what}, n_evals={self.n_evals}{failed}, "
            f"dim={np.asarray(self.x).size}, seed={self.seed}, wall_time={self.wall_time:.3g}s)"
        )
