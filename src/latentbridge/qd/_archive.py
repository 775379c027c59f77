"""Archives as plain arrays, their QD metrics, and turning any run's evaluations into an archive.

pyribs keeps the archive of a run (``ribs.archives.GridArchive``); latentbridge reads it out
into an :class:`Archive` of plain numpy arrays, which computes its metrics without pyribs,
stores without pickles (:mod:`latentbridge.qd._store`) and rebuilds a ``GridArchive`` when
one is needed (:meth:`Archive.to_ribs`, for pyribs' heatmaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._tracking import Evaluation
from ..errors import InputError, missing_extra
from ._grid import Grid

if TYPE_CHECKING:
    from ._problem import QualityDiversity

__all__ = ["Archive", "ArchiveRecorder", "QDMetrics", "archive_from", "as_grid", "new_ribs_archive"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class QDMetrics:
    """The usual quality-diversity numbers of one archive (pyribs' definitions).

    Attributes:
        qd_score: ``sum(objective - qd_offset)`` over the elites.
        norm_qd_score: ``qd_score / cells`` (pyribs' ``norm_qd_score``: the QD-score per cell of the grid).
        coverage: Share of cells holding an elite, in [0, 1].
        num_elites: Elites (filled cells).
        best: Highest objective of an elite (None for an empty archive).
        mean: Mean objective of the elites (None for an empty archive).
        cells: Cells of the grid.
        qd_offset: The offset used.
    """

    qd_score: float
    norm_qd_score: float
    coverage: float
    num_elites: int
    best: float | None
    mean: float | None
    cells: int
    qd_offset: float

    def as_dict(self) -> dict[str, Any]:
        """The metrics as a JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Archive:
    """The elites of a grid archive, as plain arrays (one row per filled cell, sorted by cell index).

    Attributes:
        grid: The grid (cells, ranges, QD-score offset, measure names).
        index: ``(n,)`` int64 flat cell index (C order over ``grid.dims``, as pyribs).
        solution: ``(n, dim)`` float64 latents.
        objective: ``(n,)`` float64 objectives (higher is better).
        measures: ``(n, n_measures)`` float64.
        threshold: ``(n,)`` float64 acceptance thresholds (the objective in an elitist archive).
        learning_rate: pyribs' archive learning rate (1: elitist MAP-Elites; below 1: CMA-MAE's soft archive).
        threshold_min: pyribs' initial threshold (``-inf`` for elitist archives).
    """

    grid: Grid
    index: NDArray[np.int64]
    solution: Array
    objective: Array
    measures: Array
    threshold: Array
    learning_rate: float = 1.0
    threshold_min: float = -np.inf

    def __post_init__(self) -> None:
        n = int(np.shape(self.index)[0]) if np.ndim(self.index) == 1 else -1
        if n < 0 or np.shape(self.objective) != (n,) or np.shape(self.threshold) != (n,):
            raise InputError(f"archive index, objective and threshold must be (n,) arrays of one length, got {n}")
        if np.ndim(self.solution) != 2 or np.shape(self.solution)[0] != n:
            raise InputError(f"archive solution must be (n, dim) with n={n}, got {np.shape(self.solution)}")
        if np.shape(self.measures) != (n, self.grid.n_measures):
            raise InputError(f"archive measures must be ({n}, {self.grid.n_measures}), got {np.shape(self.measures)}")
        idx = np.asarray(self.index)
        if n and (idx.min() < 0 or idx.max() >= self.grid.cells or np.unique(idx).size != n):
            raise InputError(f"archive cell indices must be distinct and in [0, {self.grid.cells}), got {idx!r}")

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @property
    def dim(self) -> int:
        """Length of a solution."""
        return int(self.solution.shape[1])

    def metrics(self) -> QDMetrics:
        """QD-score, normalised QD-score, coverage, number of elites, best and mean objective."""
        n = len(self)
        qd = float(np.sum(self.objective - self.grid.qd_offset)) if n else 0.0
        return QDMetrics(
            qd_score=qd,
            norm_qd_score=qd / self.grid.cells,
            coverage=n / self.grid.cells,
            num_elites=n,
            best=float(self.objective.max()) if n else None,
            mean=float(self.objective.mean()) if n else None,
            cells=self.grid.cells,
            qd_offset=self.grid.qd_offset,
        )

    def cell_coords(self) -> NDArray[np.int64]:
        """``(n, n_measures)`` grid coordinates of the elites' cells."""
        return np.stack(np.unravel_index(self.index, self.grid.dims), axis=1).astype(np.int64)

    @classmethod
    def from_ribs(cls, archive: Any, grid: Grid) -> Archive:
        """Read a pyribs ``GridArchive`` laid out as ``grid`` into plain arrays."""
        if tuple(int(d) for d in archive.dims) != grid.dims:
            raise InputError(f"the pyribs archive has cells {tuple(archive.dims)}, the grid {grid.dims}")
        data = archive.data()
        order = np.argsort(np.asarray(data["index"]), kind="stable")
        lr = float(archive.learning_rate)
        return cls(
            grid=grid,
            index=np.asarray(data["index"], dtype=np.int64)[order],
            solution=np.asarray(data["solution"], dtype=np.float64).reshape(len(order), -1)[order],
            objective=np.asarray(data["objective"], dtype=np.float64)[order],
            measures=np.asarray(data["measures"], dtype=np.float64).reshape(len(order), -1)[order],
            threshold=np.asarray(data["threshold"], dtype=np.float64)[order],
            learning_rate=lr,
            threshold_min=float(archive.threshold_min),
        )

    def to_ribs(self) -> Any:
        """A pyribs ``GridArchive`` (elitist) holding these elites, e.g. for ``ribs.visualize``.

        Each elite is added to an empty cell of a new elitist archive, so solutions,
        objectives and measures are exact and the thresholds equal the objectives (a soft
        CMA-MAE archive's own thresholds are in :attr:`threshold`).
        """
        out = new_ribs_archive(self.grid, self.dim)
        if len(self):
            out.add(self.solution, self.objective, self.measures)
        return out


def new_ribs_archive(
    grid: Grid, dim: int, *, learning_rate: float | None = None, threshold_min: float = -np.inf, seed: int | None = None
) -> Any:
    """A pyribs ``GridArchive`` over ``grid`` for solutions of length ``dim`` (the ``qd`` extra)."""
    try:
        from ribs.archives import GridArchive
    except ImportError as exc:
        raise missing_extra("ribs", "qd", exc) from exc
    return GridArchive(
        solution_dim=dim,
        dims=list(grid.dims),
        ranges=list(grid.ranges),
        learning_rate=learning_rate,
        threshold_min=threshold_min,
        qd_score_offset=grid.qd_offset,
        seed=seed,
    )


def as_grid(problem: QualityDiversity, grid: Grid | int | Sequence[int]) -> Grid:
    """``grid`` itself, or the problem's grid with ``grid`` cells per measure; checked against the problem."""
    g = grid if isinstance(grid, Grid) else problem.grid(grid)
    if g.n_measures != problem.n_measures:
        raise InputError(
            f"the grid has {g.n_measures} measures, the problem {problem.n_measures} {problem.measure_names}"
        )
    return g


def usable(objective: ArrayLike, measures: ArrayLike) -> NDArray[np.bool_]:
    """Rows that can enter an archive: finite objective and measures."""
    obj = np.asarray(objective, dtype=np.float64).reshape(-1)
    if obj.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    meas = np.asarray(measures, dtype=np.float64).reshape(obj.shape[0], -1)
    ok: NDArray[np.bool_] = np.isfinite(obj) & np.all(np.isfinite(meas), axis=1)
    return ok


class ArchiveRecorder:
    """A listener that inserts every evaluation of a quality-diversity problem into an elitist archive.

    Observe any run with it (``with problem.observe(ArchiveRecorder(problem, 50)) as rec:``)
    and :meth:`archive` is the archive the run filled, on the same grid as a QD optimizer's:
    so the seeds' GA, CMA-ES or random search get QD metrics from the evaluations they
    made, without evaluating anything again. Only the first ``budget`` evaluations count
    (like :class:`~latentbridge.Tracker`); failed rows (non-finite objective or measures) are
    skipped and counted in :attr:`n_skipped`.

    Args:
        problem: A :class:`~latentbridge.qd.QualityDiversity` problem (its evaluations carry the measures).
        grid: A :class:`~latentbridge.qd.Grid`, or cells per measure for the problem's grid.
        budget: Evaluations that count (None: all).
    """

    def __init__(self, problem: QualityDiversity, grid: Grid | int | Sequence[int] = 50, *, budget: int | None = None):
        self.grid = as_grid(problem, grid)
        self.dim = problem.dim
        self.budget = budget
        self._archive = new_ribs_archive(self.grid, self.dim)
        self.n_seen = 0
        self.n_skipped = 0

    def __call__(self, evaluation: Evaluation, /) -> None:
        """Insert one evaluated batch (its measures are ``evaluation.D``)."""
        if evaluation.D is None:
            raise InputError(
                "this evaluation carries no measures: an ArchiveRecorder observes a latentbridge.qd.QualityDiversity "
                "problem (whose evaluations compute them)"
            )
        self.add(evaluation.X, -evaluation.F[:, 0], evaluation.D)

    def add(self, solutions: ArrayLike, objective: ArrayLike, measures: ArrayLike) -> int:
        """Insert a batch ``(n, dim)``, ``(n,)``, ``(n, m)``; return how many rows counted within the budget."""
        X = np.asarray(solutions, dtype=np.float64).reshape(-1, self.dim)
        obj = np.asarray(objective, dtype=np.float64).reshape(-1)
        meas = np.asarray(measures, dtype=np.float64).reshape(obj.shape[0], self.grid.n_measures)
        take = obj.shape[0] if self.budget is None else max(0, min(obj.shape[0], self.budget - self.n_seen))
        self.n_seen += obj.shape[0]
        ok = usable(obj[:take], meas[:take])
        self.n_skipped += int(take - np.count_nonzero(ok))
        if np.any(ok):
            self._archive.add(X[:take][ok], obj[:take][ok], meas[:take][ok])
        return take

    def archive(self) -> Archive:
        """The elites so far, as plain arrays."""
        return Archive.from_ribs(self._archive, self.grid)

    @property
    def ribs_archive(self) -> Any:
        """The pyribs ``GridArchive`` being filled."""
        return self._archive


def archive_from(
    solutions: ArrayLike,
    problem: QualityDiversity,
    grid: Grid | int | Sequence[int] = 50,
    *,
    objective: ArrayLike | None = None,
    measures: ArrayLike | None = None,
) -> Archive:
    """The elitist archive of ``solutions`` on ``grid``: QD metrics for any optimizer's evaluated solutions.

    Args:
        solutions: ``(n, dim)`` latents (e.g. every solution a GA evaluated).
        problem: The quality-diversity problem defining objective and measures.
        grid: A :class:`~latentbridge.qd.Grid` or cells per measure (the problem's ranges).
        objective: Their objectives ``(n,)`` if already known (then with ``measures``, nothing is evaluated).
        measures: Their measures ``(n, n_measures)`` if already known.

    Without ``objective``/``measures`` the solutions are evaluated with
    ``problem.evaluate_qd`` (counted in ``problem.n_evals``); to avoid evaluating twice,
    observe the run with an :class:`ArchiveRecorder` instead.
    """
    X = np.asarray(solutions, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != problem.dim:
        raise InputError(f"solutions must be (n, {problem.dim}), got shape {X.shape}")
    if (objective is None) != (measures is None):
        raise InputError("give both objective and measures, or neither (then the solutions are evaluated)")
    if objective is None or measures is None:
        obj, meas = problem.evaluate_qd(X) if X.shape[0] else (np.empty(0), np.empty((0, problem.n_measures)))
    else:
        obj = np.asarray(objective, dtype=np.float64).reshape(-1)
        meas = np.asarray(measures, dtype=np.float64)
        if obj.shape != (X.shape[0],) or meas.shape != (X.shape[0], problem.n_measures):
            raise InputError(
                f"objective must be ({X.shape[0]},) and measures ({X.shape[0]}, {problem.n_measures}), "
                f"got {obj.shape} and {meas.shape}"
            )
    rec = ArchiveRecorder(problem, grid)
    rec.add(X, obj, meas)
    return rec.archive()
