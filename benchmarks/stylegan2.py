"""Throughput (images/s versus batch size) of the stylegan2 plugin's generator on FFHQ-shaped networks."""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

import torch

# FFHQ configurations of stylegan2-ada-pytorch ('paper256' and 'stylegan2' / 1024²), as constructor arguments.
FFHQ_KWARGS: dict[int, dict[str, Any]] = {
    res: {
        "z_dim": 512,
        "w_dim": 512,
        "c_dim": 0,
        "img_resolution": res,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 8},
        "synthesis_kwargs": {
            "channel_base": 16384 if res <= 256 else 32768,
            "channel_max": 512,
            "num_fp16_res": 4,
            "conv_clamp": 256,
        },
    }
    for res in (256, 512, 1024)
}


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--resolutions", type=int, nargs="+", default=[256, 1024], choices=sorted(FFHQ_KWARGS))
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8], help="batch sizes at 256² (and below)")
    p.add_argument(
        "--batch-sizes-1024", type=int, nargs="+", default=[1, 2], help="batch sizes above 256² (slow on CPU)"
    )
    p.add_argument("--min-time", type=float, default=3.0, help="seconds of timed calls per point (at least 1 call)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--fused", choices=["auto", "on", "off"], default="auto", help="fused modulated convolutions")
    p.add_argument("--fp16", action="store_true", help="float16 top resolutions (CUDA only)")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--space", choices=["z", "w", "w+"], default="z")
    return p.parse_args()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    """Print a table of images/s per resolution and batch size."""
    args = _parse()
    from latentbridge_stylegan2 import StyleGAN2Generator

    if args.threads:
        torch.set_num_threads(args.threads)
    fused = {"auto": None, "on": True, "off": False}[args.fused]
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    print(
        f"# stylegan2 plugin throughput; torch {torch.__version__}, device {device} (GPU: {gpu}), "
        f"{torch.get_num_threads()} threads, CPU {platform.processor() or platform.machine()}; "
        f"space={args.space}, fused={args.fused}, fp16={args.fp16}, channels_last={args.channels_last}; "
        "randomly initialised FFHQ-shaped generators, noise_mode=const"
    )
    print(f"{'resolution':>10} {'batch':>5} {'calls':>5} {'s/call':>9} {'images/s':>9}")
    for res in args.resolutions:
        t0 = time.perf_counter()
        gen = StyleGAN2Generator.random(
            FFHQ_KWARGS[res],
            space=args.space,
            device=device,
            fused_modconv=fused,
            fp16=args.fp16,
            channels_last=args.channels_last,
            w_stats_samples=1000,
        )
        n_params = sum(p.numel() for p in gen.net.parameters())
        print(
            f"# {res}²: {n_params / 1e6:.1f} M parameters, num_ws={gen.num_ws}, "
            f"built in {time.perf_counter() - t0:.1f} s"
        )
        batches = args.batch_sizes if res <= 256 else args.batch_sizes_1024
        for bs in batches:
            z = torch.as_tensor(gen.latent.sample(bs, seed=bs), dtype=torch.float32, device=device)
            z = z.reshape(bs, *gen.latent.shape)
            gen.generate(z)  # warm-up
            _sync(device)
            calls, t0 = 0, time.perf_counter()
            while True:
                gen.generate(z)
                _sync(device)
                calls += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= args.min_time:
                    break
            per = elapsed / calls
            print(f"{res:>10} {bs:>5} {calls:>5} {per:>9.3f} {bs / per:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
