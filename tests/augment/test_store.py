"""The augment store: stores written before the campaign kernel open, read back and report; damage is refused."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from latentbridge.augment import AugmentStore, AugmentStoreError, augment
from latentbridge.augment.report import write_reports
from latentbridge.augment.shift import SHIFTS
from latentbridge.augment.store import ResultRow, ShiftRow
from latentbridge.errors import StoreError

from .conftest import TINY
from .old_store import write_old_augment_store


@pytest.mark.parametrize("readonly", [True, False])
def test_a_store_written_before_the_kernel_opens(tmp_path: Path, readonly: bool) -> None:
    db = write_old_augment_store(tmp_path / "run" / "augment.sqlite")
    with sqlite3.connect(db) as conn:
        raw = conn.execute("SELECT images FROM sets WHERE arm = 'supervisor' AND seed = 1 AND class = 2").fetchone()[0]
    with AugmentStore(db, readonly=readonly) as store:
        assert store.meta("schema_version") == 1
        assert store.meta("config")["arms"] == ["none", "random", "supervisor"]
        assert store.set_keys() == {(a, s, c) for a in ("random", "supervisor") for s in range(2) for c in range(3)}
        assert len(store.results()) == 12
        row = next(r for r in store.sets("supervisor", 1) if r.label == 2)
        assert row.images.dtype == np.float32
        assert row.images.shape == (6, 1, 8, 8)
        assert row.images.tobytes() == raw[-row.images.nbytes :]
        assert row.latents is not None
        assert row.latents.shape == (6, 100)
        assert row.first_images is not None
        assert np.array_equal(row.first_images, row.images[::-1])
        assert store.generators()[0]["info"] == {"steps": 8}


def test_reports_of_an_old_store_escape_names_from_the_data(tmp_path: Path) -> None:
    out = tmp_path / "run"
    db = write_old_augment_store(out / "augment.sqlite")
    with AugmentStore(db) as store:
        written = write_reports(store, out)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Class cro\\|ss" in md
    assert "Class &lt;diag&gt;" in md
    assert "<diag>" not in md
    for line in md.splitlines():
        if line.startswith("| accuracy |"):  # every table row keeps its columns whatever the names hold
            assert line.replace("\\|", "").count("|") == 9
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;diag&gt;" in html
    assert "<diag>" not in html
    assert (out / "grids" / "class-cro-ss.png").is_file()
    assert all(p.resolve().is_relative_to(out.resolve()) for p in written)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*.png"))


def test_damaged_array_is_refused(tmp_path: Path) -> None:
    db = write_old_augment_store(tmp_path / "augment.sqlite")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sets SET images = 'text' WHERE arm = 'random' AND seed = 0 AND class = 0")
    with (
        AugmentStore(db, readonly=True) as store,
        pytest.raises(StoreError, match=r"augment store .*sets.images of .* holds a TEXT"),
    ):
        list(store.sets())


def test_not_a_store(tmp_path: Path) -> None:
    bad = tmp_path / "augment.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    for readonly in (True, False):
        with pytest.raises(AugmentStoreError, match="is not an augment store"):
            AugmentStore(bad, readonly=readonly)
    with pytest.raises(AugmentStoreError, match="no augment store"):
        AugmentStore(tmp_path / "missing.sqlite", readonly=True)


def _result(arm: str = "affine", seed: int = 0, fold: int = 1, acc: float = 0.8) -> ResultRow:
    return ResultRow(arm, seed, fold, 7, acc, acc, acc, acc - 0.01, 0.5, 12, 0.1)


def _shifts(row: ResultRow, names: tuple[str, ...] = SHIFTS, acc: float = 0.6) -> list[ShiftRow]:
    return [ShiftRow(row.arm, row.seed, row.fold, s, acc - 0.01 * i, acc - 0.02) for i, s in enumerate(names)]


def test_a_result_and_its_shift_rows_are_stored_together(tmp_path: Path) -> None:
    with AugmentStore(tmp_path / "augment.sqlite") as store:
        row = _result()
        store.add_result(row, _shifts(row))
        store.add_result(_result("none", 1, 0))  # no shifts: a run without the shift check
        assert store.result_keys() == {("affine", 0, 1), ("none", 1, 0)}
        got = store.shift_results()
        assert [r.shift for r in got] == sorted(SHIFTS)
        assert {r.shift: r for r in got}["thick"] == ShiftRow("affine", 0, 1, "thick", 0.59, 0.58)
        assert store.shift_keys() == {("affine", 0, 1, s) for s in SHIFTS}
        store.add_result(row, _shifts(row, ("thin",), acc=0.5))  # stored again: its shift rows are replaced
        assert store.shift_results() == [ShiftRow("affine", 0, 1, "thin", 0.5, 0.48)]


@pytest.mark.parametrize(
    ("shift", "pattern"),
    [
        (ShiftRow("none", 0, 1, "thin", 0.5, 0.5), "given with the result of"),
        (ShiftRow("affine", 0, 1, "thin", 1.5, 0.5), r"accuracy must be a number in \[0, 1\], found 1.5"),
        (ShiftRow("affine", 0, 1, "thin", 0.5, math.nan), r"f1 must be a number in \[0, 1\], found nan"),
        (ShiftRow("affine", 0, 1, "", 0.5, 0.5), "one non-empty shift name each"),
    ],
)
def test_bad_shift_rows_are_refused_and_nothing_is_written(tmp_path: Path, shift: ShiftRow, pattern: str) -> None:
    with AugmentStore(tmp_path / "augment.sqlite") as store:
        with pytest.raises(AugmentStoreError, match=pattern):
            store.add_result(_result(), [shift])
        with pytest.raises(AugmentStoreError, match="twice"):
            store.add_result(_result(), [ShiftRow("affine", 0, 1, "thin", 0.5, 0.5)] * 2)
        assert store.result_keys() == set()
        assert store.shift_results() == []


def test_a_failing_shift_row_leaves_no_result_behind(tmp_path: Path) -> None:
    db = tmp_path / "augment.sqlite"
    AugmentStore(db).close()
    with sqlite3.connect(db) as conn:  # a disk or lock error half-way through the shift rows
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON shift_results WHEN NEW.shift = 'translate' "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with AugmentStore(db) as store:
        row = _result()
        with pytest.raises(AugmentStoreError, match="disk full"):
            store.add_result(row, _shifts(row))
        assert store.result_keys() == set()  # the result is not stored as finished without its shift rows
        assert store.shift_results() == []


@pytest.mark.parametrize(
    ("sql", "pattern"),
    [
        ("UPDATE shift_results SET accuracy = 1.5", r"accuracy is 1.5, not a score in \[0, 1\]"),
        ("UPDATE shift_results SET f1 = -0.25", r"f1 is -0.25, not a score"),
        ("UPDATE shift_results SET accuracy = 'high'", "accuracy holds a TEXT value"),
        ("UPDATE shift_results SET seed = 'zero'", "seed holds a TEXT value"),
        ("UPDATE shift_results SET shift = X'00'", "shift holds a BLOB value"),
    ],
)
def test_damaged_shift_rows_are_refused(tmp_path: Path, sql: str, pattern: str) -> None:
    db = tmp_path / "augment.sqlite"
    with AugmentStore(db) as store:
        row = _result()
        store.add_result(row, _shifts(row, ("thin",)))
    with sqlite3.connect(db) as conn:
        conn.execute(sql)
    with AugmentStore(db, readonly=True) as store, pytest.raises(StoreError, match=f"augment store .*{pattern}"):
        store.shift_results()


def test_a_store_written_before_shift_results_opens_and_resumes(tmp_path: Path) -> None:
    db = write_old_augment_store(tmp_path / "run" / "augment.sqlite")
    with AugmentStore(db, readonly=True) as store:  # read-only: no table, no shift rows, nothing written
        assert store.shift_results() == []
        assert store.shift_keys() == set()
        assert len(store.results()) == 12
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'shift_results'").fetchone() is None
    with AugmentStore(db) as store:  # opened to resume: the table is added, the old rows stay
        assert store.meta("schema_version") == 1
        assert len(store.results()) == 12
        row = _result("supervisor", 2, 0)
        store.add_result(row, _shifts(row))
        assert len(store.results()) == 13
        assert store.shift_keys() == {("supervisor", 2, 0, s) for s in SHIFTS}


def test_a_run_resumes_a_store_without_shift_results(shapes: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    settings = {**TINY, "arms": ("none", "affine"), "report": False}
    augment(shapes, out, **settings)
    db = out / "augment.sqlite"
    with sqlite3.connect(db) as conn:  # make it a store written before the table existed, one result short
        conn.execute("DROP TABLE shift_results")
        conn.execute("DELETE FROM results WHERE arm = 'affine' AND seed = 1 AND fold = 1")
    augment(shapes, out, resume=True, **settings)
    with AugmentStore(db, readonly=True) as store:
        assert len(store.results()) == 2 * 2 * 2
        assert isinstance(store.shift_results(), list)
