"""Hostile bench stores (issue 26 items 6, 7, 9, 12, 13): wrong shapes, locks, links, kills and full disks.

Every payload is generated here. Each case must end in one clear error naming the store and what was wrong
(exit 2 from the command line, no traceback), with nothing already stored lost or changed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from latentbridge.bench import Store, load_suite, run_suite
from latentbridge.bench import store as store_mod
from latentbridge.cli import app
from latentbridge.errors import StoreError

from .conftest import TINY_GEN

SUITE = """
[suite]
name = "tiny"
budget = 30
seeds = 2

[[problems]]
id = "target"
kind = "target-similarity"
generator = "{gen}"
scorer = "rmse"
target = {{ npy = "{target}" }}

[[optimizers]]
name = "random"
"""


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory: pytest.TempPathFactory, target_npy: Path) -> Path:
    path = tmp_path_factory.mktemp("suite") / "tiny.toml"
    path.write_text(SUITE.format(gen=TINY_GEN, target=target_npy), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, suite_file: Path) -> Path:
    """A finished store (2 runs), built once; tests copy it."""
    db = tmp_path_factory.mktemp("finished") / "bench.sqlite"
    with Store(db) as store:
        run_suite(load_suite(str(suite_file)), store, progress=False)
    return db


@pytest.fixture
def store_copy(tmp_path: Path, finished: Path) -> Path:
    out = tmp_path / "o"
    out.mkdir()
    shutil.copy(finished, out / "bench.sqlite")
    return out / "bench.sqlite"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _clean_failure(res: Any, db: Path, *needles: str) -> None:
    """Exit 2, one ``error:`` naming the store and each needle, no traceback."""
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    flat = " ".join(res.output.split())
    assert f"{db}" in flat, flat
    for needle in needles:
        assert needle in flat, flat


def _npy_header(shape: str, dtype: str = "<f8") -> bytes:
    """A version-1 ``.npy`` header declaring ``shape`` (no data follows it)."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}"
    body = text + " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode()


# -- item 7: stores of the wrong shape ------------------------------------------------------------------
DAMAGE: list[tuple[str, str, tuple[Any, ...], str]] = [
    ("text blob", "UPDATE runs SET best_x = 'abc'", (), "runs.best_x"),
    ("real blob", "UPDATE runs SET front = 1.5, n_obj = 1", (), "runs.front"),
    ("huge size", "UPDATE runs SET best_x = ?", (_npy_header("(99999999999, 99999999999)"),), "runs.best_x"),
    ("negative dim", "UPDATE runs SET best_x = ?", (_npy_header("(-8,)"),), "runs.best_x"),
    ("object dtype", "UPDATE runs SET best_x = ?", (_npy_header("(1,)", "|O"),), "runs.best_x"),
    ("not json", "UPDATE runs SET problem_config = '{bad'", (), "runs.problem_config"),
    ("deep json", "UPDATE runs SET problem_spec = ?", ("[" * 50_000 + "]" * 50_000,), "runs.problem_spec"),
    ("json of another type", "UPDATE runs SET warnings = '5'", (), "runs.warnings"),
    ("text int", "UPDATE runs SET n_evals = 'many'", (), "runs.n_evals"),
    ("text real", "UPDATE runs SET best = 'low'", (), "runs.best"),
    ("blob real", "UPDATE runs SET wall_time = x'00'", (), "runs.wall_time"),
    ("text trace", "UPDATE traces SET best = 'low'", (), "traces.best"),
]


@pytest.mark.parametrize(("sql", "params", "column"), [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_damaged_columns_give_one_error_naming_store_and_column(
    store_copy: Path, sql: str, params: tuple[Any, ...], column: str
) -> None:
    with sqlite3.connect(store_copy) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(sql, params)
    conn.close()
    with Store(store_copy, readonly=True) as store, pytest.raises(StoreError, match=column):
        store.runs(status=None)
    _clean_failure(CliRunner().invoke(app, ["leaderboard", str(store_copy)]), store_copy, column)


def test_foreign_database_with_a_runs_table_is_left_byte_identical(tmp_path: Path, suite_file: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    db = out / "bench.sqlite"
    with sqlite3.connect(db) as conn:  # someone's own database, in rollback-journal mode
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, who TEXT)")
        conn.execute("INSERT INTO runs (who) VALUES ('mine')")
    conn.close()
    before, listing = _sha(db), sorted(p.name for p in out.iterdir())
    with pytest.raises(StoreError, match=r"not a latentbridge bench store .*left unchanged"):
        Store(db)
    cmd = ["bench", "--suite", str(suite_file), "--out", str(out), "--no-progress", "--resume"]
    cmd += ["--executor", "serial", "--allow-import", "latentbridge.testing"]
    _clean_failure(CliRunner().invoke(app, cmd), db, "not a latentbridge bench store")
    assert _sha(db) == before
    assert sorted(p.name for p in out.iterdir()) == listing  # no -wal, no lock file left behind


def test_store_of_a_future_schema_is_refused_unchanged(store_copy: Path) -> None:
    with sqlite3.connect(store_copy) as conn:
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', '99')")
    conn.close()
    before = _sha(store_copy)
    _clean_failure(CliRunner().invoke(app, ["leaderboard", str(store_copy)]), store_copy, "schema version 99")
    with pytest.raises(StoreError, match="schema version 99"):
        Store(store_copy)
    assert _sha(store_copy) == before


# -- item 6: a locked store ------------------------------------------------------------------------------
def _hold_exclusive(db: Path) -> sqlite3.Connection:
    """Another connection that keeps every other one out (readers included) until it is closed."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE runs SET host = host")
    return holder


def test_leaderboard_of_a_locked_store_fails_clearly_and_never_shows_a_part(
    store_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "LOCK_TIMEOUT", 0.2)
    holder = _hold_exclusive(store_copy)
    try:
        res = CliRunner().invoke(app, ["leaderboard", str(store_copy)])
    finally:
        holder.close()
    _clean_failure(res, store_copy, "locked by another process")
    assert "random" not in res.output  # no ranking at all, not a partial one
    assert CliRunner().invoke(app, ["leaderboard", str(store_copy)]).exit_code == 0


def test_bench_resume_on_a_locked_store_fails_clearly(
    store_copy: Path, suite_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "LOCK_TIMEOUT", 0.2)
    holder = _hold_exclusive(store_copy)
    cmd = ["bench", "--suite", str(suite_file), "--out", str(store_copy.parent), "--no-progress", "--resume"]
    cmd += ["--executor", "serial", "--allow-import", "latentbridge.testing", "--no-report"]
    try:
        res = CliRunner().invoke(app, cmd)
    finally:
        holder.close()
    _clean_failure(res, store_copy, "locked by another process")
    assert res.output.startswith("error: bench store")


def test_a_lock_taken_while_a_bench_writes_fails_the_write_clearly(
    store_copy: Path, finished: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "LOCK_TIMEOUT", 0.2)
    with Store(finished, readonly=True) as src:
        record = src.runs()[0]
    with Store(store_copy) as store:
        holder = sqlite3.connect(store_copy, isolation_level=None)  # another writer, mid-transaction
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE runs SET host = host")
        try:
            with pytest.raises(StoreError, match=f"bench store {store_copy}: cannot store a run in it: it is locked"):
                store.add_run(record)
        finally:
            holder.close()
        assert store.count() == 2


# -- item 9: links and special files are never followed --------------------------------------------------
@pytest.mark.parametrize("which", ["bench.sqlite.lock", "bench.sqlite", "bench.sqlite-wal", "bench.sqlite-journal"])
def test_a_symlink_beside_the_store_is_never_followed(
    tmp_path: Path, suite_file: Path, which: str, finished: Path
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    victim = tmp_path / "precious.txt"
    victim.write_bytes(b"my own file\n" if which != "bench.sqlite" else finished.read_bytes())
    before = _sha(victim)
    (out / which).symlink_to(victim)
    with pytest.raises(StoreError, match=r"symlink"):
        Store(out / "bench.sqlite")
    cmd = ["bench", "--suite", str(suite_file), "--out", str(out), "--no-progress", "--executor", "serial"]
    cmd += ["--allow-import", "latentbridge.testing", "--no-report"]
    _clean_failure(CliRunner().invoke(app, cmd), out / which, "symlink")
    assert _sha(victim) == before
    if which != "bench.sqlite.lock":  # a reader refuses it too
        res = CliRunner().invoke(app, ["leaderboard", str(out / "bench.sqlite")])
        assert res.exit_code == 2
        assert "Traceback" not in res.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_lock_file_is_refused_without_blocking(tmp_path: Path) -> None:
    db = tmp_path / "bench.sqlite"
    os.mkfifo(db.with_name("bench.sqlite.lock"))
    with pytest.raises(StoreError, match="not a regular file"):
        Store(db)


# -- item 12: a kill while the store is created -----------------------------------------------------------
KILL_DURING_CREATION = textwrap.dedent(
    """
    import os, signal, sys
    from latentbridge.bench import store

    def die(self, conn):  # inside the creating transaction, after every CREATE TABLE ran
        os.kill(os.getpid(), signal.SIGKILL)

    store.Store._migrate = die
    store.Store(sys.argv[1])
    """
)


def test_a_kill_while_creating_the_store_leaves_nothing_resume_refuses(tmp_path: Path, suite_file: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    db = out / "bench.sqlite"
    proc = subprocess.run([sys.executable, "-c", KILL_DURING_CREATION, str(db)], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert db.exists()
    cmd = ["bench", "--suite", str(suite_file), "--out", str(out), "--no-progress", "--executor", "serial"]
    cmd += ["--allow-import", "latentbridge.testing", "--no-report", "--resume"]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    with Store(db, readonly=True) as store:
        assert store.count() == 2


@pytest.mark.parametrize("tables", [[], ["meta"], ["meta", "suites"], ["meta", "suites", "runs"]])
def test_a_store_half_created_by_older_code_is_finished(tmp_path: Path, tables: list[str]) -> None:
    """Older code created one table per commit: a kill between them left a part of the schema."""
    db = tmp_path / "bench.sqlite"
    statements = {s.split("EXISTS ")[1].split()[0]: s for s in store_mod._SCHEMA.split(";") if "CREATE TABLE" in s}
    with sqlite3.connect(db) as conn:
        for t in tables:
            conn.execute(statements[t])
    conn.close()
    with Store(db) as store:
        assert store.count() == 0
        assert store.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)


# -- item 13: a full disk -----------------------------------------------------------------------------------
def test_disk_full_during_a_bench_keeps_what_is_stored_and_resume_finishes(
    tmp_path: Path, suite_file: Path, finished: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    real = Store._write_run
    calls = {"n": 0}

    def write_then_fill(self: Store, record: Any, values: list[Any]) -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, record, values)

    monkeypatch.setattr(Store, "_write_run", write_then_fill)
    cmd = ["bench", "--suite", str(suite_file), "--out", str(out), "--no-progress", "--executor", "serial"]
    cmd += ["--allow-import", "latentbridge.testing"]
    res = CliRunner().invoke(app, cmd)
    _clean_failure(res, out / "bench.sqlite", "disk is full", "--resume", "1 runs of this bench were stored")
    assert len([line for line in res.output.splitlines() if line.startswith("error")]) == 1
    with Store(out / "bench.sqlite", readonly=True) as store:
        assert store.count() == 1
    monkeypatch.setattr(Store, "_write_run", real)  # space freed
    res = CliRunner().invoke(app, [*cmd, "--resume"])
    assert res.exit_code == 0, res.output
    with Store(out / "bench.sqlite", readonly=True) as got, Store(finished, readonly=True) as want:
        assert [(r.run_key, r.best) for r in got.runs()] == [(r.run_key, r.best) for r in want.runs()]


def test_sqlite_full_is_one_clear_error(store_copy: Path, finished: Path) -> None:
    with Store(finished, readonly=True) as src:
        record = src.runs()[0]
    record.trace_evals = np.arange(1, 20_001, dtype=np.int64)
    record.trace_best = np.linspace(1, 0, 20_000)
    with Store(store_copy) as store:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # what a full disk looks like to SQLite
        with pytest.raises(StoreError, match="disk is full; what is already stored is kept"):
            store.add_run(record)
        assert store.count() == 2


def test_disk_full_while_writing_the_report_is_one_line(
    tmp_path: Path, suite_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from latentbridge.bench import report

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(report, "to_html", full)
    out = tmp_path / "o"
    cmd = ["bench", "--suite", str(suite_file), "--out", str(out), "--no-progress", "--executor", "serial"]
    res = CliRunner().invoke(app, [*cmd, "--allow-import", "latentbridge.testing"])
    _clean_failure(res, out / "bench.sqlite", "cannot write the report", "No space left on device")
    with Store(out / "bench.sqlite", readonly=True) as store:
        assert store.count() == 2
