"""Compare the same arms across two ``latentbridge augment`` runs, paired on (seed, fold).

Two runs of one data set with the same ``--seed``, ``--seeds``, ``--folds`` and ``--train-per-class`` train
their classifiers on the same folds with the same seeds, so an arm's score in run A and in run B form a pair
per (seed, fold): e.g. per-class DCGANs (run A) against a class-conditional DCGAN (run B, ``--per-class-generator
cdcgan``). For every arm present in both ``results.csv`` files this prints the mean accuracy in each run, the
mean paired difference (B − A, in accuracy points), the two-sided Wilcoxon signed-rank p, Holm-adjusted over the
arms compared, and A12 (the probability that B's score exceeds A's), as a Markdown table. ``--arms X=Y``
compares run A's arm ``X`` with run B's arm ``Y`` (e.g. ``duplicate=none``: the originals duplicated in run A
against no augmentation in a run B that trained twice as long).

Usage::

    python scripts/augment_compare_runs.py RUN_A RUN_B [--arms random,random+affine,duplicate=none] [--metric accuracy]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def _read(run: Path, metric: str) -> dict[str, dict[tuple[int, int], float]]:
    path = run / "results.csv" if run.is_dir() else run
    if not path.is_file():
        raise SystemExit(f"error: {path} does not exist (pass a run folder holding results.csv, or the file)")
    out: dict[str, dict[tuple[int, int], float]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"arm", "seed", "fold", metric} <= set(reader.fieldnames):
            raise SystemExit(f"error: {path} lacks the columns arm, seed, fold and {metric}")
        for row in reader:
            out.setdefault(row["arm"], {})[(int(row["seed"]), int(row["fold"]))] = float(row[metric])
    return out


def compare(a: Path, b: Path, arms: list[str] | None = None, metric: str = "accuracy") -> str:
    """The Markdown table (see the module docstring)."""
    from latentbridge.augment.report_tables import holm_adjusted, paired_comparison

    ra, rb = _read(a, metric), _read(b, metric)
    wanted = [n.partition("=")[::2] for n in (arms or list(ra))]
    pairs = [(x, y or x) for x, y in wanted if x in ra and (y or x) in rb]
    if not pairs:
        raise SystemExit(f"error: no arm is in both runs (A: {sorted(ra)}, B: {sorted(rb)})")
    comps = holm_adjusted(
        [paired_comparison({"A": ra[x], "B": rb[y]}, "B", "A", metric, "runs") for x, y in pairs]  # B against A
    )
    lines = [
        f"| arm | n | {metric} A | {metric} B | B − A (points) | Wilcoxon p | Holm p | A12 (B > A) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (arm_a, arm_b), c in zip(pairs, comps, strict=True):
        name = arm_a if arm_a == arm_b else f"{arm_a} (A) vs {arm_b} (B)"
        lines.append(
            f"| {name} | {c.n} | {c.baseline_mean:.4f} | {c.mean:.4f} | {100 * c.diff:+.2f} | {c.p_wilcoxon:.2g} "
            f"| {c.p_holm:.2g} | {c.a12:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    ap.add_argument("--arms", default=None, help="comma-separated arms (default: every arm of run A found in B)")
    ap.add_argument("--metric", default="accuracy", help="a results.csv column (accuracy, f1, ...)")
    ns = ap.parse_args(argv)
    arms = [s.strip() for s in ns.arms.split(",") if s.strip()] if ns.arms else None
    print(compare(ns.run_a, ns.run_b, arms, ns.metric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
