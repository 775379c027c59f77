"""Per-class generators: a DCGAN trained by project code on one class's originals, or a registered conditional one.

The DCGAN is :class:`latentbridge.models.dcgan.Generator`, the embedded MNIST generator's architecture for any
``(C, H, W)`` (for ``(1, 28, 28)`` exactly the embedded model's layers), trained against
:class:`latentbridge.models.dcgan.Discriminator` with the embedded model's recipe from
:mod:`latentbridge.models.dcgan` (DCGAN initialisation, non-saturating loss with one-sided label smoothing,
Adam with β = (0.5, 0.999), a weight average of the generator, BatchNorm statistics recomputed at the end), on
the class's training originals only.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from .._latent import LatentSpace
from ..models.dcgan import (
    Discriminator,
    Generator,
    dcgan_step,
    ema_update,
    init_dcgan,
    recalibrate_batchnorm,
    reproducible,
)

__all__ = [
    "GAN_DEFAULTS",
    "adversarial_training",
    "dcgan_cache_key",
    "load_class_dcgan",
    "train_class_dcgan",
]

#: Training settings of the per-class DCGAN (steps = generator updates). Against the embedded model (width 128,
#: lr 2e-4, EMA 0.995, 40 epochs of 4,000 digits): half the width and a 5× learning rate with a short weight
#: average, because a class has only ~40 images and the default run must fit in minutes on 2 cores; with
#: lr 2e-4 and 300 steps the digits were still speckled noise.
GAN_DEFAULTS: dict[str, Any] = {
    "latent_dim": 100,
    "channels": 64,
    "d_channels": 32,
    "steps": 200,
    "batch_size": 64,
    "ema_decay": 0.95,
    "lr": 1e-3,
}


def dcgan_cache_key(originals: NDArray[np.float32], seed: int, settings: dict[str, Any]) -> str:
    """sha256 (first 16 hex digits) of the originals, the seed, the settings and the torch version."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(originals, dtype=np.float32).tobytes())
    h.update(str(originals.shape).encode())
    h.update(json.dumps({"seed": seed, **settings, "torch": torch.__version__}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def train_class_dcgan(
    originals: NDArray[np.float32],
    *,
    seed: int,
    steps: int = GAN_DEFAULTS["steps"],
    batch_size: int = GAN_DEFAULTS["batch_size"],
    latent_dim: int = GAN_DEFAULTS["latent_dim"],
    channels: int = GAN_DEFAULTS["channels"],
    d_channels: int = GAN_DEFAULTS["d_channels"],
    ema_decay: float = GAN_DEFAULTS["ema_decay"],
    lr: float = GAN_DEFAULTS["lr"],
    threads: int = 1,
    on_step: Callable[[int], None] | None = None,
) -> tuple[Generator, dict[str, Any]]:
    """Train one DCGAN on one class's originals (and nothing else).

    Minibatches are drawn with replacement-free shuffles of the originals; each step is one discriminator
    and one generator update. Deterministic for a given seed and thread count.

    Args:
        originals: ``(n, C, H, W)`` float32 in [-1, 1].
        seed: Seed of initialisation, latents and data order.
        steps: Generator updates.
        batch_size: Minibatch size (capped at ``n``).
        latent_dim: Length of z.
        channels: Generator width.
        d_channels: Discriminator width.
        ema_decay: Decay of the generator weight average that is returned.
        threads: torch threads during training.
        on_step: Called with the number of steps done (for progress bars).

    Returns:
        ``(generator, info)``: the averaged generator in eval mode (gradients off) and a dict with
        ``wall_s``, ``steps``, final losses.
    """
    x = torch.from_numpy(np.ascontiguousarray(originals, dtype=np.float32))
    shape = (int(x.shape[1]), int(x.shape[2]), int(x.shape[3]))
    t0, c0 = time.perf_counter(), time.process_time()
    with reproducible(seed, threads) as gen:
        g = Generator(shape, latent_dim, channels)
        d = Discriminator(shape, d_channels)
        g.apply(init_dcgan)
        d.apply(init_dcgan)
        g_ema, losses, bs = adversarial_training(
            g,
            d,
            x,
            gen,
            steps=steps,
            batch_size=batch_size,
            latent_dim=latent_dim,
            lr=lr,
            ema_decay=ema_decay,
            on_step=on_step,
        )
        recalibrate_batchnorm(g_ema, gen, batches=4, batch_size=256)
    g_ema.eval().requires_grad_(False)
    info = {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "steps": steps,
        "batch_size": bs,
        **losses,
    }
    return g_ema, info


def adversarial_training(
    g: nn.Module,
    d: nn.Module,
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    steps: int,
    batch_size: int,
    latent_dim: int,
    lr: float,
    ema_decay: float,
    on_step: Callable[[int], None] | None = None,
    on_batch: Callable[[torch.Tensor], None] | None = None,
    step_modules: tuple[nn.Module, nn.Module] | None = None,
) -> tuple[Any, dict[str, float], int]:
    """The training loop of augment's DCGANs (per class and class-conditional), on initialised ``g`` and ``d``.

    Adam (β = (0.5, 0.999)) on both networks, minibatches from replacement-free shuffles of ``x``, one
    :func:`~latentbridge.models.dcgan.dcgan_step` per step, a weight average of ``g``. Deterministic under ``gen``.

    Args:
        g: The generator (trained; its average is returned).
        d: The discriminator.
        x: Real images ``(n, C, H, W)``.
        gen: The random generator of minibatch order and latents.
        steps: Generator updates.
        batch_size: Minibatch size (capped at ``n``).
        latent_dim: Length of z.
        lr: Adam learning rate of both networks.
        ema_decay: Decay of the weight average.
        on_step: Called with the number of steps done.
        on_batch: Called with each minibatch's indices into ``x`` before its step (e.g. to set its labels).
        step_modules: The modules the step calls instead of ``(g, d)`` (wrappers that add labels).

    Returns:
        ``(g_ema, final losses, batch size)``; ``g_ema`` is the weight average, gradients off, in train mode.
    """
    n = int(x.shape[0])
    bs = max(1, min(batch_size, n))
    losses = {"loss_d": float("nan"), "loss_g": float("nan")}
    g_ema = copy.deepcopy(g).requires_grad_(False)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    pairs = list(zip(g_ema.parameters(), g.parameters(), strict=True))
    g_step, d_step = step_modules or (g, d)
    g.train()
    d.train()
    order = torch.randperm(n, generator=gen)
    pos = 0
    for step in range(steps):
        if pos + bs > n:
            order, pos = torch.randperm(n, generator=gen), 0
        idx = order[pos : pos + bs]
        pos += bs
        if on_batch is not None:
            on_batch(idx)
        z = torch.randn(bs, latent_dim, generator=gen)
        loss_d, loss_g, _, _ = dcgan_step(g_step, d_step, opt_g, opt_d, x[idx], z)
        ema_update(pairs, ema_decay)
        losses = {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach())}
        if on_step is not None:
            on_step(step + 1)
    return g_ema, losses, bs


def save_state(module: nn.Module, path: Path) -> str:
    """Write ``module``'s state dict to ``path`` atomically (temp file + rename); return its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    os.replace(tmp, path)
    return digest


def load_class_dcgan(
    path: Path, image_shape: tuple[int, int, int], *, latent_dim: int = 100, channels: int = GAN_DEFAULTS["channels"]
) -> Generator | None:
    """Load cached weights (``weights_only``, never code), or ``None`` if the file is missing or does not fit."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        g = Generator(image_shape, latent_dim, channels)
        g.load_state_dict(state, strict=True)
    except Exception:  # a stale or corrupt cache file is retrained, never trusted
        return None
    return g.eval().requires_grad_(False)


def as_generator(module: Generator) -> Any:
    """Wrap a trained :class:`~latentbridge.models.dcgan.Generator` as a :class:`latentbridge.TorchGenerator`."""
    from .._generators import TorchGenerator

    return TorchGenerator(module, LatentSpace((module.latent_dim,)), module.image_shape)
