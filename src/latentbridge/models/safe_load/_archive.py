"""Zip archives (``torch.save`` files, ``.npz``): every fault of the archive layer is one clear error."""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from ...errors import LatentBridgeError, UnsafeFileError, WeightsError
from ._limits import DEFAULT_LIMITS, Budget, Limits, brief

try:  # pragma: no cover - lzma is optional in CPython builds
    from lzma import LZMAError as _LZMAError
except ImportError:  # pragma: no cover
    _LZMAError = OSError  # type: ignore[assignment,misc]

__all__ = ["NPZ_MAX_RATIO", "archive_errors", "check_member", "open_zip", "read_npz"]

#: What zip / zlib / lzma / bz2 raise on encrypted, corrupt or unsupported entries (RuntimeError:
#: "... is encrypted, password required"; NotImplementedError: unknown compression method).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    _LZMAError,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    struct.error,
    KeyError,
    IndexError,
    OverflowError,
)
NPZ_MAX_RATIO = 64
"""Uncompressed / compressed size a ``.npz`` member may have (weights compress ~1.1×)."""
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


@contextmanager
def archive_errors(label: str, member: str | None = None) -> Iterator[None]:
    """Turn every error of the zip layer inside the block into one :class:`UnsafeFileError` naming the file."""
    try:
        yield
    except LatentBridgeError:
        raise
    except _ZIP_ERRORS as exc:
        where = f"{label}[{brief(member)}]" if member is not None else label
        raise UnsafeFileError(
            f"{where}: cannot read the zip archive (corrupt, encrypted or of an unsupported kind): "
            f"{type(exc).__name__}: {str(exc)[:200]}"
        ) from exc


def open_zip(path: Path, label: str, limits: Limits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)`` with its faults as :class:`UnsafeFileError` and at most ``max_records`` entries."""
    with archive_errors(label):
        z = zipfile.ZipFile(path)
    if len(z.infolist()) > limits.max_records:
        z.close()
        raise UnsafeFileError(f"{label}: zip archive with more than {limits.max_records} entries")
    return z


def check_member(info: zipfile.ZipInfo, label: str, methods: Mapping[int, str] = _METHODS) -> None:
    """Refuse an encrypted entry or one compressed with a method not in ``methods`` before opening it."""
    name = brief(info.filename)
    if info.flag_bits & 0x1:
        raise UnsafeFileError(
            f"{label}: archive entry {name} is encrypted (password-protected); weights files are never encrypted"
        )
    if info.compress_type not in methods:
        raise UnsafeFileError(
            f"{label}: archive entry {name} uses compression method {info.compress_type}; only "
            f"{' and '.join(methods.values())} entries are read"
        )


def read_npz(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, torch.Tensor]:
    """The arrays of an ``.npz`` file as CPU tensors, each ``.npy`` header checked before its data is read.

    Members must be stored or deflated (not encrypted), expand at most :data:`NPZ_MAX_RATIO` times
    (+ 1 MiB) and all together at most ``limits.memory_ratio`` times the file (+ ``memory_slack``);
    arrays must be plain numeric, and their header must match the member's size.

    Raises:
        UnsafeFileError: Anything else, naming the file and member.
        WeightsError: The file cannot be opened.
    """
    p = Path(path)
    label = repr(str(p))
    try:
        budget = Budget(limits, file_bytes=p.stat().st_size)
    except OSError as exc:
        raise WeightsError(f"{label}: cannot open: {exc}") from exc
    out: dict[str, torch.Tensor] = {}
    with open_zip(p, label, limits) as z:
        for info in z.infolist():
            check_member(info, label)
            where = f"{label}[{brief(info.filename)}]"
            if info.file_size > NPZ_MAX_RATIO * max(info.compress_size, 1) + (1 << 20):
                raise UnsafeFileError(
                    f"{where}: the member expands {info.file_size} bytes from {info.compress_size} (a zip bomb?); "
                    "refused"
                )
            budget.add_bytes(info.file_size, where)
            with archive_errors(label, info.filename), z.open(info) as f:
                out[info.filename.removesuffix(".npy")] = _read_npy(f, info.file_size, where)
    return out


def _read_npy(f: IO[bytes], size: int, label: str) -> torch.Tensor:
    fmt: Any = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(f, max_header_size=10000)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = fmt.read_array_header_2_0(f, max_header_size=10000)
    else:
        raise UnsafeFileError(f"{label}: unsupported .npy version {version}")
    if dtype.kind not in "biuf" or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise UnsafeFileError(f"{label}: dtype {dtype} refused (only plain numeric arrays)")
    if len(shape) > 16 or not all(type(n) is int and n >= 0 for n in shape):
        raise UnsafeFileError(f"{label}: malformed shape {brief(shape)}")
    nbytes = math.prod(shape) * dtype.itemsize
    header = f.tell()
    if header + nbytes != size:
        raise UnsafeFileError(
            f"{label}: the header declares {shape} {dtype} ({nbytes} bytes) but the member holds "
            f"{size - header} bytes of data"
        )
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise UnsafeFileError(f"{label}: truncated data ({len(data)} of {nbytes} bytes)")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return torch.from_numpy(np.array(arr, dtype=dtype.newbyteorder("="), order="C", copy=True))
