"""The bench store: SQLite in WAL mode, one row per finished run plus its anytime trace.

Only the parent process (the Dask client) writes. Each finished run is inserted with its
trace in a single transaction, so a process killed at any moment leaves either the whole
run or nothing; ``--resume`` then re-runs exactly the runs whose key is missing.

Schema::

    runs(id, run_key UNIQUE, suite, problem_id, problem_kind, problem_hash, problem_config,
         problem_spec, n_obj, optimizer, optimizer_name, optimizer_params, replicate, seed,
         budget, n_evals, best, reported_best, best_x, front, ref_point, wall_time,
         solve_time, eval_time, status, error, warnings, versions, host, python, config, created,
         n_failed, n_grad_evals, forward_equivalents)  -- non-finite evaluations; gradient ones; their cost
    traces(run_id, evals, best)            -- best-so-far (−hypervolume if n_obj > 1)
    suites(name, spec, created)
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..campaign.store import (
    LOCK_TIMEOUT,
    check_files,
    check_value,
    check_version,
    create_schema,
    describe_sqlite_error,
    from_blob,
    load_json,
    open_nofollow,
    open_reader,
    open_writer,
    read_snapshot,
    to_blob,
)
from ..errors import StoreError, StoreLockedError
from .qd_store import QD_COLUMNS, QD_SCHEMA, read_qd, write_qd
from .record import RunRecord

__all__ = ["RunRecord", "Store", "StoreError", "StoreLockedError"]

SCHEMA_VERSION = 1

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS suites (name TEXT PRIMARY KEY, spec TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    run_key TEXT NOT NULL UNIQUE,
    suite TEXT NOT NULL,
    problem_id TEXT NOT NULL,
    problem_kind TEXT NOT NULL,
    problem_hash TEXT NOT NULL,
    problem_config TEXT NOT NULL,
    problem_spec TEXT NOT NULL,
    n_obj INTEGER NOT NULL,
    optimizer TEXT NOT NULL,
    optimizer_name TEXT NOT NULL,
    optimizer_params TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    budget INTEGER NOT NULL,
    n_evals INTEGER NOT NULL,
    best REAL,
    reported_best REAL,
    best_x BLOB,
    front BLOB,
    ref_point TEXT,
    wall_time REAL NOT NULL,
    solve_time REAL NOT NULL,
    eval_time REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('finished', 'failed')),
    error TEXT,
    warnings TEXT NOT NULL,
    versions TEXT NOT NULL,
    host TEXT NOT NULL,
    python TEXT NOT NULL,
    config TEXT NOT NULL,
    created REAL NOT NULL,
    n_failed INTEGER NOT NULL DEFAULT 0,
    n_grad_evals INTEGER NOT NULL DEFAULT 0,
    forward_equivalents REAL
);
CREATE INDEX IF NOT EXISTS runs_suite ON runs (suite, problem_id, optimizer);
CREATE TABLE IF NOT EXISTS traces (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    evals INTEGER NOT NULL,
    best REAL NOT NULL,
    PRIMARY KEY (run_id, evals)
);
"""
    + QD_SCHEMA
)


def _clear(path: Path, exc: BaseException, doing: str) -> StoreError:
    """One clear error for whatever sqlite3 (or the OS) raised while ``doing`` with the store at ``path``."""
    why = describe_sqlite_error(exc)
    err = StoreError(f"bench store {path}: cannot {doing}: {why} ({type(exc).__name__}: {exc})")
    err.__cause__ = exc
    return err


LOCK_SUFFIX = ".lock"

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(doing: str) -> Callable[[F], F]:
    """Turn sqlite3 errors of a :class:`Store` method into one clear :class:`StoreError` naming the path."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def inner(self: Store, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except StoreError:
                raise
            except (sqlite3.Error, OSError) as exc:  # OSError: a full disk, a vanished folder
                raise _clear(self.path, exc, doing) from None

        return inner  # type: ignore[return-value]

    return wrap


class _WriterLock:
    """An exclusive lock on ``<store>.lock`` held while a bench writes; it dies with its process.

    ``fcntl.flock`` (``msvcrt.locking`` on Windows) on an open file: the OS releases it when
    the process exits, however it exits (SIGKILL included), so no stale lock ever blocks
    a later bench. The file holds the holder's pid, for the message a second bench gets.
    """

    def __init__(self, db: Path) -> None:
        self.path = db.with_name(db.name + LOCK_SUFFIX)
        self.fd: int | None = None
        self.created = False

    def acquire(self) -> None:
        # never through a symlink, never a FIFO or device: the file is truncated and written below
        fd, self.created = open_nofollow(self.path, f"bench store {db_of(self.path)}: its lock")
        try:
            _lock_fd(fd)
        except OSError:
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            except OSError:
                holder = "unknown"
            os.close(fd)
            raise StoreLockedError(
                f"bench store {self.path.with_suffix('')} is in use by another bench (pid {holder}, lock "
                f"{self.path}); two benches on one --out would overwrite each other's runs. Wait for it to finish, "
                "or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self.fd = fd

    def release(self, *, remove: bool = False) -> None:
        """Release the lock; ``remove``: also delete the lock file if this lock created it (a refused store)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            if remove and self.created:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


def db_of(lock: Path) -> Path:
    """The store a lock file belongs to."""
    return lock.with_name(lock.name.removesuffix(LOCK_SUFFIX))


def _lock_fd(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import importlib

        msvcrt: Any = importlib.import_module("msvcrt")
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


_COLUMNS = (
    "run_key",
    "suite",
    "problem_id",
    "problem_kind",
    "problem_hash",
    "problem_config",
    "problem_spec",
    "n_obj",
    "optimizer",
    "optimizer_name",
    "optimizer_params",
    "replicate",
    "seed",
    "budget",
    "n_evals",
    "best",
    "reported_best",
    "best_x",
    "front",
    "ref_point",
    "wall_time",
    "solve_time",
    "eval_time",
    "status",
    "error",
    "warnings",
    "versions",
    "host",
    "python",
    "config",
    "created",
    "n_failed",
    "n_grad_evals",
    "forward_equivalents",
)
#: Columns added after the first schema, with their SQL: older stores lack them (a writer adds them; readers use
#: defaults; a NULL forward_equivalents reads as n_evals: :func:`~latentbridge.bench.leaderboard.spent`).
_ADDED_COLUMNS = {"warnings": "TEXT NOT NULL DEFAULT '[]'", "n_failed": "INTEGER NOT NULL DEFAULT 0"}
_ADDED_COLUMNS |= {"n_grad_evals": "INTEGER NOT NULL DEFAULT 0", "forward_equivalents": "REAL"}  # issue 24
_MIGRATED_COLUMNS = frozenset(_ADDED_COLUMNS)
#: JSON columns and the type of their value.
_JSON_COLUMNS: dict[str, type | tuple[type, ...]] = {
    "problem_config": dict,
    "problem_spec": dict,
    "optimizer_params": dict,
    "versions": dict,
    "config": dict,
    "ref_point": list,
    "warnings": list,
}
#: Scalar columns and their kind (see :func:`~latentbridge.campaign.store.check_value`); ``?``: may be NULL.
_SCALAR_COLUMNS: dict[str, str] = {
    **dict.fromkeys(
        ("run_key", "suite", "problem_id", "problem_kind", "problem_hash", "optimizer", "optimizer_name"), "text"
    ),
    **dict.fromkeys(("status", "host", "python"), "text"),
    "error": "text?",
    **dict.fromkeys(("n_obj", "replicate", "seed", "budget", "n_evals", "n_failed", "n_grad_evals"), "int"),
    "forward_equivalents": "real?",
    **dict.fromkeys(("wall_time", "solve_time", "eval_time", "created"), "real"),
    **dict.fromkeys(("best", "reported_best"), "real?"),
}
#: The tables of a bench store and the columns each must have (a database with others is not one).
_TABLE_COLUMNS: dict[str, frozenset[str]] = {
    "meta": frozenset({"key", "value"}),
    "suites": frozenset({"name", "spec", "created"}),
    "runs": frozenset(_COLUMNS) - _MIGRATED_COLUMNS,
    "traces": frozenset({"run_id", "evals", "best"}),
    "qd_archives": QD_COLUMNS,
}


def _table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


class Store:
    """A bench database (created on first use).

    Args:
        path: The SQLite file.
        readonly: Open without creating or migrating anything.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock: _WriterLock | None = None
        if readonly:
            self.conn = self._open_readonly()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"bench store {self.path}: cannot create its folder: {exc}") from exc
        check_files(self.path, f"bench store {self.path}")  # a symlink or FIFO here is never followed
        lock = _WriterLock(self.path)
        try:
            lock.acquire()
        except StoreError:
            raise
        except OSError as exc:
            raise _clear(self.path, exc, "take the writer lock") from None
        self._lock = lock
        conn: sqlite3.Connection | None = None
        try:
            conn = self.conn = open_writer(self.path, timeout=LOCK_TIMEOUT, before=self._refuse_foreign)
            self.conn.execute("PRAGMA foreign_keys=ON")
            create_schema(self.conn, _SCHEMA, SCHEMA_VERSION, migrate=self._migrate)
            self._check_schema()
        except (sqlite3.Error, OSError, StoreError) as exc:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            lock.release(remove=not self.path.exists() or isinstance(exc, StoreError))
            self._lock = None
            if isinstance(exc, StoreError):
                raise
            raise _clear(self.path, exc, "open it for writing") from None

    def _open_readonly(self) -> sqlite3.Connection:
        """A read-only connection; in a read-only folder (no WAL index can be made) the file is read as immutable."""
        if not self.path.is_file():
            raise StoreError(f"no bench database at {self.path}")

        def check(conn: sqlite3.Connection) -> None:
            self.conn = conn
            self._check_schema()

        try:
            return open_reader(self.path, timeout=LOCK_TIMEOUT, check=check)
        except sqlite3.Error as exc:
            raise _clear(self.path, exc, "read it") from None

    def _refuse_foreign(self, conn: sqlite3.Connection) -> None:
        """Someone else's database (or a newer store): refuse it before anything is written, so it stays as it was.

        A store is ours when its tables are among ``meta``, ``suites``, ``runs``, ``traces``, ``qd_archives`` and those
        present have their columns; a store half-created by an older latentbridge (killed between two
        ``CREATE TABLE``) is ours too, and is finished by :func:`create_schema`.
        """
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables = {t for t in tables if not t.startswith("sqlite_")}
        foreign = sorted(tables - set(_TABLE_COLUMNS))
        wrong = sorted(t for t in tables & set(_TABLE_COLUMNS) if not _TABLE_COLUMNS[t] <= _table_columns(conn, t))
        if foreign or wrong:
            what = f"tables {', '.join(foreign[:5])}" if foreign else f"table {wrong[0]} with other columns"
            raise StoreError(
                f"bench store {self.path} is not a latentbridge bench store (it has {what}); it was left "
                "unchanged: choose another --out"
            )
        if "meta" in tables:
            check_version(conn, SCHEMA_VERSION, f"bench store {self.path}")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Add the columns of later schemas to a store written before them."""
        for column, ddl in _ADDED_COLUMNS.items():  # in the order the schema gained them
            if column not in self._columns():
                conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {ddl}")

    def _check_schema(self) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = {"runs", "traces"} - tables
        if missing:
            raise StoreError(
                f"bench store {self.path} is not a latentbridge bench store (no {', '.join(sorted(missing))} table)"
            )
        missing_cols = set(_COLUMNS) - _MIGRATED_COLUMNS - self._columns()
        if missing_cols:
            raise StoreError(f"bench store {self.path} lacks columns {sorted(missing_cols)}: not a bench store")
        if not {"run_id", "evals", "best"} <= _table_columns(self.conn, "traces"):
            raise StoreError(f"bench store {self.path}: its traces table has other columns: not a bench store")
        if "meta" in tables:
            check_version(self.conn, SCHEMA_VERSION, f"bench store {self.path}")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees one state of the store, even while a bench writes to it.

        Raises:
            StoreError: The store stayed locked for :data:`~latentbridge.campaign.store.LOCK_TIMEOUT` seconds.
        """
        try:
            with read_snapshot(self.conn):
                yield
        except sqlite3.Error as exc:
            raise _clear(self.path, exc, "read it") from None

    def _columns(self) -> set[str]:
        return {row[1] for row in self.conn.execute("PRAGMA table_info(runs)")}

    def close(self) -> None:
        """Close the connection (and release the writer lock)."""
        try:
            self.conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------
    @_guarded("write to it")
    def save_suite(self, name: str, spec: dict[str, Any]) -> None:
        """Remember the suite description (latest wins)."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO suites (name, spec, created) VALUES (?, ?, ?)",
                (name, json.dumps(spec, sort_keys=True), time.time()),
            )

    @_guarded("store a run in it")
    def add_run(self, record: RunRecord) -> None:
        """Insert (or replace, for a re-run failure) one run and its trace in one transaction."""
        values: list[Any] = []
        for col in _COLUMNS:
            val = getattr(record, col)
            if col in _JSON_COLUMNS:
                val = None if val is None and col == "ref_point" else json.dumps(val, sort_keys=True, default=str)
            elif col in ("best_x", "front"):
                val = to_blob(val)
            elif col == "created":
                val = val or time.time()
            elif col == "best" and val is not None and not np.isfinite(val):
                val = None
            values.append(val)
        self._write_run(record, values)

    def _write_run(self, record: RunRecord, values: list[Any]) -> None:
        """The one transaction that stores a run and its trace (all or nothing, even on a full disk)."""
        marks = ", ".join("?" for _ in _COLUMNS)
        with self.conn:
            self.conn.execute("DELETE FROM runs WHERE run_key = ?", (record.run_key,))
            cur = self.conn.execute(f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES ({marks})", values)
            run_id = cur.lastrowid
            self.conn.executemany(
                "INSERT INTO traces (run_id, evals, best) VALUES (?, ?, ?)",
                [
                    (run_id, int(e), float(b))
                    for e, b in zip(record.trace_evals, record.trace_best, strict=True)
                    if np.isfinite(b)
                ],
            )
            if record.qd_metrics is not None and record.qd_archive is not None:  # a quality-diversity run
                write_qd(self.conn, int(run_id or 0), record.qd_metrics, record.qd_archive)

    @_guarded("delete from it")
    def delete_suite(self, suite: str) -> int:
        """Delete every run of ``suite``; returns how many."""
        with self.conn:
            cur = self.conn.execute("DELETE FROM runs WHERE suite = ?", (suite,))
        return int(cur.rowcount)

    # -- reading -------------------------------------------------------------------------------
    @_guarded("read it")
    def finished_keys(self, suite: str | None = None) -> set[str]:
        """Keys of finished runs (of ``suite``)."""
        if suite is None:
            rows = self.conn.execute("SELECT run_key FROM runs WHERE status = 'finished'")
        else:
            rows = self.conn.execute("SELECT run_key FROM runs WHERE status = 'finished' AND suite = ?", (suite,))
        return {r[0] for r in rows}

    @_guarded("read it")
    def count(self, suite: str | None = None) -> int:
        """Number of stored runs (of ``suite``)."""
        if suite is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM runs WHERE suite = ?", (suite,)).fetchone()[0])

    @_guarded("read it")
    def planned_runs(self, suite: str) -> int | None:
        """How many runs the last bench of ``suite`` planned (None when not recorded: older stores)."""
        row = self.conn.execute("SELECT spec FROM suites WHERE name = ?", (suite,)).fetchone()
        if row is None:
            return None
        try:
            planned = load_json(row[0], f"bench store {self.path}: suites.spec", dict).get("planned_runs")
        except StoreError:
            return None
        return planned if isinstance(planned, int) and not isinstance(planned, bool) and planned >= 0 else None

    @_guarded("read it")
    def suites(self) -> list[str]:
        """Names of the suites with stored runs."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT suite FROM runs ORDER BY suite")]

    @_guarded("read it")
    def runs(self, suite: str | None = None, *, status: str | None = "finished") -> list[RunRecord]:
        """Stored runs with their traces, ordered by (suite, problem, optimizer, replicate)."""
        where, args = [], []
        if suite is not None:
            where.append("suite = ?")
            args.append(suite)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with read_snapshot(self.conn):  # rows and traces of one state, even while a bench writes
            present = self._columns()
            cols = ", ".join(("id", *(c if c in present else f"NULL AS {c}" for c in _COLUMNS)))
            rows = self.conn.execute(
                f"SELECT {cols} FROM runs {clause} ORDER BY suite, problem_id, optimizer, replicate, budget", args
            ).fetchall()
            traces: dict[int, tuple[list[int], list[float]]] = {}
            ids = [r[0] for r in rows]
            for chunk in _chunks(ids, 500):
                marks = ", ".join("?" for _ in chunk)
                for run_id, e, b in self.conn.execute(
                    f"SELECT run_id, evals, best FROM traces WHERE run_id IN ({marks}) ORDER BY run_id, evals", chunk
                ):
                    t = traces.setdefault(run_id, ([], []))
                    t[0].append(check_value(e, "int", f"bench store {self.path}: traces.evals of run {run_id}"))
                    t[1].append(check_value(b, "real", f"bench store {self.path}: traces.best of run {run_id}"))
            qd = read_qd(self.conn, ids)
        return [self._record(row, traces.get(row[0], ([], [])), qd.get(row[0], (None, None))) for row in rows]

    def _record(self, row: tuple[Any, ...], trace: tuple[list[int], list[float]], qd: tuple[Any, Any]) -> RunRecord:
        """One stored row (with its trace and ``qd_store.read_qd`` cells) as a :class:`RunRecord`, checked."""
        data: dict[str, Any] = {}
        key = row[1] if isinstance(row[1], str) else f"#{row[0]}"
        for col, val in zip(_COLUMNS, row[1:], strict=True):
            what = f"bench store {self.path}: runs.{col} of run {key[:80]!r}"
            if col in _JSON_COLUMNS:
                if val is None and (col == "ref_point" or col in _MIGRATED_COLUMNS):
                    data[col] = None
                else:
                    data[col] = load_json(val, what, _JSON_COLUMNS[col])
            elif col in ("best_x", "front"):
                data[col] = from_blob(val, what)
            elif val is None and col in _MIGRATED_COLUMNS:
                data[col] = None
            else:
                kind = _SCALAR_COLUMNS[col]
                data[col] = check_value(val, kind.rstrip("?"), what, nullable=kind.endswith("?"))
        if data["status"] not in ("finished", "failed"):
            raise StoreError(f"bench store {self.path}: run {key[:80]!r} has status {data['status'][:40]!r}")
        data["best"] = float("nan") if data["best"] is None else float(data["best"])
        data["warnings"] = [str(w) for w in data["warnings"] or []]
        data["n_failed"] = int(data["n_failed"] or 0)
        data["n_grad_evals"] = int(data["n_grad_evals"] or 0)
        data["trace_evals"] = np.asarray(trace[0], dtype=np.int64)
        data["trace_best"] = np.asarray(trace[1], dtype=np.float64)
        data["qd_metrics"], data["qd_archive"] = qd
        return RunRecord(**data)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def iter_keys(records: Iterable[RunRecord]) -> set[str]:
    """The run keys of ``records``."""
    return {r.run_key for r in records}
