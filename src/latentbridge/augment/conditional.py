"""A class-conditional DCGAN trained on all classes' originals at once, and per-class views of it.

The per-class DCGANs of :mod:`latentbridge.augment.generators` each see ~40 images; a conditional generator
sees every original and can share what the classes have in common (strokes, backgrounds, lighting) while a
label picks the class (Mirza & Osindero, 2014, "Conditional Generative Adversarial Nets"):

- :class:`ConditionalGenerator` — :class:`latentbridge.models.dcgan.Generator` whose input is ``z`` with the
  one-hot label concatenated (length ``latent_dim + n_classes``);
- :class:`ConditionalDiscriminator` — :class:`latentbridge.models.dcgan.Discriminator` with a projection head
  (Miyato & Koyama, 2018, "cGANs with Projection Discriminator"): ``logit = ψ(φ(x)) + ⟨embed(y), φ(x)⟩``, where
  ``φ`` is the discriminator's body up to its flattened features and ``ψ`` its final linear layer;
- :func:`train_conditional_dcgan` — the per-class DCGAN's recipe (DCGAN initialisation, non-saturating loss
  with one-sided label smoothing, Adam β = (0.5, 0.999), a weight average of the generator, BatchNorm
  statistics recomputed at the end over *balanced* labels) on minibatches of all classes;
- :func:`class_generator` — one class of a trained model as a :class:`latentbridge.TorchGenerator` over ``z``,
  so a latent search over one class runs exactly as with a per-class DCGAN;
- :func:`save_conditional_dcgan`, :func:`load_conditional_dcgan`, :func:`conditional_cache_key` — the weights
  cache.

Example::

    from latentbridge.augment.conditional import class_generator, train_conditional_dcgan
    from latentbridge.augment.data import load_data

    split = load_data("mnist-small")
    model, info = train_conditional_dcgan(split.train_x, split.train_y, split.n_classes, seed=0)
    sevens = class_generator(model, 7)  # a TorchGenerator: latent (100,) -> (1, 28, 28)
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from .._latent import LatentSpace
from ..errors import InputError
from ..models.dcgan import (
    Discriminator,
    Generator,
    init_dcgan,
    recalibrate_batchnorm,
    reproducible,
)
from .generators import GAN_DEFAULTS, adversarial_training, save_state

__all__ = [
    "CGAN_DEFAULTS",
    "ClassView",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "class_generator",
    "conditional_cache_key",
    "load_conditional_dcgan",
    "matched_schedule",
    "save_conditional_dcgan",
    "train_conditional_dcgan",
]

#: Training settings of the conditional DCGAN (steps = generator updates): the per-class DCGAN's widths, and
#: for 10 classes of 40 originals (``mnist-small``, ``sklearn-digits``) as many images seen as the 10 per-class
#: DCGANs see together at their defaults (1,250 steps of 64 = 200 steps of 40 × 10; see
#: :func:`matched_schedule` for other class sizes). Learning rate 1.5e-3 and a longer weight average (0.99)
#: than the per-class DCGAN's, as the conditional model makes 6× as many updates; on ``mnist-small`` lr 1e-3
#: gave slightly fewer class-consistent samples and a larger Fréchet distance (seeds 0 and 1).
CGAN_DEFAULTS: dict[str, Any] = {
    "latent_dim": 100,
    "channels": 64,
    "d_channels": 32,
    "steps": 1250,
    "batch_size": 64,
    "ema_decay": 0.99,
    "lr": 1.5e-3,
}


def matched_schedule(
    class_sizes: Sequence[int],
    *,
    per_class_steps: int = GAN_DEFAULTS["steps"],
    per_class_batch: int = GAN_DEFAULTS["batch_size"],
    batch_size: int = CGAN_DEFAULTS["batch_size"],
) -> dict[str, int]:
    """``steps`` and ``batch_size`` that show the conditional DCGAN as many images as the per-class DCGANs see.

    The per-class DCGANs see ``per_class_steps × Σ min(per_class_batch, n_c)`` images together; the
    conditional one gets the same at a batch of ``batch_size``, made smaller where the originals would give
    fewer than five minibatches per pass (at least 8): with 80 originals (the lfw faces), 250 steps of 64
    gave few updates and weakly class-consistent samples, 1,000 steps of 16 cost about the same CPU time.
    For 10 classes of 40: 1,250 steps of 64 (:data:`CGAN_DEFAULTS`).

    Args:
        class_sizes: Originals per class.
        per_class_steps: Steps of each per-class DCGAN.
        per_class_batch: Their batch size (capped at the class size, as in training).
        batch_size: Largest batch of the conditional DCGAN.

    Returns:
        ``{"steps": ..., "batch_size": ...}`` for :func:`train_conditional_dcgan`.

    Raises:
        InputError: no classes, or a size, steps or batch that is not a positive int.
    """
    sizes = [int(s) for s in class_sizes]
    if not sizes or min(sizes) < 1:
        raise InputError(f"class_sizes must be positive ints, one per class, found {list(class_sizes)!r}")
    for name, val in (
        ("per_class_steps", per_class_steps),
        ("per_class_batch", per_class_batch),
        ("batch_size", batch_size),
    ):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise InputError(f"{name} must be a positive int, found {val!r}")
    n = sum(sizes)
    bs = min(int(batch_size), max(8, n // 5), n)
    seen = int(per_class_steps) * sum(min(int(per_class_batch), s) for s in sizes)
    return {"steps": max(1, math.ceil(seen / bs)), "batch_size": bs}


def _labels(y: Tensor | Sequence[int] | NDArray[np.integer[Any]], n: int, n_classes: int) -> Tensor:
    """``y`` as an int64 tensor of ``n`` labels in ``[0, n_classes)``, or one clear error."""
    yt = torch.as_tensor(y).reshape(-1)
    if yt.dtype.is_floating_point or yt.dtype.is_complex or yt.dtype == torch.bool:
        raise InputError(f"labels y must be integers, found dtype {yt.dtype}")
    yt = yt.to(torch.int64)
    if int(yt.numel()) != n:
        raise InputError(f"labels y must hold one label per latent/image ({n}), found {int(yt.numel())}")
    if n and (int(yt.min()) < 0 or int(yt.max()) >= n_classes):
        raise InputError(f"labels y must lie in 0..{n_classes - 1}, found {int(yt.min())}..{int(yt.max())}")
    return yt


class ConditionalGenerator(nn.Module):
    """Class-conditional DCGAN generator: ``(z, y)`` → ``(n, C, H, W)`` images in [-1, 1].

    The one-hot label is concatenated to ``z`` and fed to a :class:`latentbridge.models.dcgan.Generator` with
    input length ``latent_dim + n_classes`` (attribute ``net``).

    Args:
        image_shape: ``(C, H, W)`` of the output.
        n_classes: Number of classes (>= 1).
        latent_dim: Length of z ~ N(0, I).
        channels: Generator width (see :class:`~latentbridge.models.dcgan.Generator`).

    Attributes:
        latent_dim: Length of z.
        n_classes: Number of classes.
        image_shape: ``(C, H, W)``.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        n_classes: int,
        latent_dim: int = CGAN_DEFAULTS["latent_dim"],
        channels: int = CGAN_DEFAULTS["channels"],
    ) -> None:
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
            raise InputError(f"n_classes must be a positive int, found {n_classes!r}")
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
            raise InputError(f"latent_dim must be a positive int, found {latent_dim!r}")
        self.n_classes = int(n_classes)
        self.latent_dim = int(latent_dim)
        self.net = Generator(image_shape, self.latent_dim + self.n_classes, channels)
        self.image_shape: tuple[int, int, int] = self.net.image_shape
        self.channels = self.net.channels

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        """``z`` ``(n, latent_dim)`` and labels ``y`` ``(n,)`` → ``(n, C, H, W)``."""
        if z.ndim != 2 or int(z.shape[1]) != self.latent_dim:
            raise InputError(f"z must have shape (n, {self.latent_dim}), found {tuple(z.shape)}")
        yt = _labels(y, int(z.shape[0]), self.n_classes).to(z.device)
        onehot = F.one_hot(yt, self.n_classes).to(z.dtype)
        out: Tensor = self.net(torch.cat([z, onehot], dim=1))
        return out


class ConditionalDiscriminator(nn.Module):
    """Projection discriminator on top of :class:`latentbridge.models.dcgan.Discriminator` (training only).

    ``logit(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩``: ``φ`` is ``base.net`` without its last layer (the flattened,
    dropped-out features), ``ψ`` that last linear layer, ``e_y`` a learned class embedding (attribute
    ``embed``, initialised N(0, 0.02) like the rest). An unconditional discriminator's layers, plus one
    ``n_classes × features`` table.

    Args:
        image_shape: ``(C, H, W)`` of the input (H, W >= 4).
        n_classes: Number of classes.
        channels: Feature maps of the first convolution.
    """

    def __init__(self, image_shape: Sequence[int], n_classes: int, channels: int = CGAN_DEFAULTS["d_channels"]) -> None:
        super().__init__()
        self.base = Discriminator(image_shape, channels)
        self.n_classes = int(n_classes)
        last = self.base.net[-1]
        assert isinstance(last, nn.Linear)
        self.embed = nn.Embedding(self.n_classes, last.in_features)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Logits ``(n,)`` (real > 0) for images ``(n, C, H, W)`` of labels ``y`` ``(n,)``."""
        feats = self.base.net[:-1](x)
        out: Tensor = self.base.net[-1](feats).squeeze(1) + (self.embed(y) * feats).sum(dim=1)
        return out


class _Bound(nn.Module):
    """A conditional network with the current minibatch's labels bound, so ``dcgan_step`` can call it on z or x."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.y = torch.zeros(0, dtype=torch.int64)

    def forward(self, inp: Tensor) -> Tensor:
        out: Tensor = self.module(inp, self.y)
        return out


class _Balanced(nn.Module):
    """A conditional generator seen as ``z → images`` with labels cycling through the classes (BN recalibration)."""

    def __init__(self, model: ConditionalGenerator) -> None:
        super().__init__()
        self.model = model
        self.latent_dim = model.latent_dim

    def forward(self, z: Tensor) -> Tensor:
        y = torch.arange(int(z.shape[0])) % self.model.n_classes
        out: Tensor = self.model(z, y)
        return out


def _check_data(x: NDArray[np.float32], y: Any, n_classes: int) -> tuple[Tensor, Tensor]:
    arr = np.asarray(x)
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise InputError(f"x must be images (n, C, H, W) with n >= 1, found shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
        raise InputError(f"x must be finite floats in [-1, 1], found dtype {arr.dtype}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise InputError(f"n_classes must be a positive int, found {n_classes!r}")
    yt = _labels(np.asarray(y), int(arr.shape[0]), int(n_classes))
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)), yt


def train_conditional_dcgan(
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    n_classes: int,
    *,
    seed: int,
    steps: int = CGAN_DEFAULTS["steps"],
    batch_size: int = CGAN_DEFAULTS["batch_size"],
    latent_dim: int = CGAN_DEFAULTS["latent_dim"],
    channels: int = CGAN_DEFAULTS["channels"],
    d_channels: int = CGAN_DEFAULTS["d_channels"],
    ema_decay: float = CGAN_DEFAULTS["ema_decay"],
    lr: float = CGAN_DEFAULTS["lr"],
    threads: int = 1,
    on_step: Callable[[int], None] | None = None,
) -> tuple[ConditionalGenerator, dict[str, Any]]:
    """Train one class-conditional DCGAN on all the given originals (and nothing else).

    Minibatches are replacement-free shuffles of the originals with their labels; each step is one
    discriminator and one generator update, the fakes drawn with the minibatch's labels (so classes appear in
    the data's proportions). Deterministic for a given seed and thread count.

    Args:
        x: ``(n, C, H, W)`` float32 in [-1, 1].
        y: ``(n,)`` integer labels in ``[0, n_classes)``.
        n_classes: Number of classes.
        seed: Seed of initialisation, latents and data order.
        steps: Generator updates.
        batch_size: Minibatch size (capped at ``n``).
        latent_dim: Length of z.
        channels: Generator width.
        d_channels: Discriminator width.
        ema_decay: Decay of the generator weight average that is returned.
        lr: Adam learning rate of both networks.
        threads: torch threads during training.
        on_step: Called with the number of steps done (for progress bars).

    Returns:
        ``(generator, info)``: the averaged :class:`ConditionalGenerator` in eval mode (gradients off) and a
        dict with ``wall_s``, ``cpu_s``, ``steps``, ``batch_size`` and the final losses.

    Raises:
        InputError: ``x`` not ``(n, C, H, W)`` floats, ``y`` not one integer label in range per image.
    """
    xt, yt = _check_data(x, y, n_classes)
    shape = (int(xt.shape[1]), int(xt.shape[2]), int(xt.shape[3]))
    t0, c0 = time.perf_counter(), time.process_time()
    with reproducible(seed, threads) as gen:
        g = ConditionalGenerator(shape, n_classes, latent_dim, channels)
        d = ConditionalDiscriminator(shape, n_classes, d_channels)
        g.apply(init_dcgan)
        d.base.apply(init_dcgan)
        g_bound, d_bound = _Bound(g), _Bound(d)

        def bind(idx: Tensor) -> None:  # the fakes take the minibatch's labels
            g_bound.y = d_bound.y = yt[idx]

        g_ema, losses, bs = adversarial_training(
            g,
            d,
            xt,
            gen,
            steps=steps,
            batch_size=batch_size,
            latent_dim=latent_dim,
            lr=lr,
            ema_decay=ema_decay,
            on_step=on_step,
            on_batch=bind,
            step_modules=(g_bound, d_bound),
        )
        per_pass = n_classes * math.ceil(256 / n_classes)  # every class equally often in each pass
        recalibrate_batchnorm(_Balanced(g_ema), gen, batches=4, batch_size=per_pass)
    g_ema.eval().requires_grad_(False)
    info = {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "steps": steps,
        "batch_size": bs,
        **losses,
    }
    return g_ema, info


class ClassView(nn.Module):
    """One class of a :class:`ConditionalGenerator` as a plain generator ``z → images`` (picklable).

    Args:
        model: The conditional generator (shared, not copied).
        label: The class, ``0 <= label < model.n_classes``.

    Attributes:
        latent_dim: Length of z.
        image_shape: ``(C, H, W)``.
        label: The fixed label (also the int64 buffer ``label_buffer``).
    """

    def __init__(self, model: ConditionalGenerator, label: int) -> None:
        super().__init__()
        if not isinstance(model, ConditionalGenerator):
            raise InputError(f"model must be a ConditionalGenerator, found {type(model).__name__}")
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < model.n_classes:
            raise InputError(f"label must be an int in 0..{model.n_classes - 1}, found {label!r}")
        self.model = model
        self.label = int(label)
        self.latent_dim = model.latent_dim
        self.image_shape = model.image_shape
        self.register_buffer("label_buffer", torch.tensor(self.label, dtype=torch.int64))

    def forward(self, z: Tensor) -> Tensor:
        """``(n, latent_dim)`` → ``(n, C, H, W)`` images of class ``label``."""
        buf = self.label_buffer
        assert isinstance(buf, Tensor)
        y = buf.expand(int(z.shape[0]))
        out: Tensor = self.model(z, y)
        return out


def class_generator(model: ConditionalGenerator, label: int) -> Any:
    """One class of ``model`` as a :class:`latentbridge.TorchGenerator` over ``z`` of length ``latent_dim``.

    Searches over one class's latents then run exactly as with a per-class DCGAN
    (:func:`latentbridge.augment.generators.as_generator`); the generator pickles (process workers).

    Raises:
        InputError: ``label`` out of range or ``model`` not a :class:`ConditionalGenerator`.
    """
    from .._generators import TorchGenerator

    view = ClassView(model, label)
    return TorchGenerator(
        view,
        LatentSpace((view.latent_dim,)),
        view.image_shape,
        name=f"cgan-class{view.label}",
        extra_config={"kind": "conditional-dcgan", "label": view.label, "n_classes": model.n_classes},
    )


def conditional_cache_key(x: NDArray[np.float32], y: NDArray[np.int64], seed: int, settings: dict[str, Any]) -> str:
    """sha256 (first 16 hex digits) of the originals, their labels, the seed, the settings and the torch version."""
    h = hashlib.sha256()
    h.update(b"conditional-dcgan")
    h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    h.update(str(np.shape(x)).encode())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    h.update(json.dumps({"seed": seed, **settings, "torch": torch.__version__}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def save_conditional_dcgan(model: ConditionalGenerator, path: Path) -> str:
    """Write ``model``'s weights to ``path`` atomically; return the file's sha256."""
    return save_state(model, Path(path))


def load_conditional_dcgan(
    path: Path,
    image_shape: tuple[int, int, int],
    n_classes: int,
    *,
    latent_dim: int = CGAN_DEFAULTS["latent_dim"],
    channels: int = CGAN_DEFAULTS["channels"],
) -> ConditionalGenerator | None:
    """Load cached weights (``weights_only``, never code), or ``None`` if the file is missing or does not fit."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        g = ConditionalGenerator(image_shape, n_classes, latent_dim, channels)
        g.load_state_dict(state, strict=True)
    except Exception:  # a stale or corrupt cache file is retrained, never trusted
        return None
    return g.eval().requires_grad_(False)
