"""``adam``: Adam on the latent, in the style of StyleGAN2's projector (learning-rate ramps, latent noise, restarts)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._run import GradientRun

__all__ = ["adam", "adam_chains", "learning_rate"]


def learning_rate(t: float, lr: float, rampup: float, rampdown: float) -> float:
    """StyleGAN2 projector's schedule at progress ``t`` in [0, 1): linear ramp-up, cosine ramp-down.

    ``lr · min(1, t / rampup) · (0.5 - 0.5 cos(π · min(1, (1 - t) / rampdown)))``; a ramp of
    length 0 is switched off.
    """
    down = 1.0 if rampdown <= 0 else min(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * math.cos(down * math.pi)
    if rampup > 0:
        ramp *= min(1.0, t / rampup)
    return lr * ramp


def adam_chains(
    run: GradientRun,
    U0: NDArray[np.float64],
    steps: int,
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    rampup: float = 0.0,
    rampdown: float = 0.0,
    noise: float = 0.0,
    noise_ramp: float = 0.75,
    prior_weight: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Run ``len(U0)`` independent Adam chains for ``steps`` steps, one batched gradient evaluation per step.

    At progress ``t = step / steps`` the gradient is taken at ``u + ε``, ``ε ~ N(0,
    (noise · max(0, 1 - t / noise_ramp)²)²)`` (the projector's latent-noise ramp), and the
    step size follows :func:`learning_rate`. ``prior_weight`` adds ``prior_weight ·
    mean(u²)`` (1 on average under the prior) to the loss the chains descend; the fitness
    they report is the problem's own.

    Returns:
        ``(best_u, best_f)``: per chain, the evaluated point with the lowest fitness and that fitness
        (``+inf`` where every evaluation failed). The budget may stop the chains early
        (:class:`~latentbridge.gradient._run.BudgetExhausted` propagates after the bests are
        kept in ``run``'s tracker).
    """
    U = np.array(U0, dtype=np.float64, copy=True)
    m1, m2 = np.zeros_like(U), np.zeros_like(U)
    best_f = np.full(U.shape[0], np.inf)
    best_u = U.copy()
    b1, b2 = betas
    for i in range(steps):
        t = i / steps
        scale = noise * max(0.0, 1.0 - t / noise_ramp) ** 2 if noise_ramp > 0 else 0.0
        Un = U + scale * run.rng.standard_normal(U.shape) if scale > 0 else U
        f, g = run.value_grad(Un)
        if f.shape[0] < U.shape[0]:  # the budget cut this step short: keep what was seen, then stop
            better = f < best_f[: f.shape[0]]
            best_f[: f.shape[0]][better], best_u[: f.shape[0]][better] = f[better], Un[: f.shape[0]][better]
            break
        better = f < best_f
        best_f[better], best_u[better] = f[better], Un[better]
        if prior_weight:
            g = g + prior_weight * 2.0 * Un / U.shape[1]
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b2 * m2 + (1 - b2) * g * g
        step = learning_rate(t, lr, rampup, rampdown)
        U = U - step * (m1 / (1 - b1 ** (i + 1))) / (np.sqrt(m2 / (1 - b2 ** (i + 1))) + eps)
    return best_u, best_f


def adam(
    run: GradientRun,
    *,
    lr: float = 0.1,
    steps: int = 200,
    parallel: int = 1,
    betas: tuple[float, float] = (0.9, 0.999),
    rampup: float = 0.05,
    rampdown: float = 0.25,
    noise: float = 0.05,
    noise_ramp: float = 0.75,
    prior_weight: float = 0.0,
    init: str = "mean",
) -> dict[str, Any]:
    """StyleGAN2-projector Adam with restarts until the budget is spent.

    Each restart runs ``parallel`` chains (one batched gradient evaluation per step) for
    ``steps`` steps, or fewer when the budget left is smaller, with the projector's
    schedule: learning rate ``lr`` (in prior standard deviations) ramped up over the first
    ``rampup`` and down (cosine) over the last ``rampdown`` of the restart, latent noise
    ``noise`` (prior std) decaying quadratically to 0 at ``noise_ramp``. The first restart
    starts from the prior mean (``init="mean"``, as the projector starts from ``w_avg``;
    its other chains from prior samples) or from prior samples (``init="sample"``); later
    restarts from prior samples.

    Returns:
        ``{"restarts": ...}`` for the result's ``extra``.
    """
    restarts = 0
    while run.affordable() > 0:
        chains = min(parallel, run.affordable())
        n_steps = min(steps, run.affordable() // chains)
        U0 = run.rng.standard_normal((chains, run.dim))
        if restarts == 0 and init == "mean":
            U0[0] = 0.0
        adam_chains(
            run,
            U0,
            n_steps,
            lr=lr,
            betas=betas,
            rampup=rampup,
            rampdown=rampdown,
            noise=noise,
            noise_ramp=noise_ramp,
            prior_weight=prior_weight,
        )
        restarts += 1
    return {"restarts": restarts}
