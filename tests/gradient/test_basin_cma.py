"""BasinCMA: generations of CMA-ES proposals refined by Adam, the final refinement, diagonal covariance."""

from __future__ import annotations

import latentbridge as lb
from latentbridge.gradient import solve


def test_generations_then_refinement(problem: lb.TargetSimilarity) -> None:
    seen: list[int] = []
    with problem.observe(lambda e: seen.append(e.n)):
        res = solve(problem, "basin-cma", budget=3 * 100, seed=0, popsize=6, grad_steps=5)
    assert res.extra["generations"] == 3  # 3 x 6 x 5 = 90 gradient evaluations, then 10 refinement steps
    assert seen == [6] * 15 + [1] * 10
    assert res.extra["popsize"] == 6
    assert res.extra["diagonal"] is False  # 8 dimensions: full covariance


def test_lamarckian_and_diagonal_variants_run(problem: lb.TargetSimilarity) -> None:
    a = solve(problem, "basin-cma", budget=240, seed=0, popsize=4, grad_steps=5, lamarckian=True, diagonal=True)
    b = solve(problem, "basin-cma", budget=240, seed=0, popsize=4, grad_steps=5)
    assert a.extra["diagonal"] is True
    assert a.n_grad_evals == b.n_grad_evals == 80
    assert a.trace.best != b.trace.best
