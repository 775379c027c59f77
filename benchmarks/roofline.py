"""How close ``evaluate()`` runs to the hardware's peak, per precision / layout / compile option.

One run prints (and with ``--record`` writes into ``benchmarks/README.md``):

* ``peak``: the machine's measured matmul peak per precision (2048² by default);
* ``flops``: FLOPs per evaluation (``torch.utils.flop_counter``) of every built-in and plugin
  model shape: the embedded MNIST pair, StyleGAN2 at 256² and 1024² (FFHQ shapes, random
  weights) with FaceNet (random weights);
* ``options``: achieved ``evaluate()`` evaluations/s per option, side by side (interleaved
  rounds, medians), the ratio to today's fp32 and the fraction of the matching peak;
  ``torch.compile`` warm-up is timed separately and excluded;
* ``guard``: fitness against fp32 on the same latents (max abs and relative error, Spearman
  rank correlation; 10,000 latents for the embedded pair);
* ``drivers``: ``paper_ga`` and the nevergrad driver against the raw forward, in fp32 and in
  the fastest option (their ratio to the limit falls as the limit rises).

On a CUDA device (``--device cuda``) the same sections run with synchronised timers; the
options there are fp16 / bf16 autocast and ``torch.compile`` (``--compile``).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_header
from stylegan2 import FFHQ_KWARGS  # the FFHQ configurations of stylegan2-ada-pytorch, defined once

import latentbridge as lb

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- roofline:begin -->", "<!-- roofline:end -->"
DEVICE = torch.device("cpu")

FACE_BOX = (0.2, 0.2, 0.8, 0.8)


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


@dataclass(frozen=True)
class Option:
    """One way to run the models."""

    name: str
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool | str = False  # True: torch.compile; "freeze": with frozen weights (oneDNN fusion)

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"precision": self.precision, "channels_last": self.channels_last, "compile": self.compile}


def options_for(device: torch.device, with_compile: bool) -> list[Option]:
    """The options worth measuring on ``device`` (unsupported precisions left out)."""
    support = lb.precision_support(device)
    opts = [Option("fp32 (before)"), Option("fp32 channels_last", channels_last=True)]
    for p in ("bf16", "fp16"):
        if support[p] != "unsupported":
            opts += [Option(f"{p}", p), Option(f"{p} channels_last", p, channels_last=True)]
    if with_compile:
        opts += [
            Option("compile fp32 cl", channels_last=True, compile=True),
            Option("compile=freeze fp32 cl", channels_last=True, compile="freeze"),
        ]
        if support["bf16"] != "unsupported":
            opts += [
                Option("compile bf16 cl", "bf16", channels_last=True, compile=True),
                Option("compile=freeze bf16 cl", "bf16", channels_last=True, compile="freeze"),
            ]
    return opts


# ------------------------------------------------------------------------------------------------ peak
def matmul_peak(precision: str, n: int, repeats: int) -> float:
    """GFLOP/s of an ``n × n`` matmul in ``precision`` (best of ``repeats`` after a warm-up)."""
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    a = torch.randn(n, n, device=DEVICE).to(dtype)
    b = torch.randn(n, n, device=DEVICE).to(dtype)
    reps = 3 if DEVICE.type == "cpu" else 50
    best = math.inf
    for i in range(repeats + 1):
        _sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        _sync()
        if i:
            best = min(best, (time.perf_counter() - t0) / reps)
    return 2 * n**3 / best / 1e9


# ------------------------------------------------------------------------------------------------ models
def mnist_problem(opt: Option, batch_size: int) -> lb.TargetSimilarity:
    """The embedded pair on held-out digit 3."""
    from latentbridge.data import heldout_digit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lb.PrecisionWarning)
        gen = lb.load_generator("mnist-dcgan", device=DEVICE, **opt.kwargs)
        scorer = lb.load_scorer("mnist-embed", device=DEVICE, **opt.kwargs)
    return lb.TargetSimilarity(gen, scorer, heldout_digit(3), batch_size=batch_size)


_FACENET_WEIGHTS: list[Path] = []


def _facenet_weights() -> Path:
    if not _FACENET_WEIGHTS:
        from latentbridge_facenet import facenet_module

        torch.manual_seed(0)
        model = facenet_module().module.InceptionResnetV1(pretrained=None, classify=False)
        path = Path(tempfile.mkdtemp()) / "random_irv1.pt"
        torch.save(model.state_dict(), path)
        _FACENET_WEIGHTS.append(path)
    return _FACENET_WEIGHTS[0]


_SG2: dict[int, Any] = {}


def faces_problem(res: int, opt: Option, batch_size: int) -> lb.TargetSimilarity:
    """StyleGAN2 (FFHQ shape ``res``², random weights) + FaceNet (random weights), target = G(z0)."""
    from latentbridge_facenet import FaceNetScorer
    from latentbridge_stylegan2 import StyleGAN2Generator

    if res not in _SG2:
        _SG2[res] = StyleGAN2Generator.random(FFHQ_KWARGS[res], device=DEVICE, w_stats_samples=64)
    base = _SG2[res]
    if opt.channels_last:
        base.net.synthesis.to(memory_format=torch.channels_last)
    gen = StyleGAN2Generator(
        base.net,
        device=DEVICE,
        w_stats_samples=64,
        precision=opt.precision,
        channels_last=opt.channels_last,
        compile=opt.compile,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lb.PrecisionWarning)
        scorer = FaceNetScorer.load(weights=_facenet_weights(), crop_box=FACE_BOX, device=DEVICE, **opt.kwargs)
    z0 = torch.as_tensor(gen.latent.sample(1, seed=123), dtype=torch.float32, device=DEVICE)
    target = _SG2_TARGETS.setdefault(res, base.generate(z0)[0].clamp(-1, 1).cpu().numpy())
    return lb.TargetSimilarity(gen, scorer, target, batch_size=batch_size)


_SG2_TARGETS: dict[int, Any] = {}


def flops_per_eval(problem: lb.TargetSimilarity, n: int = 2) -> float:
    """FLOPs of one evaluation (generator + scorer forward, counted by torch at batch ``n``)."""
    Z = problem.sample(n, seed=0)
    with FlopCounterMode(display=False) as counter:
        problem.evaluate(Z)
    return counter.get_total_flops() / n


# ------------------------------------------------------------------------------------------------ timing
@dataclass
class Timing:
    """Interleaved timings of one option."""

    option: Option
    rates: list[float] = field(default_factory=list)
    warmup_s: float = 0.0

    @property
    def rate(self) -> float:
        return statistics.median(self.rates) if self.rates else float("nan")


def timed_rates(problems: dict[Option, lb.LatentProblem], n: int, rounds: int, seed: int = 0) -> dict[Option, Timing]:
    """``evaluate()`` evaluations/s per option: one warm-up call each (compile time recorded), then
    ``rounds`` rounds that visit every option once, in rotating order."""
    out = {opt: Timing(opt) for opt in problems}
    Z = next(iter(problems.values())).sample(n, seed=seed)
    for opt, problem in problems.items():
        _sync()
        t0 = time.perf_counter()
        problem.evaluate(Z)  # warm-up: allocations, oneDNN primitive cache, torch.compile
        _sync()
        out[opt].warmup_s = time.perf_counter() - t0
    order = list(problems)
    for r in range(rounds):
        for opt in order[r % len(order) :] + order[: r % len(order)]:
            _sync()
            t0 = time.perf_counter()
            problems[opt].evaluate(Z)
            _sync()
            out[opt].rates.append(n / (time.perf_counter() - t0))
    return out


def faces_options(opts: list[Option], with_compile: bool) -> list[Option]:
    """The options run at StyleGAN2 shapes: no compile option unless asked, and then only reduced precisions."""
    return [o for o in opts if not o.compile or (with_compile and o.precision != "fp32")]


def rate_rows(
    res: dict[Option, Timing],
    problems: dict[Option, lb.LatentProblem],
    flops: float,
    peaks: dict[str, float],
    *,
    rate_digits: int,
) -> list[str]:
    """The Markdown rows of an options table: rate, ratio to the first option, GFLOP/s, fraction of peak, warm-up."""
    base = next(iter(res.values())).rate
    rows = [
        "| option | evals/s | × fp32 (before) | GFLOP/s | fraction of matmul peak | warm-up s (compile) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for o, t in res.items():
        gflops = t.rate * flops / 1e9
        peak = peaks.get(o.precision, math.nan)
        comp = f" ({compile_seconds(problems[o]):.1f})" if o.compile else ""
        rows.append(
            f"| {o.name} | {t.rate:.{rate_digits}f} | {t.rate / base:.2f} | {gflops:.1f} | {gflops / peak:.1%} | "
            f"{t.warmup_s:.2f}{comp} |"
        )
    return rows


def compile_seconds(problem: lb.LatentProblem) -> float:
    parts = [problem.generator, *problem.scorers]
    return sum(float(getattr(p, "compile_seconds", 0.0)) for p in parts)


# ------------------------------------------------------------------------------------------------ guard
def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def guard_rows(problems: dict[Option, lb.LatentProblem], n: int, seed: int = 1) -> list[str]:
    """Fitness of each option against the first (fp32) option on the same ``n`` latents."""
    items = list(problems.items())
    Z = items[0][1].sample(n, seed=seed)
    ref = items[0][1].evaluate(Z)
    rows = [f"| *fp32 fitness range {ref.min():.4g} … {ref.max():.4g}* | | | | | | |"]
    for opt, problem in items[1:]:
        f = problem.evaluate(Z)
        err = np.abs(f - ref)
        rel = err / np.maximum(np.abs(ref), 1e-12)
        rows.append(
            f"| {opt.name} | {n} | {err.max():.3g} | {np.median(rel):.2e} | {rel.max():.2e} | "
            f"{spearman(f, ref):.5f} | {'yes' if spearman(f, ref) >= 0.99 else '**no**'} |"
        )
    return rows


# ------------------------------------------------------------------------------------------------ sections
@contextlib.contextmanager
def _section(title: str, lines: list[str]) -> Iterator[None]:
    t0 = time.perf_counter()
    print(f"\n## {title}", flush=True)
    lines.append(f"\n### {title}\n")
    yield
    print(f"({time.perf_counter() - t0:.0f} s)", flush=True)


def _emit(lines: list[str], *rows: str) -> None:
    for row in rows:
        print(row, flush=True)
        lines.append(row)


def main(argv: list[str] | None = None) -> None:
    """Run the sections and print one markdown block."""
    global DEVICE
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--sections", nargs="+", default=["peak", "flops", "options", "guard", "drivers"])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--n", type=int, default=2048, help="latents per timed evaluate() call (embedded pair)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--guard-n", type=int, default=10_000, help="latents of the fp32 comparison (embedded pair)")
    p.add_argument("--faces", type=int, nargs="*", default=[256], help="StyleGAN2 resolutions to time (256, 1024)")
    p.add_argument("--faces-n", type=int, default=8, help="latents per timed call at StyleGAN2 shapes")
    p.add_argument("--faces-guard-n", type=int, default=64)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (warm-up reported separately)")
    p.add_argument(
        "--faces-compile",
        action="store_true",
        help="with --compile: the reduced-precision compile options at StyleGAN2 shapes too (minutes of compiling)",
    )
    p.add_argument("--budget", type=int, default=4000, help="evaluations per driver run")
    p.add_argument("--peak-n", type=int, default=2048)
    p.add_argument(
        "--compare-suites",
        nargs=2,
        type=Path,
        metavar=("REF_DB", "OTHER_DB"),
        help="compare the medians of two bench.sqlite stores of the same suite (e.g. --precision fp32 vs bf16)",
    )
    p.add_argument("--record", action="store_true", help="write the block into benchmarks/README.md")
    args = p.parse_args(argv)
    DEVICE = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lines = [*machine_header(torch.get_num_threads(), args.device)]
    support = lb.precision_support(DEVICE)
    lines.append(f"- precision support on {DEVICE}: " + ", ".join(f"{k} {v}" for k, v in support.items()))
    precisions = [q for q in ("fp32", "bf16", "fp16") if support[q] != "unsupported"]
    opts = options_for(DEVICE, args.compile)
    peaks: dict[str, float] = {}
    flops: dict[str, float] = {}
    best: Option = opts[0]

    if "peak" in args.sections:
        with _section(f"Matmul peak ({args.peak_n}², best of 5)", lines):
            _emit(lines, "| precision | GFLOP/s |", "|---|---:|")
            for q in precisions:
                peaks[q] = matmul_peak(q, args.peak_n, 5)
                _emit(lines, f"| {q} | {peaks[q]:.0f} |")

    if "flops" in args.sections:
        with _section("FLOPs per evaluation (torch.utils.flop_counter)", lines):
            _emit(lines, "| model pair | MFLOP / evaluation |", "|---|---:|")
            flops["mnist"] = flops_per_eval(mnist_problem(Option("fp32"), args.batch_size))
            _emit(lines, f"| mnist-dcgan + mnist-embed (28²) | {flops['mnist'] / 1e6:.1f} |")
            for res in (256, 1024):
                try:
                    prob = faces_problem(res, Option("fp32"), 2)
                except ImportError as exc:  # plugins not installed
                    _emit(lines, f"| stylegan2 {res}² + facenet | skipped: {exc} |")
                    continue
                flops[f"faces{res}"] = flops_per_eval(prob, 1)
                gen_only = _gen_flops(prob)
                _emit(
                    lines,
                    f"| stylegan2 {res}² (FFHQ shape) + facenet | {flops[f'faces{res}'] / 1e6:.0f} "
                    f"(generator {gen_only / 1e6:.0f}) |",
                )

    if "options" in args.sections:
        with _section(
            f"Embedded pair: evaluate() per option (batch {args.batch_size}, {args.n} latents, "
            f"medians of {args.rounds} interleaved rounds)",
            lines,
        ):
            problems = {o: mnist_problem(o, args.batch_size) for o in opts}
            res = timed_rates(problems, args.n, args.rounds)
            base = res[opts[0]].rate
            _emit(lines, *rate_rows(res, problems, flops.get("mnist", math.nan), peaks, rate_digits=0))
            best = max(res, key=lambda o: res[o].rate)
            _emit(lines, "", f"Fastest: **{best.name}**, {res[best].rate / base:.2f}× fp32 (before).")
            del problems
        for r in args.faces:
            with _section(
                f"StyleGAN2 {r}² + FaceNet: evaluate() per option (batch {args.faces_n}, medians of "
                f"{max(2, args.rounds // 2)} rounds)",
                lines,
            ):
                problems = {o: faces_problem(r, o, args.faces_n) for o in faces_options(opts, args.faces_compile)}
                res = timed_rates(problems, args.faces_n, max(2, args.rounds // 2))
                _emit(lines, *rate_rows(res, problems, flops.get(f"faces{r}", math.nan), peaks, rate_digits=2))
                del problems

    if "guard" in args.sections:
        with _section("Science guard: fitness against fp32 on the same latents", lines):
            _emit(
                lines,
                "| option | latents | max abs error | median rel. error | max rel. error | Spearman | ≥ 0.99 |",
                "|---|---:|---:|---:|---:|---:|---|",
            )
            _emit(lines, "| **embedded pair** | | | | | | |")
            _emit(lines, *guard_rows({o: mnist_problem(o, 512) for o in opts}, args.guard_n))
            for r in args.faces[:1]:
                _emit(lines, f"| **stylegan2 {r}² + facenet, random weights** | | | | | | |")
                f_opts = faces_options(opts, args.faces_compile)
                _emit(lines, *guard_rows({o: faces_problem(r, o, 16) for o in f_opts}, args.faces_guard_n))

    if "drivers" in args.sections:
        with _section(f"Drivers against the raw forward (budget {args.budget}, best of 2)", lines):
            import throughput
            from throughput import _ng_runner, _raw_runner, run_paper_ga

            throughput.DEVICE = DEVICE  # its raw-forward runner moves latents there and synchronises

            fast = best if best != opts[0] else Option("bf16 channels_last", "bf16", channels_last=True)
            _emit(
                lines,
                "| option | raw forward evals/s | paper_ga evals/s | paper_ga / raw | ng CMA evals/s | ng CMA / raw |",
                "|---|---:|---:|---:|---:|---:|",
            )
            for o in (opts[0], fast):
                problem = mnist_problem(o, 200)
                problem.evaluate(problem.sample(400, seed=0))  # warm-up (and compile)
                rates = {}
                for name, run in (("raw", _raw_runner(200)), ("ga", run_paper_ga), ("cma", _ng_runner("CMA"))):
                    rs = []
                    for rep in range(2):
                        secs, n = run(problem, args.budget, rep)
                        rs.append(n / secs)
                    rates[name] = max(rs)
                _emit(
                    lines,
                    f"| {o.name} | {rates['raw']:.0f} | {rates['ga']:.0f} | {rates['ga'] / rates['raw']:.2f} | "
                    f"{rates['cma']:.0f} | {rates['cma'] / rates['raw']:.2f} |",
                )

    if args.compare_suites:
        ref_db, other_db = args.compare_suites
        with _section(f"Quick-suite medians: {other_db.parent.name} against {ref_db.parent.name}", lines):
            _emit(lines, *compare_suites(ref_db, other_db))

    block = "\n".join(lines)
    if args.record:
        _record(block, args.device)


def compare_suites(db_ref: Path, db_other: Path) -> list[str]:
    """Per (problem, optimizer): median best fitness of two stores of the same suite, and whether the
    difference is within the seeds' noise (the larger of the two IQRs); then the optimizers' order per
    problem by median."""
    import sqlite3

    def load(db: Path) -> dict[tuple[str, str], list[float]]:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = con.execute(
            "select problem_id, optimizer, best from runs where status = 'finished' and n_obj = 1 and best is not null"
        ).fetchall()
        con.close()
        out: dict[tuple[str, str], list[float]] = {}
        for pid, opt, best in rows:
            out.setdefault((pid, opt), []).append(float(best))
        return out

    a, b = load(db_ref), load(db_other)
    rows = [
        "| problem | optimizer | seeds | median ref | median other | difference | seeds' IQR (larger) | within noise |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    within = total = 0
    for key in sorted(set(a) & set(b)):
        va, vb = np.array(a[key]), np.array(b[key])
        ma, mb = float(np.median(va)), float(np.median(vb))
        iqr = max(float(np.subtract(*np.percentile(v, [75, 25]))) for v in (va, vb))
        ok = abs(ma - mb) <= iqr
        within += ok
        total += 1
        rows.append(
            f"| {key[0]} | {key[1]} | {len(va)}/{len(vb)} | {ma:.4g} | {mb:.4g} | {mb - ma:+.3g} | {iqr:.3g} | "
            f"{'yes' if ok else '**no**'} |"
        )
    swaps = 0
    problems = sorted({k[0] for k in a} & {k[0] for k in b})
    for pid in problems:
        opts = sorted(k[1] for k in a if k[0] == pid and k in b)
        ra = sorted(opts, key=lambda o: np.median(a[(pid, o)]))
        rb = sorted(opts, key=lambda o: np.median(b[(pid, o)]))
        swaps += sum(1 for i, o in enumerate(ra) if rb[i] != o)
    rows += [
        "",
        f"{within} of {total} medians within the seeds' IQR; optimizers whose place in the per-problem order by "
        f"median changes: {swaps} (over {len(problems)} problems).",
    ]
    return rows


def _gen_flops(problem: lb.TargetSimilarity) -> float:
    z = torch.as_tensor(problem.sample(1, seed=0), dtype=torch.float32, device=DEVICE)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        problem.generator.generate(z.reshape(1, *problem.latent.shape))
    return float(counter.get_total_flops())


def _record(block: str, device: str) -> None:
    begin, end = (
        (BEGIN, END)
        if device == "cpu"
        else (BEGIN.replace(":begin", f":{device}:begin"), END.replace(":end", f":{device}:end"))
    )
    text = README.read_text(encoding="utf-8")
    cmd = "python benchmarks/roofline.py " + " ".join(sys.argv[1:])
    body = f"{begin}\n`{cmd}`\n\n{block}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + body + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + body + "\n"
    README.write_text(text, encoding="utf-8")
    print(f"recorded in {README}")


if __name__ == "__main__":
    main()
