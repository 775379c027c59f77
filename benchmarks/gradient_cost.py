"""What one value-and-gradient evaluation costs in forward passes, per model, measured side by side in one run.

For every model (the embedded DCGAN and digit CNN, the pixel scorers, the stylegan2 plugin's
generator in z / w / w+ on a tiny and a medium network, the facenet plugin's scorer with
random weights) and for whole problems (``evaluate`` against ``evaluate_grad``), the script
times a plain forward (``torch.inference_mode``) and a forward plus backward to the input
(what ``LatentProblem.evaluate_grad`` runs), interleaved, and prints the median times and
their ratio: the forward-equivalents one gradient evaluation costs. The constants latentbridge
budgets with (``latentbridge._chunks.GRAD_COSTS``) are these ratios rounded up.

    python benchmarks/gradient_cost.py                  # CPU, 1 thread, every model
    python benchmarks/gradient_cost.py --device cuda --threads 16
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header

import latentbridge as lb
from latentbridge.data import heldout_digit

SG2_CONFIGS: dict[str, dict[str, Any]] = {
    # the plugin tests' tiny network, and a 64² network with FFHQ's mapping and widths capped at 256
    "tiny": {
        "z_dim": 8,
        "c_dim": 0,
        "w_dim": 12,
        "img_resolution": 16,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 2},
        "synthesis_kwargs": {"channel_base": 128, "channel_max": 16},
    },
    "medium": {
        "z_dim": 512,
        "c_dim": 0,
        "w_dim": 512,
        "img_resolution": 64,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 8},
        "synthesis_kwargs": {"channel_base": 16384, "channel_max": 256},
    },
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], Any], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def side_by_side(
    forward: Callable[[], Any], value_grad: Callable[[], Any], device: torch.device, reps: int
) -> tuple[float, float]:
    """Median seconds of ``forward`` and ``value_grad``, run alternately ``reps`` times after one warm-up each."""
    forward()
    value_grad()
    tf, tg = [], []
    for _ in range(reps):
        tf.append(_time(forward, device))
        tg.append(_time(value_grad, device))
    return statistics.median(tf), statistics.median(tg)


def model_pair(
    run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """A plain forward of ``run`` on ``x`` and a forward + backward to ``x`` (as ``evaluate_grad`` does)."""

    def forward() -> None:
        with torch.inference_mode():
            run(x)

    def value_grad() -> None:
        xg = x.detach().clone().requires_grad_(True)
        out = run(xg)
        torch.autograd.grad(out.float().sum(), xg)

    return forward, value_grad


def problem_pair(problem: lb.LatentProblem, n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    Z = problem.sample(n, seed=0)
    return (lambda: problem.evaluate(Z)), (lambda: problem.evaluate_grad(Z))


def rows(device: torch.device, batch: int, reps: int, facenet_weights: Path | None) -> list[tuple[str, str, int, Any]]:
    """``(model, configuration, batch, (forward, value_grad))`` for every model this machine can run."""
    dev = str(device)
    gen = lb.load_generator("mnist-dcgan", device=dev)
    embed = lb.load_scorer("mnist-embed", device=dev)
    z = torch.from_numpy(gen.latent.sample(batch, seed=0).astype(np.float32)).to(device)
    with torch.inference_mode():
        imgs = gen.generate(z).clone()
    imgs = imgs.detach().clone()
    out: list[tuple[str, str, int, Any]] = [
        ("mnist-dcgan", "z 100 -> 1x28x28", batch, model_pair(gen.generate, z)),
        ("mnist-embed", "1x28x28 -> 128", batch, model_pair(embed.embed, imgs)),
        ("rmse", "1x28x28", batch, model_pair(lb.load_scorer("rmse", device=dev).embed, imgs)),
        ("ncc", "1x28x28", batch, model_pair(lb.load_scorer("ncc", device=dev).embed, imgs)),
        (
            "problem",
            "TargetSimilarity(mnist-dcgan, mnist-embed)",
            batch,
            problem_pair(lb.TargetSimilarity(gen, embed, heldout_digit(3), batch_size=batch), batch),
        ),
        (
            "problem",
            "SetDiversity(mnist-dcgan, rmse, k=4)",
            batch,
            problem_pair(lb.SetDiversity(gen, lb.load_scorer("rmse", device=dev), k=4, batch_size=batch), batch // 4),
        ),
    ]
    try:
        from latentbridge_stylegan2 import StyleGAN2Generator
    except ImportError:
        print("# stylegan2 plugin not installed: skipped", file=sys.stderr)
    else:
        for cfg, kwargs in SG2_CONFIGS.items():
            for space in ("z", "w", "w+"):
                sg = StyleGAN2Generator.random(kwargs, space=space, w_stats_samples=256, device=dev)
                n = batch if cfg == "tiny" else max(1, batch // 8)
                lat = torch.from_numpy(sg.latent.sample(n, seed=0).astype(np.float32)).reshape(n, *sg.latent.shape)
                shape = "x".join(map(str, sg.image_shape))
                out.append(("stylegan2", f"{cfg} {space} -> {shape}", n, model_pair(sg.generate, lat.to(device))))
    if facenet_weights is not None:
        scorer = lb.load_scorer("facenet", weights=facenet_weights, crop_box=(0.2, 0.2, 0.8, 0.8), device=dev)
        n = max(1, batch // 8)
        faces = torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(0)).mul(2).sub(1).to(device)
        out.append(("facenet", "3x64x64 -> crop -> 160² -> 512 (random weights)", n, model_pair(scorer.embed, faces)))
    return out


def _facenet_weights() -> Path | None:
    try:
        from latentbridge_facenet import facenet_module
    except ImportError:
        print("# facenet plugin not installed: skipped", file=sys.stderr)
        return None
    import tempfile

    path = Path(tempfile.gettempdir()) / "latentbridge-bench-facenet-random.pt"
    if not path.is_file():
        torch.manual_seed(0)
        torch.save(facenet_module().module.InceptionResnetV1(pretrained=None, classify=False).state_dict(), path)
    return path


def _cpu_flags() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "lscpu unavailable"
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("Flags:")), [])
    keep = [f for f in flags if f.startswith(("avx", "amx", "fma", "sse4"))]
    return " ".join(keep) or "(no AVX/AMX flags)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64, help="images per forward (medium StyleGAN2/FaceNet: 1/8)")
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    warnings.simplefilter("ignore")
    print("\n".join(machine_header(args.threads, args.device)))
    print(f"# lscpu flags (AVX/AMX/FMA/SSE4): {_cpu_flags()}")
    print(f"# median of {args.reps} interleaved repetitions; ratio = (forward + backward) / forward")
    print(f"| {'model':<11} | {'configuration':<46} | batch | forward ms | value+grad ms | ratio |")
    print(f"|{'-' * 13}|{'-' * 48}|------:|-----------:|--------------:|------:|")
    for model, cfg, n, (fwd, vg) in rows(device, args.batch, args.reps, _facenet_weights()):
        tf, tg = side_by_side(fwd, vg, device, args.reps)
        print(f"| {model:<11} | {cfg:<46} | {n:>5} | {tf * 1e3:>10.3f} | {tg * 1e3:>13.3f} | {tg / tf:>5.2f} |")


if __name__ == "__main__":
    main()
