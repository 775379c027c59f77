"""The restricted pickle machine: allow-listed globals only, bounded input, bounded nesting and memory.

Every container the machine builds (tuple, list, dict, set, frozenset, ``OrderedDict``, the result of an
allow-listed call) is registered with its nesting depth as it is built, *before* it is hashed, compared
or walked; a container deeper than :attr:`Limits.max_depth` is refused, so nothing the machine holds can
make CPython recurse (hashing a tuple key recurses in C and would crash the process). A container that
was placed inside another one can no longer be changed, which keeps the depths exact and refuses every
reference cycle as it is made. Every object built is counted in bytes (``sys.getsizeof``) against the
file's :meth:`Budget.memory_cap`.
"""

from __future__ import annotations

import io
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any, ClassVar

import torch

from ...errors import LatentBridgeError, UnsafeFileError, UnsafePickleError
from ._limits import Budget, Limits, brief, name_of
from ._tensors import StorageType

__all__ = ["MALFORMED", "BoundedReader", "RestrictedUnpickler", "ordered_dict", "stream_size"]

#: Exceptions of malformed input that the readers turn into :class:`UnsafeFileError`.
MALFORMED = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    struct.error,
    OverflowError,
    RecursionError,
    zipfile.BadZipFile,
)
_TRACK_BYTES = 96  # bookkeeping per container: its depth entry and the reference that keeps it alive
_STORAGE_OBJECT_BYTES = 128  # a tensor / storage object itself (its data is counted by Budget.add_storage)


def ordered_dict(items: Any = (), *, budget: Budget | None = None, label: str = "pickle") -> OrderedDict[Any, Any]:
    """``collections.OrderedDict`` as a pickle may call it: from nothing or a list of ``(key, value)`` pairs."""
    if type(items) not in (list, tuple) or not all(type(i) in (list, tuple) and len(i) == 2 for i in items):
        raise UnsafePickleError(f"OrderedDict: expected a list of (key, value) pairs, found {brief(items)}")
    if budget is not None:
        budget.add_keys((k for k, _ in items), label)
    return OrderedDict(items)


class BoundedReader:
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
        return _checked_line(data, self._max_line, self._label, "the file")

    def readinto(self, b: Any) -> int:  # pragma: no cover - only protocol-5 buffers use it, refused earlier
        raise UnsafePickleError(f"{self._label}: out-of-band buffers are not used by weights files")


def _checked_line(data: bytes, cap: int, label: str, where: str) -> bytes:
    if not data.endswith(b"\n"):
        if len(data) > cap:
            raise UnsafeFileError(f"{label}: a text opcode's line exceeds {cap} bytes (refused before converting it)")
        raise UnsafeFileError(f"{label}: {where} ended inside a text opcode's line")
    return data


class _CappedUnframer(pickle._Unframer):  # type: ignore[name-defined,misc]
    """pickle's frame reader, with text lines inside protocol-4 frames capped like those outside."""

    current_frame: io.BytesIO | None

    def __init__(self, reader: BoundedReader, cap: int, label: str) -> None:
        super().__init__(reader.read, reader.readline)
        self._cap, self._label = cap, label

    def readline(self) -> bytes:
        if not self.current_frame:
            return self.file_readline()  # type: ignore[no-any-return]
        data = self.current_frame.readline(self._cap + 1)
        if not data:
            self.current_frame = None
            return self.file_readline()  # type: ignore[no-any-return]
        return _checked_line(data, self._cap, self._label, "a pickle frame")


def stream_size(file: IO[bytes]) -> int:
    """Bytes from the current position of ``file`` to its end."""
    pos = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(pos)
    return end - pos


def _sizeof(obj: Any) -> int:
    if isinstance(obj, (torch.Tensor, torch.TypedStorage, torch.UntypedStorage)):
        return _STORAGE_OBJECT_BYTES
    return sys.getsizeof(obj)


_OPS = {n: v[0] for n in dir(pickle) if n.isupper() and isinstance(v := getattr(pickle, n), bytes) and len(v) == 1}
# Opcodes pushing one new scalar (a number, a string, bytes): counted in bytes after they run.
_LEAF_OPS = frozenset(
    {"INT", "BININT", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING", "BINSTRING"}
    | {"SHORT_BINSTRING", "UNICODE", "BINUNICODE", "BINUNICODE8", "SHORT_BINUNICODE", "BINBYTES", "BINBYTES8"}
    | {"SHORT_BINBYTES"}
)
_MEMO_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"})
# Opcodes pushing a reference (8 bytes of stack) or, for MARK, a new empty stack (a list: 56 + 8 bytes).
_PUSH_OPS = {"GET": 8, "BINGET": 8, "LONG_BINGET": 8, "DUP": 8, "MARK": 64}


def _counted(op: Callable[[Any], None], kind: str) -> Callable[[Any], None]:
    # The hot path of every opcode: count it, run it, count the bytes it built (inlined: ~30% of the time).
    if kind in _PUSH_OPS:
        nbytes = _PUSH_OPS[kind]

        def run(self: RestrictedUnpickler) -> None:
            self._ops += 1
            if self._ops > self._max_ops:
                self._too_many_ops()
            op(self)
            budget = self.budget
            budget.built_bytes += nbytes
            if budget.built_bytes > self._memory_cap:
                budget.add_bytes(0, self.label)

    elif kind == "leaf":

        def run(self: RestrictedUnpickler) -> None:
            self._ops += 1
            if self._ops > self._max_ops:
                self._too_many_ops()
            op(self)
            budget = self.budget
            budget.built_bytes += sys.getsizeof(self.stack[-1])
            if budget.built_bytes > self._memory_cap:
                budget.add_bytes(0, self.label)

    elif kind == "memo":

        def run(self: RestrictedUnpickler) -> None:
            self._ops += 1
            if self._ops > self._max_ops:
                self._too_many_ops()
            before = sys.getsizeof(self.memo)
            op(self)
            if len(self.memo) > self.limits.max_memo:
                raise UnsafeFileError(f"{self.label}: more than {self.limits.max_memo} pickle memo entries")
            self._grow(sys.getsizeof(self.memo) - before + 32)

    else:

        def run(self: RestrictedUnpickler) -> None:
            self._ops += 1
            if self._ops > self._max_ops:
                self._too_many_ops()
            op(self)

    return run


class RestrictedUnpickler(pickle._Unpickler):
    """A pure-Python unpickler that can only build plain data, allow-listed objects and checked tensors.

    * globals: :meth:`allowed_globals` only (``find_class`` never imports);
    * ``REDUCE``: only on those globals; ``NEWOBJ``: only on :attr:`newobj_types`, with no arguments;
    * ``APPEND(S)`` only on lists, ``SETITEM(S)`` only on dicts, ``ADDITEMS`` only on sets (the stock
      unpickler calls ``.append``/``.extend``/``.add``/``__setitem__`` on whatever object is there), and
      only on a container not yet placed inside another (so no reference cycle can be made);
    * ``BUILD``: only what :meth:`build` accepts (empty state; a state dict's ``_metadata``, dropped);
    * ``INST``, ``OBJ``, ``EXT*``, persistent ids (unless :meth:`persistent_load` is overridden) and
      protocol-5 out-of-band buffers are refused;
    * declared lengths are checked against the bytes left, opcodes and memo entries are counted, long
      integers and text lines (inside frames too) are capped before conversion, every container's nesting
      is checked as it is built and every object built is counted against the file's memory cap;
      malformed streams raise :class:`UnsafeFileError`.

    Args:
        file: Binary stream positioned at the pickle, or a reader shared with an enclosing parser.
        label: Where the pickle comes from (file name), for messages.
        budget: Storage / view / memory accounting shared by every pickle of one file (its
            ``file_bytes`` is set to the stream's size if not known yet).
    """

    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = {}
    memo: dict[int, Any]
    pop_mark: Callable[[], list[Any]]
    #: Classes ``NEWOBJ`` may instantiate (``cls.__new__(cls)``, no arguments, no ``__init__``).
    newobj_types: ClassVar[tuple[type, ...]] = ()

    def __init__(self, file: IO[bytes] | BoundedReader, label: str, budget: Budget | None = None) -> None:
        self.budget = budget if budget is not None else Budget()
        self.limits = self.budget.limits
        self.label = label
        reader = file if isinstance(file, BoundedReader) else BoundedReader(file, stream_size(file), label, self.limits)
        if self.budget.file_bytes is None:
            self.budget.file_bytes = reader.remaining()
        self.reader = reader
        super().__init__(reader, fix_imports=False)
        self._ops = 0
        self._max_ops = self.limits.max_ops
        self._memory_cap = self.budget.memory_cap()
        self._globals = self.allowed_globals()
        self._callables = {id(f) for f in self._globals.values()}
        self._depth: dict[int, int] = {}  # id -> nesting depth (negative once placed inside another object)
        self._keep: list[Any] = []  # keeps every registered object alive, so that ids stay unique

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
            return self._run()
        except LatentBridgeError:
            raise
        except (*MALFORMED, MemoryError) as exc:
            pos = self.reader.tell()
            raise UnsafeFileError(
                f"{self.label}: malformed pickle near byte {pos}: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc
        finally:
            self._depth.clear()
            self._keep.clear()

    def _run(self) -> Any:
        """``pickle._Unpickler.load`` with a frame reader whose text lines are capped."""
        self._unframer = _CappedUnframer(self.reader, self.limits.max_line, self.label)
        self.read = self._unframer.read
        self.readinto = self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack: list[Any] = []
        self.stack: list[Any] = []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch = self.read, self.dispatch
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                dispatch[key[0]](self)
        except pickle._Stop as stop:  # type: ignore[attr-defined]
            return stop.value

    # ---- accounting
    def _too_many_ops(self) -> None:
        raise UnsafeFileError(f"{self.label}: more than {self.limits.max_ops} pickle opcodes")

    def _grow(self, nbytes: int) -> None:
        budget = self.budget
        budget.built_bytes += nbytes
        if budget.built_bytes > self._memory_cap:
            budget.add_bytes(0, self.label)

    def _too_deep(self) -> UnsafeFileError:
        return UnsafeFileError(
            f"{self.label}: objects nested deeper than {self.limits.max_depth} levels (refused before building "
            "them: hashing or walking them would overflow the interpreter's stack)"
        )

    def _inner(self, items: Any) -> int:
        """1 + the deepest of ``items``; each registered item is marked as placed (no longer changeable)."""
        depths, deepest = self._depth, 0
        for x in items:
            d = depths.get(id(x))
            if d is not None:
                if d > 0:
                    depths[id(x)] = -d
                else:
                    d = -d
                deepest = max(deepest, d)
        if deepest >= self.limits.max_depth:
            raise self._too_deep()
        return deepest + 1

    def _new(self, obj: Any, depth: int) -> Any:
        """Register a freshly built ``obj`` of nesting ``depth`` and count its bytes."""
        old = self._depth.get(id(obj))
        if old is None:
            self._grow(_sizeof(obj) + _TRACK_BYTES)
            self._keep.append(obj)
            self._depth[id(obj)] = depth
        else:  # an object handed back again (the empty tuple): keep it as deep and as placed as it was
            self._depth[id(obj)] = -max(-old, depth) if old < 0 else max(old, depth)
        return obj

    def _change(self, target: Any, items: Any, op: str, fill: Callable[[], None]) -> None:
        """Put ``items`` into the open container ``target`` with ``fill``, keeping depth and bytes counted."""
        depth = self._inner(items)
        old = self._depth.get(id(target), 1)
        if old < 0:
            raise UnsafeFileError(
                f"{self.label}: refusing pickle {op} on {brief(target)} that is already inside another object "
                "(a reference cycle, or a container changed after use; refused)"
            )
        before = sys.getsizeof(target)
        fill()
        self._grow(sys.getsizeof(target) - before)
        self._depth[id(target)] = max(old, depth)

    # ---- refusals and checked operations
    def _refuse(self, what: str) -> None:
        raise UnsafePickleError(f"{self.label}: refusing pickle opcode {what}: not used by weights files")

    def find_class(self, module: str, name: str) -> Any:
        """The allow-listed object for ``module.name``; anything else is refused unimported."""
        key = (module, name)
        if isinstance(module, str) and isinstance(name, str) and key in self._globals:
            return self._globals[key]
        allowed = ", ".join(f"{m}.{n}" for m, n in self._globals if not isinstance(self._globals[(m, n)], StorageType))
        raise UnsafePickleError(
            f"{self.label}: refusing to load global {name_of(module)}.{name_of(name)}: it is not on the allow-list "
            f"({allowed}, torch.<Type>Storage); nothing was imported or executed"
        )

    def load_reduce(self) -> None:
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        if id(func) not in self._callables or type(args) is not tuple:
            raise UnsafePickleError(f"{self.label}: refusing to call {brief(func)} (pickle REDUCE)")
        depth = self._inner((args,)) - 1 if args else 1
        stack[-1] = self._new(func(*args), max(depth, 1))

    def _newobj(self, cls: Any, args: Any, kwargs: Any) -> None:
        if not (isinstance(cls, type) and cls in self.newobj_types) or args != () or kwargs:
            raise UnsafePickleError(f"{self.label}: refusing to instantiate {brief(cls)} (pickle NEWOBJ)")
        new: Any = cls.__new__
        self.append(self._new(new(cls), 1))

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self._newobj(cls, args, None)

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._newobj(cls, args, kwargs)

    def load_build(self) -> None:
        state = self.stack.pop()
        self.build(self.stack[-1], state)

    def _target(self, kinds: tuple[type, ...], op: str) -> Any:
        target = self.stack[-1]
        if type(target) not in kinds:
            raise UnsafePickleError(f"{self.label}: refusing pickle {op} on {brief(target)}")
        return target

    # containers built from the stack
    def load_empty_tuple(self) -> None:
        self.append(self._new((), 1))

    def load_empty_list(self) -> None:
        self.append(self._new([], 1))

    def load_empty_dictionary(self) -> None:
        self.append(self._new({}, 1))

    def load_empty_set(self) -> None:
        self.append(self._new(set(), 1))

    def load_tuple(self) -> None:
        items = self.pop_mark()
        self.append(self._new(tuple(items), self._inner(items)))

    def _tuple_n(self, n: int) -> None:
        items = self.stack[-n:]
        if len(items) != n:
            raise pickle.UnpicklingError(f"TUPLE{n} on a stack of {len(items)} items")
        depth = self._inner(items)
        del self.stack[-n:]
        self.append(self._new(tuple(items), depth))

    def load_tuple1(self) -> None:
        self._tuple_n(1)

    def load_tuple2(self) -> None:
        self._tuple_n(2)

    def load_tuple3(self) -> None:
        self._tuple_n(3)

    def load_list(self) -> None:
        items = self.pop_mark()
        self.append(self._new(items, self._inner(items)))

    def load_dict(self) -> None:
        items = self.pop_mark()
        if len(items) % 2:
            raise UnsafeFileError(f"{self.label}: malformed pickle: DICT with an odd number of items")
        depth = self._inner(items)
        self.budget.add_keys(items[::2], self.label)
        self.append(self._new({items[i]: items[i + 1] for i in range(0, len(items), 2)}, depth))

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        depth = self._inner(items)
        self.budget.add_keys(items, self.label)
        self.append(self._new(frozenset(items), depth))

    # containers filled in place
    def load_append(self) -> None:
        value = self.stack.pop()
        target = self._target((list,), "APPEND")
        self._change(target, (value,), "APPEND", lambda: target.append(value))

    def load_appends(self) -> None:
        items = self.pop_mark()
        target = self._target((list,), "APPENDS")
        self._change(target, items, "APPENDS", lambda: target.extend(items))

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        target = self._target(self._dict_types(), "SETITEM")
        self.budget.add_keys((key,), self.label)
        self._change(target, (key, value), "SETITEM", lambda: target.__setitem__(key, value))

    def load_setitems(self) -> None:
        items = self.pop_mark()
        target = self._target(self._dict_types(), "SETITEMS")
        if len(items) % 2:
            raise UnsafeFileError(f"{self.label}: malformed pickle: SETITEMS with an odd number of items")
        self.budget.add_keys(items[::2], self.label)

        def fill() -> None:
            for i in range(0, len(items), 2):
                target[items[i]] = items[i + 1]

        self._change(target, items, "SETITEMS", fill)

    def load_additems(self) -> None:
        items = self.pop_mark()
        target = self._target((set,), "ADDITEMS")
        self.budget.add_keys(items, self.label)
        self._change(target, items, "ADDITEMS", lambda: target.update(items))

    def load_put(self) -> None:
        index = int(self.readline()[:-1])
        if not 0 <= index < 1 << 32:  # memo keys are ints: keep them where their hashes cannot collide
            raise UnsafeFileError(f"{self.label}: pickle PUT index {index} out of range")
        self.memo[index] = self.stack[-1]

    def _dict_types(self) -> tuple[type, ...]:
        return (dict, OrderedDict, *(t for t in self.newobj_types if issubclass(t, dict)))

    def _long(self, n: int) -> None:
        if n < 0 or n > self.limits.max_long_bytes:
            raise UnsafeFileError(
                f"{self.label}: a pickled integer of {n} bytes (at most {self.limits.max_long_bytes} are accepted)"
            )
        self.append(int.from_bytes(self.read(n), "little", signed=True))

    def load_long1(self) -> None:
        self._long(self.read(1)[0])

    def load_long4(self) -> None:
        (n,) = struct.unpack("<i", self.read(4))
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
        "EMPTY_TUPLE": "load_empty_tuple",
        "EMPTY_LIST": "load_empty_list",
        "EMPTY_DICT": "load_empty_dictionary",
        "EMPTY_SET": "load_empty_set",
        "TUPLE": "load_tuple",
        "TUPLE1": "load_tuple1",
        "TUPLE2": "load_tuple2",
        "TUPLE3": "load_tuple3",
        "LIST": "load_list",
        "DICT": "load_dict",
        "FROZENSET": "load_frozenset",
        "APPEND": "load_append",
        "APPENDS": "load_appends",
        "SETITEM": "load_setitem",
        "SETITEMS": "load_setitems",
        "ADDITEMS": "load_additems",
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
        names = {code: name for name, code in _OPS.items()}
        cls.dispatch = {}
        for code, f in table.items():
            name = names.get(code, "")
            kind = "leaf" if name in _LEAF_OPS else "memo" if name in _MEMO_OPS else name
            cls.dispatch[code] = _counted(f, kind)


RestrictedUnpickler._install_dispatch()
