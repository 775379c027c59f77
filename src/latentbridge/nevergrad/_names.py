"""Optimizer names: look-up in nevergrad's registry with close matches, configuration, parameter checks.

:func:`lookup`, :func:`configure` and :func:`check_params` are public (re-exported by
:mod:`latentbridge.nevergrad`): :mod:`latentbridge.optimizers` checks a suite's ``ng:<name>``
entries with them before any run.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import nevergrad as ng
from nevergrad.optimization import base as ngbase

from .._signature import check_call, unknown_names_error
from ..errors import UnknownNameError

__all__ = ["check_params", "configure", "is_optimizer_class", "lookup"]


def lookup(name: str) -> Any:
    """The optimizer registered as ``name`` in ``nevergrad.optimizers.registry``.

    Args:
        name: A registry name (``"CMA"``, ``"TwoPointsDE"``, ``"LatentPaperGA"``...).

    Returns:
        What the registry holds: a ``ConfiguredOptimizer`` or an ``Optimizer`` class.

    Raises:
        UnknownNameError: no such name; the message lists close matches (case ignored first).
    """
    registry = ng.optimizers.registry
    if name in registry:
        return registry[name]
    names = list(registry)
    lower = {n.lower(): n for n in names}
    close = [lower[name.lower()]] if name.lower() in lower else []
    close += [n for n in difflib.get_close_matches(name, names, n=5, cutoff=0.6) if n not in close]
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownNameError(
        f"no optimizer named {name!r} in nevergrad's registry ({len(names)} names){hint} "
        "List them with sorted(nevergrad.optimizers.registry)."
    )


def is_optimizer_class(obj: Any) -> bool:
    """Whether ``obj`` is a nevergrad ``Optimizer`` class (not an instance, not a configuration)."""
    return isinstance(obj, type) and issubclass(obj, ngbase.Optimizer)


def configure(factory: Any, name: str, params: Mapping[str, Any]) -> Any:
    """``factory`` with ``params`` overriding its configuration (``ConfiguredOptimizer`` only).

    An ``Optimizer`` class is returned as it is: ``params`` go to its constructor.

    Args:
        factory: What :func:`lookup` returned (or a caller's ``ConfiguredOptimizer`` or class).
        name: The optimizer's name, as error messages give it.
        params: Configuration overrides (``pop_size=50`` for ``"LatentPaperGA"``).

    Raises:
        InputError: a name the configuration does not have (with close matches).
    """
    if not params:
        return factory
    if not isinstance(factory, ngbase.ConfiguredOptimizer):
        return factory  # an Optimizer class: params go to its constructor
    config = factory.config()
    unknown = sorted(set(params) - set(config))
    if unknown:
        raise unknown_names_error(f"optimizer {name!r}", unknown, sorted(config))
    return type(factory)(**{**config, **params})


def check_params(name: str, params: Mapping[str, Any], *, what: str | None = None) -> None:
    """Check that ``name`` is in nevergrad's registry and takes ``params``, without building it.

    Configured optimizers check names and values (:func:`configure` builds the
    configuration); ``Optimizer`` classes check names against their constructor, whose
    ``parametrization``, ``budget`` and ``num_workers`` the driver sets.

    Args:
        name: A registry name.
        params: Configuration overrides or constructor arguments (not :func:`minimize`'s own
            ``batch``, ``bounded``, ``fast``).
        what: The name as error messages give it (default ``name``).

    Raises:
        UnknownNameError: no such name (close matches listed).
        InputError: an unknown parameter (close matches and the accepted ones listed) or a bad value.
    """
    factory = lookup(name)
    label = name if what is None else what
    configure(factory, label, params)
    if is_optimizer_class(factory) and params:
        check_call(factory, label, params, args=(None,), fixed={"budget": 1, "num_workers": 1})
