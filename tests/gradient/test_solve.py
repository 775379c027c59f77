"""``latentbridge.gradient.solve``: names, parameters, budgets in forward-equivalents, determinism, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.errors import InputError, NotDifferentiableError, UnknownNameError
from latentbridge.gradient import GradientOptimizer, check_params, optimizer_names, solve

NAMES = ["adam", "basin-cma", "lbfgs"]
#: Small-budget settings (CMA-ES's default population times 10 Adam steps would be the whole budget here).
PARAMS: dict[str, dict[str, object]] = {
    "adam": {},
    "basin-cma": {"popsize": 4, "grad_steps": 5, "lr": 0.1},
    "lbfgs": {},
}
SAMPLED: dict[str, dict[str, object]] = {
    "adam": {"init": "sample"},
    "basin-cma": PARAMS["basin-cma"],
    "lbfgs": {"init": "sample"},
}


def test_names() -> None:
    assert optimizer_names() == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_budget_in_forward_equivalents_is_exact(name: str, problem: lb.TargetSimilarity) -> None:
    seen: list[lb.Evaluation] = []
    with problem.observe(seen.append):
        res = solve(problem, name, budget=301, seed=0, **PARAMS[name])
    assert res.n_evals == 0
    assert res.n_grad_evals == sum(e.n for e in seen) == problem.n_grad_evals == 100  # floor(301 / 3)
    assert res.forward_equivalents == 300.0
    assert all(e.gradient and e.cost == 3.0 for e in seen)
    assert res.extra["grad_cost"] == 3.0
    assert res.wall_time > 0
    assert res.trace.evals[-1] == 300
    assert res.f == pytest.approx(float(problem.evaluate(res.x)[0]), rel=1e-6)
    assert res.f < float(np.min(problem.evaluate(problem.sample(100, seed=0))))  # beats 100 prior samples


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_a_seed(name: str, problem: lb.TargetSimilarity) -> None:
    a = solve(problem, name, budget=150, seed=3, **SAMPLED[name])
    b = solve(problem, name, budget=150, seed=3, **SAMPLED[name])
    np.testing.assert_array_equal(a.x, b.x)
    assert a.trace.best == b.trace.best
    c = solve(problem, name, budget=150, seed=4, **SAMPLED[name])
    assert not np.array_equal(a.x, c.x)


def test_basin_cma_leaves_numpy_global_state_alone(problem: lb.TargetSimilarity) -> None:
    np.random.seed(11)  # noqa: NPY002 - the global generator is what this test is about
    expected = np.random.random()  # noqa: NPY002
    np.random.seed(11)  # noqa: NPY002
    solve(problem, "basin-cma", budget=200, seed=0, popsize=4, grad_steps=3)
    assert np.random.random() == expected  # noqa: NPY002


def test_unknown_name_and_param_suggest_close_matches(problem: lb.TargetSimilarity) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown gradient optimizer 'adma'.*did you mean 'adam'"):
        solve(problem, "adma", budget=30, seed=0)
    with pytest.raises(
        InputError, match=r"adam has no parameter 'learning_rate'.*did you mean 'lr'|adam has no parameter"
    ):
        solve(problem, "adam", budget=30, seed=0, learning_rate=0.1)
    with pytest.raises(InputError, match=r"basin-cma has no parameter 'popsze'; did you mean 'popsize'"):
        check_params("basin-cma", {"popsze": 4})


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("adam", {"lr": -1}, r"adam: lr must be a number >= 1e-12, got -1"),
        ("adam", {"steps": 2.5}, r"adam: steps must be an int >= 1"),
        ("adam", {"rampdown": 2}, r"adam: rampdown must be a number in \[0, 1\]"),
        ("adam", {"betas": 0.9}, r"adam: betas must be a pair"),
        ("adam", {"init": "zero"}, r"adam: init must be 'mean'"),
        ("basin-cma", {"popsize": 1}, r"basin-cma: popsize must be an int >= 2"),
        ("basin-cma", {"lamarckian": "yes"}, r"basin-cma: lamarckian must be True or False"),
        ("lbfgs", {"bounds_width": 0}, r"lbfgs: bounds_width must be a number >= 1e-06"),
    ],
)
def test_bad_values_are_named(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        GradientOptimizer(name, params)


def test_refusals(problem: lb.TargetSimilarity, tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    two = lb.TargetSimilarity(tiny_gen, lb.load_scorer("rmse"), [tiny_target, -tiny_target])
    with pytest.raises(InputError, match="adam minimises one objective, but this problem has 2; use aggregate='mean'"):
        solve(two, "adam", budget=30, seed=0)
    assert not GradientOptimizer("adam").applies_to(two)
    assert GradientOptimizer("adam").applies_to(problem)
    with pytest.raises(InputError, match=r"budget must be a number of forward-equivalents >= one gradient evaluation"):
        solve(problem, "adam", budget=2, seed=0)
    with pytest.raises(InputError, match="seed"):
        solve(problem, "adam", budget=30, seed=1.5)  # type: ignore[arg-type]


def test_a_non_differentiable_problem_is_refused_by_name(tiny_target: torch.Tensor) -> None:
    gen = lb.testing.tiny_generator()

    @torch.no_grad()
    def frozen(z: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = gen.module(z)
        return out

    problem = lb.TargetSimilarity(
        lb.TorchGenerator(frozen, gen.latent, (1, 8, 8), name="nograd"), lb.load_scorer("rmse"), tiny_target
    )
    with pytest.raises(NotDifferentiableError, match="generator 'nograd'"):
        solve(problem, "lbfgs", budget=30, seed=0)


def test_registry_style_object_runs(problem: lb.TargetSimilarity) -> None:
    res = GradientOptimizer("adam", {"lr": 0.05, "steps": 10}).solve(problem, 90, 0)
    assert (res.optimizer, res.params, res.n_grad_evals) == ("adam", {"lr": 0.05, "steps": 10}, 30)
