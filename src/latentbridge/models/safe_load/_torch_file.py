"""``torch.save`` files, zip or legacy layout, read without ``torch.load``."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch

from ...errors import LatentBridgeError, UnsafeFileError, UnsafePickleError, WeightsError
from ._archive import archive_errors, check_member, open_zip
from ._graph import check_graph
from ._limits import DEFAULT_LIMITS, Budget, Limits, brief
from ._pickle import MALFORMED, BoundedReader, RestrictedUnpickler, stream_size
from ._tensors import STORAGE_TYPES, StorageType, element_size, rebuild_parameter, rebuild_tensor, storage_from_bytes

__all__ = ["load_torch_file", "read_legacy_storage", "read_state_dict"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORED = {0: "stored (torch.save stores entries uncompressed)"}


@dataclass(frozen=True)
class _StorageDecl:
    """A storage declared by a legacy pickle, before its bytes are read (first pass)."""

    key: str
    dtype: torch.dtype
    numel: int


class _Deferred:
    """What tensors are during the first pass over a legacy pickle (their storages are not read yet)."""


class _TorchUnpickler(RestrictedUnpickler):
    """The pickle of a ``torch.save`` file: state dicts of tensors, storages as persistent ids."""

    def __init__(
        self,
        file: IO[bytes] | BoundedReader,
        label: str,
        budget: Budget | None,
        storage: Callable[[str, torch.dtype, int, Any], Any],
    ) -> None:
        self._storage = storage
        super().__init__(file, label, budget)

    def allowed_globals(self) -> dict[tuple[str, str], Any]:
        out = super().allowed_globals()
        b, lab = self.budget, self.label
        out[("torch._utils", "_rebuild_tensor_v2")] = _partial_tensor(b, lab)
        out[("torch._utils", "_rebuild_parameter")] = _partial_parameter(lab)
        for name, dtype in STORAGE_TYPES.items():
            out[("torch", name)] = StorageType(name, dtype)
        return out

    def persistent_load(self, pid: Any) -> Any:
        if type(pid) is not tuple or len(pid) not in (5, 6) or pid[0] != "storage":
            raise UnsafePickleError(f"{self.label}: refusing persistent id {brief(pid)} (not a torch storage)")
        _, stype, key, location, numel = pid[:5]
        if len(pid) == 6 and pid[5] is not None:
            raise UnsafePickleError(f"{self.label}: storage views (legacy view_metadata) are not supported")
        if not isinstance(stype, StorageType) or type(key) is not str or type(numel) is not int or numel < 0:
            raise UnsafeFileError(f"{self.label}: malformed storage record {brief(pid)}")
        if len(key) > self.limits.max_line:
            raise UnsafeFileError(f"{self.label}: storage key longer than {self.limits.max_line} characters")
        return self._storage(key, stype.dtype, numel, location)


def _partial_tensor(budget: Budget, label: str) -> Callable[..., Any]:
    def _rebuild_tensor_v2(*args: Any) -> Any:
        if args and isinstance(args[0], _StorageDecl):
            return _Deferred()
        return rebuild_tensor(*args, budget=budget, label=label)

    return _rebuild_tensor_v2


def _partial_parameter(label: str) -> Callable[..., Any]:
    def _rebuild_parameter(data: Any, *args: Any) -> Any:
        if isinstance(data, _Deferred):
            return data
        return rebuild_parameter(data, *args, label=label)

    return _rebuild_parameter


# ------------------------------------------------------------------------------------ legacy torch.save
def _plain_pickle(reader: BoundedReader, label: str, budget: Budget) -> Any:
    return RestrictedUnpickler(reader, label, budget).load()


def _read_legacy(reader: BoundedReader, file: IO[bytes], label: str, budget: Budget) -> Any:
    """Legacy ``torch.save`` layout: magic, protocol, sys info, object pickle, storage keys, raw storages."""
    magic = _plain_pickle(reader, label, budget)
    if magic != _LEGACY_MAGIC:
        raise UnsafeFileError(f"{label}: not a torch.save file (bad magic number {brief(magic)})")
    proto = _plain_pickle(reader, label, budget)
    if proto != _LEGACY_PROTOCOL:
        raise UnsafeFileError(f"{label}: unsupported legacy torch.save protocol {brief(proto)}")
    info = _plain_pickle(reader, label, budget)
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise UnsafeFileError(f"{label}: only little-endian legacy torch.save files are supported")
    start = file.tell()
    decls: dict[str, _StorageDecl] = {}

    def declare(key: str, dtype: torch.dtype, numel: int, location: Any) -> Any:
        old = decls.setdefault(key, _StorageDecl(key, dtype, numel))
        if old.dtype != dtype or old.numel != numel:
            raise UnsafeFileError(f"{label}: storage {key!r} declared twice with different types or sizes")
        return old

    built = budget.built_bytes
    _TorchUnpickler(reader, label, budget, declare).load()  # pass 1: declarations only, tensors deferred
    budget.built_bytes = built  # what pass 1 built is gone
    end_of_object = file.tell()
    keys = _plain_pickle(reader, label, budget)
    if type(keys) is not list or not all(type(k) is str for k in keys) or len(set(keys)) != len(keys):
        raise UnsafeFileError(f"{label}: malformed legacy storage key list ({brief(keys)})")
    if set(keys) != set(decls):
        raise UnsafeFileError(f"{label}: the storage key list does not match the storages the pickle declares")
    storages: dict[str, torch.TypedStorage] = {}
    for key in keys:
        d = decls[key]
        (numel,) = struct.unpack("<q", reader.read(8))
        if numel != d.numel:
            raise UnsafeFileError(
                f"{label}: storage {key!r} is declared with {d.numel} elements but its data record says {numel}"
            )
        nbytes = numel * element_size(d.dtype)
        if nbytes > reader.remaining():
            reader.read(nbytes)  # refused: declares more bytes than remain
        budget.add_storage(numel, label, nbytes)
        storages[key] = storage_from_bytes(reader.read(nbytes), d.dtype)
    end = file.tell()
    # pass 2: the object pickle again, now with the real storages
    file.seek(start)
    second = BoundedReader(file, end_of_object - start, label, budget.limits)

    def lookup(key: str, dtype: torch.dtype, numel: int, location: Any) -> Any:
        return storages[key]

    obj = _TorchUnpickler(second, label, budget, lookup).load()
    file.seek(end)
    return obj


def read_legacy_storage(data: bytes, label: str, budget: Budget) -> torch.TypedStorage:
    """The storage in ``torch.storage._load_from_bytes(data)`` (how pickled storages embed themselves).

    ``data`` is a legacy ``torch.save`` of one storage; it is parsed here, its declared element
    count checked against the bytes present before anything is allocated (``torch.load`` would
    allocate the declared size first). The storage is counted in ``budget`` each time (a snapshot
    that parses one memoised blob many times pays for each copy).
    """
    if type(data) is not bytes:
        raise UnsafePickleError(f"{label}: _load_from_bytes expects bytes, found {brief(data)}")
    f = io.BytesIO(data)
    obj = _read_legacy(BoundedReader(f, len(data), label, budget.limits), f, label, budget)
    if not isinstance(obj, torch.TypedStorage):
        raise UnsafePickleError(f"{label}: _load_from_bytes must hold a tensor storage, found {brief(obj)}")
    return obj


# --------------------------------------------------------------------------------------- zip torch.save
def _read_zip(path: Path, label: str, budget: Budget) -> Any:
    size = path.stat().st_size
    with open_zip(path, label, budget.limits) as z:
        by_name = {i.filename: i for i in z.infolist()}
        for info in by_name.values():
            check_member(info, label, _STORED)
        pkls = [n for n in by_name if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise UnsafeFileError(f"{label}: not a torch.save archive (expected one '<name>/data.pkl' entry)")
        prefix = pkls[0][: -len("data.pkl")]

        def entry(name: str) -> bytes:
            info = by_name.get(name)
            if info is None:
                raise UnsafeFileError(f"{label}: the archive has no entry {name!r}")
            if info.file_size > size:
                raise UnsafeFileError(f"{label}: archive entry {name!r} is larger than the file")
            with archive_errors(label, name):
                return z.read(info)

        order = by_name.get(prefix + "byteorder")
        if order is not None and entry(prefix + "byteorder") != b"little":
            raise UnsafeFileError(f"{label}: only little-endian torch.save files are supported")
        storages: dict[str, torch.TypedStorage] = {}

        def storage(key: str, dtype: torch.dtype, numel: int, location: Any) -> Any:
            if key in storages:
                s = storages[key]
                if s.dtype != dtype or s._untyped_storage.nbytes() != numel * element_size(dtype):
                    raise UnsafeFileError(f"{label}: storage {key!r} declared twice with different types or sizes")
                return s
            name = f"{prefix}data/{key}"
            info = by_name.get(name)
            nbytes = numel * element_size(dtype)
            if info is None or info.file_size != nbytes:
                found = "missing" if info is None else f"{info.file_size} bytes"
                raise UnsafeFileError(
                    f"{label}: storage {key!r} is declared with {numel} {dtype} elements ({nbytes} bytes) but its "
                    f"record is {found}"
                )
            budget.add_storage(numel, label, nbytes)
            storages[key] = storage_from_bytes(entry(name), dtype)
            return storages[key]

        data = entry(prefix + "data.pkl")
        return _TorchUnpickler(io.BytesIO(data), label, budget, storage).load()


def load_torch_file(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Read a ``torch.save`` file (zip or legacy format) without ``torch.load``: checked, bounded, nothing run.

    Accepts what state dicts are made of: dicts / ``OrderedDict`` / lists / tuples of tensors,
    parameters, numbers and strings. Tensors come back on CPU, in the file's dtype. Reading builds
    at most ``limits.memory_ratio`` times the file's size (+ ``limits.memory_slack``).

    Args:
        path: The file.
        limits: Bounds of the reader.

    Returns:
        The object tree.

    Raises:
        UnsafeFileError: The file is corrupt, forged, or exceeds ``limits`` (the message says which).
        UnsafePickleError: The file asks for a global or operation outside the allow-list.
        WeightsError: The file cannot be opened.
    """
    p = Path(path)
    label = repr(str(p))
    try:
        budget = Budget(limits, file_bytes=p.stat().st_size)
        if zipfile.is_zipfile(p):
            obj = _read_zip(p, label, budget)
        else:
            with open(p, "rb") as f:
                obj = _read_legacy(BoundedReader(f, stream_size(f), label, limits), f, label, budget)
    except LatentBridgeError:
        raise
    except OSError as exc:
        raise WeightsError(f"{label}: cannot open: {exc}") from exc
    except MALFORMED as exc:
        raise UnsafeFileError(f"{label}: cannot read as a torch.save file: {type(exc).__name__}: {exc}") from exc
    check_graph(obj, label, limits, budget=budget)
    return obj


def read_state_dict(path: str | Path, *, keys: Iterable[str] = ("state_dict",)) -> dict[str, torch.Tensor]:
    """A ``str -> tensor`` state dict from a ``torch.save`` file, read with :func:`load_torch_file`.

    Args:
        path: The file.
        keys: If the file holds a dict with one of these entries being a dict, that entry is used.

    Raises:
        UnsafeFileError: Unreadable, forged, or not a state dict.
    """
    obj = load_torch_file(path)
    if isinstance(obj, Mapping):
        for key in keys:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise UnsafeFileError(
            f"{str(path)!r}: expected a state dict (str -> tensor), found {brief(obj)}"
            + (" with non-tensor values" if isinstance(obj, Mapping) else "")
        )
    return {k: (v.detach() if isinstance(v, torch.nn.Parameter) else v) for k, v in obj.items()}
