"""Exceptions raised by latentbridge.

Every error a user can trigger derives from :class:`LatentBridgeError` *and* from
the builtin exception that best describes it, so ``except ValueError`` keeps
working for code that does not know about latentbridge::

    LatentBridgeError
    ├── InputError (ValueError)            bad arrays, shapes, dtypes, options
    │   ├── LatentShapeError               Z has the wrong shape / dtype / values
    │   └── ImageShapeError                an image (e.g. a target) has the wrong shape
    ├── UnknownNameError (KeyError)        no generator/scorer/problem/optimizer of that name
    ├── RegistryConflictError (ValueError) two plugins register the same name
    ├── PluginError (RuntimeError)         a plugin failed to import or to register
    ├── MissingDependencyError (ImportError)  an optional extra is not installed
    ├── UnsupportedOptimizerError (ValueError)  an optimizer that cannot run this problem (upstream cause named)
    ├── WeightsError (FileNotFoundError)   model weights cannot be found or read
    └── NonFiniteFitnessError (ArithmeticError)  every evaluation of a run gave NaN/inf

    NonFiniteFitnessWarning (RuntimeWarning)  some evaluations of a run gave NaN/inf

Messages name the offending argument, what was expected and what was found.
"""

from __future__ import annotations

__all__ = [
    "ImageShapeError",
    "InputError",
    "LatentBridgeError",
    "LatentShapeError",
    "MissingDependencyError",
    "NonFiniteFitnessError",
    "NonFiniteFitnessWarning",
    "PluginError",
    "RegistryConflictError",
    "UnknownNameError",
    "UnsupportedOptimizerError",
    "WeightsError",
]


class LatentBridgeError(Exception):
    """Base class of every exception latentbridge raises on purpose."""


class InputError(LatentBridgeError, ValueError):
    """An argument has a wrong value, shape, dtype or type."""


class LatentShapeError(InputError):
    """A latent array ``Z`` does not match the problem's ``(n, dim)`` contract."""


class ImageShapeError(InputError):
    """An image does not match the ``(C, H, W)`` shape a generator or scorer expects."""


class UnknownNameError(LatentBridgeError, KeyError):
    """A name was looked up in a registry that does not contain it."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0]) if self.args else ""


class RegistryConflictError(LatentBridgeError, ValueError):
    """Two registrations use the same name in the same registry."""


class PluginError(LatentBridgeError, RuntimeError):
    """A plugin failed to import or its registration hook raised."""


class MissingDependencyError(LatentBridgeError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` to run."""


class UnsupportedOptimizerError(LatentBridgeError, ValueError):
    """An optimizer of a framework (nevergrad, pymoo) cannot run this problem as asked.

    The message names the optimizer, the cause (an upstream bug, a limitation such as
    "cannot ask several candidates at once") and what to do instead; the original
    exception, if any, is the ``__cause__``.
    """


class WeightsError(LatentBridgeError, FileNotFoundError):
    """Model weights are missing or unreadable; the message says where to get them."""


class NonFiniteFitnessError(LatentBridgeError, ArithmeticError):
    """Every evaluation of a run gave a non-finite (NaN or inf) fitness, so there is no best solution.

    Non-finite fitness is a *failed evaluation*: :meth:`LatentProblem.evaluate` returns
    it as ``+inf`` (the worst value, so optimizers move away from it) and counts it in
    ``n_failed``. A run with no finite evaluation at all has no result and raises this.
    """


class NonFiniteFitnessWarning(RuntimeWarning):
    """Some evaluations of a run gave a non-finite fitness (counted as failed, scored ``+inf``)."""


def missing_extra(module: str, extra: str, exc: BaseException | None = None) -> MissingDependencyError:
    """Build the error raised when optional module ``module`` (from extra ``extra``) is absent."""
    err = MissingDependencyError(
        f"{module!r} is required for this feature but is not installed. "
        f"Install it with: pip install 'latentbridge[{extra}]'"
    )
    if exc is not None:
        err.__cause__ = exc
    return err
