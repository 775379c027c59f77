"""Gradient optimizers in the bench: evaluations, gradient evaluations, forward-equivalents and realism columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import latentbridge as lb
from latentbridge.bench import Store, build_leaderboard, load_suite, plan, run_suite
from latentbridge.bench.leaderboard import spent
from latentbridge.bench.realism import REALISM_CSV_COLUMNS, attach_realism, realism_of
from latentbridge.bench.report import print_leaderboard, to_csv, to_markdown

GRADIENT = '[[optimizers]]\nname = "adam"\nparams = { steps = 20 }\n\n[[optimizers]]\nname = "random"\n'


@pytest.fixture(scope="module")
def gradient_store(tmp_path_factory: pytest.TempPathFactory, target_npy: Path) -> Path:
    """A tiny suite run with ``adam`` and ``random`` (2 seeds, budget 100 forward-equivalents)."""
    from latentbridge.bench.problems import trusted_imports

    folder = tmp_path_factory.mktemp("grad")
    suite_file = folder / "grad.toml"
    suite_file.write_text(
        f"""
[suite]
name = "grad"
budget = 100
seeds = 2

[[problems]]
id = "target"
kind = "target-similarity"
generator = "latentbridge.testing:tiny_generator"
scorer = "rmse"
target = {{ npy = "{target_npy}" }}

{GRADIENT}
""",
        encoding="utf-8",
    )
    db = folder / "bench.sqlite"
    with trusted_imports(["latentbridge.testing"]), Store(db) as store:
        run_suite(load_suite(suite_file), store, progress=False)
    return db


def _board(db: Path) -> Any:
    with Store(db, readonly=True) as store:
        return build_leaderboard(store.runs())


def test_runs_record_gradient_evaluations_and_forward_equivalents(gradient_store: Path) -> None:
    with Store(gradient_store, readonly=True) as store:
        runs = store.runs()
    adam = [r for r in runs if r.optimizer == "adam"]
    rand = [r for r in runs if r.optimizer == "random"]
    assert len(adam) == len(rand) == 2
    for r in adam:
        assert r.status == "finished"
        assert r.n_evals == 0
        assert r.n_grad_evals > 0
        assert r.forward_equivalents is not None
        assert r.n_grad_evals * 1.0 <= r.forward_equivalents <= r.budget
        assert spent(r) == r.forward_equivalents
        assert r.wall_time > 0
        assert r.trace_evals[-1] <= r.budget
    for r in rand:
        assert (r.n_evals, r.n_grad_evals, r.forward_equivalents) == (100, 0, 100.0)


def test_leaderboard_shows_gradient_costs(gradient_store: Path) -> None:
    board = _board(gradient_store)
    inst = board.instances[0]
    row = next(r for r in inst.rows if r.optimizer == "adam")
    assert row.mean_evals == 0
    assert row.mean_grad_evals > 0
    assert 0 < row.mean_forward_equivalents <= 100
    md = to_markdown(board)
    assert "grad evals" in md
    assert "fwd-equiv" in md
    rows = list(csv.DictReader(io.StringIO(to_csv(board))))
    adam = next(r for r in rows if r["level"] == "instance" and r["optimizer"] == "adam")
    assert float(adam["mean_grad_evals"]) == row.mean_grad_evals
    assert float(adam["mean_forward_equivalents"]) == row.mean_forward_equivalents
    from rich.console import Console

    buf = io.StringIO()
    print_leaderboard(board, Console(file=buf, width=240, color_system=None))
    header = next(line for line in buf.getvalue().splitlines() if "optimizer" in line)
    for name in ("evals", "grad evals", "fwd-equiv", "time/run"):
        assert name in header


def test_realism_columns_beside_the_ranking(gradient_store: Path) -> None:
    board = _board(gradient_store)
    assert board.realism == {}
    md_before = to_markdown(board)
    assert "latent p" not in md_before  # nothing measured: no realism columns
    attach_realism(board)
    inst = board.instances[0]
    # the tiny generator has a Gaussian z but no discriminator and makes no digits: typicality only
    assert set(board.realism) == {(inst.label, "adam"), (inst.label, "random")}
    for vals in board.realism.values():
        assert set(vals) == {"latent_p"}
        assert 0.0 <= vals["latent_p"] <= 1.0
    # the median over the runs' best latents, as realism() measures them
    rebuilt = lb.bench.problems.rebuild_problem(inst.runs["random"][0].problem_spec)
    X = np.stack([r.best_x for r in inst.runs["random"]])
    expected = float(np.median(lb.realism.realism(rebuilt, X)["latent_p"]))
    assert board.realism[(inst.label, "random")]["latent_p"] == pytest.approx(expected)
    md = to_markdown(board)
    assert "latent p" in md
    assert "D pct" not in md
    assert "typicality of the best latents" in md  # explained next to what fitness measures
    rows = list(csv.DictReader(io.StringIO(to_csv(board))))
    rand = next(r for r in rows if r["level"] == "instance" and r["optimizer"] == "random")
    assert float(rand["realism_latent_p"]) == pytest.approx(expected)
    assert rand["realism_discriminator_percentile"] == ""
    assert set(REALISM_CSV_COLUMNS) <= set(rows[0])


def test_a_problem_that_cannot_be_rebuilt_loses_its_realism_columns_only(gradient_store: Path) -> None:
    board = _board(gradient_store)

    def gone(spec: dict[str, Any]) -> Any:
        raise ModuleNotFoundError("no module named 'some_generator'")

    attach_realism(board, gone)
    assert board.realism == {}
    assert "adam" in to_markdown(board)


def test_realism_of_digit_targets() -> None:
    from latentbridge.data import heldout_digit

    problem = lb.TargetSimilarity(lb.load_generator("mnist-dcgan"), lb.load_scorer("mnist-embed"), heldout_digit(3))
    X = problem.sample(4, seed=0)
    vals = realism_of(problem, X)
    assert set(vals) == {"latent_p", "discriminator_percentile", "digit_match", "digit_confidence"}
    assert 0.0 <= vals["discriminator_percentile"] <= 1.0
    assert vals["digit_match"] in (0.0, 0.25, 0.5, 0.75, 1.0)  # the fraction of the 4 solutions
    assert problem.n_evals == 0


def test_evo_vs_grad_suite_plans_every_optimizer_on_every_problem() -> None:
    suite = load_suite("evo-vs-grad")
    names = {o.name for o in suite.optimizers}
    assert {"paper-ga", "ng:CMA", "ng:DiagonalCMA", "adam", "basin-cma", "lbfgs", "random"} == names
    assert {p.id for p in suite.problems} == {"target-3", "target-5", "target-8", "setdiv-rmse"}
    small = suite.with_overrides(seeds=1)
    tasks = plan(small)
    assert len(tasks) == len(suite.problems) * len(suite.optimizers)  # all apply, all validated


def test_bench_cli_takes_gradient_optimizers(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    from typer.testing import CliRunner

    from latentbridge.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--suite",
            str(write_suite()),
            "--optimizers",
            "lbfgs,basin-cma",
            "--budget",
            "60",
            "--seeds",
            "1",
            "--workers",
            "1",
            "--out",
            str(out),
            "--no-report",
            "--no-progress",
            "--allow-import",
            "latentbridge.testing",
        ],
    )
    assert result.exit_code == 0, result.output
    with Store(out / "bench.sqlite", readonly=True) as store:
        runs = store.runs()
    assert {r.optimizer for r in runs} == {"lbfgs", "basin-cma"}
    assert all(r.n_grad_evals > 0 and r.status == "finished" for r in runs)
