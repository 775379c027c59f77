"""The command line as a new user meets it: version, help at 80 columns, suggestions, --show, written paths."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import latentbridge
from latentbridge.bench.leaderboard import build_leaderboard
from latentbridge.bench.report import print_leaderboard
from latentbridge.bench.store import RunRecord
from latentbridge.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args), env={"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"})
    return res.exit_code, res.output


def test_version() -> None:
    code, out = _run("--version")
    assert code == 0
    assert out.strip() == f"latentbridge {latentbridge.__version__}"


@pytest.mark.parametrize("command", ["bench", "leaderboard", "plugins", "train", "augment"])
def test_help_has_no_placeholders_and_fits_80_columns(command: str) -> None:
    code, out = _run(command, "--help")
    assert code == 0
    assert "<bool>" not in out  # flags take no value
    assert not re.search(r"\{\w+\}", out)  # usage says DB, not {db}
    assert max(len(line) for line in out.splitlines()) <= 80


def test_leaderboard_usage_names_the_argument() -> None:
    _, out = _run("leaderboard", "--help")
    assert "Usage: latentbridge leaderboard [OPTIONS] DB" in out


def test_unknown_suite_suggests_close_name() -> None:
    code, out = _run("bench", "--suite", "quik")
    assert code == 2
    assert "Did you mean 'quick'?" in " ".join(out.split())


def test_show_prints_the_builtin_suite() -> None:
    from latentbridge.bench.suite import BUILTIN_SUITES, parse_suite

    code, out = _run("bench", "--suite", "quick", "--show")
    assert code == 0
    assert out.strip() == BUILTIN_SUITES["quick"].strip()
    assert parse_suite(out).name == "quick"  # what --show prints is a suite you can save and run


def test_plugins_table_never_cuts_names() -> None:
    code, out = _run("plugins")
    assert code == 0
    assert "…" not in out
    for name in ("centroid-diversity", "target-similarity", "mnist-dcgan", "map-elites"):
        assert name in out  # whole, on one line, where a user can copy it


def _record(problem: str, optimizer: str, seed: int, best: float) -> RunRecord:
    return RunRecord(
        run_key=f"{problem}-{optimizer}-{seed}", suite="s", problem_id=problem, problem_kind="target-similarity",
        problem_hash="h", problem_config={}, problem_spec={}, n_obj=1, optimizer=optimizer,
        optimizer_name=optimizer, optimizer_params={}, replicate=seed, seed=seed, budget=100, n_evals=100,
        best=best, reported_best=best, best_x=None, front=None, ref_point=None, wall_time=1.0, solve_time=1.0,
        eval_time=1.0, status="finished", error=None, warnings=[], versions={}, host="h", python="3",
        config={}, trace_evals=np.array([100]), trace_best=np.array([best]),
    )  # fmt: skip


def test_leaderboard_never_cuts_optimizer_names_at_80_columns() -> None:
    long_names = ["pymoo:CMAES(pop_size=50, sigma=0.5)", "ng:NGOptRW(budget_scale=2)"]
    runs = [
        _record(problem, opt, seed, float(i + seed))
        for problem in ("centroid-diversity-7", "target-similarity-3")
        for i, opt in enumerate(long_names)
        for seed in range(3)
    ]
    buf = io.StringIO()
    print_leaderboard(build_leaderboard(runs), Console(file=buf, width=80, color_system=None))
    out = buf.getvalue()
    assert "…" not in out
    for name in long_names:
        assert name in out  # whole, on one line
