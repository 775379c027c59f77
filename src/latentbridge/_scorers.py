"""Built-in scorers: pixel RMSE and NCC (seed 002) and an embedding-distance wrapper (seed 000)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F

from ._validation import check_device, check_images
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

__all__ = ["EmbeddingScorer", "NCCScorer", "RMSEScorer", "as_device"]

Metric = Literal["l2", "cosine"]


def as_device(device: str | torch.device | None) -> torch.device:
    """Normalise a device argument (None -> CPU) with a clear error for bad names and absent devices."""
    return check_device(device)


def _flatten01(images: torch.Tensor) -> torch.Tensor:
    """``(n, C, H, W)`` in [-1, 1] -> ``(n, C*H*W)`` float32 intensities in [0, 1]."""
    return images.reshape(images.shape[0], -1).to(torch.float32).add(1.0).mul_(0.5)


class _PixelScorer:
    """Common plumbing of the pixel-space scorers."""

    name = "pixel"

    def __init__(self, device: str | torch.device | None = None) -> None:
        self._device = as_device(device)

    @property
    def device(self) -> torch.device:
        """Where features live."""
        return self._device

    def config(self) -> dict[str, Any]:
        """JSON-able identity for the bench store."""
        return {"name": self.name}

    def with_precision(self, precision: Precision) -> _PixelScorer:
        """Pixel scorers have no model to run in reduced precision: they always compute in float32.

        Returns ``self`` (after checking the name), so a problem-wide ``precision`` leaves them exact.
        """
        check_precision(precision, self._device, owner=f"scorer {self.name!r}", warn=False)  # stays float32
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={str(self._device)!r})"


class RMSEScorer(_PixelScorer):
    """Root-mean-squared pixel difference (seed 002), on intensities in [0, 1].

    ``embed`` flattens images to ``(n, C*H*W)``; ``distance`` is
    ``sqrt(mean((a - b)**2))`` for every pair, in [0, 1].
    """

    name = "rmse"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Flattened intensities ``(n, C*H*W)`` in [0, 1] of images ``(n, C, H, W)`` in [-1, 1]."""
        check_images(images, "images")
        return _flatten01(images.to(self._device))

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pairwise RMSE ``(..., n, m)`` between ``(..., n, P)`` and ``(..., m, P)``."""
        d = torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")
        return d / math.sqrt(a.shape[-1])


class NCCScorer(_PixelScorer):
    """Zero-normalised cross-correlation between whole images (seed 002).

    ``ncc(a, b) = mean((a - mean(a)) * (b - mean(b))) / (std(a) * std(b))`` in [-1, 1].
    ``embed`` returns each image centred and scaled to unit norm, so that NCC is a dot
    product; constant images (zero variance) get NCC 0 with everything.
    ``similarity`` is NCC, ``distance`` is ``1 - NCC`` (in [0, 2]).
    """

    name = "ncc"

    def __init__(self, device: str | torch.device | None = None, eps: float = 1e-8) -> None:
        super().__init__(device)
        self.eps = float(eps)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Centred, unit-norm pixels ``(n, C*H*W)`` of images ``(n, C, H, W)``."""
        check_images(images, "images")
        x = _flatten01(images.to(self._device))
        x = x - x.mean(dim=1, keepdim=True)
        out: torch.Tensor = x / x.norm(dim=1, keepdim=True).clamp_min(self.eps)
        return out

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pairwise NCC ``(..., n, m)``."""
        return a @ b.transpose(-1, -2)

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pairwise ``1 - NCC`` ``(..., n, m)``."""
        return 1.0 - self.similarity(a, b)


class EmbeddingScorer(PrecisionOptions):
    """Distances between the features of any torch embedder (e.g. FaceNet, a CNN's penultimate layer).

    Args:
        embedder: A callable (usually an ``nn.Module`` or its bound ``features`` method)
            mapping preprocessed images ``(n, C', H', W')`` to features ``(n, F)``.
        metric: ``"l2"`` (Euclidean, seed 000's FaceNet distance) or ``"cosine"``
            (``1 - cos``).
        input_size: ``(H', W')`` the embedder expects; images of another size are
            resized (bilinear, antialiased). None keeps the size.
        channels: Channel count the embedder expects (1 or 3); grey images are repeated
            to 3 channels, RGB converted to luminance for 1. None keeps channels.
        preprocess: Extra transform applied last (crop, standardisation, ...); it gets
            and returns an NCHW float tensor.
        normalize: L2-normalise features before the distance (as FaceNet does).
        device: Where the embedder runs; images are moved there.
        name: Label recorded in configs.
        extra_config: More JSON-able facts recorded by :meth:`config`.
        precision: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: the embedder runs under
            ``torch.autocast``; preprocessing, features and distances stay float32.
        channels_last: Channels-last weights (the module behind ``embedder``, in place) and inputs.
        compile: ``True`` runs the embedder through ``torch.compile``, ``"freeze"`` with its
            weights frozen into the graph (oneDNN fusion on CPU); eager fallback with a
            :class:`~latentbridge.PrecisionWarning` where that fails.

    Raises:
        InputError: bad metric, channels or input size.
        PrecisionError: a precision the device cannot run, or an unknown ``compile`` value.
    """

    _role = "scorer"

    def __init__(
        self,
        embedder: Callable[[torch.Tensor], torch.Tensor],
        *,
        metric: Metric = "l2",
        input_size: tuple[int, int] | None = None,
        channels: int | None = None,
        preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
        normalize: bool = False,
        device: str | torch.device | None = None,
        name: str = "embedding",
        extra_config: dict[str, Any] | None = None,
        precision: Precision = "fp32",
        channels_last: bool = False,
        compile: CompileMode = False,
    ) -> None:
        if metric not in ("l2", "cosine"):
            raise InputError(f"metric must be 'l2' or 'cosine', got {metric!r}")
        if not callable(embedder):
            raise InputError(f"embedder must be a callable (an nn.Module or its method), got {type(embedder).__name__}")
        if isinstance(channels, bool) or channels not in (None, 1, 3):
            raise InputError(f"channels must be 1, 3 or None, got {channels!r}")
        if input_size is not None and (
            not isinstance(input_size, (tuple, list))
            or len(input_size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in input_size)
        ):
            raise InputError(
                f"input_size must be a (height, width) pair of positive ints, got {input_size!r}"
                + (
                    f"; for a square input write input_size=({input_size}, {input_size})"
                    if isinstance(input_size, int)
                    else ""
                )
            )
        if preprocess is not None and not callable(preprocess):
            raise InputError(f"preprocess must be a callable or None, got {type(preprocess).__name__}")
        self.embedder = embedder
        self.metric: Metric = metric
        self.input_size = tuple(input_size) if input_size is not None else None
        self.channels = channels
        self.preprocess = preprocess
        self.normalize = bool(normalize)
        self._device = as_device(device)
        self.name = name
        self._extra = dict(extra_config or {})
        self.precision: Precision = check_precision(precision, self._device, owner=f"scorer {name!r}")
        # a bound method (net.features) runs the module it is bound to
        self.channels_last = bool(channels_last) and to_channels_last(getattr(embedder, "__self__", embedder))
        if channels_last and not self.channels_last:
            warnings.warn(
                f"scorer {name!r}: channels_last=True needs an nn.Module (or its bound method); ignored",
                PrecisionWarning,
                stacklevel=2,
            )
        mode = check_compile(compile, owner=f"scorer {name!r}")
        self._compiled = CompiledForward(embedder, self._device, owner=f"scorer {name!r}", mode=mode) if mode else None
        if self.input_size is not None and channels is not None:
            self._dry_run(channels)

    def _dry_run(self, channels: int) -> None:
        """Embed one blank image so that an ``input_size`` the embedder cannot take fails here, clearly."""
        assert self.input_size is not None
        x = torch.zeros(1, channels, *self.input_size, device=self._device)
        try:
            with torch.inference_mode():
                feats = self.embedder(x if self.preprocess is None else self.preprocess(x))
        except Exception as exc:
            raise InputError(
                f"{self.name}: the embedder fails on input_size={self.input_size} with {channels} channel(s) "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "give the input_size and channels the embedder was built for"
            ) from exc
        if not isinstance(feats, torch.Tensor) or feats.ndim < 1 or feats.shape[0] != 1:
            raise InputError(
                f"{self.name}: the embedder must return a tensor of features (n, F); for one image it returned "
                f"{type(feats).__name__}{tuple(feats.shape) if isinstance(feats, torch.Tensor) else ''}"
            )

    @property
    def device(self) -> torch.device:
        """Where the embedder runs."""
        return self._device

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` in [-1, 1] -> the embedder's input (resized, channel-adapted, preprocessed)."""
        check_images(images, "images")
        x = images.to(self._device, torch.float32)
        if self.channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif self.channels == 1 and x.shape[1] == 3:
            w = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
            x = (x * w).sum(dim=1, keepdim=True)
        elif self.channels is not None and x.shape[1] != self.channels:
            raise InputError(f"{self.name} expects images with 1 or 3 channels, got {x.shape[1]}")
        if self.input_size is not None and tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        if self.preprocess is not None:
            x = self.preprocess(x)
        return x

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``(n, F)`` of images ``(n, C, H, W)`` in [-1, 1]."""
        x = self.prepare(images)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        grad = torch.is_grad_enabled() and x.requires_grad  # gradients run the eager embedder (see TorchGenerator)
        forward = self._compiled if self._compiled is not None and not grad else self.embedder
        with autocast(self.precision, self._device):
            feats = forward(x)
        if feats.ndim != 2:
            feats = feats.reshape(feats.shape[0], -1)
        feats = feats.to(torch.float32)
        if self.normalize or self.metric == "cosine":
            feats = F.normalize(feats, dim=-1)
        return feats

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pairwise L2 or cosine distance ``(..., n, m)``."""
        if self.metric == "cosine":
            return 1.0 - a @ b.transpose(-1, -2)  # features are unit-norm
        return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")

    def config(self) -> dict[str, Any]:
        """JSON-able identity for the bench store (with ``state_sha256``, a hash of the embedder's weights)."""
        from ._protocols import weights_digest

        out: dict[str, Any] = {
            "name": self.name,
            "metric": self.metric,
            "input_size": list(self.input_size) if self.input_size else None,
            "channels": self.channels,
            "normalize": self.normalize,
            **({"precision": self.precision} if self.precision != "fp32" else {}),
        }
        digest = weights_digest(self)
        if digest is not None:
            out["state_sha256"] = digest
        return {**out, **self._extra}

    def __repr__(self) -> str:
        return (
            f"EmbeddingScorer(name={self.name!r}, metric={self.metric!r}, device={str(self._device)!r}, "
            f"precision={self.precision!r})"
        )
