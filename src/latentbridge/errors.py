"""Exceptions raised by latentbridge.

Every error a user can trigger derives from :class:`LatentBridgeError` *and* from
the builtin exception that best describes it, so ``except ValueError`` keeps
working for code that does not know about latentbridge::

    LatentBridgeError
    ├── InputError (ValueError)            bad arrays, shapes, dtypes, options
    │   ├── LatentShapeError               Z has the wrong shape / dtype / values
    │   ├── ImageShapeError                an image (e.g. a target) has the wrong shape
    │   └── PrecisionError                 a precision this device / torch build cannot run
    ├── UnknownNameError (KeyError)        no generator/scorer/problem/optimizer of that name
    ├── RegistryConflictError (ValueError) two plugins register the same name
    ├── PluginError (RuntimeError)         a plugin failed to import or to register
    ├── MissingDependencyError (ImportError)  an optional extra is not installed
    ├── UnsupportedOptimizerError (ValueError)  an optimizer that cannot run this problem (upstream cause named)
    ├── WeightsError (FileNotFoundError)   model weights cannot be found or read
    │   └── UnsafeFileError                a weights file is forged, corrupt or exceeds the readers' bounds
    │       └── UnsafePickleError (pickle.UnpicklingError)  a pickle asks for code outside the allow-list
    ├── NonFiniteFitnessError (ArithmeticError)  every evaluation of a run gave NaN/inf
    ├── NotDifferentiableError (TypeError) a generator or scorer blocks gradients (names which one)
    ├── RunTimeoutError (TimeoutError)     a bench run took longer than its run_timeout
    ├── UntrustedImportError (PermissionError)  an import path that was not allowed explicitly
    └── StoreError (OSError)               a bench store is corrupt, locked, read-only or unreadable
        └── StoreLockedError               another bench is writing to the same store

    NonFiniteFitnessWarning (RuntimeWarning)  some evaluations of a run gave NaN/inf

Messages name the offending argument, what was expected and what was found.
"""

from __future__ import annotations

import pickle

__all__ = [
    "ImageShapeError",
    "InputError",
    "LatentBridgeError",
    "LatentShapeError",
    "MissingDependencyError",
    "NonFiniteFitnessError",
    "NonFiniteFitnessWarning",
    "NotDifferentiableError",
    "PluginError",
    "PrecisionError",
    "RegistryConflictError",
    "RunTimeoutError",
    "StoreError",
    "StoreLockedError",
    "UnknownNameError",
    "UnsafeFileError",
    "UnsafePickleError",
    "UntrustedImportError",
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


class PrecisionError(InputError):
    """A ``precision`` option (``"fp32"``, ``"bf16"``, ``"fp16"``) is unknown or unsupported on the device."""


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


class NotDifferentiableError(LatentBridgeError, TypeError):
    """A gradient was asked of a problem whose generator or scorer cannot be differentiated.

    Raised by :meth:`LatentProblem.evaluate_grad` (and the gradient optimizers): the
    message names the generator or scorer that blocks autograd (it runs under
    ``torch.inference_mode``/``no_grad``, detaches, leaves torch for numpy, or is
    compiled for inference only) and what to do instead.
    """


class NonFiniteFitnessWarning(RuntimeWarning):
    """Some evaluations of a run gave a non-finite fitness (counted as failed, scored ``+inf``)."""


class RunTimeoutError(LatentBridgeError, TimeoutError):
    """A bench run exceeded its ``run_timeout``; it is stored as failed with this message."""


class UntrustedImportError(LatentBridgeError, PermissionError):
    """A suite or store names ``"pkg.module:factory"`` whose module was not allowed on the command line."""


class StoreError(LatentBridgeError, OSError):
    """A bench store cannot be used (corrupt, truncated, locked, read-only); the message names the path."""


class StoreLockedError(StoreError):
    """Another process holds the lock of a bench output folder; the message names the path and its pid."""


class UnsafeFileError(WeightsError):
    """A weights file or snapshot was refused before anything in it was run or allocated beyond its size.

    Raised for forged or corrupt files: a tensor larger than its data, a declared length past the end
    of the file, nesting or object counts beyond the readers' bounds, absurd declared sizes. The
    message names the offending field.
    """


class UnsafePickleError(UnsafeFileError, pickle.UnpicklingError):
    """A pickle asked for a global, an opcode or an operation outside the allow-list; nothing was executed."""


def missing_extra(module: str, extra: str, exc: BaseException | None = None) -> MissingDependencyError:
    """Build the error raised when optional module ``module`` (from extra ``extra``) is absent."""
    err = MissingDependencyError(
        f"{module!r} is required for this feature but is not installed. "
        f"Install it with: pip install 'latentbridge[{extra}]'"
    )
    if exc is not None:
        err.__cause__ = exc
    return err
