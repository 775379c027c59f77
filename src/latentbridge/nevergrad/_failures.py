"""Failure translation: every exception raised inside nevergrad (or a package it imports) as one latentbridge error.

A missing optional package becomes a :class:`~latentbridge.errors.MissingDependencyError`
naming the ``pip install``; a submodule the installed version lacks, or any other upstream
exception, an :class:`~latentbridge.errors.UnsupportedOptimizerError` naming the optimizer,
the stage and the module that raised (the upstream exception is the ``__cause__``).
"""

from __future__ import annotations

import gc
import importlib.util
import re
import sys
from typing import Any

from ..errors import LatentBridgeError, MissingDependencyError, UnsupportedOptimizerError

__all__ = ["release_quietly", "upstream_failure"]

#: pip distribution of modules that nevergrad imports for some optimizers, where it differs.
_PIP_NAMES = {
    "ax": "ax-platform",
    "pybobyqa": "Py-BOBYQA",
    "smac": "smac",
    "bayes_opt": "bayesian-optimization",
    "sklearn": "scikit-learn",
    "skopt": "scikit-optimize",
    "ConfigSpace": "ConfigSpace",
    "fcmaes": "fcmaes",
    "pypop7": "pypop7",
    "directsearch": "directsearch",
}


def _missing_package(name: str, exc: ImportError) -> MissingDependencyError:
    module = str(exc.name or "").split(".")[0]
    if not module:
        found = re.search(r"pip install ([A-Za-z0-9_.\-\[\]]+)", str(exc))
        module = found.group(1) if found else ""
    package = _PIP_NAMES.get(module, module.replace("_", "-")) if module else ""
    what = f"the package {package!r}" if package else "an optional package"
    err = MissingDependencyError(
        f"nevergrad optimizer {name!r} needs {what}, which is not installed ({' '.join(str(exc).split())}). "
        + (f"Install it with: pip install {package}" if package else "Install what the message names")
        + ", or pick another optimizer (docs/optimizers.md lists which ones run)."
    )
    err.__cause__ = exc
    return err


def upstream_failure(name: str, stage: str, exc: BaseException, batch: int = 1) -> LatentBridgeError:
    """One latentbridge error for an exception raised inside nevergrad (or a package it calls)."""
    link: BaseException | None = exc
    while link is not None:  # an ImportError, maybe re-raised by nevergrad's recast threads
        missing = re.search(r"No module named '([\w.]+)'", str(link))
        module = getattr(link, "name", None) if isinstance(link, ImportError) else None
        module = module or (missing.group(1) if missing else None)
        if isinstance(link, ImportError) or missing:
            top = str(module or "").split(".")[0]
            if top and module != top and importlib.util.find_spec(top) is not None:  # installed, lacks the submodule
                err = UnsupportedOptimizerError(
                    f"nevergrad optimizer {name!r} imports {module!r}, which the installed {top} does not have "
                    f"({' '.join(str(link).split())}): this nevergrad version does not support that {top} version. "
                    "Pick another optimizer, e.g. 'NGOpt', 'CMA', 'DiagonalCMA' or 'TwoPointsDE'."
                )
                err.__cause__ = exc
                return err
            if isinstance(link, ImportError):
                return _missing_package(name, link)
            return _missing_package(name, ModuleNotFoundError(str(link).strip(), name=module))
        link = link.__cause__ or link.__context__
    tb = exc.__traceback__
    where = "nevergrad"
    while tb is not None:  # the innermost third-party module that raised
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module and not module.startswith(("latentbridge", "numpy")):
            where = module
        tb = tb.tb_next
    err = UnsupportedOptimizerError(
        f"nevergrad optimizer {name!r} failed while {stage}, inside {where}: {type(exc).__name__}: {exc}. "
        "This is an upstream limitation or bug (docs/optimizers.md lists the optimizers that run); "
        + (f"it may run with a smaller batch (batch={batch} was used; try batch=1), or pick " if batch > 1 else "pick ")
        + "another optimizer, e.g. 'NGOpt', 'CMA', 'DiagonalCMA' or 'TwoPointsDE'."
    )
    err.__cause__ = exc
    return err


def _quiet_recast_del(unraisable: Any) -> bool:
    """The error nevergrad's ``RecastOptimizer.__del__`` raises for an optimizer whose constructor failed."""
    return (
        getattr(unraisable.object, "__qualname__", "") == "RecastOptimizer.__del__"
        and isinstance(unraisable.exc_value, AttributeError)
        and "_messaging_thread" in str(unraisable.exc_value)
    )


def release_quietly(failure: BaseException) -> None:
    """Free what a failed constructor left behind without nevergrad's "Exception ignored" traceback.

    A chain or portfolio built with ``num_workers > 1`` can fail inside a scipy-style
    sub-optimizer's constructor before it set ``_messaging_thread``; that half-built
    object's ``__del__`` then raises an ``AttributeError`` that Python prints to stderr.
    Only that error is dropped (any other unraisable error reaches the previous hook),
    and only while the failure's frames are released here.
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not _quiet_recast_del(unraisable):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        failure.__traceback__ = None
        failure.__context__ = None
        gc.collect()
    finally:
        sys.unraisablehook = previous
