"""latentbridge.pymoo: problem adapter, presets, solve() with pymoo's algorithms, budgets and errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.errors import InputError, UnknownNameError
from latentbridge.testing import tiny_generator

lbp = pytest.importorskip("latentbridge.pymoo")


@pytest.fixture(scope="module")
def gen() -> lb.TorchGenerator:
    return tiny_generator(8, (1, 8, 8), seed=0)


@pytest.fixture(scope="module")
def target(gen: lb.TorchGenerator) -> torch.Tensor:
    z = torch.from_numpy(np.random.default_rng(123).standard_normal((1, 8)).astype(np.float32))
    with torch.inference_mode():
        return gen.generate(z)[0].clone()


@pytest.fixture
def so(gen: lb.TorchGenerator, target: torch.Tensor) -> lb.TargetSimilarity:
    return lb.TargetSimilarity(gen, lb.load_scorer("rmse"), target, batch_size=64)


@pytest.fixture
def mo(gen: lb.TorchGenerator, target: torch.Tensor) -> lb.TargetSimilarity:
    return lb.TargetSimilarity(gen, [lb.load_scorer("rmse"), lb.load_scorer("ncc")], target, batch_size=64)


def test_import_latentbridge_does_not_import_pymoo() -> None:
    code = "import latentbridge, sys; assert 'pymoo' not in sys.modules and 'ribs' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_problem_adapter(so: lb.TargetSimilarity, mo: lb.TargetSimilarity) -> None:
    p = lbp.as_pymoo(so, bounds_width=3.0)
    assert (p.n_var, p.n_obj, p.elementwise) == (8, 1, False)
    np.testing.assert_allclose(p.xu, 3.0)
    Z = so.sample(5, 0)
    before = so.n_evals
    F = p.evaluate(Z)
    assert F.shape == (5, 1)
    np.testing.assert_allclose(F[:, 0], so.evaluate(Z))
    assert so.n_evals == before + 10
    assert lbp.as_pymoo(mo).evaluate(Z).shape == (5, 2)


def test_latent_sampling_uses_prior_and_rng(gen: lb.TorchGenerator) -> None:
    sd = lb.SetDiversity(gen, lb.load_scorer("ncc"), k=3)
    p = lbp.as_pymoo(sd)
    a = lbp.LatentSampling().do(p, 4, random_state=np.random.default_rng(5)).get("X")
    np.testing.assert_array_equal(a, sd.sample(4, np.random.default_rng(5)))
    assert a.shape == (4, 24)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("paper-ga", {"pop_size": 20}),
        ("set-ga", {"pop_size": 20}),
        ("random", {"pop_size": 20}),
        ("GA", {"pop_size": 20}),
        ("DE", {"pop_size": 20}),
        ("CMAES", {}),
        ("PSO", {"pop_size": 20}),
    ],
)
def test_single_objective_algorithms(so: lb.TargetSimilarity, name: str, params: dict[str, int]) -> None:
    budget = 200 if name != "CMAES" else 120
    res = lbp.solve(so, name, budget=budget, seed=0, **params)
    assert res.n_evals == so.n_evals == budget  # budget used exactly, never exceeded
    assert res.x.shape == (8,)
    assert np.isfinite(res.best)
    np.testing.assert_allclose(so.evaluate(res.x[None]), res.best, rtol=1e-6)  # best-ever is what it says
    assert res.trace.evals[-1] == budget
    assert np.all(np.diff(res.trace.best) <= 0)  # anytime best-so-far is monotone
    assert res.best <= res.trace.best[0]


@pytest.mark.parametrize("name", ["NSGA2", "NSGA3"])
def test_multi_objective_algorithms(mo: lb.TargetSimilarity, name: str) -> None:
    res = lbp.solve(mo, name, budget=200, seed=0, pop_size=20)
    assert res.n_evals == mo.n_evals == 200
    hv = res.extra["hypervolume"]
    assert np.isfinite(hv)
    assert hv > 0
    assert res.F_front is not None
    assert res.X_front is not None
    assert res.F_front.shape[1] == 2
    assert res.X_front.shape == (res.F_front.shape[0], 8)
    assert np.all(np.diff(res.trace.best) >= -1e-12)  # hypervolume of everything so far never drops


def test_paper_ga_improves_over_initial_population(so: lb.TargetSimilarity) -> None:
    res = lbp.solve(so, "paper-ga", budget=800, seed=1, pop_size=40, p_mutation=0.05)
    initial_best = res.trace.best[0]
    assert res.best < initial_best


def test_same_seed_same_result(so: lb.TargetSimilarity) -> None:
    for name, params in [("paper-ga", {"pop_size": 20}), ("DE", {"pop_size": 20})]:
        a = lbp.solve(so, name, budget=100, seed=3, **params)
        b = lbp.solve(so, name, budget=100, seed=3, **params)
        c = lbp.solve(so, name, budget=100, seed=4, **params)
        np.testing.assert_array_equal(a.x, b.x)
        assert a.trace.best == b.trace.best
        assert not np.array_equal(a.x, c.x)


def test_budget_truncates_last_generation(so: lb.TargetSimilarity) -> None:
    res = lbp.solve(so, "GA", budget=47, seed=0, pop_size=20)
    assert res.n_evals == so.n_evals == 47
    res = lbp.solve(so, "paper-ga", budget=47, seed=0, pop_size=20)
    assert res.n_evals == 47


def test_presets_run_through_plain_pymoo_minimize(so: lb.TargetSimilarity) -> None:
    from pymoo.optimize import minimize

    res = minimize(lbp.as_pymoo(so), lbp.paper_ga(pop_size=20), ("n_evals", 90), seed=0)
    assert so.n_evals == 90  # the fast path truncates its last generation too
    assert res.F.shape == (1,)
    assert len(res.pop) == 20
    res2 = minimize(lbp.as_pymoo(so), lbp.set_ga(pop_size=10), ("n_gen", 3), seed=0)
    assert np.isfinite(res2.F[0])


def test_generational_ga_generic_path_matches_semantics(so: lb.TargetSimilarity) -> None:
    """ask/tell (pymoo's generic path) keeps the population size and the elite."""
    alg = lbp.set_ga(pop_size=10)
    alg.setup(lbp.as_pymoo(so), termination=("n_gen", 10), seed=0)
    best = np.inf
    for _ in range(4):
        pop = alg.ask()
        alg.evaluator.eval(alg.problem, pop)
        alg.tell(infills=pop)
        assert len(alg.pop) == 10
        f = float(np.min(alg.pop.get("F")))
        assert f <= best  # elitism 1: the best never gets lost
        best = f


def test_solve_accepts_algorithm_instance(so: lb.TargetSimilarity) -> None:
    res = lbp.solve(so, lbp.paper_ga(pop_size=10), budget=50, seed=0)
    assert res.optimizer == "pymoo:GenerationalGA"
    assert res.n_evals == 50


def test_unknown_name_lists_close_matches(so: lb.TargetSimilarity) -> None:
    with pytest.raises(UnknownNameError, match="NSGA2"):
        lbp.solve(so, "NSGA-22", budget=100, seed=0)
    with pytest.raises(UnknownNameError, match="paper-ga"):
        lbp.solve(so, "papr_ga", budget=100, seed=0)
    assert lbp.make_algorithm("nsga_2", so).__class__.__name__ == "NSGA2"  # case, - and _ ignored


def test_multi_objective_problem_to_single_objective_algorithm(mo: lb.TargetSimilarity) -> None:
    for name in ("GA", "DE", "CMAES", "PSO", "paper-ga"):
        with pytest.raises(InputError, match="single-objective"):
            lbp.solve(mo, name, budget=1000, seed=0)


def test_budget_smaller_than_population(so: lb.TargetSimilarity) -> None:
    with pytest.raises(InputError, match="smaller than one population"):
        lbp.solve(so, "paper-ga", budget=50, seed=0)  # pop 200
    with pytest.raises(InputError, match="smaller than one population"):
        lbp.solve(so, "DE", budget=10, seed=0, pop_size=20)
    with pytest.raises(InputError, match="budget"):
        lbp.solve(so, "GA", budget=0, seed=0)
    assert so.n_evals == 0


@pytest.mark.parametrize(
    "params",
    [{"alpha": -0.5}, {"p_crossover": 1.2}, {"p_mutation": -0.1}, {"tournament_size": 0}],
)
def test_bad_preset_parameters(so: lb.TargetSimilarity, params: dict[str, float]) -> None:
    with pytest.raises(InputError):
        lbp.solve(so, "paper-ga", budget=1000, seed=0, **params)


def test_ref_point_is_used(mo: lb.TargetSimilarity) -> None:
    res = lbp.solve(mo, "random", budget=60, seed=0, pop_size=20, ref_point=[10.0, 10.0])
    assert res.extra["ref_point"] == [10.0, 10.0]
    with pytest.raises(InputError, match="ref_point"):
        lbp.solve(mo, "random", budget=60, seed=0, pop_size=20, ref_point=[1.0])
