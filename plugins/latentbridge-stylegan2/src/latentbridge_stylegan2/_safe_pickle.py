"""A restricted unpickler for NVIDIA network snapshots: an allow-list of globals, no imports, no exec."""

from __future__ import annotations

import io
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

import numpy as np
import torch

from .errors import SnapshotLayoutError, UnsafePickleError

__all__ = ["ALLOWED_GLOBALS", "EasyDict", "PersistentRecord", "safe_load"]

# numpy dtype kinds a scalar may have: bool, int, uint, float, complex (never object 'O').
_NUMERIC_KINDS = frozenset("biufc")
_MAX_DTYPE_STR = 8


class EasyDict(dict):  # type: ignore[type-arg]
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (attribute access is not needed here)."""


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
        raise SnapshotLayoutError(f"persistent object: expected a meta dict, found {type(meta).__name__}")
    if meta.get("type") != "class":
        raise SnapshotLayoutError(f"persistent object: expected meta type 'class', found {meta.get('type')!r}")
    class_name, state, src = meta.get("class_name"), meta.get("state"), meta.get("module_src")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise SnapshotLayoutError(
            "persistent object: expected meta with a str 'class_name' and a dict 'state', found "
            f"class_name={type(class_name).__name__}, state={type(state).__name__}"
        )
    version = meta.get("version")
    return PersistentRecord(
        class_name=class_name,
        version=version if isinstance(version, int) else None,
        state=state,
        module_src_chars=len(src) if isinstance(src, str) else 0,
    )


def _check_hooks(hooks: Any, what: str) -> None:
    if hooks is not None and not (isinstance(hooks, Mapping) and len(hooks) == 0):
        raise UnsafePickleError(f"{what}: tensor backward hooks are not allowed (found {type(hooks).__name__})")


def _int_tuple(v: Any, what: str) -> tuple[int, ...]:
    if not isinstance(v, (tuple, list)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        raise UnsafePickleError(f"{what}: expected a tuple of ints, found {v!r:.80}")
    return tuple(v)


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError(f"_rebuild_tensor_v2: expected a tensor storage, found {type(storage).__name__}")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise UnsafePickleError(f"_rebuild_tensor_v2: bad storage offset {storage_offset!r:.80}")
    _check_hooks(backward_hooks, "_rebuild_tensor_v2")
    if metadata is not None and not (isinstance(metadata, Mapping) and len(metadata) == 0):
        raise UnsafePickleError("_rebuild_tensor_v2: tensor metadata is not allowed")
    size_t, stride_t = _int_tuple(size, "tensor size"), _int_tuple(stride, "tensor stride")
    if len(size_t) != len(stride_t):
        raise UnsafePickleError(f"_rebuild_tensor_v2: size {size_t} and stride {stride_t} differ in length")
    t: torch.Tensor = torch._utils._rebuild_tensor_v2(  # type: ignore[no-untyped-call]
        storage, storage_offset, size_t, stride_t, bool(requires_grad), OrderedDict()
    )
    return t


def _rebuild_parameter(data: Any, requires_grad: Any = True, backward_hooks: Any = None) -> torch.nn.Parameter:
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError(f"_rebuild_parameter: expected a tensor, found {type(data).__name__}")
    _check_hooks(backward_hooks, "_rebuild_parameter")
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


def _load_from_bytes(b: Any) -> Any:
    if not isinstance(b, (bytes, bytearray)):
        raise UnsafePickleError(f"_load_from_bytes: expected bytes, found {type(b).__name__}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-format / TypedStorage deprecation chatter
        out = torch.load(io.BytesIO(bytes(b)), weights_only=True, map_location="cpu")
    if not isinstance(out, (torch.TypedStorage, torch.UntypedStorage, torch.Tensor)):
        raise UnsafePickleError(f"_load_from_bytes: expected a tensor storage, found {type(out).__name__}")
    return out


def _np_dtype(obj: Any, align: Any = False, copy: Any = True) -> np.dtype[Any]:
    if not isinstance(obj, str) or len(obj) > _MAX_DTYPE_STR:
        raise UnsafePickleError(f"numpy.dtype: expected a short dtype string, found {obj!r:.80}")
    dt = np.dtype(obj, align=bool(align), copy=True)
    if dt.kind not in _NUMERIC_KINDS or dt.fields is not None:
        raise UnsafePickleError(f"numpy.dtype: only numeric dtypes are allowed, found {dt!r}")
    return dt


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS:
        raise UnsafePickleError(f"numpy scalar: only numeric dtypes are allowed, found {dtype!r:.80}")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafePickleError(f"numpy scalar: expected {dtype.itemsize} bytes for {dtype}, found {data!r:.80}")
    return np.frombuffer(data, dtype=dtype)[0].copy()


#: (module, name) -> the object the unpickler hands out instead of importing anything.
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy", "dtype"): _np_dtype,
    ("builtins", "set"): set,
}

_OP = {name: getattr(pickle, name)[0] for name in ("BUILD", "INST", "OBJ", "EXT1", "EXT2", "EXT4")}


class _RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler: globals from :data:`ALLOWED_GLOBALS` only, BUILD only on numpy dtypes."""

    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            pass
        allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
        raise UnsafePickleError(
            f"refusing to load global {module}.{name}: it is not on the allow-list of the StyleGAN2 snapshot "
            f"reader ({allowed}); nothing was imported or executed"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing persistent id {pid!r:.80}: not used by NVIDIA snapshots")

    def _refuse(self, what: str) -> None:
        raise UnsafePickleError(f"refusing pickle opcode {what}: not used by NVIDIA snapshots")

    def load_build(self) -> None:
        stack = self.stack  # type: ignore[attr-defined]
        state = stack.pop()
        inst = stack[-1]
        if isinstance(inst, np.dtype) and isinstance(state, tuple):
            if not all(isinstance(s, (int, str, type(None))) for s in state):
                raise UnsafePickleError(f"numpy.dtype state must hold only ints, strings and None, found {state!r:.80}")
            inst.__setstate__(state)  # type: ignore[attr-defined]
            return
        if state is None or (isinstance(state, dict) and not state):
            return
        raise UnsafePickleError(f"refusing to set the state of a {type(inst).__name__} object (BUILD)")

    def load_inst(self) -> None:
        self._refuse("INST")

    def load_obj(self) -> None:
        self._refuse("OBJ")

    def load_ext(self) -> None:
        self._refuse("EXT")

    dispatch[_OP["BUILD"]] = load_build
    dispatch[_OP["INST"]] = load_inst
    dispatch[_OP["OBJ"]] = load_obj
    dispatch[_OP["EXT1"]] = load_ext
    dispatch[_OP["EXT2"]] = load_ext
    dispatch[_OP["EXT4"]] = load_ext


def safe_load(file: IO[bytes]) -> Any:
    """Unpickle ``file`` with the restricted unpickler.

    Only the globals in :data:`ALLOWED_GLOBALS` can be referenced; NVIDIA's persistent
    modules come back as :class:`PersistentRecord` (their embedded source is never run),
    tensors as CPU tensors, ``EasyDict`` as :class:`EasyDict`.

    Args:
        file: A binary file positioned at the start of a pickle.

    Returns:
        The unpickled object tree.

    Raises:
        UnsafePickleError: The pickle references anything outside the allow-list.
        SnapshotLayoutError: A persistent object's meta data is malformed.
    """
    return _RestrictedUnpickler(file).load()
