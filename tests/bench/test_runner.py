"""End-to-end runs with tiny budgets: store, budget cap, failures, resume, applicability, executors."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from latentbridge.bench import Store, build_leaderboard, load_suite, plan, run_suite
from latentbridge.bench.problems import build_problem
from latentbridge.bench.runner import BenchSummary
from latentbridge.errors import InputError, UnknownNameError
from latentbridge.optimizers import applies, resolve

pytestmark = pytest.mark.usefixtures("prior_optimizer")


def _table(db: Path) -> dict[str, tuple[Any, ...]]:
    """What must not depend on how the runs were executed: key -> results."""
    with Store(db, readonly=True) as store:
        return {
            r.run_key: (r.problem_id, r.optimizer, r.seed, r.n_evals, r.best, r.best_x.tobytes(), tuple(r.trace_best))
            for r in store.runs()
            if r.best_x is not None
        }


def test_serial_end_to_end(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = load_suite(write_suite(seeds=3))
    db = tmp_path / "b.sqlite"
    with Store(db) as store:
        summary = run_suite(suite, store, progress=False)
        runs = store.runs()
    assert (summary.planned, summary.finished, summary.failed) == (6, 6, 0)
    assert summary.evals == 600
    assert 0 < summary.eval_time < summary.solve_time <= summary.wall_time
    assert 0.0 <= summary.overhead < 1.0
    assert "bench machinery" in summary.describe()
    assert {r.problem_id for r in runs} == {"target", "set"}
    for r in runs:
        assert r.status == "finished"
        assert r.n_evals == 100
        assert r.best_x is not None
        assert r.best_x.shape == ((8,) if r.problem_id == "target" else (24,))
        assert r.trace_evals[-1] == 100
        assert np.all(np.diff(r.trace_best) <= 0)  # best-so-far never gets worse
        assert r.trace_best[-1] == r.best == pytest.approx(r.reported_best)
        assert {"latentbridge", "torch", "numpy"} <= set(r.versions)
        assert r.host
        assert r.python
        assert r.config["suite"]["name"] == "tiny"
        assert r.problem_spec["id"] == r.problem_id
    # the problem in the store can be rebuilt and scores best_x the same
    r = runs[0]
    problem = build_problem(suite.problems[[p.id for p in suite.problems].index(r.problem_id)])
    assert problem.config_hash() == r.problem_hash
    assert problem.evaluate(r.best_x[None])[0] == pytest.approx(r.best, rel=1e-5)
    # one transaction per run: every stored run has its trace
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        orphans = conn.execute("SELECT COUNT(*) FROM runs WHERE id NOT IN (SELECT run_id FROM traces)").fetchone()
        assert orphans[0] == 0


def test_deterministic_and_resume(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = load_suite(write_suite())
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with Store(a) as store:
        run_suite(suite, store, progress=False)
    with Store(b) as store:
        seen: list[str] = []
        with pytest.raises(KeyboardInterrupt):
            run_suite(suite, store, progress=False, on_stored=lambda rec: _stop_after(seen, rec.run_key, 2))
        assert store.count() == 2
        with pytest.raises(InputError, match="--resume"):
            run_suite(suite, store, progress=False)
        summary = run_suite(suite, store, progress=False, resume=True)
        assert (summary.skipped, summary.finished) == (2, 2)
        again = run_suite(suite, store, progress=False, resume=True)
        assert (again.skipped, again.finished) == (4, 0)
    assert _table(a) == _table(b)


def _stop_after(seen: list[str], key: str, n: int) -> None:
    seen.append(key)
    if len(seen) == n:
        raise KeyboardInterrupt


def test_budget_is_enforced(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    path = write_suite('[[optimizers]]\nname = "prior-over"\n[[optimizers]]\nname = "prior"\n', seeds=1)
    suite = load_suite(path)
    with Store(tmp_path / "b.sqlite") as store:
        run_suite(suite, store, progress=False)
        runs = {(r.problem_id, r.optimizer): r for r in store.runs()}
    over, fair = runs[("target", "prior-over")], runs[("target", "prior")]
    assert over.n_evals == 160  # it did evaluate past the budget ...
    assert over.trace_evals[-1] == 100  # ... but only the first 100 evaluations count
    assert over.best >= over.reported_best  # the optimizer's own answer may use the overshoot
    assert fair.n_evals == fair.trace_evals[-1] == 100


def test_failed_runs_are_stored(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = load_suite(write_suite('[[optimizers]]\nname = "broken"\n[[optimizers]]\nname = "prior"\n', seeds=1))
    with Store(tmp_path / "b.sqlite") as store:
        summary = run_suite(suite, store, progress=False)
        failed = store.runs(status="failed")
        assert store.finished_keys()
        assert len(store.finished_keys()) == 2
    assert summary.failed == 2
    assert all("RuntimeError: boom" in (r.error or "") for r in failed)


def test_unknown_optimizer_fails_before_running(write_suite: Callable[..., Path]) -> None:
    suite = load_suite(write_suite('[[optimizers]]\nname = "paper-gaa"\n'))
    with pytest.raises(UnknownNameError, match="paper-ga"):
        plan(suite)


def test_applicability_rule(write_suite: Callable[..., Path]) -> None:
    suite = load_suite(write_suite())
    target, setp = (build_problem(p) for p in suite.problems)
    expect = {
        "paper-ga": (True, True),
        "set-ga": (False, True),
        "map-elites": (False, True),
        "random": (True, True),
        "pymoo:DE": (True, True),
        "pymoo:NSGA2": (False, False),
        "ng:CMA": (True, True),
        "prior": (True, True),
    }
    for name, (on_target, on_set) in expect.items():
        solver = resolve(name)
        assert (applies(solver, target), applies(solver, setp)) == (on_target, on_set), name


def test_summary_overhead_accounting() -> None:
    s = BenchSummary(wall_time=10.0, eval_time=6.0, solve_time=9.0, book_time=0.5, workers=1)
    assert s.overhead == pytest.approx(1 - 8.5 / 10)
    assert s.eval_fraction == pytest.approx(0.6)


def test_leaderboard_from_store(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = load_suite(write_suite('[[optimizers]]\nname = "prior"\n[[optimizers]]\nname = "prior-over"\n'))
    with Store(tmp_path / "b.sqlite") as store:
        run_suite(suite, store, progress=False)
        board = build_leaderboard(store.runs())
    assert [i.label for i in board.instances] == ["set", "target"]
    assert board.groups[0].optimizers == ["prior", "prior-over"]
    row = board.instance("target").rows[0]
    assert row.summary.n == 2


@pytest.mark.parametrize(
    ("names", "module"),
    [
        ("paper-ga,set-ga,pymoo:DE,pymoo:CMAES", "latentbridge.pymoo"),
        ("ng:CMA,ng:TwoPointsDE", "latentbridge.nevergrad"),
        ("random,map-elites", "latentbridge.baselines"),
    ],
)
def test_builtin_backends(tmp_path: Path, write_suite: Callable[..., Path], names: str, module: str) -> None:
    pytest.importorskip(module)
    suite = load_suite(write_suite(budget=250, seeds=1)).with_overrides(optimizers=names.split(","))
    with Store(tmp_path / "b.sqlite") as store:
        summary = run_suite(suite, store, progress=False)
        runs = store.runs(status=None)
    assert summary.failed == 0, [r.error for r in runs if r.error]
    for r in runs:
        assert r.trace_evals[-1] == 250
        assert r.best <= r.reported_best + 1e-9  # the bench's best-of-first-budget vs the optimizer's answer
    ran = {(r.problem_id, r.optimizer) for r in runs}
    for name in names.split(","):
        assert ("set", name) in ran
        assert (("target", name) in ran) == (name not in ("set-ga", "map-elites"))


def test_optimizer_warnings_are_stored_not_printed(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = load_suite(write_suite('[[optimizers]]\nname = "noisy"\n', seeds=1))
    with Store(tmp_path / "b.sqlite") as store:
        run_suite(suite, store, progress=False)  # filterwarnings=error would turn a leaked warning into a failure
        runs = store.runs()
    assert all(r.warnings == ["UserWarning: step size is tiny (x3)"] for r in runs)


class _Bypass:
    """Evaluates through LatentProblem._run, not evaluate(): the problem's observers still see every batch."""

    def solve(self, problem: Any, budget: int, seed: int) -> Any:
        import latentbridge as lb

        Z = problem.sample(budget, np.random.default_rng(seed))
        f, _ = problem._run(Z, None)
        i = int(np.argmin(f))
        trace = lb.Trace()
        trace.record(budget, float(f[i]))
        return lb.OptimizeResult(Z[i], float(f[i]), budget, trace, "bypass", seed=seed)


def test_evaluations_that_bypass_evaluate(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    from latentbridge.testing import registered

    with registered("optimizer", "bypass", _Bypass):
        suite = load_suite(write_suite('[[optimizers]]\nname = "bypass"\n', seeds=1))
        with Store(tmp_path / "b.sqlite") as store:
            run_suite(suite, store, progress=False)
            runs = store.runs(status=None)
    for r in runs:
        assert r.status == "finished"
        assert r.n_evals == 100
        assert r.best == r.reported_best
        assert list(r.trace_evals) == [100]
        assert r.eval_time > 0  # timed through the problem's chunk generator and fitness


# --------------------------------------------------------------------------------------------
# non-finite fitness: failed evaluations and failed runs
# --------------------------------------------------------------------------------------------
def _nan_generator(threshold: float) -> Any:
    """The tiny generator, but images are NaN where the latent's first coordinate exceeds ``threshold``."""
    import torch

    import latentbridge as lb
    from latentbridge.testing import tiny_generator

    net = tiny_generator(8, (1, 8, 8), seed=0).module

    def forward(z: torch.Tensor) -> torch.Tensor:
        img = net(z)
        bad = (z[:, 0] > threshold)[:, None, None, None]
        return torch.where(bad, torch.full_like(img, float("nan")), img)

    return lb.TorchGenerator(
        forward, lb.LatentSpace((8,)), (1, 8, 8), name="nan-tiny", extra_config={"threshold": threshold}
    )


_NAN_SUITE = """
[suite]
name = "nan"
budget = 100
seeds = 1

[[problems]]
id = "some-nan"
kind = "set-diversity"
generator = "nan-some"
scorer = "rmse"
k = 2

[[problems]]
id = "all-nan"
kind = "set-diversity"
generator = "nan-all"
scorer = "rmse"
k = 2

[[optimizers]]
name = "prior"

[[optimizers]]
name = "random"
"""


def test_non_finite_fitness_policy(tmp_path: Path) -> None:
    from latentbridge.bench import to_csv, to_markdown
    from latentbridge.testing import registered

    path = tmp_path / "nan.toml"
    path.write_text(_NAN_SUITE, encoding="utf-8")
    with (
        registered("generator", "nan-some", lambda: _nan_generator(1.0)),
        registered("generator", "nan-all", lambda: _nan_generator(-np.inf)),
    ):
        suite = load_suite(path)
        with Store(tmp_path / "b.sqlite") as store:
            summary = run_suite(suite, store, progress=False)
            runs = {(r.problem_id, r.optimizer): r for r in store.runs(status=None)}
            board = build_leaderboard(store.runs())
    assert (summary.finished, summary.failed) == (2, 2)
    assert "4 runs finished (2 failed)" in summary.describe()
    some = runs["some-nan", "random"]
    assert some.status == "finished"
    assert 0 < some.n_failed < 100  # ~30 % of pairs have a NaN image
    assert np.isfinite(some.best)
    assert 0 < runs["some-nan", "prior"].n_failed < 100  # counted by the bench, whatever the optimizer
    assert summary.failed_evals == some.n_failed + runs["some-nan", "prior"].n_failed + 2 * 100  # all-nan runs too
    assert f"{summary.failed_evals:,} evaluations failed" in summary.describe()
    for opt in ("prior", "random"):
        bad = runs["all-nan", opt]
        assert bad.status == "failed"
        assert (bad.error or "").startswith("NonFiniteFitnessError: all 100 evaluations")
        assert bad.best_x is None
    assert any("NonFiniteFitnessWarning" in w for w in some.warnings)  # random_search's result warned
    row = next(r for r in board.instance("some-nan").rows if r.optimizer == "random")
    assert row.failed_evals == some.n_failed
    assert f"\\({some.n_failed} failed\\)" in to_markdown(board)  # Markdown punctuation is escaped
    assert "failed_evals" in to_csv(board).splitlines()[0]


def test_store_migrates_n_failed_column(tmp_path: Path) -> None:
    """A store written before n_failed existed opens, gains the column, and reads 0."""
    db = tmp_path / "old.sqlite"
    with Store(db):
        pass
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE runs DROP COLUMN n_failed")
    con.commit()
    con.close()
    with Store(db, readonly=True) as store:  # read-only: nothing migrated, still readable
        assert store.runs() == []
    with Store(db) as store:
        assert "n_failed" in store._columns()


def test_store_migrates_gradient_columns(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    """A store written before gradient optimizers opens, reads 0 gradient evaluations and n_evals forward-equivalents,
    and gains the columns when opened for writing."""
    from latentbridge.bench.leaderboard import spent

    suite = load_suite(write_suite(seeds=1))
    db = tmp_path / "old.sqlite"
    with Store(db) as store:
        run_suite(suite, store, progress=False)
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE runs DROP COLUMN n_grad_evals")
    con.execute("ALTER TABLE runs DROP COLUMN forward_equivalents")
    con.commit()
    con.close()
    with Store(db, readonly=True) as store:  # read-only: nothing migrated, still readable
        runs = store.runs()
        assert {"n_grad_evals", "forward_equivalents"}.isdisjoint(store._columns())
    assert runs
    assert all(r.n_grad_evals == 0 and r.forward_equivalents is None for r in runs)
    assert all(spent(r) == r.n_evals == 100 for r in runs)
    row = build_leaderboard(runs).instances[0].rows[0]
    assert row.mean_forward_equivalents == row.mean_evals == 100
    with Store(db) as store:
        assert {"n_grad_evals", "forward_equivalents"} <= store._columns()
        assert [spent(r) for r in store.runs()] == [spent(r) for r in runs]
