"""The realism discriminator: trained alone, reproducibly, against the frozen shipped DCGAN generator.

Retraining the DCGAN pair (``latentbridge.models.train``) would change the shipped
generator, so the discriminator that :mod:`latentbridge.realism` ships is trained on its
own against the frozen generator, with the discriminator half of the project's DCGAN step::

    python -m latentbridge.models.train_disc --seed 0 --threads 1

writes ``models/weights/mnist_disc.pt`` and ``mnist_disc.json`` (the model card's numbers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import load_mnist, to_float_images
from ..errors import InputError
from .dcgan import discriminator_loss, init_dcgan, reproducible
from .mnist import (
    DCGAN_WEIGHTS,
    DISCRIMINATOR_WEIGHTS,
    LATENT_DIM,
    DCGANGenerator,
    Discriminator,
    default_weights_path,
    load_dcgan,
)
from .train import _n_params, _save_state, _train_tensors

__all__ = ["DISC_EPOCHS", "evaluate_discriminator", "main", "train_discriminator"]


#: Epochs of the shipped discriminator (trained against the frozen shipped generator).
DISC_EPOCHS: int = 5
#: Metadata of the shipped discriminator's training, beside its weights.
DISC_METADATA_FILE: str = "mnist_disc.json"


def train_discriminator(
    out: Path,
    *,
    seed: int = 0,
    epochs: int = DISC_EPOCHS,
    threads: int = 1,
    batch_size: int = 64,
    d_channels: int = 32,
    generator: DCGANGenerator | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train a :class:`Discriminator` against the *frozen* shipped generator and save it (realism scores).

    Retraining the DCGAN pair would also retrain (change) the shipped generator, so the
    shipped discriminator is trained alone: the discriminator half of :func:`dcgan_step`
    (the same loss, one-sided label smoothing 0.9, Adam lr 2e-4, β = (0.5, 0.999), DCGAN
    initialisation) on the 4,000 training digits against images of the frozen eval-mode
    generator, deterministically (seeded data order and latents, fixed thread count,
    deterministic algorithms). It is then judged on the 1,000 held-out digits against 1,000
    fresh generated images (``heldout_real_acc`` / ``fake_acc`` at logit 0, ``auc``).

    Args:
        out: Where to write the float32 state dict (``.pt``).
        seed: Seed of initialisation, data order and latents.
        epochs: Passes over the training digits.
        threads: ``torch.set_num_threads`` while training.
        batch_size: Real (and generated) images per step.
        d_channels: Width of the first convolution.
        generator: The frozen generator (default: the shipped one).
        log: Called with a one-line progress message after every epoch.

    Returns:
        Dict with ``wall_time_s``, ``epochs``, ``seed``, ``threads``, ``params``, ``file`` and ``eval``.
    """
    if epochs < 1:
        raise InputError(f"epochs must be a positive int, found {epochs!r}")
    out = Path(out)
    g = load_dcgan() if generator is None else generator.eval().requires_grad_(False)
    x_all, _ = _train_tensors()
    n = x_all.shape[0]
    t0 = time.perf_counter()
    history: list[dict[str, float]] = []
    with reproducible(seed, threads) as gen:
        d = Discriminator(d_channels)
        d.apply(init_dcgan)
        opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        for epoch in range(epochs):
            d.train()
            perm = torch.randperm(n, generator=gen)
            total, steps = 0.0, 0
            for i in range(0, n - batch_size + 1, batch_size):
                real = x_all[perm[i : i + batch_size]]
                with torch.no_grad():
                    fake = g(torch.randn(batch_size, LATENT_DIM, generator=gen))
                logit_real, logit_fake = d(real), d(fake)
                loss = discriminator_loss(logit_real, logit_fake)
                opt.zero_grad(set_to_none=True)
                torch.autograd.backward(loss)
                opt.step()
                total += loss.detach().item()
                steps += 1
            history.append({"loss_d": total / steps})
            if log is not None:
                log(
                    f"discriminator epoch {epoch + 1}/{epochs} {time.perf_counter() - t0:.0f}s loss {total / steps:.4f}"
                )
        d.eval()
    wall = time.perf_counter() - t0
    file_info = _save_state(d, out)
    return {
        "model": "Discriminator",
        "trained_against": {"generator": DCGAN_WEIGHTS, "frozen": True},
        "wall_time_s": wall,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "threads": threads,
        "d_channels": d_channels,
        "params": _n_params(d),
        "file": file_info,
        "history": history,
        "eval": evaluate_discriminator(d, g),
    }


@torch.no_grad()
def evaluate_discriminator(d: Discriminator, g: DCGANGenerator, n_fake: int = 1000) -> dict[str, float]:
    """Held-out real digits against ``n_fake`` generated ones (z from ``default_rng(1)``): accuracies at 0 and AUC."""
    images, _ = load_mnist("test")
    real = d(torch.from_numpy(to_float_images(images))).numpy()
    z = torch.from_numpy(np.random.default_rng(1).standard_normal((n_fake, LATENT_DIM)).astype(np.float32))
    fake = d(g(z)).numpy()
    ranks = np.concatenate([real, fake]).argsort().argsort()  # AUC = P(real logit > fake logit), Mann-Whitney
    auc = (ranks[: len(real)].sum() - len(real) * (len(real) - 1) / 2) / (len(real) * len(fake))
    return {
        "heldout_real_acc": float(np.mean(real > 0)),
        "fake_acc": float(np.mean(fake < 0)),
        "auc": float(auc),
        "real_logit_median": float(np.median(real)),
        "fake_logit_median": float(np.median(fake)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m latentbridge.models.train_disc [--out-dir D] [--seed S] [--threads T] [--epochs E]``.

    Returns:
        Exit status 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m latentbridge.models.train_disc",
        description="Train the realism discriminator against the frozen shipped MNIST DCGAN generator.",
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="weights folder (default: the package's)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--epochs", type=int, default=DISC_EPOCHS, help=f"default {DISC_EPOCHS}")
    parser.add_argument("--d-channels", type=int, default=32, help="discriminator width (default 32)")
    args = parser.parse_args(argv)
    out_dir = default_weights_path(DISCRIMINATOR_WEIGHTS).parent if args.out_dir is None else Path(args.out_dir)
    info = train_discriminator(
        out_dir / DISCRIMINATOR_WEIGHTS,
        seed=args.seed,
        epochs=args.epochs,
        threads=args.threads,
        d_channels=args.d_channels,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    info["file"]["path"] = DISCRIMINATOR_WEIGHTS
    info["torch"] = torch.__version__
    (out_dir / DISC_METADATA_FILE).write_text(json.dumps(info, indent=2) + "\n")
    ev = info["eval"]
    print(
        f"discriminator: held-out real accuracy {ev['heldout_real_acc']:.3f}, generated {ev['fake_acc']:.3f}, "
        f"AUC {ev['auc']:.4f}; wall time {info['wall_time_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
