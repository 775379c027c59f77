"""A deterministic fake bench store, and what the leaderboard reports render from it.

``golden/`` holds the renderings of the pre-kernel code (commit 75bafca) for this store, and the store itself as
that code wrote it (``bench-75bafca.sqlite.gz``, made by :func:`write_bench_store` at that commit): the leaderboard
of an existing store must stay byte for byte what it was. After an intended change of the reports, rewrite the
renderings with ``.venv/bin/python -m tests.campaign.fakes`` and review the diff.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).with_name("golden")

#: Optimizer labels and problem ids with characters that Markdown, HTML, CSV and rich must all neutralise.
OPTIMIZERS = ("ng:CMA", "paper_ga*", "=cmd|'x'", "<b>bold</b>")
PROBLEMS = (
    ("target_3", "target-similarity", 1),
    ("set [k=3]", "centroid-diversity", 1),
    ("two #targets", "target-similarity", 2),
)


def fake_runs() -> list[object]:
    """Finished bench runs with fixed numbers: 3 problems (one bi-objective) × 4 optimizers × 5 replicates."""
    from latentbridge.bench.store import RunRecord

    rng = np.random.default_rng(20240601)
    runs = []
    for p, (pid, kind, n_obj) in enumerate(PROBLEMS):
        for o, opt in enumerate(OPTIMIZERS):
            if n_obj == 2 and o == 3:
                continue  # one optimizer did not run the bi-objective problem: a second group appears
            for rep in range(5):
                base = 0.2 + 0.05 * o + 0.01 * p
                best = float(base + rng.gamma(2.0, 0.01)) * {"set [k=3]": 1e3, "target_3": 1e-4}.get(pid, 1.0)
                if n_obj == 2:
                    best = -best  # minus the hypervolume
                evals = np.array([10, 50, 100, 200], dtype=np.int64)
                trace = best + np.array([0.3, 0.1, 0.05, 0.0]) * abs(best)
                runs.append(
                    RunRecord(
                        run_key=f"{pid}-{opt}-{rep}",
                        suite="golden",
                        problem_id=pid,
                        problem_kind=kind,
                        problem_hash="0123456789ab",
                        problem_config={"kind": kind},
                        problem_spec={"id": pid, "kind": kind, "generator": "none", "scorer": "rmse"},
                        n_obj=n_obj,
                        optimizer=opt,
                        optimizer_name=opt.split(":")[0],
                        optimizer_params={"pop_size": 10},
                        replicate=rep,
                        seed=1000 * o + rep,
                        budget=200,
                        n_evals=200 + (o == 1) * 20,
                        best=best,
                        reported_best=best,
                        best_x=rng.standard_normal(4),
                        front=rng.standard_normal((3, 2)) if n_obj == 2 else None,
                        ref_point=[1.0, 1.0] if n_obj == 2 else None,
                        wall_time=1.5 + 0.25 * o + 0.01 * rep,
                        solve_time=1.0 + 0.25 * o,
                        eval_time=0.5,
                        status="finished",
                        error=None,
                        warnings=[],
                        versions={"latentbridge": "0.0+golden", "numpy": "x"},
                        host="golden-host",
                        python="3.x",
                        config={"threads": 1},
                        trace_evals=evals,
                        trace_best=trace,
                        created=1.7e9 + len(runs),
                        n_failed=rep % 2,
                    )
                )
    return runs


def write_bench_store(path: Path) -> Path:
    """A bench store holding :func:`fake_runs`."""
    from latentbridge.bench import Store

    with Store(path) as store:
        for r in fake_runs():
            store.add_run(r)  # type: ignore[arg-type]
    return path


_B64 = re.compile(r"base64,[A-Za-z0-9+/=]+")


def render_bench(path: Path) -> dict[str, str]:
    """Console leaderboard, Markdown, CSV and HTML (figures' bytes elided) of the store at ``path``."""
    from rich.console import Console

    from latentbridge.bench import Store, build_leaderboard
    from latentbridge.bench import report as rep

    with Store(path, readonly=True) as store:
        board = build_leaderboard(store.runs())
    buf = io.StringIO()
    rep.print_leaderboard(board, Console(file=buf, width=160, color_system=None, force_terminal=False))
    html = rep.to_html(board, images=False)
    return {
        "leaderboard.txt": buf.getvalue(),
        "leaderboard.md": rep.to_markdown(board),
        "leaderboard.csv": rep.to_csv(board),
        "leaderboard.html": _B64.sub("base64,...", html),
    }


def main() -> None:  # pragma: no cover - regenerates the expectations after an intended change
    import tempfile

    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in render_bench(write_bench_store(Path(tmp) / "bench.sqlite")).items():
            (GOLDEN / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
