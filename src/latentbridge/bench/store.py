"""The bench store: SQLite in WAL mode, one row per finished run plus its anytime trace.

Only the parent process (the Dask client) writes. Each finished run is inserted with its
trace in a single transaction, so a process killed at any moment leaves either the whole
run or nothing; ``--resume`` then re-runs exactly the runs whose key is missing.

Schema::

    runs(id, run_key UNIQUE, suite, problem_id, problem_kind, problem_hash, problem_config,
         problem_spec, n_obj, optimizer, optimizer_name, optimizer_params, replicate, seed,
         budget, n_evals, best, reported_best, best_x, front, ref_point, wall_time,
         solve_time, eval_time, status, error, warnings, versions, host, python, config, created,
         n_failed)                         -- n_failed: counted evaluations with a non-finite fitness
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..campaign.store import create_schema, from_blob, open_reader, open_writer, to_blob
from ..errors import StoreError, StoreLockedError

__all__ = ["RunRecord", "Store", "StoreError", "StoreLockedError"]

SCHEMA_VERSION = 1

_SCHEMA = """
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
    n_failed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_suite ON runs (suite, problem_id, optimizer);
CREATE TABLE IF NOT EXISTS traces (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    evals INTEGER NOT NULL,
    best REAL NOT NULL,
    PRIMARY KEY (run_id, evals)
);
CREATE TABLE IF NOT EXISTS qd_archives (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    metrics TEXT NOT NULL,
    archive BLOB NOT NULL
);
"""


def _clear(path: Path, exc: BaseException, doing: str) -> StoreError:
    """One clear error for whatever sqlite3 raised while ``doing`` with the store at ``path``."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        why = "it is locked by another process (another bench writing to it?); wait for it or use another --out"
    elif "readonly" in low or "read-only" in low or isinstance(exc, PermissionError) or "permission denied" in low:
        why = "it (or its folder) is read-only; `latentbridge leaderboard` can still read it, or choose another --out"
    elif "not a database" in low or "malformed" in low or "corrupt" in low or "no such table" in low:
        why = "it is not a latentbridge bench store, or it is corrupt or truncated"
    elif "unable to open" in low:
        why = "it cannot be opened (missing folder or no permission)"
    else:
        why = text
    err = StoreError(f"bench store {path}: cannot {doing}: {why} ({type(exc).__name__}: {text})")
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
            except sqlite3.Error as exc:
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

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


def _lock_fd(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import importlib

        msvcrt: Any = importlib.import_module("msvcrt")
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


@dataclass
class RunRecord:
    """One run as stored (and as handed to the leaderboard).

    ``best`` is the score the leaderboard ranks, lower is better: the best fitness among
    the first ``budget`` evaluations, or minus the hypervolume for multi-objective problems.
    """

    run_key: str
    suite: str
    problem_id: str
    problem_kind: str
    problem_hash: str
    problem_config: dict[str, Any]
    problem_spec: dict[str, Any]
    n_obj: int
    optimizer: str
    optimizer_name: str
    optimizer_params: dict[str, Any]
    replicate: int
    seed: int
    budget: int
    n_evals: int
    best: float
    reported_best: float | None
    best_x: NDArray[np.float64] | None
    front: NDArray[np.float64] | None
    ref_point: list[float] | None
    wall_time: float
    solve_time: float
    eval_time: float
    status: str
    error: str | None
    warnings: list[str]
    versions: dict[str, str]
    host: str
    python: str
    config: dict[str, Any]
    trace_evals: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    trace_best: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    created: float = 0.0
    n_failed: int = 0
    qd_archive: bytes | None = None
    qd_metrics: dict[str, Any] | None = None


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
)
#: Columns added after the first schema: older stores lack them (a writer adds them; readers use defaults).
_MIGRATED_COLUMNS = frozenset({"warnings", "n_failed"})
_JSON_COLUMNS = {"problem_config", "problem_spec", "optimizer_params", "versions", "config", "ref_point", "warnings"}


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
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"bench store {self.path} is not a file")
        lock = _WriterLock(self.path)
        try:
            lock.acquire()
        except StoreLockedError:
            raise
        except OSError as exc:
            raise _clear(self.path, exc, "take the writer lock") from None
        self._lock = lock
        try:
            self.conn = open_writer(self.path, timeout=10.0, before=self._refuse_foreign)
            self.conn.execute("PRAGMA foreign_keys=ON")
            create_schema(self.conn, _SCHEMA, SCHEMA_VERSION, migrate=self._migrate)
            self._check_schema()
        except sqlite3.Error as exc:
            with contextlib.suppress(Exception):
                self.conn.close()
            lock.release()
            raise _clear(self.path, exc, "open it for writing") from None
        except StoreError:
            with contextlib.suppress(Exception):
                self.conn.close()
            lock.release()
            raise

    def _open_readonly(self) -> sqlite3.Connection:
        """A read-only connection; in a read-only folder (no WAL index can be made) the file is read as immutable."""
        if not self.path.is_file():
            raise StoreError(f"no bench database at {self.path}")

        def check(conn: sqlite3.Connection) -> None:
            self.conn = conn
            self._check_schema()

        try:
            return open_reader(self.path, timeout=10.0, check=check)
        except sqlite3.Error as exc:
            raise _clear(self.path, exc, "read it") from None

    def _refuse_foreign(self, conn: sqlite3.Connection) -> None:
        """Someone else's database: never write into it."""
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "runs" not in tables:
            raise StoreError(
                f"bench store {self.path} is not a latentbridge bench store (it has tables "
                f"{', '.join(sorted(tables)[:5])}); choose another --out"
            )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Add the columns of later schemas to a store written before them."""
        if "warnings" not in self._columns():  # databases written before the column existed
            conn.execute("ALTER TABLE runs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'")
        if "n_failed" not in self._columns():  # databases written before failed evaluations were counted
            conn.execute("ALTER TABLE runs ADD COLUMN n_failed INTEGER NOT NULL DEFAULT 0")

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
                self.conn.execute(
                    "INSERT INTO qd_archives (run_id, metrics, archive) VALUES (?, ?, ?)",
                    (run_id, json.dumps(record.qd_metrics, sort_keys=True, default=str), record.qd_archive),
                )

    @_guarded("delete from it")
    def delete_suite(self, suite: str) -> int:
        """Delete every run of ``suite``; returns how many."""
        with self.conn:
            cur = self.conn.execute("DELETE FROM runs WHERE suite = ?", (suite,))
        return int(cur.rowcount)

    # -- reading -------------------------------------------------------------------------------
    def _qd_rows(self, ids: list[int]) -> dict[int, tuple[dict[str, Any] | None, bytes | None]]:
        """QD metrics and archive bytes of the runs ``ids`` that have them (a store without the table: none).

        The archive stays bytes here: :func:`latentbridge.qd.archive_from_bytes` reads it, bounded
        and validated, when a report draws it.
        """
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        out: dict[int, tuple[dict[str, Any] | None, bytes | None]] = {}
        if "qd_archives" not in tables:  # a store written before QD runs (opened read-only)
            return out
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" for _ in chunk)
            for run_id, metrics, blob in self.conn.execute(
                f"SELECT run_id, metrics, archive FROM qd_archives WHERE run_id IN ({marks})", chunk
            ):
                out[run_id] = (_qd_metrics(metrics), bytes(blob) if isinstance(blob, (bytes, memoryview)) else None)
        return out

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
            planned = json.loads(row[0]).get("planned_runs")
        except (TypeError, ValueError, AttributeError, RecursionError):
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
                t[0].append(e)
                t[1].append(b)
        qd = self._qd_rows(ids)
        out = []
        for row in rows:
            data: dict[str, Any] = {}
            for col, val in zip(_COLUMNS, row[1:], strict=True):
                if col in _JSON_COLUMNS:
                    data[col] = None if val is None else json.loads(val)
                elif col in ("best_x", "front"):
                    data[col] = from_blob(val, f"runs.{col}")
                else:
                    data[col] = val
            data["best"] = float("nan") if data["best"] is None else float(data["best"])
            data["warnings"] = data["warnings"] or []
            data["n_failed"] = int(data["n_failed"] or 0)
            if row[0] in qd:
                data["qd_metrics"], data["qd_archive"] = qd[row[0]]
            e, b = traces.get(row[0], ([], []))
            data["trace_evals"] = np.asarray(e, dtype=np.int64)
            data["trace_best"] = np.asarray(b, dtype=np.float64)
            out.append(RunRecord(**data))
        return out


def _qd_metrics(text: Any) -> dict[str, Any] | None:
    """A stored QD metrics cell: a JSON object of bounded size, else None (the run shows no QD metrics)."""
    if not isinstance(text, str) or len(text) > _MAX_QD_METRICS:
        return None
    try:
        out = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return out if isinstance(out, dict) else None


#: Largest stored QD metrics cell read back (characters); the archive blob is bounded by its reader.
_MAX_QD_METRICS = 1 << 16


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def iter_keys(records: Iterable[RunRecord]) -> set[str]:
    """The run keys of ``records``."""
    return {r.run_key for r in records}
