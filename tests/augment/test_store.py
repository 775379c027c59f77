"""The augment store: stores written before the campaign kernel open, read back and report; damage is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from latentbridge.augment import AugmentStore, AugmentStoreError
from latentbridge.augment.report import write_reports
from latentbridge.errors import StoreError

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
