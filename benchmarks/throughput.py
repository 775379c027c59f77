"""Evaluation throughput of latentbridge problems against the raw model forward and one-at-a-time loops.

Everything is measured side by side in one run (these machines are noisy: compare ratios,
not absolute numbers). Section ``evaluate`` (issue 3):

* ``evaluate()`` evaluations/s at batch sizes 1, 8, 32, 128, 512;
* versus evaluating one candidate at a time (a Python loop of ``evaluate(z)``), and
* versus the raw generator + scorer forward alone at the same batch size (the floor).

Run: ``python benchmarks/throughput.py [--n 2048] [--repeats 5] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import latentbridge as lb
from latentbridge.data import heldout_digit


def _best_of(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def section_evaluate(n: int, repeats: int, batch_sizes: list[int]) -> list[dict[str, float]]:
    """Throughput of evaluate() vs one-at-a-time vs raw forward, for each batch size."""
    gen = lb.load_generator("mnist-dcgan")
    scorer = lb.load_scorer("mnist-embed")
    target = heldout_digit(3)
    rows = []
    Z = lb.LatentSpace((100,)).sample(n, seed=0)
    z_t = torch.from_numpy(Z.astype(np.float32))
    with torch.inference_mode():
        t_feat = scorer.embed(torch.from_numpy(target)[None])

    # one candidate at a time: a Python loop of single-row evaluate() calls (seed 000's starting point)
    one = lb.TargetSimilarity(gen, scorer, target, batch_size=1)
    n_one = min(n, 256)
    t_one = _best_of(lambda: [one.evaluate(Z[i]) for i in range(n_one)], repeats)
    one_rate = n_one / t_one

    for bs in batch_sizes:
        problem = lb.TargetSimilarity(gen, scorer, target, batch_size=bs)

        def raw(bs: int = bs) -> None:
            with torch.inference_mode():
                for s in range(0, n, bs):
                    scorer.distance(scorer.embed(gen.generate(z_t[s : s + bs])), t_feat)

        def ev(problem: lb.TargetSimilarity = problem) -> None:
            problem.evaluate(Z)

        # interleave raw and evaluate to share the machine's noise
        t_raw, t_ev = [], []
        raw()
        ev()
        for _ in range(repeats):
            t0 = time.perf_counter()
            raw()
            t_raw.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ev()
            t_ev.append(time.perf_counter() - t0)
        raw_rate = n / statistics.median(t_raw)
        ev_rate = n / statistics.median(t_ev)
        rows.append(
            {
                "batch_size": bs,
                "evaluate_per_s": ev_rate,
                "raw_per_s": raw_rate,
                "vs_raw": ev_rate / raw_rate,
                "vs_one_at_a_time": ev_rate / one_rate,
                "one_at_a_time_per_s": one_rate,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2048, help="candidates per measurement")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--batch-sizes", default="1,8,32,128,512")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"# machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__} "
        f"({args.threads} threads), numpy {np.__version__}, latentbridge {lb.__version__}"
    )
    print("# problem: TargetSimilarity(mnist-dcgan, mnist-embed, held-out digit 3)")
    rows = section_evaluate(args.n, args.repeats, [int(b) for b in args.batch_sizes.split(",")])
    print(f"# one candidate at a time: {rows[0]['one_at_a_time_per_s']:.0f} evaluations/s")
    print("| batch_size | evaluate() evals/s | raw forward evals/s | evaluate / raw | evaluate / one-at-a-time |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['batch_size']:.0f} | {r['evaluate_per_s']:.0f} | {r['raw_per_s']:.0f} | "
            f"{r['vs_raw']:.2f}x | {r['vs_one_at_a_time']:.1f}x |"
        )


if __name__ == "__main__":
    main()
