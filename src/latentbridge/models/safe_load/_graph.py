"""The object graph a reader returns: acyclic, shallow, small as a tree, tensors not repeated beyond the data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ...errors import UnsafeFileError
from ._limits import DEFAULT_LIMITS, Budget, Limits

__all__ = ["check_graph"]


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
    elements: int = 0  # tensor elements reachable from the node, shared tensors counted per reference


def check_graph(
    root: Any,
    label: str,
    limits: Limits = DEFAULT_LIMITS,
    children: Callable[[Any], Iterable[Any] | None] = _default_children,
    budget: Budget | None = None,
) -> int:
    """Check an unpickled object graph: no cycles, nesting at most ``max_depth``, tree size at most ``max_expanded``.

    The tree size counts a shared object once per reference (a "billion laughs" pickle is small
    as a graph but exponential as a tree, which is how code that walks it sees it). With a
    ``budget``, the tensors reached are counted the same way, per reference: a file whose result
    repeats one tensor under many keys (so that code copying each entry would allocate many times
    the file) is refused beyond :meth:`Budget.view_cap` elements.

    Args:
        root: The object.
        label: File name for messages.
        limits: The bounds.
        children: Children of a node, None for a leaf (default: list/tuple/set/dict contents).
        budget: The file's accounting (storages read), to bound tensor references.

    Returns:
        The tree size.

    Raises:
        UnsafeFileError: A cycle, too deep, too big as a tree, or tensors repeated beyond the data.
    """
    first = children(root)
    if first is None:
        return 1
    sizes: dict[int, tuple[int, int]] = {}
    on_path = {id(root)}
    stack = [_Frame(root, iter(first))]
    cap = limits.max_expanded
    view_cap = budget.view_cap() if budget is not None else None
    while True:
        top = stack[-1]
        pushed = False
        for child in top.it:
            kids = children(child)
            if kids is None:
                top.size += 1
                if isinstance(child, torch.Tensor):
                    top.elements += child.numel()
            elif id(child) in sizes:
                size, elements = sizes[id(child)]
                top.size += size
                top.elements += elements
            elif id(child) in on_path:
                raise UnsafeFileError(f"{label}: the pickled objects contain a reference cycle (refused)")
            elif len(stack) >= limits.max_depth:
                raise UnsafeFileError(f"{label}: objects nested deeper than {limits.max_depth} levels (refused)")
            else:
                on_path.add(id(child))
                stack.append(_Frame(child, iter(kids)))
                pushed = True
                break
            if top.size > cap or (view_cap is not None and top.elements > view_cap):
                break
        if top.size > cap:
            raise UnsafeFileError(
                f"{label}: the pickled objects expand to more than {cap} nodes when read as a tree "
                "(shared references repeated: a 'billion laughs' structure; refused)"
            )
        if view_cap is not None and top.elements > view_cap:
            assert budget is not None
            raise UnsafeFileError(
                f"{label}: the tensors of this file, counted once per place they appear in, hold more than "
                f"{view_cap} elements but its storages hold only {budget.storage_elements} (one tensor repeated "
                f"under many keys beyond {limits.view_ratio}× the data is refused: copying each entry would "
                "allocate far more memory than the file holds)"
            )
        if pushed:
            continue
        stack.pop()
        on_path.discard(id(top.node))
        sizes[id(top.node)] = (top.size, top.elements)
        if not stack:
            return top.size
        stack[-1].size += top.size
        stack[-1].elements += top.elements
