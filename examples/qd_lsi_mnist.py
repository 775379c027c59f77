"""pyribs' lsi_mnist in kind, on latentbridge's embedded models: QD algorithms next to GA, CMA-ES and random search.

Objective: the embedded digit classifier's probability of an 8 (maximised); measures: lsi_mnist's boldness
(white pixels, 0..784) and lightness (their mean intensity, 0.5..1) on a grid. The QD algorithms run through
pyribs (``latentbridge.qd.solve``); the gradient ones (CMA-MEGA, CMA-MAEGA) need differentiable measures and
use smooth boldness/lightness (temperature 0.05), whose archive is scored on the same grid. The seeds' GA,
CMA-ES and random search run on the same problem and their evaluations fill an archive of the same grid
(``ArchiveRecorder``), so one table compares them all. Prints a Markdown table (median over seeds) and writes
a heatmap and an elite grid per algorithm for the first seed.

    python examples/qd_lsi_mnist.py --budget 7500 --seeds 3 --cells 50 --out qd-lsi
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import latentbridge as lb
from latentbridge import qd

QD_NAMES = ("map-elites", "cma-me", "cma-mae", "cma-mega", "cma-maega")
OTHERS = ("paper-ga", "pymoo:CMAES", "random")


def problems() -> tuple[qd.QualityDiversity, qd.QualityDiversity]:
    """lsi_mnist's problem with exact measures, and the same with smooth ones (for gradient algorithms)."""
    gen = lb.load_generator("mnist-dcgan")
    objective = lb.load_measure("class-probability", digit=8)
    exact = qd.QualityDiversity(gen, objective, ["boldness", "lightness"])
    smooth = [lb.load_measure("boldness", temperature=0.05), lb.load_measure("lightness", temperature=0.05)]
    return exact, qd.QualityDiversity(gen, objective, smooth, ranges=exact.ranges)


def run_other(problem: qd.QualityDiversity, name: str, budget: int, seed: int, cells: int) -> qd.Archive:
    """A non-QD optimizer on the problem, its evaluations recorded into an archive of the same grid."""
    from latentbridge.baselines import random_search
    from latentbridge.pymoo import solve as pymoo_solve

    with problem.observe(qd.ArchiveRecorder(problem, cells, budget=budget)) as rec:
        if name == "random":
            random_search(problem, budget, seed, batch=150)
        elif name == "paper-ga":
            pymoo_solve(problem, "paper-ga", budget=budget, seed=seed, pop_size=150)
        else:
            pymoo_solve(problem, name.split(":")[1], budget=budget, seed=seed, pop_size=150)
    return rec.archive()


def rescored(archive: qd.Archive, exact: qd.QualityDiversity, cells: int) -> qd.Archive:
    """A smooth-measure archive's elites placed by the exact measures (the table compares one grid)."""
    return qd.archive_from(archive.solution, exact, cells) if len(archive) else archive


def main() -> None:
    """Run every algorithm for every seed and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=7500, help="evaluations per run (150 per QD iteration)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--cells", type=int, default=50, help="cells per measure (lsi_mnist: 200)")
    ap.add_argument("--threshold", type=float, default=0.9, help="realism: the classifier's p(8) needed")
    ap.add_argument("--out", type=Path, default=Path("qd-lsi"))
    args = ap.parse_args()
    exact, smooth = problems()
    rows: dict[str, list[dict[str, Any]]] = {}
    for seed in range(args.seeds):
        for name in (*QD_NAMES, *OTHERS):
            t0 = time.perf_counter()
            if name in QD_NAMES:
                gradient = qd.algorithm(name).gradient
                res = qd.solve(smooth if gradient else exact, name, budget=args.budget, seed=seed, grid=args.cells)
                archive = rescored(res.archive, exact, args.cells) if gradient else res.archive
            else:
                archive = run_other(exact, name, args.budget, seed, args.cells)
            m = archive.metrics()
            real = qd.realism(archive, exact, 8, threshold=args.threshold)
            rows.setdefault(name, []).append(
                {
                    "qd": m.qd_score,
                    "norm": m.norm_qd_score,
                    "cov": m.coverage,
                    "best": m.best or 0.0,
                    "real": real.share,
                    "s": time.perf_counter() - t0,
                }
            )
            if seed == 0:
                args.out.mkdir(parents=True, exist_ok=True)
                qd.heatmap(archive, args.out / f"{name.replace(':', '-')}-heatmap.png", vmin=0, vmax=1, title=name)
                qd.elite_grid(archive, exact, args.out / f"{name.replace(':', '-')}-elites.png", rows=5, cols=8)
                qd.save_archive(archive, args.out / f"{name.replace(':', '-')}-archive.npz")
            print(f"seed {seed} {name}: {rows[name][-1]}", flush=True)
    print(f"\nbudget {args.budget}, grid {args.cells}x{args.cells}, {args.seeds} seeds (median):\n")
    print(f"| optimizer | QD-score | norm. QD-score | coverage | best p(8) | p(8) >= {args.threshold} | s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rs in rows.items():
        med = {k: float(np.median([r[k] for r in rs])) for k in rs[0]}
        print(
            f"| {name} | {med['qd']:.1f} | {med['norm']:.4f} | {med['cov']:.2%} | {med['best']:.3f} | "
            f"{med['real']:.0%} | {med['s']:.0f} |"
        )


if __name__ == "__main__":
    main()
