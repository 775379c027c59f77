"""``lbfgs``: scipy's L-BFGS-B on the latent, restarted from prior samples until the budget is spent."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._run import BudgetExhausted, GradientRun

__all__ = ["lbfgs"]

#: What L-BFGS-B is told instead of ``+inf`` for a failed evaluation (it needs finite values).
_FAILED = 1e30


def lbfgs(
    run: GradientRun,
    *,
    memory: int = 10,
    maxiter: int = 1000,
    bounds_width: float | None = None,
    init: str = "mean",
    gtol: float = 1e-6,
) -> dict[str, Any]:
    """L-BFGS-B (``scipy.optimize.minimize``) in prior-normalised coordinates, restarted until the budget is spent.

    One gradient evaluation per function call (L-BFGS is sequential: no batching). The
    first start is the prior mean (``init="mean"``) or a prior sample (``"sample"``); each
    restart, after convergence (projected gradient below ``gtol``) or ``maxiter``
    iterations, starts from a new prior sample. ``bounds_width`` keeps every coordinate
    within that many prior standard deviations of the mean (None: unbounded).

    Returns:
        ``{"restarts": ...}`` for the result's ``extra``.
    """
    from scipy.optimize import minimize

    def fun(u: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        f, g = run.value_grad(u[None, :])
        if not np.isfinite(f[0]):
            return _FAILED, np.zeros_like(u)
        return float(f[0]), g[0]

    bounds = None if bounds_width is None else [(-bounds_width, bounds_width)] * run.dim
    restarts = 0
    while run.affordable() > 0:
        u0 = run.rng.standard_normal(run.dim)
        if restarts == 0 and init == "mean":
            u0[:] = 0.0
        if bounds_width is not None:
            u0 = np.clip(u0, -bounds_width, bounds_width)
        restarts += 1
        options = {"maxcor": memory, "maxiter": maxiter, "maxfun": run.affordable(), "gtol": gtol}
        try:
            with warnings.catch_warnings():  # scipy warns when maxfun stops it: that is the budget, not a problem
                warnings.simplefilter("ignore", RuntimeWarning)
                minimize(fun, u0, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        except BudgetExhausted:
            break
    return {"restarts": restarts}
