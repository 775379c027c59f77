"""How a model computes: numeric precision (autocast), memory layout and compilation (public helpers).

These options change *how* a generator's or scorer's module runs, never what the
protocol boundary sees: images stay float32 NCHW in [-1, 1], features float32,
fitness float64. ``precision`` changes the numbers (so it is part of a problem's
identity); ``channels_last`` and ``compile`` only change the speed (up to float
rounding) and are not.

``compile`` takes ``False`` (eager), ``True`` (``torch.compile``) or ``"freeze"``:
``torch.compile`` with inductor's *freezing*, which folds the weights into the
compiled graph as constants, so that on CPU oneDNN fuses convolutions and linear
layers with their bias and activation and pre-packs their weights in its blocked
layout (the "oneDNN fusion" path; weights changed after the first call are not seen).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import math
import shutil
import time
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

import torch

from .errors import PrecisionError

__all__ = [
    "COMPILE_MODES",
    "PrecisionOptions",
    "PRECISIONS",
    "CompileMode",
    "CompiledForward",
    "Precision",
    "PrecisionWarning",
    "apply_precision",
    "autocast",
    "check_compile",
    "check_precision",
    "cpu_capability",
    "cpu_description",
    "default_channels_last",
    "emulated",
    "emulation_reported",
    "precision_support",
    "to_channels_last",
]

Precision = Literal["fp32", "bf16", "fp16"]
#: Accepted precision names, full precision first.
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

CompileMode = bool | Literal["freeze"]
#: What ``compile=`` accepts: eager, ``torch.compile``, ``torch.compile`` with frozen weights (oneDNN fusion).
COMPILE_MODES: tuple[bool | str, ...] = (False, True, "freeze")


class PrecisionWarning(UserWarning):
    """A precision, layout or compile option runs, but slowly or not as asked (e.g. fell back to eager)."""


def _cpu_native(precision: str) -> bool:
    """Whether this CPU has native instructions (AVX-512 BF16 / AVX-512 FP16 or AMX) for ``precision``."""
    ops = torch.ops.mkldnn
    try:
        if precision == "bf16":
            return bool(ops._is_mkldnn_bf16_supported())
        if precision == "fp16":
            return bool(ops._is_mkldnn_fp16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - torch built without oneDNN
        return False
    return True


def precision_support(device: str | torch.device) -> dict[str, str]:
    """What each precision does on ``device``: ``"native"``, ``"emulated"`` (runs, slowly) or ``"unsupported"``.

    Example:
        >>> precision_support("cpu")["fp32"]
        'native'
    """
    dev = torch.device(device)
    out = {"fp32": "native"}
    for p in ("bf16", "fp16"):
        if dev.type == "cpu":
            if _cpu_native(p):
                out[p] = "native"
            else:
                # bf16 autocast runs everywhere (emulated); fp16 conv/matmul kernels need oneDNN's fp16 path
                out[p] = "emulated" if p == "bf16" else "unsupported"
        elif dev.type == "cuda":
            ok = p == "fp16" or (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
            out[p] = "native" if ok else "unsupported"
        else:
            avail = getattr(torch.amp, "is_autocast_available", None)
            out[p] = "native" if avail is not None and avail(dev.type) else "unsupported"
    return out


def check_precision(
    precision: Any, device: str | torch.device, *, owner: str = "precision", warn: bool = True
) -> Precision:
    """Validate a ``precision`` option for ``device``.

    Args:
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (None means ``"fp32"``).
        device: Where the module runs.
        owner: Name used in messages (``"TorchGenerator(precision=...)"``).
        warn: Warn when the precision is emulated (``False`` for components that compute in float32
            whatever they are asked, and inside :func:`emulation_reported`).

    Returns:
        The precision name.

    Raises:
        PrecisionError: an unknown name, or a precision this device (or torch build) cannot run.

    Warns:
        PrecisionWarning: bf16 on a CPU without native bf16 instructions (correct but slow).
    """
    if precision is None:
        return "fp32"
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise PrecisionError(f"{owner}: precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    dev = torch.device(device)
    support = precision_support(dev)[precision]
    if support == "unsupported":
        hint = (
            "this CPU/torch build has no fp16 kernels (oneDNN reports no AVX-512 FP16/AMX); use precision='bf16'"
            if dev.type == "cpu"
            else f"torch cannot autocast to {precision} on {dev.type!r}; use precision='fp16' or 'fp32'"
        )
        raise PrecisionError(f"{owner}: precision={precision!r} is not supported on device {str(dev)!r}: {hint}")
    if support == "emulated" and warn and not _EMULATION_REPORTED.get():
        warnings.warn(
            f"{owner}: precision={precision!r} on a CPU without native {precision} instructions is emulated "
            "and usually slower than fp32",
            PrecisionWarning,
            stacklevel=3,
        )
    return precision  # type: ignore[return-value]


_EMULATION_REPORTED: contextvars.ContextVar[bool] = contextvars.ContextVar("emulation_reported", default=False)


@contextlib.contextmanager
def emulation_reported() -> Iterator[None]:
    """Inside this block :func:`check_precision` does not warn about emulated precisions.

    For code that has already told the user once (a problem-wide ``precision`` warns once, then
    copies its generator and scorers quietly; the bench says it once per run in its own words).
    Other :class:`PrecisionWarning` s (fallbacks to eager mode, ignored layouts) are not affected.
    """
    token = _EMULATION_REPORTED.set(True)
    try:
        yield
    finally:
        _EMULATION_REPORTED.reset(token)


def emulated(precision: str, device: str | torch.device = "cpu") -> bool:
    """Whether ``precision`` runs emulated (correct but slow) on ``device``: bf16 on a CPU without
    AVX-512 BF16 or AMX instructions.

    Example:
        >>> emulated("fp32")
        False
    """
    return precision in PRECISIONS and precision_support(device)[precision] == "emulated"


def default_channels_last(device: str | torch.device | None = None, role: str = "generator") -> bool:
    """The channels-last default of the embedded convolutional models on ``device``.

    Measured per layer type (``benchmarks/layout.py``): oneDNN's channels-last ``Conv2d`` (the digit
    CNN, ``role="scorer"``) ran about 2× faster on AVX-512 and on AVX2 kernels alike, so scorers use it on
    every CPU; channels-last ``ConvTranspose2d`` (the DCGAN, ``role="generator"``) was faster with AVX-512
    kernels but 1.3-1.8× slower with AVX2-only ones, so generators use it only where torch dispatches
    AVX-512 kernels. On CUDA it is on. The layout changes speed only (not the identity); the bench
    records the CPU it ran on (:func:`cpu_description`) with every run.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cpu":
        return role == "scorer" or cpu_capability().startswith("AVX512")
    return dev.type == "cuda"


def cpu_capability() -> str:
    """The CPU kernel family torch dispatches to (``"AVX512"``, ``"AVX2"``, ``"DEFAULT"``, ...).

    Follows ``ATEN_CPU_CAPABILITY`` when it is set (``ATEN_CPU_CAPABILITY=avx2`` makes an AVX-512
    machine behave like an AVX2 one; with ``ONEDNN_MAX_CPU_ISA=AVX2`` bf16 becomes emulated too).
    """
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):  # pragma: no cover - very old torch
        return "DEFAULT"


def cpu_description() -> str:
    """One line on the CPU kernels this process uses, e.g. ``"AVX512, bf16 native, fp16 unsupported"``."""
    support = precision_support("cpu")
    return f"{cpu_capability()}, bf16 {support['bf16']}, fp16 {support['fp16']}"


def check_compile(value: Any, *, owner: str = "compile") -> CompileMode:
    """Validate a ``compile`` option: ``False``/``None`` (eager), ``True`` or ``"freeze"``.

    Raises:
        PrecisionError: any other value (the message lists the accepted ones).
    """
    if value is None or value is False:
        return False
    if value is True or value == "freeze":
        return value  # type: ignore[no-any-return]
    raise PrecisionError(
        f"{owner}: compile must be False, True (torch.compile) or 'freeze' (torch.compile with the weights "
        f"frozen into the graph: oneDNN fusion on CPU); got {value!r}"
    )


@contextlib.contextmanager
def autocast(precision: str, device: torch.device) -> Iterator[None]:
    """``torch.autocast`` to ``precision`` on ``device`` (nothing at all for fp32).

    fp32 enters no context, so an outer autocast (e.g. a problem-wide one) keeps working.
    """
    if precision == "fp32":
        yield
        return
    with torch.autocast(device.type, dtype=_DTYPES[precision]):
        yield


def to_channels_last(module: Any) -> bool:
    """Put a module's 4-D parameters and buffers in channels-last memory format; False if it is not a Module."""
    if not isinstance(module, torch.nn.Module):
        return False
    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return True


def compile_unavailable_reason(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot run on ``device`` here (None if it can)."""
    if not hasattr(torch, "compile"):  # pragma: no cover - torch < 2
        return "this torch has no torch.compile"
    if device.type == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        return "torch.compile's CPU backend needs a C++ compiler (g++ or clang++) on PATH"
    try:
        from torch._dynamo.eval_frame import is_dynamo_supported
    except Exception as exc:  # pragma: no cover - broken install
        return f"torch._dynamo does not import: {exc}"
    if not is_dynamo_supported():  # pragma: no cover - e.g. unsupported Python
        return "torch.compile does not support this Python version"
    return None


class _Frozen(torch.nn.Module):
    """``fn`` behind a forward of its own, so that ``"freeze"`` graphs live in their own dynamo cache.

    torch.compile caches graphs on the code object it compiles, guarded by what the graph
    assumes. A plain compiled graph takes the weights as inputs and fits any instance of
    the same module class, so a later ``"freeze"`` compile of another instance would have
    reused it without freezing anything. Frozen graphs are guarded on the identity of the
    weights they folded in, so each frozen model gets its own graph. Each instance also
    gets its own copy of :meth:`forward`'s code object: dynamo keeps at most
    ``recompile_limit`` (8) graphs per code object and silently runs eagerly beyond, which
    a process with several frozen models (each compiled per batch shape) would reach.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        own = type(self).forward
        code = own.__code__.replace()  # a new code object: a dynamo cache of its own
        self.forward = types.MethodType(types.FunctionType(code, own.__globals__, "forward"), self)  # type: ignore[method-assign]
        owner = getattr(fn, "__self__", None)
        if isinstance(fn, torch.nn.Module):
            self.inner: Any = fn
            self.method = "__call__"
        elif isinstance(owner, torch.nn.Module):  # a bound method such as net.features
            self.inner = owner
            self.method = fn.__name__
        else:
            self.fn = fn
            self.method = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.method:
            return self.fn(x)
        out: torch.Tensor = getattr(self.inner, self.method)(x)
        return out


class CompiledForward:
    """A ``torch.compile``-d callable that falls back to eager, with a :class:`PrecisionWarning`, on failure.

    The first call per input shape compiles and is checked against the eager module on
    the same input: output that differs by more than rounding (relative L2 error above
    1e-3 in fp32, 0.1 under autocast) means eager mode from then on, with a
    :class:`PrecisionWarning` (measured: ``"freeze"`` on FaceNet in bf16 was 73 % off).
    :attr:`compile_seconds` accumulates the time those warm-up calls took so that
    benchmarks can report (and exclude) it. Shapes are static (``dynamic=False``): latent
    problems call their models with few batch sizes (the target, full chunks, the last
    smaller one), static kernels are faster, and torch's automatic dynamic-shape
    recompilation broke frozen channels-last graphs (a stride assertion in the embedded
    scorer).

    Args:
        fn: The module (or callable) to compile.
        device: Where it runs (to check that a compiler is available).
        owner: Name used in messages.
        mode: ``True`` (``torch.compile``) or ``"freeze"`` (with inductor's freezing: the
            weights become constants of the graph, which lets oneDNN fuse and pre-pack them).
        check: Compare each shape's first compiled output with eager mode's (turn off for
            stochastic modules, e.g. a generator drawing fresh noise on every call).
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        *,
        owner: str,
        mode: CompileMode = True,
        check: bool = True,
    ) -> None:
        self.eager = fn
        self.owner = owner
        self.check = bool(check)
        self.mode: CompileMode = check_compile(mode, owner=owner) or True
        self.compile_seconds = 0.0
        self.fallback_reason: str | None = compile_unavailable_reason(device)
        self._seen: set[tuple[Any, ...]] = set()
        self._compiled: Callable[[torch.Tensor], torch.Tensor] | None = None
        if self.fallback_reason is None:
            self._compiled = torch.compile(_Frozen(fn) if self.mode == "freeze" else fn, dynamic=False)
        else:
            self._warn()

    @property
    def active(self) -> bool:
        """Whether calls run the compiled code (False after a fallback)."""
        return self._compiled is not None

    def _warn(self) -> None:
        warnings.warn(
            f"{self.owner}: compile={self.mode!r} falls back to eager mode: {self.fallback_reason}",
            PrecisionWarning,
            stacklevel=4,
        )

    def _freezing(self) -> contextlib.AbstractContextManager[Any]:
        """Inductor's ``freezing`` switched on while (re)compiling in ``"freeze"`` mode.

        Passing ``options={"freezing": True}`` to ``torch.compile`` does not reach every
        place inductor reads it (measured: 1.25× instead of 2.7× on the embedded pair in
        bf16), so the config is patched around the calls, which is where compiling happens.
        """
        if self.mode != "freeze":
            return contextlib.nullcontext()
        from torch._inductor import config as inductor_config

        return inductor_config.patch(freezing=True)  # type: ignore[no-any-return]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._compiled is None:
            return self.eager(x)
        key = (tuple(x.shape), x.dtype, torch.is_autocast_enabled(x.device.type))
        if key in self._seen:
            with self._freezing():  # a guard failure may recompile
                return self._compiled(x)
        t0 = time.perf_counter()
        try:
            with self._freezing():
                out = self._compiled(x)
        except Exception as exc:  # any compiler failure means: run eagerly
            self._compiled = None
            self.fallback_reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self._warn()
            return self.eager(x)
        self.compile_seconds += time.perf_counter() - t0
        if not self.check:
            self._seen.add(key)
            return out
        ref = self.eager(x)
        error = _relative_error(out, ref)
        tol = _CHECK_TOLERANCE[torch.is_autocast_enabled(x.device.type)]
        if error > tol:  # compiled code that computes something else is not a speed-up
            self._compiled = None
            self.fallback_reason = (
                f"its output differs from eager mode's by {error:.2g} (relative L2 norm, tolerance {tol:g}) "
                f"for inputs of shape {tuple(x.shape)}"
            )
            self._warn()
            return ref
        self._seen.add(key)
        return out


#: Largest relative L2 difference between compiled and eager outputs at a shape's first call, by whether
#: autocast (bf16/fp16) is on: fp32 kernels differ by rounding (~1e-6), reduced-precision ones by ~1e-2.
_CHECK_TOLERANCE = {False: 1e-3, True: 0.1}


def _relative_error(out: Any, ref: Any) -> float:
    """``||out - ref|| / ||ref||`` for two tensors (inf for different shapes; 0 when either is not a tensor)."""
    if not isinstance(out, torch.Tensor) or not isinstance(ref, torch.Tensor):
        return 0.0  # nothing this check knows how to compare
    if out.shape != ref.shape:
        return math.inf
    a, b = out.detach().float(), ref.detach().float()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def dtype_of(precision: str) -> torch.dtype:
    """The torch dtype a precision computes in."""
    return _DTYPES[precision]


def apply_precision(obj: Any, precision: Precision, role: str) -> Any:
    """``obj`` computing in ``precision``: ``obj.with_precision(precision)``, or ``obj`` itself for fp32.

    Args:
        obj: A generator or scorer.
        precision: A checked precision name.
        role: ``"generator"`` or ``"scorer"`` (for messages).

    Raises:
        PrecisionError: ``obj`` has no ``with_precision`` and ``precision`` is not fp32.
    """
    method = getattr(obj, "with_precision", None)
    if callable(method):
        return method(precision)
    if precision == "fp32":
        return obj
    raise PrecisionError(
        f"precision={precision!r}: the {role} {type(obj).__name__} cannot change its precision (it has no "
        "with_precision(precision) method); give it its own precision option, or use precision='fp32'"
    )


def precision_of(obj: Any) -> str:
    """The ``precision`` attribute of a generator or scorer (``"fp32"`` when it has none)."""
    p = getattr(obj, "precision", "fp32")
    return p if isinstance(p, str) and p in PRECISIONS else "fp32"


_W = TypeVar("_W", bound="PrecisionOptions")


class PrecisionOptions:
    """What a model wrapper with ``precision`` and ``compile`` options exposes (mixed into
    :class:`~latentbridge.TorchGenerator` and :class:`~latentbridge.EmbeddingScorer`).

    The wrapper sets ``precision``, ``name``, ``_device``, ``_compiled`` (a :class:`CompiledForward`
    or None) and the class attribute ``_role`` (``"generator"``, ``"scorer"``: used in messages).
    """

    _role = "model"
    precision: Precision
    name: str
    _device: torch.device
    _compiled: CompiledForward | None

    @property
    def compiled(self) -> bool:
        """Whether the forward runs ``torch.compile``-d code (False if not asked for or fell back)."""
        return self._compiled is not None and self._compiled.active

    @property
    def compile_mode(self) -> CompileMode:
        """The ``compile`` option asked for: ``False``, ``True`` or ``"freeze"``."""
        return self._compiled.mode if self._compiled is not None else False

    @property
    def compile_seconds(self) -> float:
        """Seconds spent in first (compiling) calls so far; 0 without ``compile=True``."""
        return self._compiled.compile_seconds if self._compiled is not None else 0.0

    def with_precision(self: _W, precision: Precision) -> _W:
        """A copy that computes in ``precision`` (the module, its layout and compiled code are shared)."""
        new = copy.copy(self)
        new.precision = check_precision(precision, self._device, owner=f"{self._role} {self.name!r}")
        return new
