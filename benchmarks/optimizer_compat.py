"""Compatibility table: does every nevergrad registry name and every pymoo algorithm run on a latentbridge problem?

Runs each name on the embedded problem (``TargetSimilarity(mnist-dcgan, mnist-embed,
held-out digit 3)``, z of dimension 100) through the public drivers,
``latentbridge.nevergrad.minimize(problem, name, budget, seed=0)`` with the default batch
and ``latentbridge.pymoo.solve(problem, name, budget=..., seed=0)``, each in a worker
process with a per-name timeout (a worker that times out is killed and replaced), and
classifies the outcome:

* **batched**: finished, asking more than one candidate per evaluation call;
* **batch 1**: finished, one candidate per call (the optimizer cannot batch; the
  driver chose batch 1, or the algorithm asks one point at a time);
* **refused**: raised a ``latentbridge.errors.LatentBridgeError`` (the reason is shown:
  a missing optional package, an upstream bug, a problem the algorithm cannot take);
* **timeout**: still running after ``--timeout`` seconds;
* **raw error**: raised anything else (a bug of latentbridge's drivers: there should be none).

For finished nevergrad names, ``--compare`` (on by default) runs the name again with
``fast=False`` and checks that the best point, its fitness and the optimizer's
recommendation are identical (the driver's shortcuts must change nothing).

Evaluations/s are measured on this machine, one torch thread per worker, while other
jobs may share it: compare rows of one table, not tables.

Run: ``python benchmarks/optimizer_compat.py [--budget 300] [--timeout 60] [--jobs 1]
[--names NGOpt,CMA,...] [--no-compare] [--output docs/optimizers.md]``. Regenerate the
table whenever nevergrad, pymoo or numpy change version.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

STATUSES = ("batched", "batch 1", "refused", "timeout", "raw error", "not run")

#: Run first, so that a partial sweep (``--resume`` continues it) covers what users reach for.
POPULAR = [
    "NGOpt",
    "CMA",
    "DiagonalCMA",
    "CMApara",
    "TwoPointsDE",
    "DE",
    "PSO",
    "OnePlusOne",
    "RandomSearch",
    "TBPSA",
    "NGOptRW",
    "Shiwa",
    "LatentPaperGA",
    "LatentSetGA",
    "DS14",
    "BAR4",
    "MultiDS",
    "DiscreteDoerrOnePlusOne",
    "NGOptSingle9",
    "NGOptSingle16",
    "NelderMead",
    "BO",
    "MetaModel",
    "ChainCMAPowell",
    "EDA",
    "ES",
    "SQP",
]


@dataclass
class Outcome:
    """What happened to one name."""

    framework: str
    name: str
    status: str = "raw error"
    seconds: float = 0.0
    n_evals: int = 0
    calls: int = 0
    best: float | None = None
    reason: str = ""
    same_as_stock: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def evals_per_s(self) -> float | None:
        return self.n_evals / self.seconds if self.n_evals and self.seconds > 0 else None


# -- worker side ---------------------------------------------------------------------------------
def _problem() -> Any:
    from _common import load_models

    import latentbridge as lb

    gen, scorer, target, _ = load_models()
    return lb.TargetSimilarity(gen, scorer, target, batch_size=128)


def _reason(exc: BaseException) -> str:
    """Error class, then the upstream cause (class and message on one line) when there is one."""
    cause = exc.__cause__
    if cause is not None and type(exc).__name__ not in ("MissingDependencyError", "UnsupportedOptimizerError"):
        return f"{type(exc).__name__}: {type(cause).__name__}: {' '.join(str(cause).split())}"[:240]
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:240]


def _run_one(problem: Any, framework: str, name: str, budget: int, compare: bool) -> Outcome:
    import numpy as np

    from latentbridge.errors import LatentBridgeError

    out = Outcome(framework, name)
    t0 = time.perf_counter()
    try:
        if framework == "nevergrad":
            import latentbridge.nevergrad as lbng

            res = lbng.minimize(problem, name, budget, seed=0)
        else:
            import latentbridge.pymoo as lbpm

            res = lbpm.solve(problem, name, budget=budget, seed=0)
    except LatentBridgeError as exc:
        out.seconds = time.perf_counter() - t0
        out.status, out.reason = "refused", _reason(exc)
        return out
    except Exception as exc:
        out.seconds = time.perf_counter() - t0
        out.status = "raw error"
        out.reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:240]
        out.notes.append(traceback.format_exc(limit=-3))
        return out
    out.seconds = time.perf_counter() - t0
    out.n_evals, out.best = int(res.n_evals), float(res.best)
    out.calls = len(res.trace.evals)
    out.status = "batched" if out.calls < out.n_evals else "batch 1"
    out.notes = [str(n) for n in res.extra.get("notes", [])]
    if framework == "nevergrad" and compare:
        import latentbridge.nevergrad as lbng

        try:
            stock = lbng.minimize(problem, name, budget, seed=0, fast=False)
            rec = res.extra.get("recommendation")
            srec = stock.extra.get("recommendation")
            same = (
                np.array_equal(res.x, stock.x)
                and res.f == stock.f
                and (rec is None) == (srec is None)
                and (rec is None or np.array_equal(rec, srec))
            )
            if same:
                out.same_as_stock = "yes"
            else:  # is stock nevergrad itself deterministic under this seed?
                again = lbng.minimize(problem, name, budget, seed=0, fast=False)
                if np.array_equal(again.x, stock.x) and again.f == stock.f:
                    out.same_as_stock = "**NO**"
                else:
                    out.same_as_stock = "n/a: stock differs from itself (unseeded randomness)"
        except Exception as exc:
            out.same_as_stock = f"stock run failed: {type(exc).__name__}"
    return out


def _worker(conn: Connection, budget: int, compare: bool) -> None:
    import logging

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    try:
        from pymoo.config import Config

        Config.warnings["not_compiled"] = False
    except Exception:
        pass
    problem = _problem()
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        framework, name = task
        conn.send(_run_one(problem, framework, name, budget, compare))


# -- parent side ---------------------------------------------------------------------------------
class _Slot:
    """One worker process; replaced after a timeout."""

    def __init__(self, budget: int, compare: bool) -> None:
        self.budget, self.compare = budget, compare
        self.task: tuple[str, str] | None = None
        self.started = 0.0
        self._start()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, self.budget, self.compare), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False

    def submit(self, task: tuple[str, str]) -> None:
        if not self.ready:
            msg = self.conn.recv()  # wait for the problem to be built (not part of the name's time)
            assert msg == "ready", msg
            self.ready = True
        self.conn.send(task)
        self.task, self.started = task, time.perf_counter()

    def poll(self, timeout: float) -> Outcome | None:
        assert self.task is not None
        if self.conn.poll(0.05):
            try:
                out: Outcome = self.conn.recv()
            except EOFError:
                out = Outcome(*self.task, status="raw error", reason="worker process died (crash in native code?)")
                self.restart()
            self.task = None
            return out
        if not self.proc.is_alive():
            out = Outcome(*self.task, status="raw error", reason=f"worker died (exit code {self.proc.exitcode})")
            self.task = None
            self.restart()
            return out
        if time.perf_counter() - self.started > timeout:
            out = Outcome(*self.task, status="timeout", seconds=timeout, reason=f"still running after {timeout:.0f} s")
            self.task = None
            self.restart()
            return out
        return None

    def restart(self) -> None:
        self.proc.kill()
        self.proc.join()
        self._start()

    def close(self) -> None:
        if self.task is not None:  # interrupted mid-task: do not wait for it
            self.proc.kill()
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def nevergrad_names() -> list[str]:
    """Every name of nevergrad's registry, the seeds' GAs included."""
    import nevergrad as ng

    import latentbridge.nevergrad  # noqa: F401 - registers LatentPaperGA / LatentSetGA

    return sorted(ng.optimizers.registry)


def pymoo_names() -> list[str]:
    """Every algorithm name ``latentbridge.pymoo.solve`` accepts."""
    import latentbridge.pymoo as lbpm

    return list(lbpm.algorithm_names())


def run_all(
    tasks: list[tuple[str, str]], budget: int, timeout: float, jobs: int, compare: bool, log: Path | None = None
) -> list[Outcome]:
    """Run every ``(framework, name)`` with ``jobs`` workers; outcomes in task order (each also appended to ``log``)."""
    todo = list(enumerate(tasks))
    results: dict[int, Outcome] = {}
    slots = [_Slot(budget, compare) for _ in range(max(1, jobs))]
    busy: dict[int, int] = {}
    try:
        while todo or busy:
            for s, slot in enumerate(slots):
                if s not in busy and todo:
                    i, task = todo.pop(0)
                    slot.submit(task)
                    busy[s] = i
            for s in list(busy):
                # stock comparison doubles the work: allow it twice the time
                out = slots[s].poll(
                    timeout * (2 if compare and slots[s].task and slots[s].task[0] == "nevergrad" else 1)
                )
                if out is not None:
                    i = busy.pop(s)
                    results[i] = out
                    if log is not None:
                        with log.open("a") as fh:
                            fh.write(json.dumps(asdict(out)) + "\n")
                    eps = f"{out.evals_per_s:.0f}/s" if out.evals_per_s else ""
                    print(
                        f"[{len(results)}/{len(tasks)}] {out.framework}:{out.name}: {out.status} {eps} {out.reason}",
                        flush=True,
                    )
    finally:
        for slot in slots:
            slot.close()
    return [results[i] for i in range(len(tasks))]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(outcomes: list[Outcome], *, budget: int, timeout: float, compare: bool, command: str) -> str:
    """The docs page."""
    from _common import cpu_name, versions

    vs = versions()
    lines = [
        "# Optimizer compatibility",
        "",
        "Every name of nevergrad's optimizer registry and every algorithm name that `latentbridge.pymoo.solve`",
        "accepts, run on the embedded problem (`TargetSimilarity(mnist-dcgan, mnist-embed, held-out digit 3)`,",
        f"z of dimension 100) with budget {budget}, seed 0 and the default batch, through",
        "`latentbridge.nevergrad.minimize` and `latentbridge.pymoo.solve`. Generated by",
        f"`{command}`; regenerate it whenever nevergrad, pymoo or numpy change version.",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {cpu_name()}, {os.cpu_count()} logical CPUs "
        f"(shared with other jobs; load average {os.getloadavg()[0]:.0f} when the table was written), one torch "
        f"thread per worker, per-name timeout {timeout:.0f} s",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in vs.items()),
        "",
        "Status: **batched** — finished, several candidates per evaluation call; **batch 1** — finished with",
        "one candidate per call (the optimizer cannot ask several at once: the nevergrad driver then runs it with",
        "batch 1 by itself and refuses an explicit `batch > 1`); **refused** — a `latentbridge.errors` exception",
        "naming the reason (a missing optional package with the `pip install` to run, an upstream nevergrad/pymoo",
        "failure with its cause); **timeout** — still running after the timeout (usually Bayesian optimization,",
        "whose cost grows with the evaluations told). Evaluations/s include the optimizer's own time; they are",
        "comparable within this table only.",
    ]
    if compare:
        lines += [
            "",
            "*fast = stock*: the nevergrad driver's shortcuts (`fast=True`, the default) gave the same best point,",
            "fitness and recommendation as stock nevergrad (`fast=False`) on the same seed.",
        ]
    for framework in ("nevergrad", "pymoo"):
        rows = [o for o in outcomes if o.framework == framework]
        if not rows:
            continue
        counts = {s: sum(o.status == s for o in rows) for s in STATUSES}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        lines += ["", f"## {framework} ({len(rows)} names: {summary})", ""]
        head = "| name | status | evals/s | calls | best | reason / notes |"
        sep = "|---|---|---:|---:|---:|---|"
        if compare and framework == "nevergrad":
            head += " fast = stock |"
            sep += "---|"
        lines += [head, sep]
        for o in rows:
            eps = f"{o.evals_per_s:.0f}" if o.evals_per_s else ""
            best = f"{o.best:.4g}" if o.best is not None else ""
            why = _md_escape(o.reason or "; ".join(o.notes))
            row = f"| `{o.name}` | {o.status} | {eps} | {o.calls or ''} | {best} | {why} |"
            if compare and framework == "nevergrad":
                row += f" {o.same_as_stock} |"
            lines.append(row)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run the sweep and write the Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=300, help="evaluations per run (default 300)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per name (default 60)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--names", default="", help="comma-separated subset (framework:name or name)")
    ap.add_argument("--frameworks", default="nevergrad,pymoo")
    ap.add_argument("--no-compare", action="store_true", help="skip the fast-vs-stock nevergrad comparison")
    ap.add_argument(
        "--output", default=str(ROOT / "docs" / "optimizers.md"), help="Markdown file to write ('-': stdout)"
    )
    ap.add_argument("--log", default="optimizer_compat.jsonl", help="outcomes, one JSON line each (appended)")
    ap.add_argument("--resume", action="store_true", help="skip names already in --log and keep their outcomes")
    ap.add_argument("--retry-timeouts", action="store_true", help="with --resume: run timed-out names again")
    ap.add_argument("--table-only", action="store_true", help="write the table from --log without running anything")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` stops the workers too (finally blocks)
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    tasks: list[tuple[str, str]] = []
    if "nevergrad" in frameworks:
        tasks += [("nevergrad", n) for n in nevergrad_names()]
    if "pymoo" in frameworks:
        tasks += [("pymoo", n) for n in pymoo_names()]
    if args.names:
        wanted = {n.strip() for n in args.names.split(",") if n.strip()}
        tasks = [t for t in tasks if t[1] in wanted or f"{t[0]}:{t[1]}" in wanted]
    rank = {n: i for i, n in enumerate(POPULAR)}
    order = sorted(tasks, key=lambda t: (t[0] != "pymoo", rank.get(t[1], len(rank))))
    log = Path(args.log)
    done: dict[tuple[str, str], Outcome] = {}
    if (args.resume or args.table_only) and log.is_file():
        for line in log.read_text().splitlines():
            if line.strip():
                o = Outcome(**json.loads(line))
                if not (args.retry_timeouts and o.status == "timeout"):
                    done[(o.framework, o.name)] = o
    elif log.is_file():
        log.unlink()
    command = " ".join(["python benchmarks/optimizer_compat.py", *(argv if argv is not None else sys.argv[1:])])
    for flag in (" --resume", " --table-only", " --retry-timeouts"):
        command = command.replace(flag, "")
    t0 = time.perf_counter()
    todo = [] if args.table_only else [t for t in order if t not in done]
    for o in run_all(todo, args.budget, args.timeout, args.jobs, not args.no_compare, log):
        done[(o.framework, o.name)] = o
    outcomes = [
        done.get(t) or Outcome(*t, status="not run", reason="not run yet: continue with --resume") for t in tasks
    ]
    md = markdown(outcomes, budget=args.budget, timeout=args.timeout, compare=not args.no_compare, command=command)
    if todo:
        md += f"\nWall time of the last sweep: {time.perf_counter() - t0:.0f} s for {len(todo)} names.\n"
    if args.output == "-":
        print(md)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(md)
        print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
