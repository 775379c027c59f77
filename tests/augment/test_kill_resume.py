"""SIGKILL mid-run leaves only whole rows; --resume finishes with the table an uninterrupted run gives."""

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

from latentbridge.augment import augment

SETTINGS: dict[str, Any] = {
    "arms": ("none", "random", "affine"),
    "seeds": 2,
    "folds": 2,
    "train_per_class": 6,
    "gan_steps": 8,
    "classifier": "cnn",
    "cnn_epochs": 30,  # ~0.1 s per fit: the run is still going when the test kills it
}


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def _argv(data: Path, out: Path) -> list[str]:
    s = SETTINGS
    return [
        sys.executable, "-m", "latentbridge.cli", "augment", str(data), "--out", str(out),
        "--arms", ",".join(s["arms"]), "--seeds", str(s["seeds"]), "--folds", str(s["folds"]),
        "--train-per-class", str(s["train_per_class"]), "--gan-steps", str(s["gan_steps"]),
        "--classifier", s["classifier"], "--cnn-epochs", str(s["cnn_epochs"]), "--executor", "serial", "--no-progress",
    ]  # fmt: skip


def _rows(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.arm, r.seed, r.fold, r.run_seed, r.accuracy, r.precision, r.recall, r.f1, r.val_accuracy) for r in rows]


def test_sigkill_then_resume_gives_the_uninterrupted_table(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    db = out / "augment.sqlite"
    total = 3 * 2 * 2
    proc = subprocess.Popen(
        _argv(shapes, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    deadline = time.monotonic() + 600  # generous: a loaded shared machine starts torch slowly
    while _count(db, "results") < 1:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"augment exited or stalled before any result: {proc.communicate()[0]}")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    killed_at = _count(db, "results")
    assert 1 <= killed_at < total, "the run finished before it could be killed"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not (out / "results.csv").exists()  # reports come only at the end
    assert not list((out / "generators").glob(".*.tmp"))  # weights are renamed into place whole

    resumed = augment(shapes, out, resume=True, report=False, **SETTINGS)
    assert resumed.computed == {"generators": 0, "sets": 0, "results": total - killed_at}
    fresh = augment(shapes, tmp_path / "fresh", report=False, **SETTINGS)
    assert _rows(resumed.results) == _rows(fresh.results)
