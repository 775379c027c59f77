"""Micro-benchmark: FaceNet (latentbridge-facenet) embeddings per second versus batch size, CPU and CUDA."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch


def _scorer(device: str, weights: Path) -> object:
    import latentbridge

    return latentbridge.load_scorer("facenet", weights=weights, crop_box=(0.2, 0.2, 0.8, 0.8), device=device)


def measure(scorer: object, batch: int, *, resolution: int, min_time: float, max_reps: int) -> float:
    """Embeddings per second of ``scorer.embed`` on ``(batch, 3, resolution, resolution)`` images (crop+resize+CNN)."""
    images = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    device = scorer.device  # type: ignore[attr-defined]
    images = images.to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        scorer.embed(images)  # type: ignore[attr-defined]  # warm-up (allocations, kernel selection)
        sync()
        reps, start = 0, time.perf_counter()
        while reps < max_reps and (reps == 0 or time.perf_counter() - start < min_time):
            scorer.embed(images)  # type: ignore[attr-defined]
            reps += 1
        sync()
        elapsed = time.perf_counter() - start
    return batch * reps / elapsed


def main() -> None:
    """Print a table of embeddings/s per batch size (random weights; nothing is downloaded)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--resolution", type=int, default=256, help="side of the generated images before the crop")
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds measured per cell (at least one call)")
    parser.add_argument("--max-reps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from latentbridge_facenet import facenet_module

    fp = facenet_module()
    torch.manual_seed(0)
    model = fp.module.InceptionResnetV1(pretrained=None, classify=False)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "random_irv1.pt"
        torch.save(model.state_dict(), weights)
        print(
            f"FaceNet embeddings/s: torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
            f"facenet-pytorch {fp.version} (imported via {fp.via}), {args.resolution}² images cropped to 160²"
        )
        for device in devices:
            name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
            scorer = _scorer(device, weights)
            print(f"\n{name}\n{'batch':>6} {'emb/s':>10} {'ms/batch':>10}")
            for batch in args.batches:
                rate = measure(
                    scorer, batch, resolution=args.resolution, min_time=args.min_time, max_reps=args.max_reps
                )
                print(f"{batch:>6} {rate:>10.1f} {1000 * batch / rate:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
