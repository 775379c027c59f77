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
- :func:`load_json`, :func:`check_value` — a stored JSON text or scalar checked before use (bounded nesting,
  the expected type), so a forged column is one :class:`StoreError`, never a ``JSONDecodeError``,
  ``RecursionError`` or a ``TypeError`` deep in a report;
- :func:`check_version` — a store written by a newer schema is refused, not misread;
- :func:`check_files` / :func:`open_nofollow` — a store, its ``-wal``/``-shm``/``-journal`` siblings and its lock
  are regular files, never followed through a symlink;
- :func:`read_snapshot` — several reads that see one consistent state of the store;
- :func:`versions` — the installed versions of the libraries a store records.

Every sqlite call waits at most the connection's ``timeout`` (:data:`LOCK_TIMEOUT` seconds by default) for a
lock, then fails; :func:`describe_sqlite_error` says why in words (locked, read-only, disk full, damaged).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib.metadata as md
import io
import json
import math
import os
import re
import sqlite3
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import StoreError

__all__ = [
    "CORE_PACKAGES",
    "LOCK_TIMEOUT",
    "MAX_BLOB_VALUES",
    "MAX_JSON_DEPTH",
    "check_files",
    "check_value",
    "check_version",
    "create_schema",
    "describe_sqlite_error",
    "from_blob",
    "get_meta",
    "load_json",
    "open_nofollow",
    "open_reader",
    "open_writer",
    "read_snapshot",
    "set_meta",
    "to_blob",
    "versions",
]

#: Most values a stored array may declare (2**27: 512 MiB of float32); a header above it is refused.
MAX_BLOB_VALUES: int = 1 << 27
#: Deepest nesting of ``[``/``{`` a stored JSON value may have (the stores write at most a few levels).
MAX_JSON_DEPTH: int = 64
#: Seconds a connection waits for another process's lock before it fails.
LOCK_TIMEOUT: float = 10.0
#: Files SQLite keeps beside a database.
SIDE_FILES: tuple[str, ...] = ("-wal", "-shm", "-journal")
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


# ------------------------------------------------------------------------------------------ checked values
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def load_json(text: Any, what: str, kind: type | tuple[type, ...] | None = None) -> Any:
    """A stored JSON text → its value, checked before and after decoding.

    Args:
        text: The column's value (TEXT; a damaged row may hold anything).
        what: What it is, for the message (``"bench store X: runs.config of run K"``).
        kind: The type(s) the value must have (``dict``, ``list``, ...); ``None`` accepts any.

    Raises:
        StoreError: Not text, not JSON, nested deeper than :data:`MAX_JSON_DEPTH`, or not of ``kind``.
    """
    if not isinstance(text, str):
        raise StoreError(f"{what} holds a {_sql_kind(text)} value where JSON text belongs: {_DAMAGED}")
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise StoreError(f"{what} nests {depth} levels deep (at most {MAX_JSON_DEPTH} are read): {_DAMAGED}")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise StoreError(f"{what} is not valid JSON ({str(exc)[:200]}): {_DAMAGED}") from None
    if kind is not None and not isinstance(value, kind):
        raise StoreError(f"{what} holds a JSON {type(value).__name__} where {_kind_name(kind)} belongs: {_DAMAGED}")
    return value


def _json_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting of ``text`` outside string literals (linear time, no recursion)."""
    if "[" not in text and "{" not in text:
        return 0
    bare = _STRINGS.sub("", text)
    steps = np.frombuffer(bare.encode("utf-8", "replace"), dtype=np.uint8)
    opens = (steps == ord("[")) | (steps == ord("{"))
    closes = (steps == ord("]")) | (steps == ord("}"))
    level = np.cumsum(opens.astype(np.int64) - closes.astype(np.int64))
    return int(level.max()) if level.size else 0


def check_value(value: Any, kind: str, what: str, *, nullable: bool = False) -> Any:
    """A stored scalar checked against its column's kind: ``"int"``, ``"real"`` (int or float) or ``"text"``.

    Raises:
        StoreError: ``value`` is ``None`` where ``nullable`` is false, or of another SQL type (text in an
            INTEGER column, a blob in a REAL column, ...).
    """
    if value is None:
        if nullable:
            return None
        raise StoreError(f"{what} is NULL where a value belongs: {_DAMAGED}")
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "real": isinstance(value, (int, float)) and not isinstance(value, bool),
        "text": isinstance(value, str),
    }[kind]
    if not ok:
        shown = repr(value)[:60] if isinstance(value, (str, int, float)) else f"{len(value)} bytes"
        raise StoreError(f"{what} holds a {_sql_kind(value)} value ({shown}) where {kind.upper()} belongs: {_DAMAGED}")
    return float(value) if kind == "real" else value


_DAMAGED = "the store is damaged or was not written by latentbridge; use another --out"


def _sql_kind(value: Any) -> str:
    return {str: "TEXT", float: "REAL", int: "INTEGER", bytes: "BLOB", type(None): "NULL"}.get(
        type(value), type(value).__name__
    )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {"dict": "an object", "list": "an array", "str": "a string", "int": "an integer", "float": "a number"}
    return " or ".join(names.get(k.__name__, k.__name__) for k in kinds)


# ------------------------------------------------------------------------------------------------- files
def check_files(path: str | Path, what: str) -> None:
    """Refuse a store whose file or ``-wal``/``-shm``/``-journal`` sibling is a symlink or not a regular file.

    SQLite opens (and may truncate) those files by name; a link planted there would make it write someone
    else's file. Missing files are fine (SQLite creates them).

    Raises:
        StoreError: Naming the offending file.
    """
    path = Path(path)
    for p in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreError(f"{what}: cannot inspect {p}: {exc}") from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            raise StoreError(
                f"{what}: {p} is {kind}; a store and its -wal/-shm/-journal files are never followed or "
                "replaced. Remove it or use another --out"
            )


def open_nofollow(path: str | Path, what: str, *, create: bool = True) -> tuple[int, bool]:
    """Open ``path`` read-write without following a symlink; refuse anything but a regular file.

    Returns:
        ``(fd, created)``: the descriptor and whether this call created the file.

    Raises:
        StoreError: ``path`` is a symlink, a FIFO, a device or a folder.
        OSError: Other failures (permissions, a full disk).
    """
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    created = False
    try:
        if create:
            try:
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
                created = True
            except FileExistsError:
                fd = os.open(path, flags)
        else:
            fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.EISDIR) or os.path.islink(path):
            raise StoreError(f"{what}: {path} is a symlink or not a regular file; it is never followed") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StoreError(f"{what}: {path} is not a regular file (a FIFO, a device?); it is never opened")
    return fd, created


# -------------------------------------------------------------------------------------- connections
def describe_sqlite_error(exc: BaseException) -> str:
    """What an ``sqlite3`` (or OS) error means for a store, in words a user can act on."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return (
            f"it is locked by another process (waited {LOCK_TIMEOUT:g} s; another bench writing to it?); "
            "wait for it or use another --out"
        )
    if "disk is full" in low or getattr(exc, "errno", None) == errno.ENOSPC or "no space" in low:
        return (
            "the disk is full; what is already stored is kept: free some space, then run the same command with --resume"
        )
    if "readonly" in low or "read-only" in low or isinstance(exc, PermissionError) or "permission denied" in low:
        return "it (or its folder) is read-only; `latentbridge leaderboard` can still read it, or choose another --out"
    if "not a database" in low or "malformed" in low or "corrupt" in low or "no such table" in low:
        return "it is not a latentbridge store, or it is corrupt or truncated"
    if "unable to open" in low:
        return "it cannot be opened (missing folder or no permission)"
    return text


def _is_busy(exc: BaseException) -> bool:
    low = str(exc).lower()
    return "locked" in low or "busy" in low


def open_writer(
    path: str | Path, *, timeout: float = LOCK_TIMEOUT, before: Callable[[sqlite3.Connection], None] | None = None
) -> sqlite3.Connection:
    """A connection that writes ``path`` (created if missing) in WAL mode with ``synchronous=NORMAL``.

    Args:
        path: The SQLite file (its folder must exist); it and its side files must not be symlinks.
        timeout: Seconds to wait for a lock.
        before: Called with the connection before anything is written (e.g. to refuse someone else's
            database, which is then left byte for byte as it was); what it raises propagates, after the
            connection is closed.

    Raises:
        StoreError: ``path`` or a side file is a symlink or not a regular file.
        sqlite3.Error: The file cannot be opened or is not a database (callers turn it into their error).
    """
    check_files(path, f"store {path}")
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
    path: str | Path, *, timeout: float = LOCK_TIMEOUT, check: Callable[[sqlite3.Connection], None] | None = None
) -> sqlite3.Connection:
    """A read-only connection to the existing file ``path``; in a read-only folder it is read as immutable.

    The immutable fallback is only taken when the file cannot be opened normally (no WAL index can be made in
    a read-only folder), never because another process holds a lock: reading around a lock, or around a
    ``-wal`` file holding committed runs, would show a part of the store as if it were all of it.

    Args:
        path: The SQLite file.
        timeout: Seconds to wait for a lock.
        check: Called with each candidate connection (e.g. to check the schema); an ``sqlite3.Error`` from it
            moves on to the next way of opening, anything else propagates after the connection is closed.

    Raises:
        StoreError: ``path`` or a side file is a symlink or not a regular file; only the immutable way is left
            and a non-empty ``-wal`` file holds data it would not see.
        sqlite3.Error: The last error when no way of opening worked (a lock: the first one).
    """
    check_files(path, f"store {path}")
    uri = Path(path).resolve().as_uri()
    last: sqlite3.Error | None = None
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        if "immutable" in query:
            wal = Path(f"{path}-wal")
            if wal.is_file() and wal.stat().st_size > 0:
                raise StoreError(
                    f"store {path} cannot be read consistently: {wal} holds writes that a read-only folder does not "
                    f"let SQLite apply ({last}); make the folder writable or copy the store with its -wal file"
                )
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
            if _is_busy(exc):  # a lock: say so, never read around it
                raise
        except BaseException:
            if conn is not None:
                conn.close()
            raise
    assert last is not None
    raise last


@contextlib.contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Every read inside sees one consistent state of the store (one read transaction; re-entrant).

    A writer committing meanwhile (in WAL mode) is not seen until the block ends.
    """
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # takes the read lock: the snapshot starts here
    try:
        yield
    finally:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")


def create_schema(
    conn: sqlite3.Connection,
    schema: str,
    version: int,
    migrate: Callable[[sqlite3.Connection], None] | None = None,
) -> None:
    """In one transaction: ``schema`` (``CREATE ... IF NOT EXISTS``), ``migrate(conn)``, and ``schema_version``.

    The schema must create ``meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)``; ``schema_version`` is
    written once (a store keeps the version it was created with). A process killed during it leaves the
    file as it was before (no half-created tables): SQLite's DDL is transactional.
    """
    statements = [s.strip() for s in schema.split(";") if s.strip()]
    conn.execute("BEGIN IMMEDIATE")
    try:
        for stmt in statements:
            conn.execute(stmt)
        if migrate is not None:
            migrate(conn)
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),))
        conn.commit()
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()
        raise


def check_version(conn: sqlite3.Connection, supported: int, what: str) -> int:
    """The store's ``schema_version`` (1 when not recorded); a newer one than ``supported`` is refused.

    Raises:
        StoreError: The store was written by a newer schema (a newer latentbridge), or its version is not an
            integer.
    """
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc).lower():
            return 1
        raise
    if row is None:
        return 1
    raw = row[0]
    if isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) < 10:
        found = int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        found = raw
    else:
        raise StoreError(f"{what}: its schema_version {str(raw)[:40]!r} is not a number: {_DAMAGED}")
    if found > supported:
        raise StoreError(
            f"{what} was written with schema version {found}, newer than the {supported} this latentbridge reads; "
            "upgrade latentbridge to read it (nothing was changed in it)"
        )
    return found


def get_meta(conn: sqlite3.Connection, key: str) -> Any:
    """The JSON value stored under ``key`` in ``meta`` (``None`` when absent).

    Raises:
        StoreError: The value is not JSON or nests beyond :data:`MAX_JSON_DEPTH`.
    """
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else load_json(row[0], f"meta {key!r}")


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
