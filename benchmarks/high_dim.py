"""nevergrad optimizers at StyleGAN2's dimensions through the batched driver: time per generation.

StyleGAN2's z has 512 dimensions and its w+ 18 x 512 = 9,216. This runs
``latentbridge.nevergrad.minimize`` at both sizes with NGOpt, DiagonalCMA, CMA (what
nevergrad selects for batched runs: ``CMApara``, diagonal), the seeds' GAs and, where
its d x d covariance is affordable, full-covariance CMA-ES (``ParametrizedCMA(diagonal=False)``;
at d = 9,216 its covariance is 680 MB and each eigendecomposition O(d^3), so it runs
there only with ``--full-cma``). The model is a tiny random MLP (``latentbridge.testing.tiny_generator``
with 4x4 images) so that the time is the optimizer's and the driver's: the generator of a
real StyleGAN2 costs far more per image (``benchmarks/stylegan2.py``).

For each run: evaluation calls (one per generation for CMA-ES and the GAs), wall time,
seconds per generation, of which outside ``problem.evaluate`` (optimizer + driver),
and the best fitness. One torch thread; the machine is shared, so compare rows of one run.

Run: ``python benchmarks/high_dim.py [--dims 512,9216] [--budget 4000] [--full-cma] [--record]``
(``--record`` writes the table into ``benchmarks/README.md``, between this script's markers).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

import latentbridge as lb
from latentbridge.testing import tiny_generator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- high-dim:begin -->", "<!-- high-dim:end -->"
SECTION = "## nevergrad at StyleGAN2's dimensions (`python benchmarks/high_dim.py`, issue 18)"


def _problem(dim: int, batch_size: int) -> lb.TargetSimilarity:
    gen = tiny_generator(latent_dim=dim, image_shape=(1, 4, 4), seed=0)
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((1, dim)).astype(np.float32))
    return lb.TargetSimilarity(gen, lb.load_scorer("rmse"), gen.generate(z)[0], batch_size=batch_size)


def _contenders(dim: int, full_cma: bool) -> list[tuple[str, Any]]:
    import nevergrad as ng

    out: list[tuple[str, Any]] = [
        ("NGOpt", "NGOpt"),
        ("CMA", "CMA"),
        ("DiagonalCMA", "DiagonalCMA"),
        ("LatentPaperGA", "LatentPaperGA"),
        ("LatentSetGA", "LatentSetGA"),
    ]
    if dim <= 2048 or full_cma:
        out.append(("full CMA-ES", ng.optimizers.ParametrizedCMA(diagonal=False).set_name("FullCMA")))
    return out


def run(dims: list[int], budget: int, batch_size: int, full_cma: bool) -> str:
    """Run every contender at every dimension; a Markdown table."""
    import latentbridge.nevergrad as lbng

    rows = [
        "| d | optimizer | driven | evaluation calls | wall s | s / generation | of which optimizer + driver | best |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for dim in dims:
        problem = _problem(dim, batch_size)
        for label, opt in _contenders(dim, full_cma):
            eval_s = 0.0

            def listener(ev: Any) -> None:
                nonlocal eval_s
                eval_s += ev.seconds

            t0 = time.perf_counter()
            try:
                with problem.observe(listener):
                    res = lbng.minimize(problem, opt, budget, seed=0)
            except lb.errors.LatentBridgeError as exc:
                rows.append(f"| {dim} | {label} | refused: {type(exc).__name__} | | | | | |")
                continue
            wall = time.perf_counter() - t0
            gens = int(res.extra.get("generations") or res.extra["steps"])
            rows.append(
                f"| {dim} | {label} | {res.extra['driven']} | {res.extra['steps']} | {wall:.1f} | {wall / gens:.2f} "
                f"| {(wall - eval_s) / gens:.2f} | {res.best:.4f} |"
            )
            print(rows[-1], flush=True)
    return "\n".join(rows)


def record(markdown: str) -> None:
    """Write ``markdown`` between this script's markers in benchmarks/README.md (its own section)."""
    text = README.read_text()
    block = f"{BEGIN}\n{markdown.strip()}\n{END}"
    if BEGIN in text and END in text:
        i, j = text.index(BEGIN), text.index(END) + len(END)
        text = text[:i] + block + text[j:]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    README.write_text(text)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print (and optionally record) the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", default="512,9216")
    ap.add_argument("--budget", type=int, default=4000, help="evaluations per run (default: 20 generations of 200)")
    ap.add_argument("--batch-size", type=int, default=200, help="problem batch size (the default batch)")
    ap.add_argument("--full-cma", action="store_true", help="also full-covariance CMA-ES above d = 2048")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    command = " ".join(["python benchmarks/high_dim.py", *(argv if argv is not None else sys.argv[1:])])
    t0 = time.perf_counter()
    table = run([int(d) for d in args.dims.split(",")], args.budget, args.batch_size, args.full_cma)
    header = "\n".join(
        [*machine_header(1), f"- command: `{command}`", f"- wall time: {time.perf_counter() - t0:.0f} s"]
    )
    md = f"{header}\n\n{table}"
    print(md)
    if args.record:
        record(md)


if __name__ == "__main__":
    main()
