"""The bench store's quality-diversity table: each QD run's metrics (JSON) and archive (plain-array bytes).

``qd_archives (run_id, metrics, archive)`` is created with the store's schema (``CREATE TABLE IF NOT
EXISTS``, so a store written before it gains it when a bench opens it) and written by
:meth:`~latentbridge.bench.store.Store.add_run` in the run's own transaction (:func:`write_qd`), so a
killed bench never leaves a run without its archive. :func:`read_qd` reads them back: a metrics cell
that is not a bounded JSON object is ignored (the run shows no QD metrics), and archives stay bytes
until a report reads one with :func:`latentbridge.qd.archive_from_bytes` (bounded, validated, no pickle).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

__all__ = ["QD_COLUMNS", "QD_SCHEMA", "read_qd", "write_qd"]

#: The columns of ``qd_archives`` (a store's own tables are checked against them when it is opened).
QD_COLUMNS = frozenset({"run_id", "metrics", "archive"})

QD_SCHEMA = """
CREATE TABLE IF NOT EXISTS qd_archives (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    metrics TEXT NOT NULL,
    archive BLOB NOT NULL
);
"""

#: Largest stored QD metrics cell read back (characters); the archive blob is bounded by its reader.
_MAX_QD_METRICS = 1 << 16


def write_qd(conn: sqlite3.Connection, run_id: int, metrics: dict[str, Any], archive: bytes) -> None:
    """Insert one run's QD metrics and archive (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO qd_archives (run_id, metrics, archive) VALUES (?, ?, ?)",
        (run_id, json.dumps(metrics, sort_keys=True, default=str), archive),
    )


def _metrics(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or len(text) > _MAX_QD_METRICS:
        return None
    try:
        out = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return out if isinstance(out, dict) else None


def read_qd(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[dict[str, Any] | None, bytes | None]]:
    """QD metrics and archive bytes of the runs ``ids`` that have them (a store without the table: none)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    out: dict[int, tuple[dict[str, Any] | None, bytes | None]] = {}
    if "qd_archives" not in tables:  # a store written before QD runs, opened read-only
        return out
    ids = list(ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for run_id, metrics, blob in conn.execute(
            f"SELECT run_id, metrics, archive FROM qd_archives WHERE run_id IN ({marks})", chunk
        ):
            out[run_id] = (_metrics(metrics), bytes(blob) if isinstance(blob, (bytes, memoryview)) else None)
    return out
