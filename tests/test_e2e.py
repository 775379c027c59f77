"""End to end on the embedded models: a simple evolutionary loop beats random sampling at equal budget."""

from __future__ import annotations

import numpy as np
import pytest

import latentbridge as lb
from latentbridge.data import heldout_digit
from latentbridge.operators import gaussian_mutation, tournament

BUDGET = 1200


def _evolve(problem: lb.TargetSimilarity, seed: int, pop: int = 40) -> float:
    """A plain generational GA with elitism: tournament 3, Gaussian mutation (σ=0.3, every gene)."""
    rng = np.random.default_rng(seed)
    stop = problem.n_evals + BUDGET
    X = problem.sample(pop, seed=rng)
    f = problem.evaluate(X)
    best = float(f.min())
    while problem.n_evals + pop - 1 <= stop:
        parents = X[tournament(f, pop - 1, k=3, rng=rng)]
        kids = gaussian_mutation(parents, sigma=0.3, prob=1.0, rng=rng)
        fk = problem.evaluate(kids)
        elite = int(np.argmin(f))
        X, f = np.vstack([X[elite : elite + 1], kids]), np.concatenate([f[elite : elite + 1], fk])
        best = min(best, float(fk.min()))
    return best


@pytest.mark.parametrize("digit", [3, 7])
def test_evolution_beats_random_sampling_at_equal_budget(digit: int) -> None:
    gen = lb.load_generator("mnist-dcgan")
    scorer = lb.load_scorer("mnist-embed")
    problem = lb.TargetSimilarity(gen, scorer, heldout_digit(digit), batch_size=256)
    ga = [_evolve(problem, seed) for seed in (0, 1)]
    assert problem.n_evals <= 2 * BUDGET
    rand = [float(problem.evaluate(problem.sample(BUDGET, seed=100 + s)).min()) for s in (0, 1)]
    # the GA's worst run must beat random sampling's best run by a clear margin
    assert max(ga) < 0.85 * min(rand), (ga, rand)


def test_problem_renders_images_like_the_target() -> None:
    gen = lb.load_generator("mnist-dcgan")
    problem = lb.TargetSimilarity(gen, lb.load_scorer("mnist-embed"), heldout_digit(0))
    img = problem.render(problem.sample(1, seed=0)[0])
    assert img.shape == (1, 1, 28, 28)
    assert -1.0 <= float(img.min()) <= float(img.max()) <= 1.0
