"""Archive storage: plain arrays in an uncompressed npz, read back with bounds; forged files are refused."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from latentbridge.errors import StoreError
from latentbridge.qd import (
    Archive,
    Grid,
    QualityDiversity,
    archive_from_bytes,
    archive_to_bytes,
    load_archive,
    save_archive,
    solve,
)
from latentbridge.qd._store import read_arrays, write_arrays


@pytest.fixture
def archive(tiny_qd: QualityDiversity) -> Archive:
    return solve(tiny_qd, "cma-me", budget=60, seed=0, grid=8, emitters=2, batch_size=10).archive


def _same(a: Archive, b: Archive) -> None:
    assert a.grid == b.grid
    assert a.learning_rate == b.learning_rate
    assert a.threshold_min == b.threshold_min
    for name in ("index", "solution", "objective", "measures", "threshold"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_round_trip_bytes_and_file(archive: Archive, tmp_path: Path) -> None:
    blob = archive_to_bytes(archive)
    _same(archive_from_bytes(blob), archive)
    path = save_archive(archive, tmp_path / "a" / "archive.npz")
    _same(load_archive(path), archive)
    assert archive_from_bytes(blob).metrics() == archive.metrics()
    with np.load(path, allow_pickle=False) as npz:  # plain numpy reads it, without pickles
        assert np.array_equal(npz["solution"], archive.solution)


def test_a_soft_archive_keeps_its_thresholds() -> None:
    grid = Grid((3,), ((0.0, 1.0),), 0.0, ("m",))
    soft = Archive(grid, np.array([1]), np.ones((1, 2)), np.array([0.8]), np.array([[0.5]]), np.array([0.01]),
                   learning_rate=0.01, threshold_min=0.0)  # fmt: skip
    back = archive_from_bytes(archive_to_bytes(soft))
    _same(back, soft)


def _members(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(members: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, arr, allow_pickle=True)
    return out.getvalue()


def test_forged_files_are_refused(archive: Archive) -> None:
    blob = archive_to_bytes(archive)
    parts = _members(blob)
    cases: list[tuple[bytes, str]] = [
        (b"not a zip at all", "not a latentbridge array file"),
        (_zip({**parts, "extra.npy": parts["index.npy"]}), "expected members"),
        (_zip(parts, zipfile.ZIP_DEFLATED), "compressed"),
        (_zip({**parts, "solution.npy": _npy(np.array([object()]))}), "dtype"),
        (_zip({**parts, "objective.npy": _npy(np.zeros(3, dtype=np.float32))}), "dtype"),
        (_zip({**parts, "meta.json": b"[1, 2"}), "not JSON"),
        (_zip({**parts, "meta.json": json.dumps({"format": "other"}).encode()}), "format"),
    ]
    # a header that claims a huge array in a few bytes: refused before anything is allocated
    header = _npy(np.zeros(2))
    huge = header.replace(b"(2,)", b"(10000000000000,)".ljust(4)[: len(b"(10000000000000,)")])
    cases.append((_zip({**parts, "objective.npy": huge}), "truncated or forged"))
    for forged, match in cases:
        with pytest.raises(StoreError, match=match):
            archive_from_bytes(forged)
    with pytest.raises(StoreError, match="more than the 100 this reader accepts"):
        archive_from_bytes(blob, max_bytes=100)


def test_inconsistent_contents_are_refused(archive: Archive) -> None:
    parts = _members(archive_to_bytes(archive))
    n = len(archive)
    dup = np.zeros(n, dtype=np.int64)
    bad_measures = np.full((n, 2), np.nan)
    short = archive.solution[:-1]
    for name, arr, match in [
        ("index", dup, "distinct"),
        ("measures", bad_measures, "NaN"),
        ("solution", short, "solution must be"),
        ("index", archive.index.astype(np.float64), "dtype"),
    ]:
        with pytest.raises(StoreError, match=match):
            archive_from_bytes(_zip({**parts, f"{name}.npy": _npy(arr)}))


def test_write_and_read_arrays_directly() -> None:
    blob = write_arrays({"k": 1}, {"a": np.arange(3, dtype=np.int64), "b": np.zeros((2, 2))})
    meta, arrays = read_arrays(blob, ("a", "b"), "test")
    assert meta == {"k": 1}
    assert arrays["a"].tolist() == [0, 1, 2]
    assert arrays["b"].shape == (2, 2)
    with pytest.raises(StoreError, match="expected members"):
        read_arrays(blob, ("a",), "test")


def test_load_archive_checks_the_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        load_archive(tmp_path / "missing.npz")
    big = tmp_path / "big.npz"
    big.write_bytes(b"x" * 200)
    with pytest.raises(StoreError, match="more than the 100"):
        load_archive(big, max_bytes=100)
