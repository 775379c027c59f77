"""The embedded models as generator and scorer factories (registered by ``_builtins``; used by measures too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ._generators import TorchGenerator
from ._latent import LatentSpace
from ._scorers import EmbeddingScorer
from .precision import CompileMode, Precision, default_channels_last

__all__ = ["mnist_dcgan", "mnist_embed"]


def mnist_dcgan(
    *,
    path: str | Path | None = None,
    device: str | torch.device | None = None,
    precision: Precision = "fp32",
    channels_last: bool | None = None,
    compile: CompileMode = False,
) -> TorchGenerator:
    """The embedded DCGAN trained on MNIST digits: z ~ N(0, I_100) -> (1, 28, 28) images.

    Args:
        path: A weights file made by ``latentbridge train mnist``; default: the shipped one.
        device: Where to run it.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (see :class:`~latentbridge.TorchGenerator`).
        channels_last: Channels-last weights (None: :func:`~latentbridge.precision.default_channels_last`,
            on where it was measured faster: AVX-512 CPU kernels and CUDA).
        compile: ``True``: ``torch.compile``; ``"freeze"``: with frozen weights (oneDNN fusion).
    """
    from ._validation import check_device
    from .models.mnist import default_weights_path, load_dcgan

    check_device(device)
    file = Path(path) if path is not None else default_weights_path("mnist_dcgan.pt")
    module = load_dcgan(path, device="cpu" if device is None else device)
    return TorchGenerator(
        module,
        LatentSpace((100,), name="z"),
        (1, 28, 28),
        device=device,
        name="mnist-dcgan",
        extra_config={"weights": file.name, "weights_sha256": _sha256(file)},
        precision=precision,
        channels_last=default_channels_last(device) if channels_last is None else channels_last,
        compile=compile,
    )


def mnist_embed(
    *,
    path: str | Path | None = None,
    device: str | torch.device | None = None,
    metric: Any = "l2",
    precision: Precision = "fp32",
    channels_last: bool | None = None,
    compile: CompileMode = False,
) -> EmbeddingScorer:
    """The embedded digit CNN's penultimate-layer features with an L2 (or cosine) distance.

    Args:
        path: A weights file made by ``latentbridge train mnist``; default: the shipped one.
        device: Where to run it.
        metric: ``"l2"`` or ``"cosine"``.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (see :class:`~latentbridge.EmbeddingScorer`).
        channels_last: Channels-last weights and inputs (None: on, on every CPU and on CUDA; see
            :func:`~latentbridge.precision.default_channels_last`).
        compile: ``True``: ``torch.compile``; ``"freeze"``: with frozen weights (oneDNN fusion).
    """
    from ._validation import check_device
    from .models.mnist import default_weights_path, load_digit_cnn

    check_device(device)
    file = Path(path) if path is not None else default_weights_path("mnist_embed.pt")
    net = load_digit_cnn(path, device="cpu" if device is None else device)
    return EmbeddingScorer(
        net.features,
        metric=metric,
        input_size=(28, 28),
        channels=1,
        device=device,
        name="mnist-embed",
        extra_config={"weights": file.name, "weights_sha256": _sha256(file)},
        precision=precision,
        channels_last=default_channels_last(device, "scorer") if channels_last is None else channels_last,
        compile=compile,
    )


def _sha256(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"
