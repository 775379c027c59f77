"""latentbridge.pymoo operators: pymoo's _do contract, crossover probability on the Crossover, bounds, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

lbp = pytest.importorskip("latentbridge.pymoo")

from pymoo.core.population import Population  # noqa: E402
from pymoo.core.problem import Problem  # noqa: E402
from pymoo.optimize import minimize  # noqa: E402


def test_crossover_probability_is_pymoos_prob() -> None:
    cx = lbp.BLXAlpha(alpha=0.2, prob=0.75)
    assert cx.p_pair == pytest.approx(0.75)
    assert float(cx.prob.value) == pytest.approx(0.75)  # where pymoo (and its tuners) expect it
    mut = lbp.GaussianMutation(prob=0.01)
    assert float(mut.prob_var.value) == pytest.approx(0.01)
    assert float(mut.prob.value) == 1.0


@pytest.mark.parametrize("cx", [lbp.BLXAlpha(prob=1.0), lbp.UniformCrossover(prob=1.0)])
def test_pymoo_do_calls_our_do(cx: object) -> None:
    """pymoo's own Crossover.do drives our _do: shapes follow pymoo's contract."""
    problem = Problem(n_var=4, n_obj=1, xl=-1.0, xu=1.0)
    rng = np.random.default_rng(0)
    pop = Population.new("X", rng.uniform(-1, 1, (6, 4)))
    off = cx.do(problem, pop, np.array([[0, 1], [2, 3], [4, 5]]), random_state=rng)  # type: ignore[attr-defined]
    assert len(off) == 6
    X = off.get("X")
    assert X.shape == (6, 4)
    assert np.all((X >= -1) & (X <= 1))  # clipped to the hard box


def test_pair_probability_zero_copies_parents() -> None:
    problem = Problem(n_var=3, n_obj=1, xl=-5.0, xu=5.0)
    rng = np.random.default_rng(1)
    P = rng.normal(size=(4, 3))
    off = lbp.BLXAlpha(prob=0.0).do(problem, Population.new("X", P), np.array([[0, 1], [2, 3]]), random_state=rng)
    np.testing.assert_array_equal(np.sort(off.get("X"), axis=0), np.sort(P, axis=0))


def test_mutation_do_clips_to_bounds() -> None:
    problem = Problem(n_var=5, n_obj=1, xl=0.0, xu=1.0)
    pop = Population.new("X", np.full((10, 5), 0.5))
    out = lbp.GaussianMutation(sigma=10.0, prob=1.0).do(problem, pop, random_state=np.random.default_rng(0))
    X = out.get("X")
    assert np.all((X >= 0) & (X <= 1))
    assert np.any((X == 0) | (X == 1))  # sigma 10 leaves the box: repaired, not left outside


def test_latent_problem_box_is_soft() -> None:
    import latentbridge as lb
    from latentbridge.testing import tiny_generator

    p = lbp.as_pymoo(
        lb.SetDiversity(tiny_generator(4, (1, 4, 4), seed=0), lb.load_scorer("rmse"), k=2), bounds_width=1.0
    )
    pop = Population.new("X", np.zeros((4, 8)))
    X = lbp.GaussianMutation(sigma=10.0, prob=1.0).do(p, pop, random_state=np.random.default_rng(0)).get("X")
    assert np.abs(X).max() > 1.0  # the latent prior is unbounded: no clipping to the ±1 std hint


def test_nsga2_with_the_seeds_operators_on_zdt1_stays_finite() -> None:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.problems import get_problem

    problem = get_problem("zdt1", n_var=6)
    alg = NSGA2(pop_size=20, crossover=lbp.BLXAlpha(alpha=0.5), mutation=lbp.GaussianMutation(sigma=1.0, prob=0.3))
    res = minimize(problem, alg, ("n_gen", 15), seed=0)
    F, X = res.pop.get("F"), res.pop.get("X")
    assert np.all(np.isfinite(F))
    assert np.all(np.clip(X, problem.xl, problem.xu) == X)


def test_seed_ga_fast_path_repairs_too() -> None:
    from pymoo.problems import get_problem

    problem = get_problem("ackley", n_var=4)  # box [-32.768, 32.768]
    alg = lbp.GenerationalGA(
        10, lbp.TournamentSelection(), lbp.BLXAlpha(alpha=5.0, prob=1.0), lbp.GaussianMutation(sigma=100.0, prob=1.0)
    )
    res = minimize(problem, alg, ("n_gen", 5), seed=0)
    X = res.pop.get("X")
    assert np.all(np.clip(X, problem.xl, problem.xu) == X)


class _OneMax(Problem):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(n_var=16, n_obj=1, xl=0, xu=1, vtype=bool)

    def _evaluate(self, x: np.ndarray, out: dict, *args: object, **kwargs: object) -> None:
        out["F"] = -np.sum(x, axis=1, keepdims=True).astype(float)


def test_uniform_crossover_keeps_binary_dtype() -> None:
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.operators.mutation.bitflip import BitflipMutation
    from pymoo.operators.sampling.rnd import BinaryRandomSampling

    alg = GA(
        pop_size=20,
        sampling=BinaryRandomSampling(),
        crossover=lbp.UniformCrossover(),
        mutation=BitflipMutation(),
        eliminate_duplicates=True,
    )
    res = minimize(_OneMax(), alg, ("n_gen", 20), seed=0)
    assert res.X.dtype == bool
    assert res.F[0] <= -12  # it optimises, on booleans
    parents = np.array([[[True, False, True]], [[False, True, False]]])  # (2 parents, 1 mating, 3 genes)
    children = lbp.UniformCrossover().cross(parents, np.random.default_rng(0))
    assert children.dtype == bool
    assert children.shape == (2, 3)
