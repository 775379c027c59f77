"""Bounds of the safe readers and the accounting of what one file builds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...errors import UnsafeFileError

__all__ = ["DEFAULT_LIMITS", "Budget", "Limits", "brief"]

_MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Bounds of the safe readers (defaults fit every real snapshot / state dict with a wide margin).

    Attributes:
        max_ops: Pickle opcodes executed per pickle stream.
        max_memo: Memo entries per pickle stream.
        max_depth: Nesting of containers (tuples, lists, dicts, sets, frozensets, ``OrderedDict``,
            the arguments of allow-listed calls), for dict keys and set items as for values; checked
            as each container is built, before anything hashes, compares or walks it.
        max_expanded: Nodes of a result read as a tree, shared references counted each time.
        max_line: Bytes of a text opcode's line (``GLOBAL``, ``INT``, ``LONG``, ``FLOAT``, ...), inside
            protocol-4 frames too; checked before the text is converted.
        max_long_bytes: Bytes of a binary long integer (``LONG1``/``LONG4``), checked before conversion.
        max_tensor_dims: Dimensions of a tensor.
        max_records: Storages per file, entries of a zip archive.
        view_ratio: Elements of all tensors built, and of all tensor references in the result (a tensor
            reached under two keys counts twice) / elements of all storages read (overlapping views or
            one tensor repeated under many keys would otherwise multiply memory once copied).
        max_hashed_keys: Dict keys and set items per file whose hash is not randomised (anything
            but ``str`` / ``bytes``: ints, floats, tuples collide at will and make inserts quadratic).
        memory_ratio: What a file may build (tensor storages and every Python object the unpickler
            creates, memo and bookkeeping included, counted with ``sys.getsizeof``), in multiples of its
            size in bytes, on top of ``memory_slack``.
        memory_slack: Bytes any file may build beyond ``memory_ratio`` × its size.
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
    memory_ratio: int = 16
    memory_slack: int = 16 * _MIB


DEFAULT_LIMITS = Limits()

_VIEW_SLACK = 4096  # elements any file may view beyond view_ratio × its storages (empty / scalar tensors)


def brief(value: Any, limit: int = 60) -> str:
    """A short description of ``value`` for error messages (never the repr of a big or deep object)."""
    if value is None or isinstance(value, (bool, float)):
        text = repr(value)
    elif isinstance(value, int):
        text = repr(value) if value.bit_length() <= 256 else f"an int of {value.bit_length()} bits"
    elif isinstance(value, (str, bytes, bytearray)):
        text = repr(value[: limit + 1])
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"a {type(value).__name__} of {len(value)} items"
    else:
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[:limit] + "..."


def name_of(value: Any) -> str:
    """``value`` itself if it is a short printable string, else :func:`brief` of it."""
    return value if isinstance(value, str) and len(value) <= 80 and value.isprintable() else brief(value)


@dataclass
class Budget:
    """What one file may build: storages, tensor views, hash-chosen keys and bytes of objects.

    Attributes:
        limits: The bounds.
        file_bytes: Size of the file read (set by the first reader that sees it when None); the
            memory cap is ``limits.memory_ratio * file_bytes + limits.memory_slack``.
        storage_elements: Elements of the storages read.
        view_elements: Elements of the tensors built on them.
        storages: Storages read.
        hashed_keys: Dict keys / set items that are not strings.
        built_bytes: Bytes of what was built so far.
    """

    limits: Limits = DEFAULT_LIMITS
    file_bytes: int | None = None
    storage_elements: int = 0
    view_elements: int = 0
    storages: int = 0
    hashed_keys: int = 0
    built_bytes: int = 0

    def memory_cap(self) -> int:
        """Bytes this file may build."""
        return self.limits.memory_ratio * (self.file_bytes or 0) + self.limits.memory_slack

    def add_bytes(self, nbytes: int, where: str) -> None:
        """Count ``nbytes`` built; refuse the file once it builds more than :meth:`memory_cap`."""
        self.built_bytes += nbytes
        if self.built_bytes > self.memory_cap():
            lim = self.limits
            raise UnsafeFileError(
                f"{where}: reading this file would build more than {self.memory_cap()} bytes of objects "
                f"({lim.memory_ratio}× its {self.file_bytes or 0} bytes + {lim.memory_slack // _MIB} MiB): it "
                "repeats objects through the pickle memo or builds many small containers (refused before "
                "using more memory)"
            )

    def add_keys(self, keys: Iterable[Any], where: str) -> None:
        """Count dict keys / set items whose hash an attacker can choose (not ``str`` / ``bytes``)."""
        self.hashed_keys += sum(1 for k in keys if type(k) not in (str, bytes))
        if self.hashed_keys > self.limits.max_hashed_keys:
            raise UnsafeFileError(
                f"{where}: more than {self.limits.max_hashed_keys} dict keys / set items that are not strings "
                "(their hashes can be made to collide, making the file slow to read); refused"
            )

    def add_storage(self, numel: int, where: str, nbytes: int = 0) -> None:
        """Count a storage of ``numel`` elements and ``nbytes`` bytes."""
        self.storages += 1
        if self.storages > self.limits.max_records:
            raise UnsafeFileError(f"{where}: more than {self.limits.max_records} tensor storages in one file")
        self.storage_elements += numel
        self.add_bytes(nbytes, where)

    def view_cap(self) -> int:
        """Elements the tensors of this file may view in all."""
        return self.limits.view_ratio * self.storage_elements + _VIEW_SLACK

    def add_view(self, numel: int, where: str) -> None:
        """Count a tensor of ``numel`` elements, refusing views far beyond the data read."""
        self.view_elements += numel
        if self.view_elements > self.view_cap():
            raise UnsafeFileError(
                f"{where}: the tensors of this file view {self.view_elements} elements but its storages hold "
                f"only {self.storage_elements} (overlapping views beyond {self.limits.view_ratio}× the data are "
                "refused: copying them would allocate far more memory than the file holds)"
            )
