"""Reading weights files a user did not write on this machine: nothing in them runs, nothing grows without bound.

Every weights file latentbridge and its plugins open goes through this module:

* ``torch.save`` files, zip (``.pt`` since torch 1.6) or legacy format, are read by
  :func:`load_torch_file` / :func:`read_state_dict` *instead of* ``torch.load``;
* NVIDIA snapshots are read by the StyleGAN2 plugin's unpickler, a subclass of
  :class:`RestrictedUnpickler`, whose embedded storages go through :func:`read_legacy_storage`.

What is guaranteed (see the README, "Security and reliability"):

* no code runs: pickles may name only allow-listed globals, may mutate only plain containers
  (``list``, ``dict``, ``set``) and may set state only where the allow-list says so;
* every declared length (pickle strings and frames, storage element counts, zip records) is checked
  against the bytes really present *before* anything is allocated;
* every tensor's extent ``offset + sum((size - 1) * stride) + 1`` is checked against its storage's real
  size before the tensor is created (torch would otherwise grow the storage with uninitialised memory),
  and all tensors together may view at most :attr:`Limits.view_ratio` times the elements read;
* opcodes, memo entries, nesting depth and the size of the result read as a tree (shared references
  counted each time: "billion laughs") are capped by :class:`Limits`;
* malformed input ends in a :class:`~latentbridge.errors.UnsafeFileError` (never a raw ``KeyError``,
  ``struct.error``, ... from deep inside the pickle machinery).
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import torch

from ..errors import LatentBridgeError, UnsafeFileError, UnsafePickleError, WeightsError

__all__ = [
    "DEFAULT_LIMITS",
    "STORAGE_TYPES",
    "Budget",
    "Limits",
    "RestrictedUnpickler",
    "brief",
    "check_graph",
    "load_torch_file",
    "ordered_dict",
    "read_legacy_storage",
    "read_state_dict",
    "rebuild_parameter",
    "rebuild_tensor",
]


@dataclass(frozen=True)
class Limits:
    """Bounds of the safe readers (defaults fit every real snapshot / state dict with a wide margin).

    Attributes:
        max_ops: Pickle opcodes executed per pickle stream.
        max_memo: Memo entries per pickle stream.
        max_depth: Nesting of containers in a result.
        max_expanded: Nodes of a result read as a tree, shared references counted each time.
        max_line: Bytes of a text opcode's line (``GLOBAL``, ``INT``, ``LONG``, ...).
        max_long_bytes: Bytes of a binary long integer (``LONG1``/``LONG4``).
        max_tensor_dims: Dimensions of a tensor.
        max_records: Storages per file, entries of a zip archive.
        view_ratio: Elements of all tensors built / elements of all storages read (overlapping
            views could otherwise turn a small storage into huge tensors once copied).
        max_hashed_keys: Dict keys and set items per file whose hash is not randomised (anything
            but ``str`` / ``bytes``: ints, floats, tuples collide at will and make inserts quadratic).
    """

    max_ops: int = 5_000_000
    max_memo: int = 1_000_000
    max_depth: int = 64
    max_expanded: int = 4_000_000
    max_line: int = 256
    max_long_bytes: int = 64
    max_tensor_dims: int = 16
    max_records: int = 100_000
    view_ratio: int = 2
    max_hashed_keys: int = 1024


DEFAULT_LIMITS = Limits()

_VIEW_SLACK = 4096  # elements any file may view beyond view_ratio × its storages (empty / scalar tensors)

#: ``torch.<Name>Storage`` globals a ``torch.save`` pickle may name, with their dtypes.
STORAGE_TYPES: dict[str, torch.dtype] = {
    "DoubleStorage": torch.float64,
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "ComplexFloatStorage": torch.complex64,
    "ComplexDoubleStorage": torch.complex128,
    "UntypedStorage": torch.uint8,
}

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MALFORMED = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    struct.error,
    OverflowError,
    zipfile.BadZipFile,
)


def brief(value: Any, limit: int = 60) -> str:
    """A short description of ``value`` for error messages (never the repr of a big or deep object)."""
    if value is None or isinstance(value, (bool, int, float)):
        text = repr(value)
    elif isinstance(value, (str, bytes, bytearray)):
        text = repr(value[: limit + 1])
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"a {type(value).__name__} of {len(value)} items"
    else:
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[:limit] + "..."


def _name(value: Any) -> str:
    return value if isinstance(value, str) and len(value) <= 80 and value.isprintable() else brief(value)


def ordered_dict(items: Any = (), *, budget: Budget | None = None, label: str = "pickle") -> OrderedDict[Any, Any]:
    """``collections.OrderedDict`` as a pickle may call it: from nothing or a list of ``(key, value)`` pairs."""
    if type(items) not in (list, tuple) or not all(type(i) in (list, tuple) and len(i) == 2 for i in items):
        raise UnsafePickleError(f"OrderedDict: expected a list of (key, value) pairs, found {brief(items)}")
    if budget is not None:
        budget.add_keys((k for k, _ in items), label)
    return OrderedDict(items)


@dataclass
class Budget:
    """What one file may build: elements of the storages read and of the tensors viewing them."""

    limits: Limits = DEFAULT_LIMITS
    storage_elements: int = 0
    view_elements: int = 0
    storages: int = 0

    hashed_keys: int = 0

    def add_keys(self, keys: Iterable[Any], where: str) -> None:
        """Count dict keys / set items whose hash an attacker can choose (not ``str`` / ``bytes``)."""
        self.hashed_keys += sum(1 for k in keys if type(k) not in (str, bytes))
        if self.hashed_keys > self.limits.max_hashed_keys:
            raise UnsafeFileError(
                f"{where}: more than {self.limits.max_hashed_keys} dict keys / set items that are not strings "
                "(their hashes can be made to collide, making the file slow to read); refused"
            )

    def add_storage(self, numel: int, where: str) -> None:
        """Count a storage of ``numel`` elements."""
        self.storages += 1
        if self.storages > self.limits.max_records:
            raise UnsafeFileError(f"{where}: more than {self.limits.max_records} tensor storages in one file")
        self.storage_elements += numel

    def add_view(self, numel: int, where: str) -> None:
        """Count a tensor of ``numel`` elements, refusing views far beyond the data read."""
        self.view_elements += numel
        cap = self.limits.view_ratio * self.storage_elements + _VIEW_SLACK
        if self.view_elements > cap:
            raise UnsafeFileError(
                f"{where}: the tensors of this file view {self.view_elements} elements but its storages hold "
                f"only {self.storage_elements} (overlapping views beyond {self.limits.view_ratio}× the data are "
                "refused: copying them would allocate far more memory than the file holds)"
            )


# ------------------------------------------------------------------------------------------ bounded input
class _BoundedReader:
    """A binary stream that refuses reads past its known end *before* allocating, and long text lines."""

    def __init__(self, file: IO[bytes], size: int, label: str, limits: Limits) -> None:
        self._file, self._left, self._label, self._max_line = file, size, label, limits.max_line
        self._start = file.tell()

    def remaining(self) -> int:
        """Bytes left."""
        return self._left

    def tell(self) -> int:
        """Bytes consumed since the reader was created."""
        return self._file.tell() - self._start

    def read(self, n: int | None = -1) -> bytes:
        """Exactly ``n`` bytes (all that is left for ``n < 0``); a longer declared length is refused."""
        if n is None or n < 0:
            n = self._left
        if n > self._left:
            raise UnsafeFileError(
                f"{self._label}: a record declares {n} bytes but only {self._left} remain in the file "
                "(truncated file or forged length)"
            )
        data = self._file.read(n)
        if len(data) != n:
            raise UnsafeFileError(f"{self._label}: the file ended early ({len(data)} of {n} bytes)")
        self._left -= n
        return data

    def readline(self) -> bytes:
        """One line, at most ``max_line`` bytes."""
        data = self._file.readline(min(self._max_line + 1, self._left))
        self._left -= len(data)
        if not data.endswith(b"\n"):
            if len(data) > self._max_line:
                raise UnsafeFileError(f"{self._label}: a text opcode's line exceeds {self._max_line} bytes")
            raise UnsafeFileError(f"{self._label}: the file ended inside a text opcode's line")
        return data

    def readinto(self, b: Any) -> int:  # pragma: no cover - only protocol-5 buffers use it, refused earlier
        raise UnsafePickleError(f"{self._label}: out-of-band buffers are not used by weights files")


def _stream_size(file: IO[bytes]) -> int:
    pos = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(pos)
    return end - pos


# -------------------------------------------------------------------------------------- the unpickler
def _counted(op: Callable[[Any], None]) -> Callable[[Any], None]:
    def run(self: RestrictedUnpickler) -> None:
        self._ops += 1
        if self._ops > self.limits.max_ops:
            raise UnsafeFileError(f"{self.label}: more than {self.limits.max_ops} pickle opcodes")
        if len(self.memo) > self.limits.max_memo:  # type: ignore[attr-defined]
            raise UnsafeFileError(f"{self.label}: more than {self.limits.max_memo} pickle memo entries")
        op(self)

    return run


_DICT_TYPES: tuple[type, ...] = (dict, OrderedDict)
_OPS = {n: v[0] for n in dir(pickle) if n.isupper() and isinstance(v := getattr(pickle, n), bytes) and len(v) == 1}


class RestrictedUnpickler(pickle._Unpickler):
    """A pure-Python unpickler that can only build plain data, allow-listed objects and checked tensors.

    * globals: :meth:`allowed_globals` only (``find_class`` never imports);
    * ``REDUCE``: only on those globals; ``NEWOBJ``: only on :attr:`newobj_types`, with no arguments;
    * ``APPEND(S)`` only on lists, ``SETITEM(S)`` only on dicts, ``ADDITEMS`` only on sets (the stock
      unpickler calls ``.append``/``.extend``/``.add``/``__setitem__`` on whatever object is there);
    * ``BUILD``: only what :meth:`build` accepts (empty state; a state dict's ``_metadata``, dropped);
    * ``INST``, ``OBJ``, ``EXT*``, persistent ids (unless :meth:`persistent_load` is overridden) and
      protocol-5 out-of-band buffers are refused;
    * declared lengths are checked against the bytes left, opcodes and memo entries are counted, long
      integers and text lines are capped; malformed streams raise :class:`UnsafeFileError`.

    Args:
        file: Binary stream positioned at the pickle, or a reader shared with an enclosing parser.
        label: Where the pickle comes from (file name), for messages.
        budget: Storage / view accounting shared by every pickle of one file.
    """

    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = {}
    #: Classes ``NEWOBJ`` may instantiate (``cls.__new__(cls)``, no arguments, no ``__init__``).
    newobj_types: ClassVar[tuple[type, ...]] = ()

    def __init__(self, file: IO[bytes] | _BoundedReader, label: str, budget: Budget | None = None) -> None:
        self.budget = budget if budget is not None else Budget()
        self.limits = self.budget.limits
        self.label = label
        reader = (
            file if isinstance(file, _BoundedReader) else _BoundedReader(file, _stream_size(file), label, self.limits)
        )
        self.reader = reader
        super().__init__(reader, fix_imports=False)
        self._ops = 0
        self._globals = self.allowed_globals()
        self._callables = {id(f) for f in self._globals.values()}

    # ---- hooks for subclasses
    def allowed_globals(self) -> dict[tuple[str, str], Any]:
        """``(module, name) -> object`` handed out for ``GLOBAL``/``STACK_GLOBAL``; nothing else is importable."""
        budget, label = self.budget, self.label

        def _ordered_dict(items: Any = ()) -> OrderedDict[Any, Any]:
            return ordered_dict(items, budget=budget, label=label)

        return {("collections", "OrderedDict"): _ordered_dict}

    def build(self, inst: Any, state: Any) -> None:
        """Apply ``BUILD`` state ``state`` to ``inst``, or refuse."""
        if state is None or (type(state) is dict and not state):
            return
        if type(inst) is OrderedDict and type(state) is dict and set(state) == {"_metadata"}:
            return  # torch state dicts carry per-module versions; not needed to read current files
        raise UnsafePickleError(f"{self.label}: refusing to set the state of {brief(inst)} (pickle BUILD)")

    def persistent_load(self, pid: Any) -> Any:
        """Persistent ids are refused unless a subclass reads them (torch storages)."""
        raise UnsafePickleError(f"{self.label}: refusing persistent id {brief(pid)}")

    # ---- the entry point
    def load(self) -> Any:
        """Unpickle one object; malformed input raises :class:`UnsafeFileError`."""
        try:
            return super().load()
        except LatentBridgeError:
            raise
        except _MALFORMED as exc:
            pos = self.reader.tell()
            raise UnsafeFileError(
                f"{self.label}: malformed pickle near byte {pos}: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc

    # ---- refusals and checked operations
    def _refuse(self, what: str) -> None:
        raise UnsafePickleError(f"{self.label}: refusing pickle opcode {what}: not used by weights files")

    def find_class(self, module: str, name: str) -> Any:
        """The allow-listed object for ``module.name``; anything else is refused unimported."""
        key = (module, name)
        if isinstance(module, str) and isinstance(name, str) and key in self._globals:
            return self._globals[key]
        allowed = ", ".join(f"{m}.{n}" for m, n in self._globals if not isinstance(self._globals[(m, n)], _StorageType))
        raise UnsafePickleError(
            f"{self.label}: refusing to load global {_name(module)}.{_name(name)}: it is not on the allow-list "
            f"({allowed}, torch.<Type>Storage); nothing was imported or executed"
        )

    def load_reduce(self) -> None:
        stack = self.stack  # type: ignore[attr-defined]
        args = stack.pop()
        func = stack[-1]
        if id(func) not in self._callables or type(args) is not tuple:
            raise UnsafePickleError(f"{self.label}: refusing to call {brief(func)} (pickle REDUCE)")
        stack[-1] = func(*args)

    def _newobj(self, cls: Any, args: Any, kwargs: Any) -> None:
        if not (isinstance(cls, type) and cls in self.newobj_types) or args != () or kwargs:
            raise UnsafePickleError(f"{self.label}: refusing to instantiate {brief(cls)} (pickle NEWOBJ)")
        new: Any = cls.__new__
        self.append(new(cls))  # type: ignore[attr-defined]

    def load_newobj(self) -> None:
        args = self.stack.pop()  # type: ignore[attr-defined]
        cls = self.stack.pop()  # type: ignore[attr-defined]
        self._newobj(cls, args, None)

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()  # type: ignore[attr-defined]
        args = self.stack.pop()  # type: ignore[attr-defined]
        cls = self.stack.pop()  # type: ignore[attr-defined]
        self._newobj(cls, args, kwargs)

    def load_build(self) -> None:
        state = self.stack.pop()  # type: ignore[attr-defined]
        self.build(self.stack[-1], state)  # type: ignore[attr-defined]

    def _target(self, kinds: tuple[type, ...], op: str) -> Any:
        target = self.stack[-1]  # type: ignore[attr-defined]
        if type(target) not in kinds:
            raise UnsafePickleError(f"{self.label}: refusing pickle {op} on {brief(target)}")
        return target

    def load_append(self) -> None:
        value = self.stack.pop()  # type: ignore[attr-defined]
        self._target((list,), "APPEND").append(value)

    def load_appends(self) -> None:
        items = self.pop_mark()  # type: ignore[attr-defined]
        self._target((list,), "APPENDS").extend(items)

    def load_setitem(self) -> None:
        value = self.stack.pop()  # type: ignore[attr-defined]
        key = self.stack.pop()  # type: ignore[attr-defined]
        target = self._target(self._dict_types(), "SETITEM")
        self.budget.add_keys((key,), self.label)
        target[key] = value

    def load_setitems(self) -> None:
        items = self.pop_mark()  # type: ignore[attr-defined]
        target = self._target(self._dict_types(), "SETITEMS")
        if len(items) % 2:
            raise UnsafeFileError(f"{self.label}: malformed pickle: SETITEMS with an odd number of items")
        self.budget.add_keys(items[::2], self.label)
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def load_additems(self) -> None:
        items = self.pop_mark()  # type: ignore[attr-defined]
        target = self._target((set,), "ADDITEMS")
        self.budget.add_keys(items, self.label)
        target.update(items)

    def load_dict(self) -> None:
        items = self.pop_mark()  # type: ignore[attr-defined]
        if len(items) % 2:
            raise UnsafeFileError(f"{self.label}: malformed pickle: DICT with an odd number of items")
        self.budget.add_keys(items[::2], self.label)
        self.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})  # type: ignore[attr-defined]

    def load_frozenset(self) -> None:
        items = self.pop_mark()  # type: ignore[attr-defined]
        self.budget.add_keys(items, self.label)
        self.append(frozenset(items))  # type: ignore[attr-defined]

    def load_put(self) -> None:
        index = int(self.readline()[:-1])  # type: ignore[attr-defined]
        if not 0 <= index < 1 << 32:  # memo keys are ints: keep them where their hashes cannot collide
            raise UnsafeFileError(f"{self.label}: pickle PUT index {index} out of range")
        self.memo[index] = self.stack[-1]  # type: ignore[attr-defined]

    def _dict_types(self) -> tuple[type, ...]:
        return _DICT_TYPES + tuple(t for t in self.newobj_types if issubclass(t, dict))

    def _long(self, n: int) -> None:
        if n < 0 or n > self.limits.max_long_bytes:
            raise UnsafeFileError(
                f"{self.label}: a pickled integer of {n} bytes (at most {self.limits.max_long_bytes} are accepted)"
            )
        self.append(int.from_bytes(self.read(n), "little", signed=True))  # type: ignore[attr-defined]

    def load_long1(self) -> None:
        self._long(self.read(1)[0])  # type: ignore[attr-defined]

    def load_long4(self) -> None:
        (n,) = struct.unpack("<i", self.read(4))  # type: ignore[attr-defined]
        self._long(n)

    def load_inst(self) -> None:
        self._refuse("INST")

    def load_obj(self) -> None:
        self._refuse("OBJ")

    def load_ext(self) -> None:
        self._refuse("EXT")

    def load_buffer(self) -> None:
        self._refuse("BYTEARRAY8/NEXT_BUFFER/READONLY_BUFFER (protocol-5 buffers)")

    _overrides: ClassVar[dict[str, str]] = {
        "REDUCE": "load_reduce",
        "NEWOBJ": "load_newobj",
        "NEWOBJ_EX": "load_newobj_ex",
        "BUILD": "load_build",
        "APPEND": "load_append",
        "APPENDS": "load_appends",
        "SETITEM": "load_setitem",
        "SETITEMS": "load_setitems",
        "ADDITEMS": "load_additems",
        "DICT": "load_dict",
        "FROZENSET": "load_frozenset",
        "PUT": "load_put",
        "LONG1": "load_long1",
        "LONG4": "load_long4",
        "INST": "load_inst",
        "OBJ": "load_obj",
        "EXT1": "load_ext",
        "EXT2": "load_ext",
        "EXT4": "load_ext",
        "BYTEARRAY8": "load_buffer",
        "NEXT_BUFFER": "load_buffer",
        "READONLY_BUFFER": "load_buffer",
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._install_dispatch()

    @classmethod
    def _install_dispatch(cls) -> None:
        table: dict[int, Callable[[Any], None]] = dict(pickle._Unpickler.dispatch)
        for op_name, method in cls._overrides.items():
            table[_OPS[op_name]] = getattr(cls, method)
        cls.dispatch = {code: _counted(f) for code, f in table.items()}


RestrictedUnpickler._install_dispatch()


# ------------------------------------------------------------------------------------------ tensors
def _int_tuple(v: Any, what: str, label: str) -> tuple[int, ...]:
    if type(v) not in (tuple, list) or not all(type(i) is int for i in v):
        raise UnsafePickleError(f"{label}: tensor {what}: expected a tuple of ints, found {brief(v)}")
    return tuple(v)


def _storage_parts(storage: Any, label: str) -> tuple[torch.UntypedStorage, torch.dtype]:
    if isinstance(storage, torch.TypedStorage):
        return storage._untyped_storage, storage.dtype
    raise UnsafePickleError(f"{label}: a tensor must view a tensor storage, found {brief(storage)}")


def rebuild_tensor(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
    *,
    budget: Budget,
    label: str,
) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` with every argument checked before the tensor exists.

    The tensor's extent ``storage_offset + sum((size - 1) * stride) + 1`` (0 for a tensor with a
    zero-size dimension) must fit the storage's real size, sizes / strides / offset must be
    non-negative ints, and the tensors of one file may view at most ``view_ratio`` times the
    elements of its storages. (torch itself grows a too-small storage with uninitialised memory.)

    Raises:
        UnsafeFileError: A check failed; the message names size, stride, offset and storage size.
        UnsafePickleError: Hooks, metadata or a non-storage argument.
    """
    untyped, dtype = _storage_parts(storage, label)
    if type(storage_offset) is not int or storage_offset < 0:
        raise UnsafeFileError(f"{label}: tensor storage offset must be an int >= 0, found {brief(storage_offset)}")
    if backward_hooks is not None and not (isinstance(backward_hooks, Mapping) and not backward_hooks):
        raise UnsafePickleError(f"{label}: tensor backward hooks are not allowed (found {brief(backward_hooks)})")
    if metadata is not None and not (isinstance(metadata, Mapping) and not metadata):
        raise UnsafePickleError(f"{label}: tensor metadata is not allowed (found {brief(metadata)})")
    size_t, stride_t = _int_tuple(size, "size", label), _int_tuple(stride, "stride", label)
    if len(size_t) != len(stride_t) or len(size_t) > budget.limits.max_tensor_dims:
        raise UnsafeFileError(
            f"{label}: tensor size {brief(size_t)} and stride {brief(stride_t)} must have the same length, "
            f"at most {budget.limits.max_tensor_dims}"
        )
    if any(s < 0 for s in size_t) or any(s < 0 for s in stride_t):
        raise UnsafeFileError(
            f"{label}: tensor size {size_t} / stride {stride_t}: negative sizes and strides are refused"
        )
    itemsize = torch.empty((), dtype=dtype).element_size()
    available = untyped.nbytes() // itemsize
    numel = math.prod(size_t)
    needed = 0 if numel == 0 else storage_offset + sum((n - 1) * s for n, s in zip(size_t, stride_t, strict=True)) + 1
    if needed > available or storage_offset > available:
        raise UnsafeFileError(
            f"{label}: tensor of size {size_t}, stride {stride_t} and storage offset {storage_offset} needs "
            f"{max(needed, storage_offset)} elements but its {dtype} storage holds {available}: the file "
            "declares a tensor larger than its data (torch would fill the rest with uninitialised memory)"
        )
    budget.add_view(numel, label)
    t = torch.empty((0,), dtype=dtype).set_(untyped, storage_offset, size_t, stride_t)
    if requires_grad is True and (t.is_floating_point() or t.is_complex()):
        t.requires_grad_(True)
    return t


def rebuild_parameter(
    data: Any, requires_grad: Any = True, backward_hooks: Any = None, *, label: str
) -> torch.nn.Parameter:
    """``torch._utils._rebuild_parameter`` for a checked tensor, without hooks."""
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError(f"{label}: a parameter must wrap a tensor, found {brief(data)}")
    if backward_hooks is not None and not (isinstance(backward_hooks, Mapping) and not backward_hooks):
        raise UnsafePickleError(f"{label}: tensor backward hooks are not allowed (found {brief(backward_hooks)})")
    grad = requires_grad is True and (data.is_floating_point() or data.is_complex())
    return torch.nn.Parameter(data.detach(), requires_grad=grad)


def _storage_from_bytes(data: bytes, dtype: torch.dtype) -> torch.TypedStorage:
    untyped = torch.UntypedStorage.from_buffer(data, dtype=torch.uint8) if data else torch.UntypedStorage(0)  # type: ignore[no-untyped-call]
    return torch.TypedStorage(wrap_storage=untyped, dtype=dtype, _internal=True)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: torch.dtype


@dataclass(frozen=True)
class _StorageDecl:
    """A storage declared by a legacy pickle, before its bytes are read (first pass)."""

    key: str
    dtype: torch.dtype
    numel: int


class _Deferred:
    """What tensors are during the first pass over a legacy pickle (their storages are not read yet)."""


def _element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


class _TorchUnpickler(RestrictedUnpickler):
    """The pickle of a ``torch.save`` file: state dicts of tensors, storages as persistent ids."""

    def __init__(
        self,
        file: IO[bytes] | _BoundedReader,
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
            out[("torch", name)] = _StorageType(name, dtype)
        return out

    def persistent_load(self, pid: Any) -> Any:
        if type(pid) is not tuple or len(pid) not in (5, 6) or pid[0] != "storage":
            raise UnsafePickleError(f"{self.label}: refusing persistent id {brief(pid)} (not a torch storage)")
        _, stype, key, location, numel = pid[:5]
        if len(pid) == 6 and pid[5] is not None:
            raise UnsafePickleError(f"{self.label}: storage views (legacy view_metadata) are not supported")
        if not isinstance(stype, _StorageType) or type(key) is not str or type(numel) is not int or numel < 0:
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
def _plain_pickle(reader: _BoundedReader, label: str, budget: Budget) -> Any:
    return RestrictedUnpickler(reader, label, budget).load()


def _read_legacy(reader: _BoundedReader, file: IO[bytes], label: str, budget: Budget) -> Any:
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

    _TorchUnpickler(reader, label, budget, declare).load()  # pass 1: declarations only, tensors deferred
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
        budget.add_storage(numel, label)
        storages[key] = _storage_from_bytes(reader.read(numel * _element_size(d.dtype)), d.dtype)
    end = file.tell()
    # pass 2: the object pickle again, now with the real storages
    file.seek(start)
    second = _BoundedReader(file, end_of_object - start, label, budget.limits)

    def lookup(key: str, dtype: torch.dtype, numel: int, location: Any) -> Any:
        return storages[key]

    obj = _TorchUnpickler(second, label, budget, lookup).load()
    file.seek(end)
    return obj


def read_legacy_storage(data: bytes, label: str, budget: Budget) -> torch.TypedStorage:
    """The storage in ``torch.storage._load_from_bytes(data)`` (how pickled storages embed themselves).

    ``data`` is a legacy ``torch.save`` of one storage; it is parsed here, its declared element
    count checked against the bytes present before anything is allocated (``torch.load`` would
    allocate the declared size first).
    """
    if type(data) is not bytes:
        raise UnsafePickleError(f"{label}: _load_from_bytes expects bytes, found {brief(data)}")
    f = io.BytesIO(data)
    obj = _read_legacy(_BoundedReader(f, len(data), label, budget.limits), f, label, budget)
    if not isinstance(obj, torch.TypedStorage):
        raise UnsafePickleError(f"{label}: _load_from_bytes must hold a tensor storage, found {brief(obj)}")
    return obj


# --------------------------------------------------------------------------------------- zip torch.save
def _read_zip(path: Path, label: str, budget: Budget) -> Any:
    size = path.stat().st_size
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        if len(infos) > budget.limits.max_records:
            raise UnsafeFileError(f"{label}: zip archive with more than {budget.limits.max_records} entries")
        by_name = {i.filename: i for i in infos}
        pkls = [n for n in by_name if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise UnsafeFileError(f"{label}: not a torch.save archive (expected one '<name>/data.pkl' entry)")
        prefix = pkls[0][: -len("data.pkl")]

        def entry(name: str) -> bytes:
            info = by_name.get(name)
            if info is None:
                raise UnsafeFileError(f"{label}: the archive has no entry {name!r}")
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > size:
                raise UnsafeFileError(
                    f"{label}: archive entry {name!r} is compressed or larger than the file "
                    "(torch.save stores entries uncompressed)"
                )
            return z.read(info)

        order = by_name.get(prefix + "byteorder")
        if order is not None and entry(prefix + "byteorder") != b"little":
            raise UnsafeFileError(f"{label}: only little-endian torch.save files are supported")
        storages: dict[str, torch.TypedStorage] = {}

        def storage(key: str, dtype: torch.dtype, numel: int, location: Any) -> Any:
            if key in storages:
                s = storages[key]
                if s.dtype != dtype or s._untyped_storage.nbytes() != numel * _element_size(dtype):
                    raise UnsafeFileError(f"{label}: storage {key!r} declared twice with different types or sizes")
                return s
            name = f"{prefix}data/{key}"
            info = by_name.get(name)
            nbytes = numel * _element_size(dtype)
            if info is None or info.file_size != nbytes:
                found = "missing" if info is None else f"{info.file_size} bytes"
                raise UnsafeFileError(
                    f"{label}: storage {key!r} is declared with {numel} {dtype} elements ({nbytes} bytes) but its "
                    f"record is {found}"
                )
            budget.add_storage(numel, label)
            storages[key] = _storage_from_bytes(entry(name), dtype)
            return storages[key]

        data = entry(prefix + "data.pkl")
        return _TorchUnpickler(io.BytesIO(data), label, budget, storage).load()


def load_torch_file(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Read a ``torch.save`` file (zip or legacy format) without ``torch.load``: checked, bounded, nothing run.

    Accepts what state dicts are made of: dicts / ``OrderedDict`` / lists / tuples of tensors,
    parameters, numbers and strings. Tensors come back on CPU, in the file's dtype.

    Args:
        path: The file.
        limits: Bounds of the reader.

    Returns:
        The object tree.

    Raises:
        UnsafeFileError: The file is corrupt, forged, or exceeds ``limits`` (the message says which).
        UnsafePickleError: The file asks for a global or operation outside the allow-list.
    """
    p = Path(path)
    label = repr(str(p))
    budget = Budget(limits)
    try:
        if zipfile.is_zipfile(p):
            obj = _read_zip(p, label, budget)
        else:
            with open(p, "rb") as f:
                obj = _read_legacy(_BoundedReader(f, _stream_size(f), label, limits), f, label, budget)
    except LatentBridgeError:
        raise
    except OSError as exc:
        raise WeightsError(f"{label}: cannot open: {exc}") from exc
    except _MALFORMED as exc:
        raise UnsafeFileError(f"{label}: cannot read as a torch.save file: {type(exc).__name__}: {exc}") from exc
    check_graph(obj, label, limits)
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


# ------------------------------------------------------------------------------------------ graph check
def _default_children(obj: Any) -> Iterable[Any] | None:
    t = type(obj)
    if t in (list, tuple, set, frozenset):
        return obj  # type: ignore[no-any-return]
    if isinstance(obj, dict):
        return _items(obj)
    return None


def _items(d: Mapping[Any, Any]) -> Iterator[Any]:
    for k, v in d.items():
        yield k
        yield v


@dataclass
class _Frame:
    node: Any
    it: Iterator[Any]
    size: int = 1


def check_graph(
    root: Any,
    label: str,
    limits: Limits = DEFAULT_LIMITS,
    children: Callable[[Any], Iterable[Any] | None] = _default_children,
) -> int:
    """Check an unpickled object graph: no cycles, nesting at most ``max_depth``, tree size at most ``max_expanded``.

    The tree size counts a shared object once per reference (a "billion laughs" pickle is small
    as a graph but exponential as a tree, which is how code that walks it sees it).

    Args:
        root: The object.
        label: File name for messages.
        limits: The bounds.
        children: Children of a node, None for a leaf (default: list/tuple/set/dict contents).

    Returns:
        The tree size.

    Raises:
        UnsafeFileError: A cycle, too deep, or too big as a tree.
    """
    first = children(root)
    if first is None:
        return 1
    sizes: dict[int, int] = {}
    on_path = {id(root)}
    stack = [_Frame(root, iter(first))]
    cap = limits.max_expanded
    while True:
        top = stack[-1]
        pushed = False
        for child in top.it:
            kids = children(child)
            if kids is None:
                top.size += 1
            elif id(child) in sizes:
                top.size += sizes[id(child)]
            elif id(child) in on_path:
                raise UnsafeFileError(f"{label}: the pickled objects contain a reference cycle (refused)")
            elif len(stack) >= limits.max_depth:
                raise UnsafeFileError(f"{label}: objects nested deeper than {limits.max_depth} levels (refused)")
            else:
                on_path.add(id(child))
                stack.append(_Frame(child, iter(kids)))
                pushed = True
                break
            if top.size > cap:
                break
        if top.size > cap:
            raise UnsafeFileError(
                f"{label}: the pickled objects expand to more than {cap} nodes when read as a tree "
                "(shared references repeated: a 'billion laughs' structure; refused)"
            )
        if pushed:
            continue
        stack.pop()
        on_path.discard(id(top.node))
        sizes[id(top.node)] = top.size
        if not stack:
            return top.size
        stack[-1].size += top.size
