"""latentbridge.optimizers: names → solver adapters, the applicability rule, one table of algorithm facts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge import optimizers as lbo
from latentbridge._algorithm_facts import PYMOO_ALGORITHMS
from latentbridge.errors import UnknownNameError
from latentbridge.testing import tiny_generator


@pytest.fixture(scope="module")
def problems() -> dict[str, lb.LatentProblem]:
    gen = tiny_generator(6, (1, 6, 6), seed=0)
    with torch.inference_mode():
        target = gen.generate(torch.zeros(1, 6))[0].clone()
    return {
        "so": lb.TargetSimilarity(gen, lb.load_scorer("rmse"), target),
        "mo": lb.TargetSimilarity(gen, [lb.load_scorer("rmse"), lb.load_scorer("ncc")], target),
        "set": lb.SetDiversity(gen, lb.load_scorer("ncc"), k=3),
    }


def test_resolve_names() -> None:
    assert lbo.resolve("paper-ga") == lbo.PymooOptimizer("paper-ga", {})
    assert lbo.resolve("set-ga", {"pop_size": 10}) == lbo.PymooOptimizer("set-ga", {"pop_size": 10}, min_k=2)
    assert lbo.resolve("random") == lbo.BaselineOptimizer("random", {})
    assert lbo.resolve("pymoo:DE", {"pop_size": 8}) == lbo.PymooOptimizer("DE", {"pop_size": 8})
    assert lbo.resolve("ng:CMA") == lbo.NevergradOptimizer("CMA", {})
    with pytest.raises(UnknownNameError, match="pymoo:<Algorithm>"):
        lbo.resolve("paper-gaa")
    for name in ("paper-ga", "set-ga", "random", "map-elites"):
        assert isinstance(lbo.resolve(name), lbo.Solver)


def test_applicability_rule(problems: dict[str, lb.LatentProblem]) -> None:
    so, mo, sets = problems["so"], problems["mo"], problems["set"]
    rule = {
        "paper-ga": (True, False, True),
        "set-ga": (False, False, True),
        "random": (True, True, True),
        "map-elites": (False, False, True),
        "pymoo:DE": (True, False, True),
        "pymoo:NSGA2": (False, True, False),
        "pymoo:nsga_3": (False, True, False),
        "pymoo:random": (True, True, True),
        "ng:CMA": (True, False, True),
    }
    for name, expected in rule.items():
        solver = lbo.resolve(name)
        assert tuple(lbo.applies(solver, p) for p in (so, mo, sets)) == expected, name


def test_multi_objective_names_come_from_the_facts_table() -> None:
    assert {n for n, f in PYMOO_ALGORITHMS.items() if f.multi_objective} == lbo.MULTI_OBJECTIVE_PYMOO
    assert {"NSGA2", "NSGA3", "RNSGA3", "CTAEA"} <= lbo.MULTI_OBJECTIVE_PYMOO
    assert "DE" not in lbo.MULTI_OBJECTIVE_PYMOO


def test_registry_builds_the_library_adapters() -> None:
    reg = lb.registry("optimizer")
    for name, factory in lbo.BUILTIN_OPTIMIZERS.items():
        assert reg.get(name).factory is factory
        assert reg.create(name) == factory()


def test_bench_module_reexports_the_same_objects() -> None:
    from latentbridge.bench import optimizers as bench_optimizers

    for name in bench_optimizers.__all__:
        assert getattr(bench_optimizers, name) is getattr(lbo, name)


def test_adapters_run(problems: dict[str, lb.LatentProblem]) -> None:
    pytest.importorskip("pymoo")
    so = problems["so"]
    res = lbo.resolve("pymoo:GA", {"pop_size": 10}).solve(so, 40, seed=0)
    assert res.n_evals == 40
    res = lbo.resolve("random", {"batch": 10}).solve(problems["mo"], 30, seed=0)  # pymoo's prior sampling
    assert res.F_front is not None
    res = lbo.resolve("random", {"batch": 10}).solve(so, 30, seed=0)
    assert res.optimizer == "random"
    assert np.isfinite(res.best)
