"""The seeds' tables (Table I-III, Fig. 5, seed 002's set table) and their report sections."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.bench import Store, build_leaderboard, load_suite, run_suite, tables
from latentbridge.bench import report as rep
from latentbridge.bench.leaderboard import Leaderboard
from latentbridge.bench.runner import rebuild_problem
from latentbridge.data import heldout_digit, load_mnist, to_float_images

pytest.importorskip("matplotlib")

TINY = "latentbridge.testing:tiny_generator"


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, target_npy: Path) -> Leaderboard:
    from latentbridge.testing import registered

    from .conftest import PriorSampler

    tmp = tmp_path_factory.mktemp("tables")
    np.save(tmp / "baseline.npy", np.clip(np.load(target_npy) * 0.5, -1, 1))
    text = f"""
[suite]
name = "seeds"
budget = 60
seeds = 3
[[problems]]
id = "W"
kind = "target-similarity"
generator = "{TINY}"
scorer = "rmse"
target = {{ npy = "{target_npy}" }}
baseline = {{ npy = "{tmp / "baseline.npy"}" }}
[[problems]]
id = "G"
kind = "target-similarity"
generator = "{TINY}"
scorer = "rmse"
target = {{ generated = {{ seed = 3 }} }}
[[problems]]
id = "digits"
kind = "set-diversity"
generator = "mnist-dcgan"
scorer = "rmse"
k = 3
[[optimizers]]
name = "prior"
grid = {{ batch = [10, 20] }}
[[optimizers]]
name = "random"
problems = ["digits"]
"""
    (tmp / "s.toml").write_text(text)
    with registered("optimizer", "prior", PriorSampler), Store(tmp / "b.sqlite") as store:
        run_suite(load_suite(tmp / "s.toml"), store, progress=False)
        return build_leaderboard(store.runs())


def test_grid_entries_are_ranked_like_any_other(board: Leaderboard) -> None:
    assert sorted(board.instance("W").runs) == ["prior(batch=10)", "prior(batch=20)"]
    assert {row.optimizer for row in board.instance("W").rows} == {"prior(batch=10)", "prior(batch=20)"}


def test_table_one(board: Leaderboard) -> None:
    rows = tables.table_one(board.instances)
    assert {(r.instance, r.type) for r in rows} == {("W", "W"), ("G", "G")}  # not the set problem
    for r in rows:
        runs = board.instance(r.instance).runs[r.optimizer]
        best = np.array([x.best for x in runs])
        wall = np.array([x.wall_time for x in runs])
        assert r.runs == 3
        assert r.best_min == pytest.approx(best.min())
        assert r.best_mean == pytest.approx(best.mean())
        assert r.best_std == pytest.approx(best.std(ddof=1))
        assert (r.time_min, r.time_mean) == pytest.approx((wall.min(), wall.mean()))
        assert r.time_std == pytest.approx(wall.std(ddof=1))


def test_table_two_deception(board: Leaderboard, target_npy: Path) -> None:
    notes: list[str] = []
    rows = tables.table_two(board.instances, rebuild_problem, notes)
    assert notes == []
    assert {r.instance for r in rows} == {"W"}  # G has no baseline
    scorer = lb.load_scorer("rmse")
    target = torch.from_numpy(np.load(target_npy))[None]
    base = torch.from_numpy(np.clip(np.load(target_npy) * 0.5, -1, 1))[None]
    expected = float(scorer.distance(scorer.embed(base), scorer.embed(target))[0, 0])
    for r in rows:
        assert r.baseline == pytest.approx(expected, rel=1e-5)
        assert r.fake == pytest.approx(min(x.best for x in board.instance("W").runs[r.optimizer]))
        assert r.delta == pytest.approx((r.baseline - r.fake) / r.baseline)
        assert r.baseline_source.endswith("baseline.npy")


def test_nearest_heldout_baseline() -> None:
    gen, scorer = lb.load_generator("mnist-dcgan"), lb.load_scorer("mnist-embed")
    problem = lb.TargetSimilarity(gen, scorer, heldout_digit(5, 2))
    spec = {"id": "w", "target": {"heldout_digit": 5, "index": 2}, "baseline": {"heldout_nearest": True}}
    image, desc = tables.baseline_image(spec, problem)
    digits, labels = load_mnist("test")
    fives = to_float_images(digits[labels == 5])
    with torch.inference_mode():
        d = scorer.distance(scorer.embed(torch.from_numpy(fives)), scorer.embed(torch.from_numpy(fives[2:3])))
    dist = d[:, 0].numpy().copy()
    dist[2] = np.inf  # the target itself is not its own baseline
    j = int(np.argmin(dist))
    np.testing.assert_array_equal(image, fives[j])
    assert desc == f"nearest other held-out 5 (index {j})"
    with pytest.raises(lb.errors.InputError, match="no baseline"):
        tables.baseline_image({"id": "w", "target": {"heldout_digit": 5}}, problem)


def test_table_three_solution_diversity(board: Leaderboard) -> None:
    rows = tables.table_three(board.instances, rebuild_problem)
    assert {(r.instance, r.optimizer) for r in rows} == {
        (i, o) for i in ("W", "G") for o in ("prior(batch=10)", "prior(batch=20)")
    }
    r = rows[0]
    inst = board.instance(r.instance)
    problem = rebuild_problem(inst.runs[r.optimizer][0].problem_spec)
    runs = sorted(inst.runs[r.optimizer], key=lambda x: x.replicate)
    imgs = torch.cat([problem.render(x.best_x.astype(np.float32)) for x in runs])
    mat = problem.scorers[0].distance(problem.scorers[0].embed(imgs), problem.scorers[0].embed(imgs)).numpy()
    np.testing.assert_allclose(r.matrix, mat, rtol=1e-5, atol=1e-6)
    vals = mat[np.triu_indices(3, k=1)]
    assert r.solutions == 3
    assert (r.min, r.max, r.mean) == pytest.approx((vals.min(), vals.max(), vals.mean()), rel=1e-5)
    assert r.std == pytest.approx(vals.std(ddof=1), rel=1e-4)
    assert np.allclose(np.diag(r.matrix), 0, atol=1e-5)
    assert tables.table_three(board.instances, rebuild_problem, solutions=2)[0].solutions == 2


def test_run_curves(board: Leaderboard) -> None:
    curves = tables.run_curves(board.instances)
    assert {c.instance for c in curves} == {"W", "G"}
    for c in curves:
        assert c.unit == "evaluations"  # PriorSampler has no pop_size
        assert len(c.curves) == 3
        for x, y in c.curves:
            assert np.all(np.diff(y) <= 0)
            assert x[-1] <= 60


def test_set_diversity_table_and_class_fraction(board: Leaderboard) -> None:
    rows = tables.set_diversity_table(board.instances, rebuild_problem)
    assert sorted((r.instance, r.optimizer, r.metric, r.k, r.budget) for r in rows) == [
        ("digits", "prior(batch=10)", "rmse", 3, 60),
        ("digits", "prior(batch=20)", "rmse", 3, 60),
        ("digits", "random", "rmse", 3, 60),
    ]
    inst = board.instance("digits")
    problem = rebuild_problem(next(iter(inst.runs.values()))[0].problem_spec)
    for r in rows:
        runs = inst.runs[r.optimizer]
        X = np.stack([x.best_x for x in runs])
        div = problem.diversity(X)
        assert r.diversity_mean == pytest.approx(div.mean())
        assert r.diversity_mean == pytest.approx(-np.mean([x.best for x in runs]), rel=1e-4)  # -RMSE fitness
        fractions = [len(set(tables.digit_classes(problem.render(x.best_x)).tolist())) / 3 for x in runs]
        assert r.classes_mean == pytest.approx(np.mean(fractions))
        assert 1 / 3 <= r.classes_mean <= 1


def test_digit_classes_are_the_cnn_labels() -> None:
    digits, labels = load_mnist("test")
    pred = tables.digit_classes(to_float_images(digits[::20]))
    assert np.mean(pred == labels[::20]) >= 0.9


def test_class_fraction_only_for_the_digit_generator(board: Leaderboard) -> None:
    assert not tables._labels_digits({"generator": TINY})
    assert tables._labels_digits({"generator": "mnist-dcgan"})


def test_unbuildable_problems_become_notes(board: Leaderboard) -> None:
    def broken(spec: dict[str, object]) -> object:
        raise FileNotFoundError("weights gone")

    out = tables.seed_tables(board.instances, broken)
    assert out.table_one  # needs no problem
    assert not out.table_two
    assert not out.table_three
    assert not out.set_diversity
    assert any("weights gone" in n for n in out.notes)


def test_report_sections(board: Leaderboard, tmp_path: Path) -> None:
    md = rep.to_markdown(board)
    for title in ("Table I", "Table II", "Table III", "Seed 002: diversity of sets"):
        assert title in md
    assert rep.DELTA_FORMULA in md
    page = rep.to_html(board)
    for anchor in ("seed-t1", "seed-t2", "seed-t3", "seed-set", "heatmap-W", "runs-W"):
        assert f"id='{anchor}'" in page
    rep.to_csv(board, tmp_path / "lb.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "lb.seed-tables.csv").read_text())))
    assert {r["table"] for r in rows} == {"table1", "table2", "table3", "set-diversity"}
    delta = [r for r in rows if r["table"] == "table2" and r["statistic"] == "delta"]
    assert len(delta) == 2
    assert all(np.isfinite(float(r["value"])) for r in delta)


def test_sections_absent_when_problems_lack_what_they_need(board: Leaderboard, tmp_path: Path) -> None:
    only_set = Leaderboard([board.instance("digits")], [], [])
    md = rep.to_markdown(only_set)
    assert "Table I" not in md
    assert "Table II" not in md
    assert "Seed 002" in md
    no_baseline = Leaderboard([board.instance("G")], [], [])
    md = rep.to_markdown(no_baseline)
    assert "Table I" in md
    assert "Table III" in md
    assert "Table II:" not in md
    page = rep.to_html(no_baseline, images=False)  # no rebuilding: Table I and Fig. 5 only
    assert "id='seed-t1'" in page
    assert "id='seed-t3'" not in page
    assert rep.write_seed_csv(Leaderboard([], [], []), tmp_path / "x.csv") is None


def test_one_set_table_per_metric(board: Leaderboard) -> None:
    md = rep.to_markdown(Leaderboard([board.instance("digits")], [], []))
    assert "### digits: rmse, sets of k = 3 images, 60 evaluated sets per run" in md
    assert "id='seed-set-digits'" in rep.to_html(Leaderboard([board.instance("digits")], [], []))
