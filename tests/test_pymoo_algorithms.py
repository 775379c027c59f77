"""Every algorithm name latentbridge.pymoo.solve accepts either runs on a tiny problem or is refused clearly."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge._algorithm_facts import PYMOO_ALGORITHMS
from latentbridge.errors import InputError
from latentbridge.testing import tiny_generator

lbp = pytest.importorskip("latentbridge.pymoo")

# pymoo's AGE-MOEA compiles numba kernels on first use (~15 s on a busy CPU)
_JIT = {"AGEMOEA", "AGEMOEA2"}
_SLOW_OK = bool(os.environ.get("LATENTBRIDGE_SLOW_TESTS"))
# algorithms sized by their reference directions or a simplex take no pop_size
_NO_POP_SIZE = {"CMAES", "NelderMead", "PatternSearch"}


@pytest.fixture(scope="module")
def problems() -> dict[int, lb.TargetSimilarity]:
    gen = tiny_generator(6, (1, 6, 6), seed=0)
    z = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 6)).astype(np.float32))
    with torch.inference_mode():
        target = gen.generate(z)[0].clone()
    return {
        1: lb.TargetSimilarity(gen, lb.load_scorer("rmse"), target),
        2: lb.TargetSimilarity(gen, [lb.load_scorer("rmse"), lb.load_scorer("ncc")], target),
    }


def _params(name: str) -> dict[str, int]:
    return {} if name in _NO_POP_SIZE else {"pop_size": 8}


@pytest.mark.parametrize("n_obj", [1, 2])
@pytest.mark.parametrize("name", lbp.algorithm_names())
def test_every_algorithm_runs_or_is_refused(problems: dict[int, lb.TargetSimilarity], name: str, n_obj: int) -> None:
    problem = problems[n_obj]
    facts = lbp.algorithm_facts(name)
    reason = (
        facts.refused
        or (facts.requires and "needs " + ", ".join(facts.requires))
        or (n_obj > 1 and not facts.multi_objective and "single-objective")
        or (n_obj == 1 and facts.one_objective)
    )
    problem.reset_counter()
    if reason:
        with pytest.raises(InputError, match=name) as info:
            lbp.solve(problem, name, budget=64, seed=0, **_params(name))
        assert str(reason).split(":")[0] in str(info.value)
        assert problem.n_evals == 0  # refused before any evaluation
        return
    if name in _JIT and not _SLOW_OK:
        assert lbp.make_algorithm(name, problem, **_params(name)) is not None
        pytest.skip(f"{name} compiles numba kernels (~15 s); set LATENTBRIDGE_SLOW_TESTS=1 to run it")
    res = lbp.solve(problem, name, budget=64, seed=0, **_params(name))
    assert 0 < res.n_evals <= 64
    assert res.n_evals == problem.n_evals
    assert res.x.shape == (problem.dim,)
    if n_obj == 1:
        assert np.isfinite(res.best)
    else:
        assert res.F_front is not None
        assert res.F_front.shape[1] == 2
        assert res.extra["hypervolume"] > 0


def test_required_arguments_make_it_run(problems: dict[int, lb.TargetSimilarity]) -> None:
    res = lbp.solve(problems[2], "RNSGA2", budget=40, seed=0, pop_size=8, ref_points=[[0.1, -0.5]])
    assert res.n_evals == 40


def test_algorithm_names_and_facts() -> None:
    names = lbp.algorithm_names()
    assert names[:3] == ["paper-ga", "set-ga", "random"]
    assert set(PYMOO_ALGORITHMS) <= set(names)
    supported = lbp.algorithm_names(supported_only=True)
    assert "PINSGA2" in names
    assert "PINSGA2" not in supported
    assert "RNSGA2" in supported  # needs an argument, not refused
    assert lbp.algorithm_facts("nsga_2").name == "NSGA2"
    assert lbp.algorithm_facts("nsga3").ref_dirs


def test_default_operators_are_not_shared_between_runs(problems: dict[int, lb.TargetSimilarity]) -> None:
    """pymoo's default operator objects keep state; a one-objective SPEA2 run must not break a two-objective one."""
    lbp.solve(problems[1], "SPEA2", budget=24, seed=0, pop_size=8)
    res = lbp.solve(problems[2], "SPEA2", budget=24, seed=0, pop_size=8)
    assert res.n_evals == 24
