"""A LatentGenerator around any ``torch.nn.Module`` that maps latents to images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._latent import LatentSpace
from ._scorers import as_device
from .errors import InputError
from .precision import (
    CompiledForward,
    CompileMode,
    Precision,
    PrecisionOptions,
    PrecisionWarning,
    autocast,
    check_compile,
    check_precision,
    to_channels_last,
)

__all__ = ["TorchGenerator"]


class TorchGenerator(PrecisionOptions):
    """Wrap a module ``(n, *latent.shape) -> (n, C, H, W)`` as a :class:`latentbridge.LatentGenerator`.

    The module is moved to ``device`` and put in eval mode; its parameters stop
    requiring gradients.

    ``precision``, ``channels_last`` and ``compile`` change how the module computes, never
    what :meth:`generate` returns (float32 images): ``precision="bf16"`` / ``"fp16"`` runs
    it under ``torch.autocast`` (recorded in :meth:`config`, since it changes the numbers),
    ``channels_last`` converts its weights (in place) to channels-last memory format (oneDNN's
    fastest convolutions on CPU), ``compile`` wraps it in ``torch.compile`` (``"freeze"``: with
    its weights frozen into the graph; falling back to eager mode with a
    :class:`~latentbridge.PrecisionWarning` where that fails). ``generate`` is differentiable:
    with grad enabled and ``z`` requiring grad it runs the eager module (compiled code speeds
    up plain evaluations only), so gradient evaluations never wait for a backward compile.

    Args:
        module: The network (or any callable on tensors).
        latent: Its latent space.
        image_shape: ``(C, H, W)`` of its output.
        device: Where it runs.
        name: Label recorded in configs.
        extra_config: More JSON-able facts recorded by :meth:`config` (weights file, ...).
        precision: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``.
        channels_last: Channels-last weights (for convolutional modules).
        compile: ``True`` runs the module through ``torch.compile``; ``"freeze"`` also folds
            its weights into the compiled graph (oneDNN fuses and pre-packs them on CPU; later
            changes to the weights are not seen). The first call per input shape compiles
            (see :attr:`compile_seconds`).

    Raises:
        PrecisionError: a precision the device cannot run, or an unknown ``compile`` value.
    """

    _role = "generator"

    def __init__(
        self,
        module: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
        latent: LatentSpace,
        image_shape: tuple[int, int, int],
        *,
        device: str | torch.device | None = None,
        name: str = "torch",
        extra_config: dict[str, Any] | None = None,
        precision: Precision = "fp32",
        channels_last: bool = False,
        compile: CompileMode = False,
    ) -> None:
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise InputError(f"image_shape must be (C, H, W) with positive ints, got {image_shape!r}")
        self._device = as_device(device)
        if isinstance(module, torch.nn.Module):
            module = module.to(self._device).eval().requires_grad_(False)
        self.module = module
        self._latent = latent
        self._image_shape = (int(image_shape[0]), int(image_shape[1]), int(image_shape[2]))
        self.name = name
        self._extra = dict(extra_config or {})
        self.precision: Precision = check_precision(precision, self._device, owner=f"generator {name!r}")
        self.channels_last = bool(channels_last) and to_channels_last(module)
        if channels_last and not self.channels_last:
            import warnings

            warnings.warn(
                f"generator {name!r}: channels_last=True needs an nn.Module; ignored", PrecisionWarning, stacklevel=2
            )
        mode = check_compile(compile, owner=f"generator {name!r}")
        self._compiled = CompiledForward(module, self._device, owner=f"generator {name!r}", mode=mode) if mode else None

    @property
    def latent(self) -> LatentSpace:
        """The latent space."""
        return self._latent

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of generated images."""
        return self._image_shape

    @property
    def device(self) -> torch.device:
        """Where the module runs."""
        return self._device

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` for latents ``z`` of shape ``(n, *latent.shape)``."""
        grad = torch.is_grad_enabled() and z.requires_grad
        forward = self._compiled if self._compiled is not None and not grad else self.module
        with autocast(self.precision, self._device):
            out: torch.Tensor = forward(z)
        return out if out.dtype == torch.float32 else out.to(torch.float32)

    def config(self) -> dict[str, Any]:
        """JSON-able identity for the bench store.

        Includes ``state_sha256``, a hash of the module's weights (computed once), so two
        generators of the same architecture with different weights never look alike.
        """
        from ._protocols import weights_digest

        out = {"name": self.name, "latent": self._latent.config(), "image_shape": list(self._image_shape)}
        digest = weights_digest(self)
        if digest is not None:
            out["state_sha256"] = digest
        if self.precision != "fp32":  # only a reduced precision changes the identity: fp32 configs hash as before
            out["precision"] = self.precision
        return {**out, **self._extra}

    def __repr__(self) -> str:
        return (
            f"TorchGenerator(name={self.name!r}, latent={self._latent.shape}, "
            f"image_shape={self._image_shape}, device={str(self._device)!r}, precision={self.precision!r})"
        )
