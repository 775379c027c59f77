"""Archives and run journals as plain arrays: an uncompressed ``.npz`` with a JSON header, never a pickle.

The format is a stored (uncompressed) zip of ``meta.json`` and ``.npy`` members of plain
little-endian numbers, which ``numpy.load(..., allow_pickle=False)`` also reads. The reader
here is bounded: the blob's size is capped, the members must be exactly the expected
ones, each ``.npy`` header is parsed and its shape checked against the member's size
before anything is allocated, dtypes are restricted to float64/int64/uint8, and the
arrays are checked against each other and the grid (a forged file raises one
:class:`~latentbridge.errors.StoreError` naming the field).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, StoreError
from ._archive import Archive
from ._grid import Grid

__all__ = [
    "FORMAT",
    "MAX_BYTES",
    "archive_from_bytes",
    "archive_to_bytes",
    "load_archive",
    "read_arrays",
    "save_archive",
    "write_arrays",
]

#: Format tag of stored archives (``meta.json``'s ``"format"``).
FORMAT = "latentbridge-qd-archive/1"
#: The largest blob or file the readers accept (1 GiB).
MAX_BYTES = 1 << 30
_MAX_META = 1 << 20
_DTYPES = {np.dtype("<f8"), np.dtype("<i8"), np.dtype("|u1")}
_ARCHIVE_ARRAYS = ("index", "solution", "objective", "measures", "threshold")


def write_arrays(meta: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> bytes:
    """``meta`` (JSON) and named arrays as an uncompressed ``.npz`` blob (no pickles).

    Members carry a fixed date, so the same archive always gives the same bytes (a resumed bench
    stores exactly what an uninterrupted one does).
    """
    buf = io.BytesIO()

    def member(name: str) -> zipfile.ZipInfo:
        return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))

    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(member("meta.json"), json.dumps(meta, sort_keys=True, allow_nan=True))
        for name, arr in arrays.items():
            a = np.ascontiguousarray(arr)
            if a.dtype.newbyteorder("<") != a.dtype and a.dtype.itemsize > 1:
                a = a.astype(a.dtype.newbyteorder("<"))
            if a.dtype not in _DTYPES:
                raise InputError(f"array {name!r} has dtype {a.dtype}; stored arrays are float64, int64 or uint8")
            data = io.BytesIO()
            np.lib.format.write_array(data, a, allow_pickle=False)
            zf.writestr(member(f"{name}.npy"), data.getvalue())
    return buf.getvalue()


def _npy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> NDArray[Any]:
    """One ``.npy`` member, its header checked against its size before the data is read."""
    fmt = np.lib.format
    with zf.open(info) as fh:
        try:
            version = fmt.read_magic(fh)
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = reader(fh, max_header_size=10_000)
            offset = fh.tell()
        except (ValueError, OSError, SyntaxError, EOFError) as exc:
            raise StoreError(f"{what}: member {info.filename} is not a readable .npy array ({exc})") from None
        if dtype not in _DTYPES or fortran:
            raise StoreError(f"{what}: member {info.filename} holds dtype {dtype}; expected float64, int64 or uint8")
        count = math.prod(int(s) for s in shape)
        if any(int(s) < 0 for s in shape) or offset + count * dtype.itemsize != info.file_size:
            raise StoreError(
                f"{what}: member {info.filename} declares shape {shape} but holds {info.file_size - offset} data bytes "
                "(truncated or forged)"
            )
        raw = fh.read(count * dtype.itemsize)
    if len(raw) != count * dtype.itemsize:
        raise StoreError(f"{what}: member {info.filename} is truncated")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def read_arrays(
    blob: bytes, names: tuple[str, ...], what: str, *, max_bytes: int = MAX_BYTES
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """``(meta, arrays)`` of a blob made by :func:`write_arrays` with exactly the arrays ``names``; bounded.

    Raises:
        StoreError: too large, not such a zip, other members, compressed members, forged headers.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise InputError(f"{what}: expected bytes, got {type(blob).__name__}")
    if len(blob) > max_bytes:
        raise StoreError(f"{what}: {len(blob):,} bytes is more than the {max_bytes:,} this reader accepts")
    try:
        zf = zipfile.ZipFile(io.BytesIO(bytes(blob)))
    except zipfile.BadZipFile as exc:
        raise StoreError(f"{what}: not a latentbridge array file ({exc})") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        expected = {"meta.json", *(f"{n}.npy" for n in names)}
        if set(infos) != expected or len(zf.infolist()) != len(expected):
            raise StoreError(f"{what}: expected members {sorted(expected)}, found {sorted(infos)}")
        for info in infos.values():
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise StoreError(f"{what}: member {info.filename} is compressed; stored files never are")
            if info.file_size > len(blob):
                raise StoreError(f"{what}: member {info.filename} declares more bytes than the file has")
        if infos["meta.json"].file_size > _MAX_META:
            raise StoreError(f"{what}: meta.json is larger than {_MAX_META:,} bytes")
        try:
            meta = json.loads(zf.read("meta.json").decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(f"{what}: meta.json is not JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise StoreError(f"{what}: meta.json must hold an object")
        arrays = {n: _npy(zf, infos[f"{n}.npy"], what) for n in names}
    return meta, arrays


def archive_to_bytes(archive: Archive) -> bytes:
    """An :class:`~latentbridge.qd.Archive` as bytes (for a file or a database blob); see :func:`archive_from_bytes`."""
    meta = {
        "format": FORMAT,
        "grid": archive.grid.config(),
        "learning_rate": archive.learning_rate,
        "threshold_min": None if not np.isfinite(archive.threshold_min) else archive.threshold_min,
    }
    arrays = {
        "index": archive.index.astype(np.int64),
        "solution": archive.solution.astype(np.float64),
        "objective": archive.objective.astype(np.float64),
        "measures": archive.measures.astype(np.float64),
        "threshold": archive.threshold.astype(np.float64),
    }
    return write_arrays(meta, arrays)


def archive_from_bytes(blob: bytes, *, max_bytes: int = MAX_BYTES) -> Archive:
    """The archive :func:`archive_to_bytes` wrote, checked (bounded, no pickles, shapes and values validated).

    Raises:
        StoreError: the blob is not such an archive, or is forged, truncated or inconsistent.
    """
    what = "archive"
    meta, arr = read_arrays(blob, _ARCHIVE_ARRAYS, what, max_bytes=max_bytes)
    if meta.get("format") != FORMAT:
        raise StoreError(f"{what}: format {meta.get('format')!r} is not {FORMAT!r}")
    try:
        grid = Grid.from_config(meta.get("grid"))
    except InputError as exc:
        raise StoreError(f"{what}: {exc}") from None
    kinds = {"index": "i", "solution": "f", "objective": "f", "measures": "f", "threshold": "f"}
    for name, kind in kinds.items():
        if arr[name].dtype.kind != kind:
            raise StoreError(f"{what}: {name} has dtype {arr[name].dtype}")
    for name in ("solution", "objective", "measures", "threshold"):
        if not np.all(np.isfinite(arr[name])):
            raise StoreError(f"{what}: {name} holds NaN or inf")
    lr, tmin = meta.get("learning_rate"), meta.get("threshold_min")
    if not isinstance(lr, (int, float)) or not 0 <= lr <= 1 or not (tmin is None or isinstance(tmin, (int, float))):
        raise StoreError(f"{what}: learning_rate {lr!r} / threshold_min {tmin!r} are invalid")
    if arr["index"].ndim != 1 or arr["index"].shape[0] > grid.cells:
        raise StoreError(f"{what}: index must hold at most {grid.cells} cells, got shape {arr['index'].shape}")
    try:
        return Archive(
            grid=grid,
            index=arr["index"],
            solution=arr["solution"],
            objective=arr["objective"],
            measures=arr["measures"],
            threshold=arr["threshold"],
            learning_rate=float(lr),
            threshold_min=-np.inf if tmin is None else float(tmin),
        )
    except InputError as exc:
        raise StoreError(f"{what}: {exc}") from None


def save_archive(archive: Archive, path: str | Path) -> Path:
    """Write ``archive`` to ``path`` (``.npz``; written to a temporary file, then renamed)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(archive_to_bytes(archive))
    os.replace(tmp, p)
    return p


def load_archive(path: str | Path, *, max_bytes: int = MAX_BYTES) -> Archive:
    """Read an archive :func:`save_archive` wrote (size checked before reading)."""
    return archive_from_bytes(read_file(path, "archive", max_bytes), max_bytes=max_bytes)


def read_file(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file no larger than ``max_bytes``."""
    p = Path(path)
    if not p.is_file():
        raise StoreError(f"{what}: no such file {p}")
    size = p.stat().st_size
    if size > max_bytes:
        raise StoreError(f"{what}: {p} has {size:,} bytes, more than the {max_bytes:,} this reader accepts")
    return p.read_bytes()
