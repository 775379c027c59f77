"""End to end on the embedded models: a simple evolutionary loop beats random sampling at equal budget."""

from __future__ import annotations

import numpy as np
import pytest

import latentbridge as lb
from latentbridge.data import heldout_digit
from latentbridge.operators import blx_alpha, gaussian_mutation, tournament

BUDGET = 1200
SEEDS = (0, 1, 2)


def _evolve(problem: lb.TargetSimilarity, seed: int, pop: int = 40) -> float:
    """A plain generational GA with one elite: tournament 3, BLX-α (0.2, p=0.75), Gaussian mutation σ=0.3."""
    rng = np.random.default_rng(seed)
    stop = problem.n_evals + BUDGET
    X = problem.sample(pop, seed=rng)
    f = problem.evaluate(X)
    best = float(f.min())
    while problem.n_evals + pop - 1 <= stop:
        a = X[tournament(f, pop - 1, k=3, rng=rng)]
        b = X[tournament(f, pop - 1, k=3, rng=rng)]
        kids = gaussian_mutation(blx_alpha(a, b, alpha=0.2, prob=0.75, rng=rng)[0], sigma=0.3, prob=1.0, rng=rng)
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
    ga = [_evolve(problem, seed) for seed in SEEDS]
    assert problem.n_evals <= len(SEEDS) * BUDGET
    rand = [float(problem.evaluate(problem.sample(BUDGET, seed=100 + s)).min()) for s in SEEDS]
    # seeded; measured margins were 0.55-0.6 (the GA's median distance over random sampling's median)
    assert np.median(ga) < 0.75 * np.median(rand), (ga, rand)
    assert max(ga) < np.median(rand), (ga, rand)


def test_problem_renders_images_like_the_target() -> None:
    gen = lb.load_generator("mnist-dcgan")
    problem = lb.TargetSimilarity(gen, lb.load_scorer("mnist-embed"), heldout_digit(0))
    img = problem.render(problem.sample(1, seed=0)[0])
    assert img.shape == (1, 1, 28, 28)
    assert -1.0 <= float(img.min()) <= float(img.max()) <= 1.0
