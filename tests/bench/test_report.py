"""Reports: console, Markdown, CSV and a self-contained HTML page with every plot and image grid."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from latentbridge.bench import Store, build_leaderboard, load_suite, print_leaderboard, run_suite
from latentbridge.bench import report as rep
from latentbridge.bench.leaderboard import Leaderboard

pytest.importorskip("latentbridge.pymoo")
pytest.importorskip("latentbridge.baselines")
pytest.importorskip("matplotlib")

OPTIMIZERS = """
[[optimizers]]
name = "random"
params = { batch = 20 }
[[optimizers]]
name = "prior"
[[optimizers]]
name = "prior"
label = "prior-small"
params = { batch = 5 }
[[optimizers]]
name = "pymoo:NSGA2"
label = "nsga2-10"
params = { pop_size = 10 }
[[optimizers]]
name = "pymoo:NSGA2"
label = "nsga2-20"
params = { pop_size = 20 }
"""

MO_PROBLEM = """
[[problems]]
id = "two-targets"
kind = "target-similarity"
generator = "latentbridge.testing:tiny_generator"
scorer = "rmse"
target = {{ npy = "{npy}" }}
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, target_npy: Path) -> Leaderboard:
    from latentbridge.testing import registered

    from .conftest import PriorSampler

    tmp = tmp_path_factory.mktemp("report")
    two = np.concatenate([np.load(target_npy)[None], -np.load(target_npy)[None]])
    np.save(tmp / "two.npy", two)
    text = f"""
[suite]
name = "rep"
budget = 100
seeds = 3
[[problems]]
id = "target"
kind = "target-similarity"
generator = "latentbridge.testing:tiny_generator"
scorer = "rmse"
target = {{ npy = "{target_npy}" }}
success = 0.2
[[problems]]
id = "set"
kind = "set-diversity"
generator = "latentbridge.testing:tiny_generator"
scorer = "ncc"
k = 3
{MO_PROBLEM.format(npy=tmp / "two.npy")}
{OPTIMIZERS}
"""
    (tmp / "rep.toml").write_text(text)
    with registered("optimizer", "prior", PriorSampler), Store(tmp / "b.sqlite") as store:
        run_suite(load_suite(tmp / "rep.toml"), store, progress=False)
        return build_leaderboard(store.runs())


def test_leaderboard_contents(board: Leaderboard) -> None:
    assert [i.label for i in board.instances] == ["set", "target", "two-targets"]
    mo = board.instance("two-targets")
    assert mo.n_obj == 2
    assert mo.higher_is_better
    assert sorted(mo.runs) == ["nsga2-10", "nsga2-20", "random"]  # only multi-objective optimizers run on it
    assert all(row.summary.median > 0 for row in mo.rows)  # hypervolume
    target = board.instance("target")
    assert target.success_source == "suite"
    assert target.success_display == 0.2
    for row in target.rows:
        scores = target.scores(row.optimizer)
        assert row.summary.success_rate == pytest.approx(np.mean(scores <= 0.2))
        assert row.summary.median == pytest.approx(np.median(scores))
    names = [g.name for g in board.groups]
    assert names == ["all single-objective instances", "all multi-objective instances"]


def test_console(board: Leaderboard) -> None:
    buf = io.StringIO()
    print_leaderboard(board, Console(file=buf, width=120))
    text = buf.getvalue()
    for label in ("target", "set", "two-targets", "prior-small", "nsga2-20", "Friedman", "hypervolume"):
        assert label in text


def test_markdown_and_csv(board: Leaderboard, tmp_path: Path) -> None:
    md = rep.to_markdown(board)
    assert md.startswith("# Leaderboard")
    sections = [line for line in md.splitlines() if line.startswith("## ") and not line.startswith("## Seed ")]
    assert len(sections) == len(board.instances) + len(board.groups)  # plus the seed tables (bench.tables)
    text = rep.to_csv(board, tmp_path / "lb.csv")
    assert (tmp_path / "lb.csv").read_text() == text
    rows = list(csv.DictReader(io.StringIO(text)))
    inst_rows = [r for r in rows if r["level"] == "instance"]
    assert len(inst_rows) == sum(len(i.rows) for i in board.instances)
    assert set(rows[0]) == set(rep.CSV_COLUMNS)


def _csv_group_ranks(text: str) -> dict[tuple[str, str], float]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["level"] for r in rows} == {"instance", "group"}
    return {(r["group"], r["optimizer"]): float(r["group_mean_rank"]) for r in rows if r["level"] == "group"}


def test_csv_holds_every_groups_mean_rank(board: Leaderboard) -> None:
    # prior-small ran on "set" only: it is ranked in a second single-objective group, not in the first
    runs = [r for r in board.runs if not (r.optimizer == "prior-small" and r.problem_id == "target")]
    partial = build_leaderboard(runs)
    names = [g.name for g in partial.groups]
    assert names == ["all single-objective instances", "single-objective: set", "all multi-objective instances"]
    text = rep.to_csv(partial)
    got = _csv_group_ranks(text)
    want = {(g.name, o): r for g in partial.groups for o, r in g.ranking()}
    assert got == pytest.approx(want)
    assert ("single-objective: set", "prior-small") in got
    # every instance row has a group mean rank, from the first group holding its instance and optimizer
    for row in csv.DictReader(io.StringIO(text)):
        if row["level"] != "instance":
            continue
        assert row["group_mean_rank"] != "", row
        assert got[(row["group"], row["optimizer"])] == pytest.approx(float(row["group_mean_rank"]))
        assert row["instance"] in row["group_instances"].split(";")
    small = [r for r in csv.DictReader(io.StringIO(text)) if r["optimizer"] == "prior-small"]
    assert [(r["level"], r["instance"], r["group"]) for r in small] == [
        ("instance", "set", "single-objective: set"),
        ("group", "", "single-objective: set"),
    ]


def test_html_has_every_plot_and_grid(board: Leaderboard, tmp_path: Path) -> None:
    html = rep.to_html(board, tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == html
    ids = set(re.findall(r"<figure id='([^']+)'><img alt='[^']*' src='data:image/png;base64,[A-Za-z0-9+/=]+'>", html))
    expected = {"ecdf"} | {f"{kind}-{i.label}" for i in board.instances for kind in ("convergence", "grid")}
    expected |= {"runs-target", "heatmap-target"}  # seed 000's Fig. 5 and Fig. 7 (latentbridge.bench.tables)
    assert ids == expected
    assert "http" not in html.split("<body>")[1]  # self-contained: nothing to fetch
    assert "missing" not in html


def test_html_without_generator_still_renders(board: Leaderboard) -> None:
    def rebuild(spec: dict[str, object]) -> object:
        raise RuntimeError("no weights here")

    html = rep.to_html(board, rebuild=rebuild)
    assert "image grid unavailable: RuntimeError: no weights here" in html
    assert "id='convergence-target'" in html


def test_anytime_helpers(board: Leaderboard) -> None:
    run = board.instance("target").runs["prior"][0]
    grid = np.array([0.0, float(run.trace_evals[0]), 100.0])
    curve = rep.best_so_far(run, grid)
    assert np.isnan(curve[0])
    assert curve[1] == run.trace_best[0]
    assert curve[2] == run.best
    frac, curves = rep.ecdf_curves(board)
    assert frac[-1] == 1.0
    for y in curves.values():
        assert np.all(np.diff(y) >= 0)
        assert 0 <= y[0] <= y[-1] <= 1
