"""L-BFGS-B: converges on a reachable target, restarts when it has, respects bounds."""

from __future__ import annotations

import numpy as np

import latentbridge as lb
from latentbridge.gradient import solve


def test_reaches_a_reachable_target(problem: lb.TargetSimilarity) -> None:
    res = solve(problem, "lbfgs", budget=3 * 300, seed=0)
    assert res.f < 1e-3  # the target is the tiny generator's own image: distance 0 is reachable
    assert res.extra["restarts"] >= 1


def test_restarts_after_convergence(problem: lb.TargetSimilarity) -> None:
    res = solve(problem, "lbfgs", budget=3 * 300, seed=0, maxiter=5)
    assert res.extra["restarts"] > 1
    assert res.n_grad_evals == 300


def test_bounds_hold(problem: lb.TargetSimilarity) -> None:
    seen: list[np.ndarray] = []
    with problem.observe(lambda e: seen.append(e.X)):
        solve(problem, "lbfgs", budget=3 * 60, seed=0, bounds_width=0.5, init="sample")
    X = np.concatenate(seen)
    assert np.all(np.abs(X) <= 0.5 + 1e-6)
