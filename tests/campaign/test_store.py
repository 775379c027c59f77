"""The campaign store basics: the one .npy blob codec, connections, schema and meta, versions."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from latentbridge.campaign.store import (
    MAX_BLOB_VALUES,
    create_schema,
    from_blob,
    get_meta,
    open_reader,
    open_writer,
    set_meta,
    to_blob,
    versions,
)
from latentbridge.errors import StoreError


def _npy(arr: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _forge(blob: bytes, old: bytes, new: bytes) -> bytes:
    """``blob`` with ``old`` replaced by ``new`` in its header (padded to keep the header's length)."""
    end = blob.index(b"\n") + 1
    header = blob[:end].replace(old, new)
    pad = end - len(header)
    header = header[:-1] + b" " * pad + b"\n" if pad >= 0 else header
    return header + blob[end:]


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(12, dtype=np.float64).reshape(3, 4),
        np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
        np.array(2.5),
        np.zeros((0, 5), dtype=np.int64),
        np.array([True, False]),
        np.arange(6, dtype=np.uint8),
    ],
)
def test_round_trip(arr: np.ndarray) -> None:
    back = from_blob(to_blob(arr))
    assert back is not None
    assert back.dtype == arr.dtype
    assert back.shape == arr.shape
    assert np.array_equal(back, arr)
    assert from_blob(to_blob(None)) is None


def test_blobs_written_by_plain_numpy_read_back() -> None:
    """Stores written before the kernel hold ``np.save`` output, Fortran order included."""
    arr = np.asfortranarray(np.random.default_rng(0).standard_normal((4, 3)))
    back = from_blob(_npy(arr))
    assert back is not None
    assert np.array_equal(back, arr)
    back[0, 0] = 99.0  # a copy, writable, not a view of the blob
    assert from_blob(memoryview(_npy(arr))) is not None


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("not bytes", "holds a TEXT value"),
        (1.5, "holds a REAL value"),
        (7, "holds a INTEGER value"),
        (b"garbage", "not a valid .npy blob"),
        (_npy(np.arange(4.0))[:-3], "do not match its bytes"),
        (_npy(np.arange(4.0)) + b"\0" * 8, "do not match its bytes"),
        (_forge(_npy(np.arange(4.0)), b"(4,)", b"(99999999999,)"), "do not match its bytes"),
        (_forge(_npy(np.arange(4.0)), b"(4,)", b"(-2, -2)"), "do not match its bytes"),
        (_forge(_npy(np.zeros(0)), b"(0,)", b"(-1, 0)"), "do not match its bytes"),
        (_forge(_npy(np.zeros(0)), b"(0,)", f"({MAX_BLOB_VALUES + 1}, 0)".encode()), "do not match its bytes"),
        (_forge(_npy(np.arange(4.0)), b"'<f8'", b"'|O'"), "not a valid .npy blob|do not match its bytes"),
        (_npy(np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])), "do not match its bytes"),
        (_npy(np.array(["ab"])), "do not match its bytes"),
        (_npy(np.array([1 + 2j])), "do not match its bytes"),
    ],
)
def test_damaged_or_forged_blobs_get_one_clear_error(value: Any, match: str) -> None:
    with pytest.raises(StoreError, match=match) as info:
        from_blob(value, "runs.best_x")
    assert str(info.value).startswith("runs.best_x ")


def test_huge_declared_size_is_refused_before_allocating() -> None:
    forged = _forge(_npy(np.arange(4.0)), b"(4,)", b"(4294967296, 4294967296)")
    with pytest.raises(StoreError, match="at most"):
        from_blob(forged)


def test_writer_reader_schema_and_meta(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    schema = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    conn = open_writer(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    migrated: list[int] = []
    create_schema(conn, schema, 3, migrate=lambda c: migrated.append(1))
    create_schema(conn, schema, 4)  # the version a store was created with is kept
    set_meta(conn, config={"b": 1, "a": [1, 2]}, name="x")
    assert get_meta(conn, "schema_version") == 3
    assert get_meta(conn, "config") == {"a": [1, 2], "b": 1}
    assert get_meta(conn, "missing") is None
    assert migrated == [1]
    conn.close()
    reader = open_reader(db)
    assert get_meta(reader, "name") == "x"
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("INSERT INTO meta VALUES ('k', '1')")
    reader.close()


def test_writer_runs_its_check_before_writing_and_closes_on_error(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE other (x)")

    def refuse(conn: sqlite3.Connection) -> None:
        raise StoreError("someone else's database")

    with pytest.raises(StoreError, match="someone else"):
        open_writer(db, before=refuse)
    with sqlite3.connect(db) as conn:  # never switched to WAL
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_reader_raises_the_last_error_and_propagates_its_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        open_reader(bad, check=lambda c: c.execute("SELECT * FROM sqlite_master").fetchall() and None)
    good = tmp_path / "good.sqlite"
    sqlite3.connect(good).close()

    def check(conn: sqlite3.Connection) -> None:
        raise StoreError("wrong schema")

    with pytest.raises(StoreError, match="wrong schema"):
        open_reader(good, check=check)


def test_versions() -> None:
    got = versions(("numpy", "no-such-package-xyz", "latentbridge"))
    assert list(got) == ["numpy", "latentbridge"]
    assert got["numpy"] == np.__version__
    got["numpy"] = "changed"
    assert versions(("numpy", "no-such-package-xyz", "latentbridge"))["numpy"] == np.__version__
