"""SQLite basics of a campaign store and its one ``.npy`` blob codec.

A campaign store is one SQLite file written by the parent process only, in WAL mode, one transaction per
finished unit, so a process killed at any moment leaves whole units or nothing. This module holds what every
such store does the same way:

- :func:`open_writer` / :func:`open_reader` — connections (WAL and ``synchronous=NORMAL`` for the writer; a
  read-only reader that falls back to ``immutable=1`` in a folder where no WAL index can be made);
- :func:`create_schema`, :func:`get_meta` / :func:`set_meta` — the schema with its ``schema_version`` and the
  JSON values of a ``meta (key, value)`` table;
- :func:`to_blob` / :func:`from_blob` — arrays as ``.npy`` bytes, read back without pickle: the header must
  declare a plain numeric dtype, non-negative dimensions, at most :data:`MAX_BLOB_VALUES` values and exactly
  as many bytes as the blob holds, so a forged or damaged row is refused with one :class:`StoreError`
  before anything is allocated;
- :func:`versions` — the installed versions of the libraries a store records.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata as md
import io
import json
import math
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import StoreError

__all__ = [
    "CORE_PACKAGES",
    "MAX_BLOB_VALUES",
    "create_schema",
    "from_blob",
    "get_meta",
    "open_reader",
    "open_writer",
    "set_meta",
    "to_blob",
    "versions",
]

#: Most values a stored array may declare (2**27: 512 MiB of float32); a header above it is refused.
MAX_BLOB_VALUES: int = 1 << 27
#: dtype kinds a stored array may have: floats, signed and unsigned ints, bools.
_BLOB_KINDS = "fiub"


# ----------------------------------------------------------------------------------------- blob codec
def to_blob(arr: NDArray[Any] | None) -> bytes | None:
    """An array as ``.npy`` bytes, never pickled (``None`` stays ``None``)."""
    if arr is None:
        return None
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def from_blob(blob: Any, what: str = "a stored array") -> NDArray[Any] | None:
    """``.npy`` bytes written by :func:`to_blob` → a new array (``None`` stays ``None``), never unpickling.

    Args:
        blob: The column's value (``bytes``; SQLite may hand back another type from a damaged row).
        what: What the blob is, for the error message (``"runs.best_x"``).

    Raises:
        StoreError: The value is not ``.npy`` bytes (a TEXT, REAL or INTEGER value, a bad magic or header), or
            its header declares an object or structured dtype, a negative dimension, more than
            :data:`MAX_BLOB_VALUES` values, or another size than the bytes that follow it.
    """
    if blob is None:
        return None
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        kind = {str: "TEXT", float: "REAL", int: "INTEGER"}.get(type(blob), type(blob).__name__)
        raise StoreError(
            f"{what} holds a {kind} value where .npy bytes belong: the store is damaged or was not written by "
            "latentbridge; use another --out"
        )
    data = bytes(blob)
    buf = io.BytesIO(data)
    fmt = np.lib.format
    try:
        version = fmt.read_magic(buf)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = fmt.read_array_header_1_0(buf) if version == (1, 0) else fmt.read_array_header_2_0(buf)
    except (ValueError, OSError, SyntaxError, EOFError, TypeError) as exc:
        raise StoreError(f"{what} is not a valid .npy blob ({exc}): the store is damaged; use another --out") from None
    dims = [int(v) for v in shape]
    count = math.prod(dims)
    if (
        dtype.hasobject
        or dtype.kind not in _BLOB_KINDS
        or any(v < 0 for v in dims)
        or count > MAX_BLOB_VALUES
        or buf.tell() + count * dtype.itemsize != len(data)
    ):
        raise StoreError(
            f"{what} declares dtype {dtype} and shape {tuple(dims)} that do not match its bytes ({len(data)} in all; "
            f"plain numeric arrays of at most {MAX_BLOB_VALUES:,} values are stored): the store is damaged or "
            "forged; use another --out"
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=buf.tell())
    return arr.reshape(dims, order="F" if fortran else "C").copy()


# -------------------------------------------------------------------------------------- connections
def open_writer(
    path: str | Path, *, timeout: float = 10.0, before: Callable[[sqlite3.Connection], None] | None = None
) -> sqlite3.Connection:
    """A connection that writes ``path`` (created if missing) in WAL mode with ``synchronous=NORMAL``.

    Args:
        path: The SQLite file (its folder must exist).
        timeout: Seconds to wait for a lock.
        before: Called with the connection before anything is written (e.g. to refuse someone else's
            database); what it raises propagates, after the connection is closed.

    Raises:
        sqlite3.Error: The file cannot be opened or is not a database (callers turn it into their error).
    """
    conn = sqlite3.connect(path, timeout=timeout)
    try:
        if before is not None:
            before(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(
    path: str | Path, *, timeout: float = 10.0, check: Callable[[sqlite3.Connection], None] | None = None
) -> sqlite3.Connection:
    """A read-only connection to the existing file ``path``; in a read-only folder it is read as immutable.

    Args:
        path: The SQLite file.
        timeout: Seconds to wait for a lock.
        check: Called with each candidate connection (e.g. to check the schema); an ``sqlite3.Error`` from it
            moves on to the next way of opening, anything else propagates after the connection is closed.

    Raises:
        sqlite3.Error: The last error when no way of opening worked.
    """
    uri = Path(path).resolve().as_uri()
    last: sqlite3.Error | None = None
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        conn = None
        try:
            conn = sqlite3.connect(f"{uri}{query}", uri=True, timeout=timeout)
            if check is not None:
                check(conn)
            return conn
        except sqlite3.Error as exc:
            last = exc
            if conn is not None:
                conn.close()
        except BaseException:
            if conn is not None:
                conn.close()
            raise
    assert last is not None
    raise last


def create_schema(
    conn: sqlite3.Connection,
    schema: str,
    version: int,
    migrate: Callable[[sqlite3.Connection], None] | None = None,
) -> None:
    """In one transaction: ``schema`` (``CREATE ... IF NOT EXISTS``), ``migrate(conn)``, and ``schema_version``.

    The schema must create ``meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)``; ``schema_version`` is
    written once (a store keeps the version it was created with).
    """
    with conn:
        conn.executescript(schema)
        if migrate is not None:
            migrate(conn)
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),))


def get_meta(conn: sqlite3.Connection, key: str) -> Any:
    """The JSON value stored under ``key`` in ``meta`` (``None`` when absent)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def set_meta(conn: sqlite3.Connection, **values: Any) -> None:
    """Store JSON values (keys sorted) in ``meta``, all in one transaction."""
    with conn:
        for k, v in values.items():
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (k, json.dumps(v, sort_keys=True)))


# -------------------------------------------------------------------------------------------- provenance
#: Libraries whose versions every campaign store records (an application adds its own).
CORE_PACKAGES: tuple[str, ...] = ("latentbridge", "torch", "numpy", "scipy", "pymoo")


@functools.cache
def _versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for pkg in packages:
        with contextlib.suppress(md.PackageNotFoundError):
            out.append((pkg, md.version(pkg)))
    return tuple(out)


def versions(packages: Sequence[str]) -> dict[str, str]:
    """``{package: version}`` of the installed ``packages``, in their order (missing ones left out; cached)."""
    return dict(_versions(tuple(packages)))
