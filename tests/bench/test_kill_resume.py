"""SIGKILL mid-suite leaves no half-written run; Ctrl-C stops cleanly; --resume completes to the same table."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from latentbridge.bench import Store, build_leaderboard, load_suite, run_suite
from latentbridge.bench import report as rep

pytest.importorskip("pymoo")

OPTIMIZERS = """
[[optimizers]]
name = "paper-ga"
params = { pop_size = 10 }
"""
SEEDS = 12


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def _start(suite: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "latentbridge.cli", "bench", "--suite", str(suite), "--out", str(out)]
    cmd += ["--no-progress", "--no-report", "--threads", "1", "--executor", "serial", *extra]
    cmd += ["--allow-import", "latentbridge.testing"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _wait_for(proc: subprocess.Popen[str], db: Path, at_least: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = _count(db)
        if n >= at_least:
            return n
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"bench exited early with {proc.returncode}: {out}")
        time.sleep(0.01)
    proc.kill()
    proc.communicate()
    pytest.fail("bench made no progress")


def _table(db: Path) -> dict[str, tuple[Any, ...]]:
    with Store(db, readonly=True) as store:
        return {
            r.run_key: (
                r.seed,
                r.n_evals,
                r.best,
                r.best_x.tobytes() if r.best_x is not None else b"",
                tuple(r.trace_best),
            )
            for r in store.runs()
        }


def _leaderboard_csv(db: Path) -> str:
    with Store(db, readonly=True) as store:
        text = rep.to_csv(build_leaderboard(store.runs()))
    keep = [c for c in rep.CSV_COLUMNS if c != "mean_wall_time"]
    lines = [line.split(",") for line in text.splitlines()]
    idx = [lines[0].index(c) for c in keep]
    return "\n".join(",".join(row[i] for i in idx) for row in lines)


def test_sigkill_then_sigint_then_resume(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = write_suite(OPTIMIZERS, budget=300, seeds=SEEDS)
    total = 2 * SEEDS
    out = tmp_path / "out"
    db = out / "bench.sqlite"

    proc = _start(suite, out)
    _wait_for(proc, db, 2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    killed_at = _count(db)
    assert 2 <= killed_at < total, "the suite finished before it could be killed"
    with sqlite3.connect(db) as conn:  # every stored run is complete: row and trace together
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = conn.execute("SELECT COUNT(*) FROM runs WHERE id NOT IN (SELECT run_id FROM traces)")
        assert orphans.fetchone()[0] == 0
        assert {s for (s,) in conn.execute("SELECT status FROM runs")} == {"finished"}

    proc = _start(suite, out, "--resume")
    _wait_for(proc, db, killed_at + 1)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    interrupted_at = _count(db)
    if interrupted_at < total:  # Ctrl-C arrived mid-suite: clean stop, resumable
        assert proc.returncode == 130, output
        assert "--resume" in output
    assert killed_at < interrupted_at <= total

    with Store(db) as store:  # finish in-process
        summary = run_suite(load_suite(suite), store, progress=False, resume=True, threads=1)
    assert summary.skipped == interrupted_at
    assert summary.finished == total - interrupted_at

    with Store(tmp_path / "fresh.sqlite") as store:
        run_suite(load_suite(suite), store, progress=False, threads=1)
    assert _table(db) == _table(tmp_path / "fresh.sqlite")
    assert _leaderboard_csv(db) == _leaderboard_csv(tmp_path / "fresh.sqlite")
