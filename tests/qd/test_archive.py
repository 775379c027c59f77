"""Archives as plain arrays: QD metrics with known answers, pyribs round trips, recording any optimizer's run."""

from __future__ import annotations

import numpy as np
import pytest

from latentbridge.baselines import random_search
from latentbridge.errors import InputError
from latentbridge.qd import Archive, ArchiveRecorder, Grid, QualityDiversity, archive_from

GRID = Grid((4, 5), ((0.0, 4.0), (0.0, 1.0)), qd_offset=-1.0, names=("a", "b"))


def _archive(objective: list[float], index: list[int], grid: Grid = GRID) -> Archive:
    n = len(index)
    coords = np.stack(np.unravel_index(np.asarray(index, dtype=np.int64), grid.dims), axis=1)
    measures = np.array([[lo + (c + 0.5) * (hi - lo) / d for c, (lo, hi), d in zip(row, grid.ranges, grid.dims, strict=False)]
                         for row in coords])  # fmt: skip
    return Archive(
        grid=grid,
        index=np.asarray(index, dtype=np.int64),
        solution=np.arange(n * 3, dtype=np.float64).reshape(n, 3),
        objective=np.asarray(objective, dtype=np.float64),
        measures=measures.reshape(n, 2),
        threshold=np.asarray(objective, dtype=np.float64),
    )


def test_metrics_follow_pyribs_definitions() -> None:
    a = _archive([0.5, 2.0, -0.5], [0, 7, 19])
    m = a.metrics()
    assert m.qd_score == pytest.approx((0.5 + 1) + (2.0 + 1) + (-0.5 + 1))  # objective - offset, summed
    assert m.norm_qd_score == pytest.approx(m.qd_score / 20)
    assert m.coverage == pytest.approx(3 / 20)
    assert m.num_elites == 3
    assert m.cells == 20
    assert m.best == 2.0
    assert m.mean == pytest.approx(2.0 / 3)
    assert m.qd_offset == -1.0
    ribs = a.to_ribs()
    assert float(ribs.stats.qd_score) == pytest.approx(m.qd_score)
    assert float(ribs.stats.norm_qd_score) == pytest.approx(m.norm_qd_score)
    assert float(ribs.stats.coverage) == pytest.approx(m.coverage)
    assert a.cell_coords().tolist() == [[0, 0], [1, 2], [3, 4]]


def test_empty_archive_metrics() -> None:
    m = _archive([], []).metrics()
    assert (m.qd_score, m.coverage, m.num_elites, m.best, m.mean) == (0.0, 0.0, 0, None, None)


def test_pyribs_round_trip_keeps_every_elite() -> None:
    a = _archive([0.5, 2.0, -0.5], [19, 0, 7][::-1])
    b = Archive.from_ribs(a.to_ribs(), GRID)
    assert b.index.tolist() == [0, 7, 19]  # sorted by cell
    order = np.argsort(a.index)
    assert np.array_equal(b.solution, a.solution[order])
    assert np.array_equal(b.objective, a.objective[order])
    assert np.allclose(b.measures, a.measures[order])
    assert b.learning_rate == 1.0


@pytest.mark.parametrize(
    ("index", "objective", "match"),
    [([0, 0], [1.0, 2.0], "distinct"), ([20], [1.0], r"in \[0, 20\)"), ([0, 1], [1.0], "one length")],
)
def test_inconsistent_archives_are_refused(index: list[int], objective: list[float], match: str) -> None:
    n = len(index)
    with pytest.raises(InputError, match=match):
        Archive(GRID, np.array(index), np.zeros((n, 3)), np.array(objective), np.zeros((n, 2)), np.array(objective))


def test_a_recorder_turns_any_run_into_an_archive_of_the_same_grid(tiny_qd: QualityDiversity) -> None:
    evaluated: list[np.ndarray] = []
    with tiny_qd.observe(ArchiveRecorder(tiny_qd, 8)) as rec, tiny_qd.observe(lambda e: evaluated.append(e.X.copy())):
        random_search(tiny_qd, budget=90, seed=0, batch=30)  # any latentbridge optimizer
    got = rec.archive()
    assert rec.n_seen == 90
    assert rec.n_skipped == 0
    assert len(got) > 1
    again = archive_from(np.concatenate(evaluated), tiny_qd, 8)  # evaluates the same solutions again
    assert np.array_equal(got.index, again.index)
    assert np.allclose(got.objective, again.objective)
    assert got.grid == tiny_qd.grid(8)


def test_recorder_budget_and_given_values(tiny_qd: QualityDiversity) -> None:
    X = tiny_qd.sample(6, seed=0)
    obj = np.array([0.0, 1.0, 2.0, 3.0, np.nan, 5.0])
    meas = np.tile([0.5, 0.7], (6, 1))
    rec = ArchiveRecorder(tiny_qd, 4, budget=5)
    assert rec.add(X, obj, meas) == 5  # the 6th is past the budget
    assert rec.n_skipped == 1  # the NaN row
    arch = rec.archive()
    assert len(arch) == 1
    assert arch.objective[0] == 3.0
    direct = archive_from(X[:4], tiny_qd, 4, objective=obj[:4], measures=meas[:4])
    assert direct.objective.tolist() == [3.0]
    with pytest.raises(InputError, match="both"):
        archive_from(X, tiny_qd, 4, objective=obj)
    with pytest.raises(InputError, match=r"\(6,\) and measures"):
        archive_from(X, tiny_qd, 4, objective=obj, measures=meas[:, :1])


def test_a_recorder_needs_measures(tiny_qd: QualityDiversity) -> None:
    import latentbridge as lb

    plain = lb.TargetSimilarity(tiny_qd.generator, lb.load_scorer("rmse"), tiny_qd.render(np.zeros(8))[0])
    with pytest.raises(InputError, match="carries no measures"), plain.observe(ArchiveRecorder(tiny_qd, 4)):
        plain.evaluate(plain.sample(2, seed=0))
