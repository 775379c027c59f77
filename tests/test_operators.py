"""The numpy kernels of latentbridge.operators and their pymoo operator classes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentbridge import operators as ops
from latentbridge.errors import InputError

pymoo_mod = pytest.importorskip("latentbridge.pymoo")


@pytest.fixture(scope="module")
def tiny_problem() -> object:
    import torch

    import latentbridge as lb
    from latentbridge.testing import tiny_generator

    gen = tiny_generator(8, (1, 8, 8), seed=0)
    target = torch.zeros(1, 8, 8)
    return lb.TargetSimilarity(gen, lb.load_scorer("rmse"), target, batch_size=64)


def _pop(n: int = 40, d: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


# -- kernels ----------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(1, 12),
    d=st.integers(1, 9),
    alpha=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_blx_children_inside_widened_interval(m: int, d: int, alpha: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p1, p2 = rng.standard_normal((m, d)), rng.standard_normal((m, d))
    before = (p1.copy(), p2.copy())
    c1, c2 = ops.blx_alpha(p1, p2, alpha=alpha, prob=1.0, rng=np.random.default_rng(seed))
    lo, hi = np.minimum(p1, p2), np.maximum(p1, p2)
    span = hi - lo
    for c in (c1, c2):
        assert c.shape == (m, d)
        assert np.all(c >= lo - alpha * span - 1e-12)
        assert np.all(c <= hi + alpha * span + 1e-12)
    np.testing.assert_array_equal(p1, before[0])  # inputs not modified
    np.testing.assert_array_equal(p2, before[1])


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 10), d=st.integers(1, 9), swap=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1))
def test_uniform_crossover_preserves_gene_multiset(m: int, d: int, swap: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p1, p2 = rng.standard_normal((m, d)), rng.standard_normal((m, d))
    c1, c2 = ops.uniform_crossover(p1, p2, swap=swap, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(np.sort(np.stack([c1, c2]), axis=0), np.sort(np.stack([p1, p2]), axis=0))


def test_kernels_are_seed_deterministic() -> None:
    X = _pop()
    for fn in (
        lambda r: ops.blx_alpha(X[:20], X[20:], alpha=0.2, prob=0.75, rng=r),
        lambda r: ops.uniform_crossover(X[:20], X[20:], rng=r),
        lambda r: ops.gaussian_mutation(X, prob=0.3, rng=r),
        lambda r: ops.creep_mutation(X, step=0.5, prob=0.3, rng=r),
        lambda r: ops.tournament(X[:, 0], 15, k=3, rng=r),
    ):
        a, b = fn(np.random.default_rng(7)), fn(np.random.default_rng(7))
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("prob", [0.001, 0.2])
def test_gaussian_mutation_rate(prob: float) -> None:
    X = np.zeros((200, 500))
    Y = ops.gaussian_mutation(X, prob=prob, rng=np.random.default_rng(1))
    rate = np.mean(Y != 0)
    sd = np.sqrt(prob * (1 - prob) / X.size)
    assert abs(rate - prob) < 6 * sd + 1e-4
    assert np.all(X == 0)  # input untouched


def test_creep_mutation_rate_and_step() -> None:
    X = np.zeros((200, 300))
    Y = ops.creep_mutation(X, step=0.25, prob=0.1, rng=np.random.default_rng(2))
    assert abs(np.mean(Y != 0) - 0.1) < 6 * np.sqrt(0.1 * 0.9 / X.size)
    assert np.all(np.abs(Y) <= 0.25)


def test_tournament_with_k_n_picks_best_often() -> None:
    f = np.array([3.0, 1.0, 2.0, 5.0])
    idx = ops.tournament(f, 500, k=50, rng=np.random.default_rng(0))
    assert np.all(idx == 1)  # 50 contenders out of 4 with replacement: the best is always present
    idx1 = ops.tournament(f, 4000, k=1, rng=np.random.default_rng(0))
    assert set(np.unique(idx1)) == {0, 1, 2, 3}


# -- pymoo operator classes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: pymoo_mod.BLXAlpha(alpha=-0.1),
        lambda: pymoo_mod.BLXAlpha(prob=1.5),
        lambda: pymoo_mod.UniformCrossover(swap=-0.2),
        lambda: pymoo_mod.GaussianMutation(prob=2.0),
        lambda: pymoo_mod.GaussianMutation(sigma=-1.0),
        lambda: pymoo_mod.CreepMutation(prob=-0.01),
        lambda: pymoo_mod.CreepMutation(step=-1.0),
        lambda: pymoo_mod.TournamentSelection(k=0),
    ],
)
def test_operator_params_validated(build: object) -> None:
    with pytest.raises(InputError):
        build()  # type: ignore[operator]


def _dummy_problem(d: int = 6) -> object:
    from pymoo.core.problem import Problem

    return Problem(n_var=d, n_obj=1, xl=-4.0, xu=4.0)


def test_pymoo_crossover_do_shapes_and_prob() -> None:
    from pymoo.core.population import Population

    pop = Population.new("X", _pop(10))
    parents = np.arange(10).reshape(5, 2)
    off = pymoo_mod.BLXAlpha(0.2, prob=1.0).do(_dummy_problem(), pop, parents, random_state=np.random.default_rng(0))
    assert len(off) == 10
    assert off.get("X").shape == (10, 6)
    same = pymoo_mod.BLXAlpha(0.2, prob=0.0).do(_dummy_problem(), pop, parents, random_state=np.random.default_rng(0))
    X = pop.get("X")
    np.testing.assert_array_equal(same.get("X"), np.concatenate([X[0::2], X[1::2]]))


def test_pymoo_mutation_sets_pymoo_probs() -> None:
    m = pymoo_mod.GaussianMutation(prob=0.01)
    assert m.p_gene == 0.01
    from pymoo.core.variable import get

    assert get(m.prob) == 1.0  # per-individual probability is 1: the per-gene one does the work
    assert get(m.prob_var) == 0.01


def test_pymoo_tournament_selects_best_with_large_k() -> None:
    from pymoo.core.population import Population

    pop = Population.new("X", _pop(5), "F", np.array([[3.0], [0.5], [2.0], [9.0], [1.0]]))
    idx = pymoo_mod.TournamentSelection(k=60).do(
        _dummy_problem(), pop, 8, 2, to_pop=False, random_state=np.random.default_rng(0)
    )
    assert idx.shape == (8, 2)
    assert np.all(idx == 1)


def test_operators_inside_pymoo_ga(tiny_problem: object) -> None:
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.optimize import minimize

    alg = GA(
        pop_size=16,
        sampling=pymoo_mod.LatentSampling(),
        selection=pymoo_mod.TournamentSelection(3),
        crossover=pymoo_mod.UniformCrossover(prob=0.9),
        mutation=pymoo_mod.CreepMutation(step=0.2, prob=0.2),
        eliminate_duplicates=False,
    )
    res = minimize(pymoo_mod.as_pymoo(tiny_problem), alg, ("n_gen", 4), seed=0)  # type: ignore[arg-type]
    assert res.F.shape == (1,)
    assert np.isfinite(res.F[0])


def test_invalid_probability_in_kernel() -> None:
    with pytest.raises(InputError, match="prob"):
        ops.gaussian_mutation(_pop(), prob=1.5, rng=np.random.default_rng(0))
