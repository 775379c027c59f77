"""The campaign store's defences (issue 26 items 6, 7, 9, 12): checked values, snapshots, links, atomic schema."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from latentbridge.campaign import store as cs
from latentbridge.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (id INTEGER PRIMARY KEY, v REAL NOT NULL);
"""


@pytest.mark.parametrize(
    ("text", "kind", "match"),
    [
        ("{bad", None, "is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, None, "nests 100000 levels deep"),
        ('{"a": ' * 65 + "1" + "}" * 65, dict, "nests 65 levels"),
        ("[1, 2]", dict, "holds a JSON list where an object belongs"),
        (b"{}", dict, "holds a BLOB value where JSON text belongs"),
        (3.5, None, "holds a REAL value"),
    ],
)
def test_load_json_refuses_what_is_not_the_expected_json(text: object, kind: type | None, match: str) -> None:
    with pytest.raises(StoreError, match=rf"store X: col {match}"):
        cs.load_json(text, "store X: col", kind)


def test_load_json_reads_brackets_inside_strings_as_text() -> None:
    text = '{"name": "' + "[" * 1000 + '", "x": [[1]]}'
    assert cs.load_json(text, "c", dict) == {"name": "[" * 1000, "x": [[1]]}
    deep_ok = "[" * cs.MAX_JSON_DEPTH + "]" * cs.MAX_JSON_DEPTH
    assert cs.load_json(deep_ok, "c", list) is not None


@pytest.mark.parametrize(
    ("value", "kind", "match"),
    [
        ("many", "int", "TEXT value \\('many'\\) where INT"),
        (1.5, "int", "REAL"),
        (b"\0", "real", "BLOB"),
        (None, "text", "NULL"),
    ],
)
def test_check_value_refuses_other_sql_types(value: object, kind: str, match: str) -> None:
    with pytest.raises(StoreError, match=match):
        cs.check_value(value, kind, "t.c")
    assert cs.check_value(3, "real", "t.c") == 3.0
    assert cs.check_value(None, "real", "t.c", nullable=True) is None


def test_reads_in_a_snapshot_do_not_see_a_commit_made_meanwhile(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    writer = cs.open_writer(db)
    cs.create_schema(writer, SCHEMA, 1)
    with writer:
        writer.execute("INSERT INTO units (v) VALUES (1.0)")
    reader = cs.open_reader(db)
    try:
        with cs.read_snapshot(reader):
            assert reader.execute("SELECT COUNT(*) FROM units").fetchone() == (1,)
            with writer:
                writer.execute("INSERT INTO units (v) VALUES (2.0)")
            with cs.read_snapshot(reader):  # re-entrant: still the same snapshot
                assert reader.execute("SELECT COUNT(*) FROM units").fetchone() == (1,)
        assert reader.execute("SELECT COUNT(*) FROM units").fetchone() == (2,)
    finally:
        reader.close()
        writer.close()


def test_reader_never_reads_around_a_lock(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    writer = cs.open_writer(db)
    cs.create_schema(writer, SCHEMA, 1)
    writer.close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO units (v) VALUES (1.0)")
    seen: list[str] = []

    def check(conn: sqlite3.Connection) -> None:
        seen.append("tried")
        conn.execute("SELECT COUNT(*) FROM units").fetchone()

    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            cs.open_reader(db, timeout=0.1, check=check)
    finally:
        holder.close()
    assert seen == ["tried"]  # the immutable way (which ignores locks and the -wal) was not tried
    assert "locked by another process" in cs.describe_sqlite_error(sqlite3.OperationalError("database is locked"))


def test_immutable_fallback_refuses_a_wal_it_cannot_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "s.sqlite"
    writer = cs.open_writer(db)
    cs.create_schema(writer, SCHEMA, 1)
    with writer:
        writer.execute("INSERT INTO units (v) VALUES (1.0)")
    assert Path(f"{db}-wal").stat().st_size > 0  # committed runs live in the -wal until a checkpoint
    real = sqlite3.connect

    def connect(database: str, *args: object, **kwargs: object) -> sqlite3.Connection:
        if "immutable=1" not in str(database):  # what a read-only folder does to the normal way
            raise sqlite3.OperationalError("unable to open database file")
        return real(database, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", connect)
    try:
        with pytest.raises(StoreError, match="-wal holds writes"):
            cs.open_reader(db)
    finally:
        writer.close()


def test_links_and_special_files_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "mine.txt"
    target.write_text("keep me")
    link = tmp_path / "s.sqlite"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="is a symlink"):
        cs.check_files(link, "store")
    with pytest.raises(StoreError, match="symlink"):
        cs.open_nofollow(link, "lock")
    (tmp_path / "t.sqlite-shm").symlink_to(target)
    with pytest.raises(StoreError, match=r"t\.sqlite-shm is a symlink"):
        cs.open_writer(tmp_path / "t.sqlite")
    assert target.read_text() == "keep me"
    fd, created = cs.open_nofollow(tmp_path / "new.lock", "lock")
    os.close(fd)
    assert created
    fd, created = cs.open_nofollow(tmp_path / "new.lock", "lock")
    os.close(fd)
    assert not created


def test_create_schema_is_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    conn = cs.open_writer(db)

    def fail(_: sqlite3.Connection) -> None:
        raise RuntimeError("killed here")

    with pytest.raises(RuntimeError):
        cs.create_schema(conn, SCHEMA, 1, migrate=fail)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    cs.create_schema(conn, SCHEMA, 1)
    assert cs.check_version(conn, 1, "s") == 1
    cs.set_meta(conn, schema_version=7)
    with pytest.raises(StoreError, match="schema version 7, newer than the 1"):
        cs.check_version(conn, 1, "store s")
    conn.close()
