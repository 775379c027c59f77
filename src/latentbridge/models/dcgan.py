"""DCGAN building blocks for any image shape: the networks, their training step and reproducible training.

The embedded MNIST generator (:class:`latentbridge.models.mnist.DCGANGenerator`, trained by
:mod:`latentbridge.models.train`) and the per-class generators of ``latentbridge augment`` are both trained
with these pieces:

- :class:`Generator` — ``Linear → BN → ReLU → ConvT → BN → ReLU → ConvT → tanh`` for ``(C, H, W)`` images;
- :class:`Discriminator` — ``Conv → LeakyReLU → Conv → BN → LeakyReLU → Dropout → Linear`` for ``(C, H, W)``
  images (training only, never shipped);
- :func:`init_dcgan` — DCGAN initialisation (``module.apply(init_dcgan)``);
- :func:`dcgan_step` — one discriminator and one generator update (non-saturating loss, one-sided label
  smoothing); :func:`ema_update` — the generator's exponential moving average;
- :func:`recalibrate_batchnorm` — exact BatchNorm statistics for an averaged generator;
- :func:`reproducible` — seeded, deterministic, fixed-thread training (restored afterwards);
- :func:`affine_jitter` — random small rotations, scalings and shifts of a batch (data augmentation).

Example::

    import torch
    from latentbridge.models.dcgan import Discriminator, Generator, dcgan_step, init_dcgan, reproducible

    with reproducible(seed=0, threads=1) as gen:
        g, d = Generator((3, 32, 32), latent_dim=64), Discriminator((3, 32, 32))
        g.apply(init_dcgan)
        d.apply(init_dcgan)
        ...
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError

__all__ = [
    "Discriminator",
    "Generator",
    "affine_jitter",
    "dcgan_step",
    "discriminator_loss",
    "ema_update",
    "init_dcgan",
    "recalibrate_batchnorm",
    "reproducible",
]


def _image_shape(image_shape: Sequence[int], smallest: int) -> tuple[int, int, int]:
    try:
        c, h, w = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise InputError(f"image_shape must be (C, H, W), found {image_shape!r}") from None
    if c < 1 or h < smallest or w < smallest:
        raise InputError(
            f"image_shape must be (C, H, W) with C >= 1 and H, W >= {smallest}, found {(c, h, w)}; "
            "resize the images or use another generator"
        )
    return c, h, w


class Generator(nn.Module):
    """DCGAN generator for ``(C, H, W)`` images in [-1, 1].

    ``Linear(latent → channels·h·w, no bias) → BN → ReLU → reshape (channels, h, w) → ConvT(channels →
    channels/2, 4, s2) → BN → ReLU → ConvT(channels/2 → C, 4, s2) → tanh`` with ``h, w = ceil(H/4), ceil(W/4)``;
    a ``4h × 4w`` output larger than ``H × W`` is centre-cropped. For ``(1, 28, 28)`` these are the embedded
    MNIST generator's layers, with its state-dict keys (``project.*``, ``upsample.*``).

    Args:
        image_shape: ``(C, H, W)`` of the output.
        latent_dim: Length of z ~ N(0, I).
        channels: Feature maps at the lowest resolution (halved at the next).
    """

    def __init__(self, image_shape: Sequence[int], latent_dim: int = 100, channels: int = 128) -> None:
        super().__init__()
        c, h, w = _image_shape(image_shape, 1)
        self.image_shape = (c, h, w)
        self.latent_dim = int(latent_dim)
        self.channels = int(channels)
        self.h0, self.w0 = math.ceil(h / 4), math.ceil(w / 4)
        self.project = nn.Sequential(
            nn.Linear(latent_dim, channels * self.h0 * self.w0, bias=False),
            nn.BatchNorm1d(channels * self.h0 * self.w0),
            nn.ReLU(inplace=True),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(channels, channels // 2, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels // 2),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(channels // 2, c, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        """``(n, latent_dim)`` → ``(n, C, H, W)`` in [-1, 1]."""
        out: Tensor = self.upsample(self.project(z).view(-1, self.channels, self.h0, self.w0))
        _, h, w = self.image_shape
        if out.shape[2] == h and out.shape[3] == w:
            return out
        top, left = (out.shape[2] - h) // 2, (out.shape[3] - w) // 2
        return out[:, :, top : top + h, left : left + w]


class Discriminator(nn.Module):
    """DCGAN discriminator for ``(C, H, W)`` images in [-1, 1] (used for training only, never shipped).

    ``Conv4×4 s2 (C → channels) → LeakyReLU(0.2) → Conv4×4 s2 (channels → 2·channels, no bias) → BN →
    LeakyReLU(0.2) → Dropout(0.3) → Flatten → Linear(2·channels · ⌊H/4⌋ · ⌊W/4⌋ → 1)``: ``(n, C, H, W)`` →
    ``(n,)`` logits (real > 0). The layers sit in one ``nn.Sequential`` called ``net`` (state-dict keys
    ``net.0.*``, ``net.2.*``, ``net.3.*``, ``net.7.*``), as in the embedded MNIST model's training.

    Args:
        image_shape: ``(C, H, W)`` of the input (H, W >= 4).
        channels: Feature maps of the first convolution.
    """

    def __init__(self, image_shape: Sequence[int] = (1, 28, 28), channels: int = 32) -> None:
        super().__init__()
        c, h, w = _image_shape(image_shape, 4)
        self.image_shape = (c, h, w)
        self.net = nn.Sequential(
            nn.Conv2d(c, channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, channels * 2, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Dropout(0.3),
            nn.Flatten(),
            nn.Linear(channels * 2 * (h // 2 // 2) * (w // 2 // 2), 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(n,)`` for images ``(n, C, H, W)``."""
        out: Tensor = self.net(x).squeeze(1)
        return out


def init_dcgan(module: nn.Module) -> None:
    """DCGAN initialisation of one module: conv and linear weights N(0, 0.02), biases 0, BN weights N(1, 0.02).

    Apply it to a whole network with ``network.apply(init_dcgan)`` (draws from torch's global generator).
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def discriminator_loss(logit_real: Tensor, logit_fake: Tensor) -> Tensor:
    """The DCGAN discriminator's loss: real images labelled 0.9 (one-sided label smoothing), fakes 0."""
    return F.binary_cross_entropy_with_logits(
        logit_real, torch.full_like(logit_real, 0.9)
    ) + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))


def dcgan_step(
    g: nn.Module, d: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, real: Tensor, z: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One DCGAN update: the discriminator (one-sided label smoothing, 0.9), then the generator (non-saturating).

    Returns:
        ``(loss_d, loss_g, logit_real, logit_fake)``, the logits of the discriminator step.
    """
    fake = g(z)
    logit_real = d(real)
    logit_fake = d(fake.detach())
    loss_d = discriminator_loss(logit_real, logit_fake)
    opt_d.zero_grad(set_to_none=True)
    torch.autograd.backward(loss_d)
    opt_d.step()
    logit_gen = d(fake)
    loss_g = F.binary_cross_entropy_with_logits(logit_gen, torch.ones_like(logit_gen))
    opt_g.zero_grad(set_to_none=True)
    torch.autograd.backward(loss_g)
    opt_g.step()
    return loss_d, loss_g, logit_real, logit_fake


def ema_update(pairs: Sequence[tuple[Tensor, Tensor]], decay: float) -> None:
    """Move each averaged parameter towards its live one: ``p_ema += (1 - decay) (p - p_ema)``."""
    with torch.no_grad():
        for p_ema, p in pairs:
            p_ema.lerp_(p, 1.0 - decay)


@torch.no_grad()
def recalibrate_batchnorm(generator: nn.Module, gen: torch.Generator, batches: int = 20, batch_size: int = 256) -> None:
    """Replace BN running statistics by exact averages over ``batches × batch_size`` fresh z (train-mode BN).

    An averaged (EMA) generator's weights never saw a forward pass in train mode, so its running statistics
    are recomputed here; inference then uses eval-mode BN and is per-sample (batch-independent). The
    generator is left in eval mode.

    Args:
        generator: A generator with a ``latent_dim`` attribute (z ~ N(0, I) of that length).
        gen: The generator of the fresh z.
        batches: Forward passes.
        batch_size: Latents per pass.
    """
    latent_dim = int(getattr(generator, "latent_dim"))  # noqa: B009 - any module that declares it
    bns = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    generator.train()
    for _ in range(batches):
        generator(torch.randn(batch_size, latent_dim, generator=gen))
    for m, mom in zip(bns, momenta, strict=True):
        m.momentum = mom
    generator.eval()


@contextlib.contextmanager
def reproducible(seed: int, threads: int) -> Iterator[torch.Generator]:
    """Seed torch, fix the thread count and turn on deterministic algorithms; restore both on exit.

    Args:
        seed: Seed of torch's global generator and of the yielded one.
        threads: ``torch.set_num_threads`` inside the block (results are bit-identical for one count).

    Yields:
        A CPU ``torch.Generator`` seeded with ``seed``, for data order and augmentation.

    Raises:
        InputError: ``threads`` < 1.
    """
    if threads < 1:
        raise InputError(f"threads must be a positive int, found {threads!r}")
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield torch.Generator().manual_seed(seed)
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def affine_jitter(
    x: Tensor, gen: torch.Generator, *, degrees: float = 10.0, scale: float = 0.1, shift: float = 2 / 14
) -> Tensor:
    """Random small affine jitter of each image (background stays -1): rotation, scaling and shift.

    Each image gets its own rotation in ±``degrees``, scale in 1 ± ``scale`` and shift in ±``shift`` (in
    normalised [-1, 1] coordinates: the default 2/14 is 2 px of a 28-px image), bilinear, zero padding around
    the background value -1. The defaults are the embedded digit classifier's training augmentation.

    Args:
        x: float32 ``(n, C, H, W)`` in [-1, 1].
        gen: Seeded generator of the random parameters (4 uniform draws per image).
        degrees: Largest rotation.
        scale: Largest relative change of size.
        shift: Largest shift, per axis, in normalised coordinates.

    Returns:
        float32 ``(n, C, H, W)`` (values may leave [-1, 1] slightly through interpolation; clamp if needed).
    """
    n = x.shape[0]
    u = torch.rand(n, 4, generator=gen) * 2 - 1
    angle = u[:, 0] * math.radians(degrees)
    zoom = 1 + scale * u[:, 1]
    offset = u[:, 2:] * shift
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, offset[:, 0]], 1), torch.stack([sin, cos, offset[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1
