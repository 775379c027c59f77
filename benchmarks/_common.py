"""Shared helpers of the benchmarks: a trivial problem, the embedded models, a machine header and seed 000's DEAP GA.

Not a public module; imported by ``benchmarks/operators.py`` and ``benchmarks/throughput.py``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

import latentbridge as lb
from latentbridge.precision import cpu_description

Array = NDArray[np.float64]


class TrivialProblem(lb.LatentProblem):
    """A LatentProblem whose fitness is ``sum(z**2)``: optimizer overhead without generator cost."""

    kind = "trivial"

    def __init__(self, dim: int) -> None:
        # no generator/scorer: only what optimizers touch (dim, n_obj, latent, bounds, sample, evaluate)
        self.k = 1
        self._latent = lb.LatentSpace((dim,))
        self._lock = threading.Lock()
        self._n_evals = 0
        self._n_failed = 0
        self._listeners = []
        self.batch_size = 10**9

    @property
    def latent(self) -> lb.LatentSpace:
        return self._latent

    @property
    def n_obj(self) -> int:
        return 1

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "dim": self.dim}

    def _run(self, Z: ArrayLike, describe: Any) -> tuple[Array, None]:
        # the one evaluation method (evaluate() calls it): observers such as solve()'s Tracker see every batch
        Zf = np.asarray(Z, dtype=np.float64).reshape(-1, self.dim)
        out: Array = np.einsum("ij,ij->i", Zf, Zf)
        first, n = self._n_evals, Zf.shape[0]
        self._n_evals += n
        if self._listeners:
            event = lb.Evaluation(X=Zf, F=out[:, None], failed=np.zeros(n, dtype=bool), first=first, seconds=0.0)
            for listener in self._listeners:
                listener(event)
        return out, None

    def _fitness(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - never called
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------
# embedded models
# ------------------------------------------------------------------------------------------------
_STANDIN_DIR = Path(tempfile.gettempdir()) / "latentbridge-bench-standin"


def _standin_weights() -> tuple[Path, Path]:
    """Seeded random weights of the embedded architectures (same compute cost, meaningless images)."""
    from latentbridge.models.mnist import DCGANGenerator, DigitCNN

    _STANDIN_DIR.mkdir(parents=True, exist_ok=True)
    gen_path, emb_path = _STANDIN_DIR / "mnist_dcgan.pt", _STANDIN_DIR / "mnist_embed.pt"
    if not (gen_path.is_file() and emb_path.is_file()):
        torch.manual_seed(0)
        tmp = f".{os.getpid()}"
        torch.save(DCGANGenerator().state_dict(), str(gen_path) + tmp)
        torch.save(DigitCNN().state_dict(), str(emb_path) + tmp)
        os.replace(str(gen_path) + tmp, gen_path)
        os.replace(str(emb_path) + tmp, emb_path)
    return gen_path, emb_path


def load_models(*, allow_standin: bool = True, device: str | None = None) -> tuple[Any, Any, NDArray[np.float32], str]:
    """``(generator, scorer, target, weights_note)``: ``mnist-dcgan``, ``mnist-embed``, held-out digit 3.

    While the shipped weights do not exist yet, ``allow_standin`` loads the *same
    architectures* with seeded random weights through the same registry factories
    (``path=``), which costs the same per forward; ``weights_note`` says which.
    ``device`` (``"cuda"``...) is where both models run; ``None`` is the CPU.
    """
    from latentbridge.data import heldout_digit
    from latentbridge.errors import WeightsError

    target = heldout_digit(3)
    try:
        gen = lb.load_generator("mnist-dcgan", device=device)
        scorer = lb.load_scorer("mnist-embed", device=device)
        return gen, scorer, target, "shipped weights"
    except WeightsError:
        if not allow_standin:
            raise
    gen_path, emb_path = _standin_weights()
    gen = lb.load_generator("mnist-dcgan", path=gen_path, device=device)
    scorer = lb.load_scorer("mnist-embed", path=emb_path, device=device)
    return gen, scorer, target, "STAND-IN: same architectures, random weights (shipped weights not built yet)"


def versions() -> dict[str, str]:
    """Versions of the packages that matter here (absent optional ones omitted)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("latentbridge", "torch", "numpy", "pymoo", "nevergrad", "deap", "evotorch", "cma"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[name] = md.version(name)
    return out


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def simd_flags() -> str:
    """The CPU's vector-instruction flags that decide bf16/fp16 speed (as ``lscpu`` lists them), or "unknown"."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "amx_int8")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return " ".join(f for f in wanted if f in have) or "none of " + " ".join(wanted)
    except OSError:
        pass
    return "unknown"


def machine_header(threads: int, device: str = "cpu") -> list[str]:
    """Markdown bullet lines: date, machine, CPU, threads, accelerator (used by ``device`` or not), versions."""
    vs = versions()
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        accel = f"- accelerator: {torch.cuda.get_device_name(index)} (models on {device})"
    elif torch.cuda.is_available():
        accel = f"- accelerator: {torch.cuda.get_device_name(0)} present, not used (models on {device})"
    else:
        accel = "- accelerator: none (CPU only; no device was lent to this run)"
    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {platform.system()} {platform.machine()}, {cpu_name()}, {os.cpu_count()} logical CPUs visible, "
        f"torch intra-op threads {threads}, load average {os.getloadavg()[0]:.1f} at start",
        f"- CPU kernels: {cpu_description()}; SIMD flags: {simd_flags()}",
        accel,
        "- versions: " + ", ".join(f"{k} {v}" for k, v in vs.items()),
    ]


# ------------------------------------------------------------------------------------------------
# seed 000's GA in DEAP
# ------------------------------------------------------------------------------------------------
def deap_paper_ga(
    problem: Any,
    *,
    budget: int | None = None,
    generations: int | None = None,
    seed: int = 0,
    pop_size: int = 200,
    batched: bool = True,
) -> tuple[float, int, int]:
    """Seed 000's GA in DEAP's standard toolbox; returns ``(seconds, evaluations, generated)``.

    ``eaSimple`` with ``selTournament(3)``, ``cxBlend(alpha=0.2)`` with probability 0.75 per
    pair, ``mutGaussian(0, 1, indpb=0.001)`` applied to every offspring (``mutpb=1``, so
    every offspring is invalidated and evaluated, as in ``eaSimple``). ``batched=False``
    evaluates them one at a time through ``toolbox.map`` (seed 000's starting point: one
    ``problem.evaluate`` of one row per individual); ``batched=True`` replaces that map by
    one ``problem.evaluate`` of the stacked
    individuals (seed 000's fix). Stops after ``generations`` generations, or once
    ``budget`` evaluations are reached (the last generation is not truncated).
    """
    from deap import base, creator, tools

    if not hasattr(creator, "FitnessMinLB"):
        creator.create("FitnessMinLB", base.Fitness, weights=(-1.0,))
        creator.create("IndividualLB", list, fitness=creator.FitnessMinLB)
    if budget is None and generations is None:
        raise ValueError("give budget or generations")
    random.seed(seed)
    rng = np.random.default_rng(seed)
    tb = base.Toolbox()
    tb.register("mate", tools.cxBlend, alpha=0.2)
    tb.register("mutate", tools.mutGaussian, mu=0.0, sigma=1.0, indpb=0.001)
    tb.register("select", tools.selTournament, tournsize=3)

    def one(ind: list[float]) -> tuple[float]:
        return (float(problem.evaluate(np.asarray(ind, dtype=np.float64)[None, :])[0]),)

    tb.register("evaluate", one)
    hof = tools.HallOfFame(1)
    n_evals = 0
    t0 = time.perf_counter()

    def evaluate(inds: list[Any]) -> None:
        nonlocal n_evals
        if not inds:
            return
        if batched:
            F = problem.evaluate(np.array(inds, dtype=np.float64))
            fits: Any = [(float(f),) for f in F]
        else:
            fits = list(tb.map(tb.evaluate, inds))
        for ind, fit in zip(inds, fits, strict=True):
            ind.fitness.values = fit
        n_evals += len(inds)

    pop = [creator.IndividualLB(z) for z in problem.sample(pop_size, rng).tolist()]
    evaluate(pop)
    hof.update(pop)
    gen = 0
    while (generations is None or gen < generations) and (budget is None or n_evals < budget):
        off = [tb.clone(ind) for ind in tb.select(pop, len(pop))]
        for i in range(1, len(off), 2):
            if random.random() < 0.75:
                off[i - 1], off[i] = tb.mate(off[i - 1], off[i])
                del off[i - 1].fitness.values, off[i].fitness.values
        for i in range(len(off)):  # varAnd with mutpb=1: every offspring is mutated and invalidated
            (off[i],) = tb.mutate(off[i])
            del off[i].fitness.values
        evaluate([ind for ind in off if not ind.fitness.valid])
        hof.update(off)
        pop[:] = off
        gen += 1
    return time.perf_counter() - t0, n_evals, pop_size * (gen + 1)
