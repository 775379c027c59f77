"""A QD bench killed mid-suite resumes to the same archives, metrics and QD leaderboard as an uninterrupted one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from latentbridge.bench import Store, build_leaderboard, load_suite, run_suite
from latentbridge.bench.qd_report import build_qd_board, qd_csv

pytest.importorskip("ribs")

SEEDS = 8
SUITE = f"""
[suite]
name = "qd-resume"
budget = 100
seeds = {SEEDS}

[[problems]]
id = "lsi"
kind = "quality-diversity"
generator = "mnist-dcgan"
objective = {{ name = "class-probability", digit = 8 }}
measures = ["boldness", "lightness"]
grid = 8

[[optimizers]]
name = "qd:map-elites"
params = {{ emitters = 1, batch_size = 20 }}

[[optimizers]]
name = "random"
params = {{ batch = 20 }}
"""


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def _table(db: Path) -> dict[str, tuple[Any, ...]]:
    with Store(db, readonly=True) as store:
        return {
            r.run_key: (r.seed, r.n_evals, r.best, r.qd_archive, sorted((r.qd_metrics or {}).items()))
            for r in store.runs()
        }


def test_sigkill_then_resume_gives_the_same_archives(tmp_path: Path) -> None:
    suite = tmp_path / "qd.toml"
    suite.write_text(SUITE, encoding="utf-8")
    total = 2 * SEEDS
    out = tmp_path / "out"
    db = out / "bench.sqlite"
    cmd = [sys.executable, "-m", "latentbridge.cli", "bench", "--suite", str(suite), "--out", str(out)]
    cmd += ["--no-progress", "--no-report", "--threads", "1", "--executor", "serial"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    deadline = time.monotonic() + 120
    while _count(db) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"bench stopped or stalled: {proc.communicate()[0]}")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    killed_at = _count(db)
    assert 2 <= killed_at < total, "the suite finished before it could be killed"
    with sqlite3.connect(db) as conn:  # every stored run has its archive: one transaction per run
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = conn.execute("SELECT COUNT(*) FROM runs WHERE id NOT IN (SELECT run_id FROM qd_archives)")
        assert orphans.fetchone()[0] == 0

    with Store(db) as store:
        summary = run_suite(load_suite(suite), store, progress=False, resume=True, threads=1)
    assert summary.skipped == killed_at
    assert summary.finished == total - killed_at
    with Store(tmp_path / "fresh.sqlite") as store:
        run_suite(load_suite(suite), store, progress=False, threads=1)

    assert _table(db) == _table(tmp_path / "fresh.sqlite")
    boards = []
    for path in (db, tmp_path / "fresh.sqlite"):
        with Store(path, readonly=True) as store:
            boards.append(qd_csv(build_qd_board(build_leaderboard(store.runs()).runs)))
    assert boards[0] == boards[1]
    assert "qd:map-elites,qd_score" in boards[0]
