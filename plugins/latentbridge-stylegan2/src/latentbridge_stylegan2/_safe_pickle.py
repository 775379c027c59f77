"""A restricted unpickler for NVIDIA network snapshots: an allow-list of globals, no imports, no exec, bounded.

Built on :class:`latentbridge.models.safe_load.RestrictedUnpickler` (plain containers only, declared
lengths checked against the bytes present, opcodes / memo / nesting / tree size capped, every tensor's
extent checked against its storage before it is created); this module adds what NVIDIA's
``stylegan2-ada-pytorch`` snapshots contain: persistent modules (kept as data, their source never
run), ``EasyDict``, numpy scalars of plain numeric dtypes, and storages embedded as legacy
``torch.save`` blobs (parsed here, not by ``torch.load``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

import numpy as np
import torch
from latentbridge.errors import UnsafeFileError
from latentbridge.models.safe_load import (
    DEFAULT_LIMITS,
    Budget,
    Limits,
    RestrictedUnpickler,
    brief,
    check_graph,
    ordered_dict,
    read_legacy_storage,
    rebuild_parameter,
    rebuild_tensor,
)

from .errors import SnapshotLayoutError, UnsafePickleError

__all__ = ["ALLOWED_GLOBALS", "EasyDict", "PersistentRecord", "safe_load", "snapshot_children"]

# numpy dtype kinds a scalar may have: bool, int, uint, float, complex (never object 'O', void, str, time).
_NUMERIC_KINDS = frozenset("biufc")
_DTYPE_STR = re.compile(r"[<>|=]?[biufc][0-9]{1,2}")
_BYTE_ORDERS = frozenset("<>|=")


class EasyDict(dict):  # type: ignore[type-arg]
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (attribute access is not needed here).

    Pickles build it with ``NEWOBJ`` (no arguments) and ``SETITEMS``; called directly it takes
    no arguments either, so a pickle cannot make it iterate over a tensor or any other object.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise UnsafePickleError(f"EasyDict: called with arguments ({brief(args)}); snapshots never do that")
        super().__init__()


@dataclass(frozen=True, eq=False)
class PersistentRecord:
    """What ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` is turned into.

    NVIDIA's persistence layer stores each network module as ``meta = {type, version,
    module_src, class_name, state}`` and rebuilds it by executing ``module_src``. Here the
    source text is dropped unread and only the class name and the ``__dict__`` state are kept.

    Attributes:
        class_name: E.g. ``"Generator"``, ``"SynthesisBlock"``.
        version: The persistence format version (6 for stylegan2-ada-pytorch).
        state: The module's ``__dict__``: ``_parameters``, ``_buffers``, ``_modules``,
            ``_init_args``, ``_init_kwargs``, plain attributes.
        module_src_chars: Length of the (ignored, never executed) embedded source text.
    """

    class_name: str
    version: int | None
    state: dict[str, Any] = field(repr=False)
    module_src_chars: int = 0


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict):
        raise SnapshotLayoutError(f"persistent object: expected a meta dict, found {brief(meta)}")
    if meta.get("type") != "class":
        raise SnapshotLayoutError(f"persistent object: expected meta type 'class', found {brief(meta.get('type'))}")
    class_name, state, src = meta.get("class_name"), meta.get("state"), meta.get("module_src")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise SnapshotLayoutError(
            "persistent object: expected meta with a str 'class_name' and a dict 'state', found "
            f"class_name={brief(class_name)}, state={brief(state)}"
        )
    if len(class_name) > 128:
        raise UnsafeFileError(f"persistent object: class name of {len(class_name)} characters (at most 128)")
    version = meta.get("version")
    return PersistentRecord(
        class_name=class_name,
        version=version if type(version) is int else None,
        state=state,
        module_src_chars=len(src) if isinstance(src, str) else 0,
    )


def _np_dtype(obj: Any, align: Any = False, copy: Any = True) -> np.dtype[Any]:
    if not isinstance(obj, str) or not _DTYPE_STR.fullmatch(obj) or type(align) is not bool or type(copy) is not bool:
        raise UnsafePickleError(
            f"numpy.dtype: only plain numeric dtype strings such as 'f4' are allowed, found {brief(obj)}"
        )
    try:
        dt = np.dtype(obj, align=False, copy=True)  # a fresh instance: BUILD below may set its byte order
    except TypeError as exc:
        raise UnsafePickleError(f"numpy.dtype: {obj!r} is not a numpy dtype") from exc
    if dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.subdtype is not None or dt.hasobject:
        raise UnsafePickleError(f"numpy.dtype: only numeric dtypes are allowed, found {dt!r}")
    return dt


def _check_dtype_state(inst: np.dtype[Any], state: Any) -> tuple[Any, ...]:
    """The BUILD state of a plain numeric dtype: ``(3, byteorder, None, None, None, -1, -1, 0)`` only.

    Anything else (field names, sub-arrays, element sizes, alignment, flags such as
    ``NPY_ITEM_HASOBJECT``) could make numpy read raw bytes as object pointers; it is refused.
    """
    canonical = inst.__reduce__()[2]
    if (
        type(state) is not tuple
        or len(state) != len(canonical)
        or state[1] not in _BYTE_ORDERS
        or state[:1] + state[2:] != canonical[:1] + canonical[2:]
        or (inst.itemsize == 1) != (state[1] == "|")
    ):
        raise UnsafePickleError(
            f"numpy.dtype state {brief(state)} is not that of a plain numeric dtype {inst.str[1:]!r} "
            f"(expected {canonical!r} with byte order '<', '>' or '=')"
        )
    return state


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.fields:
        raise UnsafePickleError(f"numpy scalar: only numeric dtypes are allowed, found {brief(dtype)}")
    if type(data) is not bytes or len(data) != dtype.itemsize:
        raise UnsafePickleError(f"numpy scalar: expected {dtype.itemsize} bytes for {dtype}, found {brief(data)}")
    return np.frombuffer(data, dtype=dtype)[0].copy()


def _set(items: Any = ()) -> set[Any]:
    if type(items) not in (list, tuple) or not all(type(i) is str for i in items):
        raise UnsafePickleError(f"set: expected a list of strings (buffer names), found {brief(items)}")
    return set(items)


def _load_from_bytes(b: Any, *, budget: Budget, label: str) -> torch.TypedStorage:
    return read_legacy_storage(b, label, budget)


def _rebuild_tensor_v2(*args: Any, budget: Budget, label: str) -> torch.Tensor:
    return rebuild_tensor(*args, budget=budget, label=label)


def _rebuild_parameter(*args: Any, label: str = "snapshot") -> torch.nn.Parameter:
    return rebuild_parameter(*args, label=label)


#: (module, name) -> the object the unpickler hands out instead of importing anything.
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): ordered_dict,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy", "dtype"): _np_dtype,
    ("builtins", "set"): _set,
}

_NEEDS_BUDGET = frozenset({_load_from_bytes, _rebuild_tensor_v2, ordered_dict})


class _RestrictedUnpickler(RestrictedUnpickler):
    """:class:`RestrictedUnpickler` with the snapshot allow-list; ``BUILD`` also on plain numpy dtypes."""

    newobj_types: ClassVar[tuple[type, ...]] = (EasyDict,)

    def allowed_globals(self) -> dict[tuple[str, str], Any]:
        out: dict[tuple[str, str], Any] = {}
        for key, func in ALLOWED_GLOBALS.items():
            if func in _NEEDS_BUDGET:
                out[key] = _bind(func, budget=self.budget, label=self.label)
            elif func is _rebuild_parameter:
                out[key] = _bind(func, label=self.label)
            else:
                out[key] = func
        return out

    def build(self, inst: Any, state: Any) -> None:
        if isinstance(inst, np.dtype) and type(state) is tuple:
            inst.__setstate__(_check_dtype_state(inst, state))  # type: ignore[attr-defined]
            return
        super().build(inst, state)


def _bind(func: Callable[..., Any], **bound: Any) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        return func(*args, **bound)

    call.__name__ = getattr(func, "__name__", "call")
    return call


def snapshot_children(obj: Any) -> Iterable[Any] | None:
    """Children of a node of an unpickled snapshot (for :func:`~latentbridge.models.safe_load.check_graph`)."""
    if isinstance(obj, PersistentRecord):
        return (obj.state,)
    t = type(obj)
    if t in (list, tuple, set, frozenset):
        return obj  # type: ignore[no-any-return]
    if isinstance(obj, Mapping):
        return [x for kv in obj.items() for x in kv]
    return None


def safe_load(file: IO[bytes], label: str = "snapshot", limits: Limits = DEFAULT_LIMITS) -> Any:
    """Unpickle ``file`` with the restricted, bounded unpickler.

    Only the globals in :data:`ALLOWED_GLOBALS` can be referenced; NVIDIA's persistent
    modules come back as :class:`PersistentRecord` (their embedded source is never run),
    tensors as CPU tensors checked against their storages, ``EasyDict`` as :class:`EasyDict`.
    Nesting is checked as each container is built (keys included), what the pickle builds is
    counted against ``limits.memory_ratio`` × the stream's size + ``limits.memory_slack`` (a blob
    parsed again through the memo pays again), and the result is checked to be at most
    ``limits.max_expanded`` nodes when read as a tree, with its tensors counted once per reference.

    Args:
        file: A binary file positioned at the start of a pickle.
        label: Name of the file in messages.
        limits: Bounds of the reader.

    Returns:
        The unpickled object tree.

    Raises:
        UnsafePickleError: The pickle references anything outside the allow-list.
        UnsafeFileError: The pickle is malformed, forged or beyond ``limits``.
        SnapshotLayoutError: A persistent object's meta data is malformed.
    """
    budget = Budget(limits)
    obj = _RestrictedUnpickler(file, label, budget).load()
    check_graph(obj, label, limits, snapshot_children, budget=budget)
    return obj
