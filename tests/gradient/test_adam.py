"""The projector-style Adam: its schedule, latent-noise ramp, prior penalty, parallel chains and restarts."""

from __future__ import annotations

import numpy as np
import pytest

import latentbridge as lb
from latentbridge.gradient import learning_rate, solve


def test_schedule_is_the_projectors() -> None:
    lr = 0.1
    assert learning_rate(0.0, lr, 0.05, 0.25) == 0.0  # ramp-up starts at 0
    assert learning_rate(0.025, lr, 0.05, 0.25) == pytest.approx(0.05)
    assert learning_rate(0.5, lr, 0.05, 0.25) == pytest.approx(lr)
    assert learning_rate(0.875, lr, 0.05, 0.25) == pytest.approx(lr * 0.5)  # halfway down the cosine
    assert learning_rate(0.999, lr, 0.05, 0.25) < 1e-4 * lr
    assert learning_rate(0.0, lr, 0.0, 0.0) == lr  # ramps switched off


def test_restarts_spend_the_budget(problem: lb.TargetSimilarity) -> None:
    res = solve(problem, "adam", budget=3 * 95, seed=0, steps=20, parallel=2)
    assert res.n_grad_evals == 95
    assert res.extra["restarts"] == 4  # 2 chains x 20 steps, twice; 2 x 7; then 1 x 1: restarts take what is left


def test_mean_init_starts_at_the_prior_mean(problem: lb.TargetSimilarity) -> None:
    seen: list[lb.Evaluation] = []
    with problem.observe(seen.append):
        solve(problem, "adam", budget=30, seed=0, noise=0.0)
    np.testing.assert_array_equal(seen[0].X[0], problem.latent.mean.reshape(-1))


def test_prior_penalty_keeps_latents_typical(problem: lb.TargetSimilarity) -> None:
    free = solve(problem, "adam", budget=600, seed=1, lr=0.5, init="sample")
    held = solve(problem, "adam", budget=600, seed=1, lr=0.5, init="sample", prior_weight=50.0)
    assert np.linalg.norm(held.x) < np.linalg.norm(free.x)
