"""Check a call's keyword arguments before making it, and name the close matches of the wrong ones.

One helper for every place that takes options by name: the plugin registries
(``load_generator("mnist-dcgan", devise=...)``), the optimizer adapters (a suite's
``params = { popsize = 40 }``) and nevergrad's configured optimizers. Each refuses with
one :class:`~latentbridge.errors.InputError` that names the unknown names, suggests the
closest accepted ones ("did you mean 'pop_size'?") and lists what is accepted, instead
of a ``TypeError`` from deep inside the call.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from .errors import InputError

__all__ = ["check_call", "close_matches", "unknown_names_error"]


def close_matches(names: Iterable[str], known: Collection[str]) -> list[str]:
    """The closest name of ``known`` to each of ``names`` that has a close one, in order, without repeats."""
    out: list[str] = []
    for name in names:
        for match in difflib.get_close_matches(name, list(known), n=1):
            if match not in out:
                out.append(match)
    return out


def unknown_names_error(
    what: str, unknown: Iterable[str], accepted: Iterable[str], *, noun: str = "parameter", owner: str = "it"
) -> InputError:
    """The error for names ``what`` does not accept, with close matches among ``accepted``.

    Args:
        what: Who refuses, as the message starts (``"paper-ga"``, ``"generator 'mnist-dcgan' (latentbridge)"``).
        unknown: The names it does not accept.
        accepted: The names it does accept, in the order to list them.
        noun: What the names are (``"parameter"``, ``"option"``).
        owner: Who accepts the listed names (``"it"``, a class name).

    Returns:
        ``"<what>: unknown <noun>(s) 'popsize' (did you mean 'pop_size'?); <owner> accepts: ..."``.
    """
    unknown, accepted = list(unknown), list(accepted)
    hints = close_matches(unknown, accepted)
    hint = f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
    return InputError(
        f"{what}: unknown {noun}(s) {', '.join(map(repr, unknown))}{hint}; "
        f"{owner} accepts: {', '.join(accepted) or f'no {noun}s'}"
    )


def check_call(
    fn: Callable[..., Any],
    what: str,
    params: Mapping[str, Any],
    *,
    args: tuple[Any, ...] = (),
    fixed: Mapping[str, Any] | None = None,
    noun: str = "parameter",
) -> None:
    """Refuse ``params`` that ``fn(*args, **fixed, **params)`` would not take, before calling it.

    Args:
        fn: The callable (a function or a class).
        what: Who refuses, as the message starts (see :func:`unknown_names_error`).
        params: The keyword arguments a user chose.
        args: Stand-ins for the positional arguments the caller passes (their values do not matter).
        fixed: Keyword arguments the caller passes itself; they are not listed as accepted, and a user
            may not set them.
        noun: What the names are (``"parameter"``, ``"option"``).

    Raises:
        InputError: an unknown name (with close matches and the accepted names), a name the caller
            sets itself, or any other mismatch with the signature (missing or repeated arguments).
            Callables without a readable signature (C functions) are not checked.
    """
    fixed = dict(fixed or {})
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins and C callables: let the call decide
        return
    taken = [k for k in params if k in fixed]
    if taken:
        raise InputError(f"{what}: {', '.join(map(repr, taken))} cannot be set here: latentbridge sets it")
    try:
        sig.bind(*args, **fixed, **params)
    except TypeError as exc:
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        values = list(sig.parameters.values())
        skip = {p.name for p in [p for p in values if p.kind in positional][: len(args)]}
        named = [p.name for p in values if p.kind in keyword and p.name not in skip and p.name not in fixed]
        takes_any = any(p.kind is p.VAR_KEYWORD for p in values)
        unknown = [] if takes_any else [k for k in params if k not in named and k not in skip]
        if unknown:
            raise unknown_names_error(what, unknown, named, noun=noun) from None
        raise InputError(f"{what}: {exc}; it accepts: {', '.join(named) or f'no {noun}s'}") from None
