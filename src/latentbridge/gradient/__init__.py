"""White-box and hybrid optimizers: gradients through the generator and scorer, budgets in forward-equivalents.

Every optimizer here evaluates through :meth:`LatentProblem.evaluate_grad` (one batched
value-and-gradient evaluation per step, seen by observers like any evaluation) and
spends a budget counted in forward-equivalents: a gradient evaluation costs
``problem.grad_cost`` forward passes, measured per model (``benchmarks/gradient_cost.py``),
so their runs compare with evolutionary ones at matched cost::

    from latentbridge.gradient import solve
    res = solve(problem, "adam", budget=1000, seed=0, lr=0.1)
    res.n_grad_evals, res.forward_equivalents, res.wall_time

Optimizers (one module each):

- ``adam`` (:func:`adam`): StyleGAN2's projector: Adam with learning-rate ramp-up and
  cosine ramp-down, latent-noise ramp, optional prior penalty, restarts to spend the budget;
- ``basin-cma`` (:func:`basin_cma`): pix2latent's BasinCMA: CMA-ES proposals refined by
  Adam, CMA-ES told the refined fitness (``cma`` package);
- ``lbfgs`` (:func:`lbfgs`): scipy's L-BFGS-B with restarts from prior samples.
"""

from __future__ import annotations

from ._adam import adam, adam_chains, learning_rate
from ._basin_cma import basin_cma
from ._lbfgs import lbfgs
from ._run import BudgetExhausted, GradientRun
from ._solve import OPTIMIZERS, GradientOptimizer, check_params, optimizer_names, solve

__all__ = [
    "OPTIMIZERS",
    "BudgetExhausted",
    "GradientOptimizer",
    "GradientRun",
    "adam",
    "adam_chains",
    "basin_cma",
    "check_params",
    "learning_rate",
    "lbfgs",
    "optimizer_names",
    "solve",
]
