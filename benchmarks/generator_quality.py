"""Per-class DCGANs against one class-conditional DCGAN: training CPU time and sample quality, side by side.

For each data set and seed, trains the 10 (or 2) per-class DCGANs of ``latentbridge augment``
(:func:`latentbridge.augment.generators.train_class_dcgan`, defaults) and one conditional DCGAN
(:func:`latentbridge.augment.conditional.train_conditional_dcgan`, defaults with
:func:`~latentbridge.augment.conditional.matched_schedule`) on the same 40 originals per class, draws 200
images per class from each (the same z), and judges them with a CNN trained on the originals
(:func:`latentbridge.augment.quality.generator_quality`): class agreement and the Fréchet distance between
the CNN's embeddings of generated and held-out real images of the class (up to 200). Prints one row per
(data set, kind, seed) and the means over seeds. CPU seconds are the training process times (1 thread).
Two rows give the scale: ``originals`` (the 40 training images per class against the held-out ones) and
``held-out real`` (its agreement is the CNN's mean per-class test recall).

    python benchmarks/generator_quality.py                           # all three data sets, seeds 0 1 2
    python benchmarks/generator_quality.py --data lfw-faces --seeds 0
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from _common import machine_header

from latentbridge.augment.classifiers import CNNClassifier
from latentbridge.augment.conditional import matched_schedule, train_conditional_dcgan
from latentbridge.augment.data import load_data
from latentbridge.augment.generators import train_class_dcgan
from latentbridge.augment.quality import generator_quality, quality_summary

DATA = ("mnist-small", "sklearn-digits", "lfw-faces")


def run(data: str, seed: int, n: int) -> list[dict[str, Any]]:
    """Both kinds of generator on one data set and seed."""
    split = load_data(data, train_per_class=40, folds=5, seed=0)  # the split `latentbridge augment` uses
    train_x, train_y, test_x, test_y = split.train_x, split.train_y, split.test_x, split.test_y
    classes = int(train_y.max()) + 1
    reference = {c: test_x[test_y == c][:200] for c in range(classes)}
    clf = CNNClassifier(classes, seed=0).fit(train_x, train_y)
    z = torch.randn(n, 100, generator=torch.Generator().manual_seed(123))
    rows = []
    cpu, images = 0.0, {}
    for c in range(classes):
        g, info = train_class_dcgan(train_x[train_y == c], seed=seed * 100 + c)
        cpu += info["cpu_s"]
        with torch.no_grad():
            images[c] = g(z).numpy()
    rows.append({"kind": "per-class", "cpu_s": cpu, **quality_summary(generator_quality(images, clf, reference))})
    schedule = matched_schedule(np.bincount(train_y).tolist())
    cg, info = train_conditional_dcgan(train_x, train_y, classes, seed=seed, **schedule)
    with torch.no_grad():
        images = {c: cg(z, torch.full((n,), c)).numpy() for c in range(classes)}
    rows.append(
        {"kind": "conditional", "cpu_s": info["cpu_s"], **quality_summary(generator_quality(images, clf, reference))}
    )
    originals = {c: train_x[train_y == c] for c in range(classes)}
    rows.append({"kind": "originals", "cpu_s": 0.0, **quality_summary(generator_quality(originals, clf, reference))})
    held_out = quality_summary(generator_quality(reference, clf, reference))  # agreement: the CNN's test recall
    rows.append({"kind": "held-out real", "cpu_s": 0.0, **held_out, "frechet": float("nan")})
    return [{"data": data, "seed": seed, **r} for r in rows]


def main() -> None:
    """Parse arguments, run, print rows and means."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=list(DATA), choices=DATA)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--n", type=int, default=200, help="generated images per class")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("\n".join(machine_header(1)) + "\n")
    rows = []
    print("| data | kind | seed | CPU-s | agreement | Fréchet |")
    print("|---|---|---:|---:|---:|---:|")
    for data in args.data:
        for seed in args.seeds:
            for r in run(data, seed, args.n):
                rows.append(r)
                print(
                    f"| {data} | {r['kind']} | {seed} | {r['cpu_s']:.1f} | {r['agreement']:.3f} | {r['frechet']:.2f} |"
                )
    print("\nmeans over seeds\n\n| data | kind | CPU-s | agreement | Fréchet |\n|---|---|---:|---:|---:|")
    for data in args.data:
        for kind in ("per-class", "conditional", "originals", "held-out real"):
            sel = [r for r in rows if r["data"] == data and r["kind"] == kind]
            means = {k: float(np.mean([r[k] for r in sel])) for k in ("cpu_s", "agreement", "frechet")}
            print(f"| {data} | {kind} | {means['cpu_s']:.1f} | {means['agreement']:.3f} | {means['frechet']:.2f} |")


if __name__ == "__main__":
    main()
