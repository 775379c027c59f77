"""Tensors and storages rebuilt from a pickle, every argument checked before the tensor exists."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ...errors import UnsafeFileError, UnsafePickleError
from ._limits import Budget, brief

__all__ = ["STORAGE_TYPES", "element_size", "rebuild_parameter", "rebuild_tensor", "storage_from_bytes"]

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


@dataclass(frozen=True)
class StorageType:
    """What a ``torch.<Name>Storage`` global turns into: a name and a dtype, nothing callable."""

    name: str
    dtype: torch.dtype


def element_size(dtype: torch.dtype) -> int:
    """Bytes of one element of ``dtype``."""
    return torch.empty((), dtype=dtype).element_size()


def storage_from_bytes(data: bytes, dtype: torch.dtype) -> torch.TypedStorage:
    """A CPU storage of ``dtype`` holding a copy of ``data``."""
    untyped = torch.UntypedStorage.from_buffer(data, dtype=torch.uint8) if data else torch.UntypedStorage(0)  # type: ignore[no-untyped-call]
    return torch.TypedStorage(wrap_storage=untyped, dtype=dtype, _internal=True)  # type: ignore[no-untyped-call]


def _int_tuple(v: Any, what: str, label: str) -> tuple[int, ...]:
    if type(v) not in (tuple, list) or not all(type(i) is int for i in v):
        raise UnsafePickleError(f"{label}: tensor {what}: expected a tuple of ints, found {brief(v)}")
    return tuple(v)


def _storage_parts(storage: Any, label: str) -> tuple[torch.UntypedStorage, torch.dtype]:
    if isinstance(storage, torch.TypedStorage):
        return storage._untyped_storage, storage.dtype
    raise UnsafePickleError(f"{label}: a tensor must view a tensor storage, found {brief(storage)}")


def _no_hooks(hooks: Any, what: str, label: str) -> None:
    if hooks is not None and not (isinstance(hooks, Mapping) and not hooks):
        raise UnsafePickleError(f"{label}: tensor {what} are not allowed (found {brief(hooks)})")


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
    _no_hooks(backward_hooks, "backward hooks", label)
    _no_hooks(metadata, "metadata", label)
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
    available = untyped.nbytes() // element_size(dtype)
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
    _no_hooks(backward_hooks, "backward hooks", label)
    grad = requires_grad is True and (data.is_floating_point() or data.is_complex())
    return torch.nn.Parameter(data.detach(), requires_grad=grad)
