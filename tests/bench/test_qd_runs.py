"""QD runs in the bench: every optimizer's archive and metrics, stored without pickles, ranked and reported."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from latentbridge.bench import Store, build_leaderboard, run_suite
from latentbridge.bench import report as rep
from latentbridge.bench.explain import what_fitness_measures
from latentbridge.bench.qd_report import QD_CSV_COLUMNS, build_qd_board, qd_csv, qd_markdown
from latentbridge.bench.suite import parse_suite
from latentbridge.errors import StoreError

pytest.importorskip("ribs")
pytest.importorskip("pymoo")

SUITE = """
[suite]
name = "qd"
budget = 80
seeds = 2

[[problems]]
id = "lsi"
kind = "quality-diversity"
generator = "mnist-dcgan"
objective = { name = "class-probability", digit = 8 }
measures = [{ name = "boldness", temperature = 0.05 }, { name = "lightness", temperature = 0.05 }]
grid = 8

[[optimizers]]
name = "qd:cma-me"
params = { emitters = 2, batch_size = 10 }

[[optimizers]]
name = "qd:cma-mega"
params = { emitters = 1, batch_size = 9 }

[[optimizers]]
name = "random"
params = { batch = 20 }
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("qd") / "bench.sqlite"
    with Store(db) as store:
        summary = run_suite(parse_suite(SUITE), store, progress=False, threads=1)
    assert summary.finished == 6
    assert summary.failed == 0
    return db


def test_every_optimizer_gets_qd_metrics_and_an_archive(stored: Path) -> None:
    from latentbridge.qd import archive_from_bytes

    with Store(stored, readonly=True) as store:
        runs = store.runs()
    assert {r.optimizer for r in runs} == {"qd:cma-me", "qd:cma-mega", "random"}
    for r in runs:
        assert r.qd_metrics is not None, r.optimizer
        assert r.qd_archive is not None, r.optimizer
        archive = archive_from_bytes(r.qd_archive)  # bounded, validated, no pickle
        m = archive.metrics()
        assert archive.grid.dims == (8, 8)
        assert m.qd_score == pytest.approx(r.qd_metrics["qd_score"])
        assert m.coverage == pytest.approx(r.qd_metrics["coverage"])
        assert r.qd_metrics["num_elites"] == len(archive) > 0
        assert r.qd_metrics["best"] == pytest.approx(-r.best, abs=1e-6)  # the best objective is the best fitness
        assert 0.0 <= r.qd_metrics["realism_digit"] <= 1.0
        assert 0.0 <= r.qd_metrics["realism_discriminator"] <= 1.0
        assert r.n_evals <= 80


def test_qd_board_ranks_the_metrics_and_reports_show_them(stored: Path, tmp_path: Path) -> None:
    with Store(stored, readonly=True) as store:
        board = build_leaderboard(store.runs())
    qd = build_qd_board(board.runs)
    (inst,) = qd.instances
    assert "class-probability" in what_fitness_measures(board.instances[0])
    assert "Quality-diversity section" in what_fitness_measures(board.instances[0])
    assert set(inst.runs) == {"qd:cma-me", "qd:cma-mega", "random"}
    ranks = inst.ranks["qd_score"]
    assert sum(ranks.values()) == pytest.approx(1 + 2 + 3)  # mean ranks over replicates of 3 optimizers
    assert [ranks[o] for o in inst.order()] == sorted(ranks.values())  # best mean rank first
    reps = np.array([inst.values["qd_score"][o] for o in sorted(inst.runs)]).T  # (replicates, optimizers)
    expected = np.mean([np.argsort(np.argsort(-row)) + 1 for row in reps], axis=0)  # no ties in QD-scores
    assert [ranks[o] for o in sorted(inst.runs)] == pytest.approx(expected)
    assert np.isfinite(inst.friedman["qd_score"].pvalue)

    text = qd_csv(qd)
    lines = text.splitlines()
    assert lines[0].split(",") == list(QD_CSV_COLUMNS)
    assert any(",random,coverage," in line for line in lines)

    md = rep.to_markdown(board, tmp_path / "r.md")
    assert "## Quality-diversity" in md
    assert "QD-score" in md
    assert "share realistic" in md
    pngs = sorted(p.name for p in (tmp_path / "r-images").iterdir() if p.name.startswith("qd-"))
    assert "qd-heatmap-lsi-random.png" in pngs
    assert "qd-elites-lsi-qd-cma-me.png" in pngs
    page = rep.to_html(board, tmp_path / "r.html")
    assert "id='quality-diversity'" in page
    assert "id='qd-heatmap-lsi-qd-cma-mega'" in page
    rep.to_csv(board, tmp_path / "lb.csv")
    assert (tmp_path / "lb-qd.csv").read_text(encoding="utf-8") == text
    assert tmp_path / "lb-qd.csv" in rep.written_beside(board, csv=tmp_path / "lb.csv")


def test_a_damaged_archive_costs_its_pictures_only(stored: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.sqlite"
    with sqlite3.connect(stored) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE qd_archives SET archive = ?", (b"PK\x03\x04 not an archive",))
    with Store(db, readonly=True) as store:
        board = build_leaderboard(store.runs())
    page = rep.to_html(board, images=False)
    assert "qd-heatmap-lsi-random-missing" in page
    assert "Unavailable: StoreError" in page
    from latentbridge.qd import archive_from_bytes

    with pytest.raises(StoreError):
        archive_from_bytes(board.runs[0].qd_archive or b"")


def test_an_older_store_gets_the_table_on_open(tmp_path: Path, stored: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(stored) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE qd_archives")
    with Store(db, readonly=True) as store:  # a reader changes nothing: runs without QD metrics
        assert all(r.qd_metrics is None for r in store.runs())
    with Store(db) as store:  # a writer adds the table
        assert all(r.qd_metrics is None for r in store.runs())
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM qd_archives").fetchone()[0] == 0


def test_forged_metrics_are_ignored_not_trusted(tmp_path: Path, stored: Path) -> None:
    db = tmp_path / "forged.sqlite"
    with sqlite3.connect(stored) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE qd_archives SET metrics = ?", ("[1, 2]",))
        conn.execute(
            "UPDATE qd_archives SET metrics = ? WHERE run_id = 1",
            (
                json.dumps(
                    {"qd_score": "x" * 10},
                ),
            ),
        )
    with Store(db, readonly=True) as store:
        runs = store.runs()
    assert sum(r.qd_metrics is not None for r in runs) <= 1
    board = build_qd_board(runs)  # a non-number is no metric, a malformed grid is not shown: nothing raises
    text = "\n".join(qd_markdown(board))
    assert r"? grid over \(\)" in text  # dims 5 and names None are not lists: not shown (Markdown-escaped)
