"""The embedded MNIST models: an unconditional DCGAN generator and a small digit classifier/embedder."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError, UnsafeFileError, WeightsError
from .dcgan import Discriminator as DCGANDiscriminator
from .dcgan import Generator
from .safe_load import load_torch_file

__all__ = [
    "DCGAN_WEIGHTS",
    "EMBED_WEIGHTS",
    "LATENT_DIM",
    "DISCRIMINATOR_WEIGHTS",
    "DCGANGenerator",
    "Discriminator",
    "DigitCNN",
    "default_weights_path",
    "load_dcgan",
    "load_digit_cnn",
    "load_discriminator",
]

#: Dimension of the DCGAN's latent vector z ~ N(0, I).
LATENT_DIM: int = 100
#: File names of the shipped weights inside ``latentbridge/models/weights/``.
DCGAN_WEIGHTS: str = "mnist_dcgan.pt"
EMBED_WEIGHTS: str = "mnist_embed.pt"
DISCRIMINATOR_WEIGHTS: str = "mnist_disc.pt"

_REBUILD = "rebuild it with `latentbridge train mnist` (or `python -m latentbridge.models.train`)"


class DCGANGenerator(Generator):
    """Unconditional DCGAN generator for 28×28 grey digits.

    :class:`latentbridge.models.dcgan.Generator` at ``(1, 28, 28)`` that checks its input:
    ``Linear(100 → 128·7·7) → BN → ReLU → reshape (128, 7, 7) → ConvT(128 → 64, 4, s2) → BN → ReLU
    → ConvT(64 → 1, 4, s2) → tanh``: 7×7 → 14×14 → 28×28.

    Args:
        latent_dim: Length of z.
        channels: Feature maps at 7×7 (halved at 14×14).
    """

    def __init__(self, latent_dim: int = LATENT_DIM, channels: int = 128) -> None:
        super().__init__((1, 28, 28), latent_dim, channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Generate digits.

        Args:
            z: float32 tensor of shape ``(n, latent_dim)``, drawn from N(0, I).

        Returns:
            float32 tensor of shape ``(n, 1, 28, 28)`` with values in [-1, 1] (-1 = background).

        Raises:
            InputError: if ``z`` is not 2-D with ``latent_dim`` columns.
        """
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InputError(f"z must have shape (n, {self.latent_dim}), found {tuple(z.shape)}")
        return super().forward(z)


class DigitCNN(nn.Module):
    """Small CNN that classifies 28×28 digits and exposes its 128-d penultimate layer as an embedding.

    ``[Conv3×3(1→32) → BN → ReLU → MaxPool] (14×14) → [Conv3×3(32→64) → BN → ReLU → MaxPool] (7×7)
    → [Conv3×3(64→128) → BN → ReLU → MaxPool] (3×3) → Flatten(1152) → Linear(1152→128) → ReLU``
    = features; ``Dropout(0.3) → Linear(128→10)`` = logits.

    Args:
        feature_dim: Width of the penultimate (embedding) layer.
    """

    def __init__(self, feature_dim: int = 128) -> None:
        super().__init__()
        self.feature_dim = feature_dim

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(1, 32),
            nn.MaxPool2d(2),
            *block(32, 64),
            nn.MaxPool2d(2),
            *block(64, 128),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(128 * 3 * 3, feature_dim),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer embedding.

        Args:
            x: float32 tensor of shape ``(n, 1, 28, 28)`` with values in [-1, 1].

        Returns:
            float32 tensor of shape ``(n, feature_dim)`` (non-negative: after a ReLU).

        Raises:
            InputError: if ``x`` is not ``(n, 1, 28, 28)``.
        """
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise InputError(f"x must have shape (n, 1, 28, 28) with values in [-1, 1], found {tuple(x.shape)}")
        out: torch.Tensor = self.body(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits.

        Args:
            x: float32 tensor of shape ``(n, 1, 28, 28)`` with values in [-1, 1].

        Returns:
            float32 tensor of shape ``(n, 10)``: unnormalised logits for digits 0..9.
        """
        out: torch.Tensor = self.head(self.features(x))
        return out

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities.

        Args:
            x: float32 tensor of shape ``(n, 1, 28, 28)`` with values in [-1, 1].

        Returns:
            float32 tensor of shape ``(n, 10)``; rows sum to 1.
        """
        return torch.softmax(self.forward(x), dim=1)


class Discriminator(DCGANDiscriminator):
    """The MNIST DCGAN's discriminator (:class:`latentbridge.models.dcgan.Discriminator` for ``(1, 28, 28)``):
    trained with the generator, and shipped (``mnist_disc.pt``) for realism scores.

    ``Conv4×4 s2 (1→32) → LeakyReLU(0.2) → Conv4×4 s2 (32→64) → BN → LeakyReLU(0.2) → Dropout(0.3)
    → Flatten → Linear(3136→1)``: ``(n, 1, 28, 28)`` in [-1, 1] → ``(n,)`` logits (real > 0).
    """

    def __init__(self, channels: int = 32) -> None:
        super().__init__((1, 28, 28), channels)


def default_weights_path(name: str) -> Path:
    """Path of a shipped weight file.

    Args:
        name: File name inside ``latentbridge/models/weights/`` (e.g. ``"mnist_dcgan.pt"``).

    Returns:
        The file's path (it may not exist).
    """
    return Path(str(importlib.resources.files("latentbridge.models") / "weights" / name))


def _read_state_dict(path: Path, device: str | torch.device) -> dict[str, torch.Tensor]:
    """Load a state dict saved with ``torch.save`` and cast floating tensors to float32."""
    if not path.is_file():
        raise WeightsError(f"expected model weights at {path}, but no such file exists; {_REBUILD}")
    try:
        obj: Any = load_torch_file(path)  # checked and bounded; never torch.load on a user's file
    except UnsafeFileError as exc:
        raise type(exc)(f"expected a torch state dict in {path}, but it cannot be read: {exc}; {_REBUILD}") from exc
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise WeightsError(f"expected a state dict (str → tensor) in {path}, found {type(obj).__name__}; {_REBUILD}")
    return {k: (v.detach().float() if v.is_floating_point() else v.detach()).to(device) for k, v in obj.items()}


def _load_into(module: nn.Module, path: Path, device: str | torch.device) -> None:
    """Load the weights at ``path`` into ``module`` strictly, turning mismatches into WeightsError."""
    state = _read_state_dict(path, device)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"the weights in {path} do not fit {type(module).__name__}: missing keys {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected keys {unexpected[:5]}"
            f"{' ...' if len(unexpected) > 5 else ''}; pass the file of the right model or {_REBUILD}"
        )
    bad = [
        f"{k}: expected {tuple(v.shape)}, found {tuple(state[k].shape)}"
        for k, v in expected.items()
        if tuple(v.shape) != tuple(state[k].shape)
    ]
    if bad:
        raise WeightsError(f"the weights in {path} have wrong tensor shapes ({'; '.join(bad[:3])}); {_REBUILD}")
    module.load_state_dict(state, strict=True)


def _finish(module: nn.Module, device: str | torch.device) -> None:
    module.to(device)
    module.eval()
    module.requires_grad_(False)


def load_dcgan(path: str | Path | None = None, device: str | torch.device = "cpu") -> DCGANGenerator:
    """Load the DCGAN generator, in eval mode with gradients off.

    Args:
        path: A state-dict file; ``None`` loads the shipped ``models/weights/mnist_dcgan.pt``.
        device: Where to put the module.

    Returns:
        A :class:`DCGANGenerator` mapping ``(n, 100)`` float32 z to ``(n, 1, 28, 28)`` images in [-1, 1].

    Raises:
        WeightsError: if the file is missing, unreadable, or holds another model's weights.
    """
    file = default_weights_path(DCGAN_WEIGHTS) if path is None else Path(path)
    model = DCGANGenerator()
    _load_into(model, file, device)
    _finish(model, device)
    return model


def load_digit_cnn(path: str | Path | None = None, device: str | torch.device = "cpu") -> DigitCNN:
    """Load the digit classifier/embedder, in eval mode with gradients off.

    Args:
        path: A state-dict file; ``None`` loads the shipped ``models/weights/mnist_embed.pt``.
        device: Where to put the module.

    Returns:
        A :class:`DigitCNN`: ``.features`` gives ``(n, 128)`` embeddings, ``forward`` ``(n, 10)`` logits.

    Raises:
        WeightsError: if the file is missing, unreadable, or holds another model's weights.
    """
    file = default_weights_path(EMBED_WEIGHTS) if path is None else Path(path)
    model = DigitCNN()
    _load_into(model, file, device)
    _finish(model, device)
    return model


def load_discriminator(path: str | Path | None = None, device: str | torch.device = "cpu") -> Discriminator:
    """Load the DCGAN discriminator, in eval mode with gradients off (realism scores: higher logit = more real).

    Args:
        path: A state-dict file; ``None`` loads the shipped ``models/weights/mnist_disc.pt``, trained
            against the frozen shipped generator (``python -m latentbridge.models.train --discriminator-only``).
        device: Where to put the module.

    Returns:
        A :class:`Discriminator` mapping ``(n, 1, 28, 28)`` images in [-1, 1] to ``(n,)`` logits.

    Raises:
        WeightsError: if the file is missing, unreadable, or holds another model's weights.
    """
    file = default_weights_path(DISCRIMINATOR_WEIGHTS) if path is None else Path(path)
    model = Discriminator()
    _load_into(model, file, device)
    _finish(model, device)
    return model
