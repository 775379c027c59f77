"""What a white-box optimizer sees: value and gradient in prior-normalised coordinates, under an exact budget."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .._problems import LatentProblem
from .._tracking import Tracker

__all__ = ["BudgetExhausted", "GradientRun"]


class BudgetExhausted(Exception):
    """Raised inside an optimizer when the next gradient evaluation no longer fits the budget (caught by ``solve``)."""


class GradientRun:
    """One run's evaluation interface: gradients at ``u``, where a solution is ``x = loc + scale · u``.

    ``u`` is the latent in units of its prior (``u ~ N(0, I)`` for prior samples), so
    learning rates and step sizes mean the same in z, w and w+ spaces. Each call of
    :meth:`value_grad` is one :meth:`~latentbridge.LatentProblem.evaluate_grad` batch,
    watched by the run's :class:`~latentbridge.Tracker`; a batch that would overshoot the
    budget is cut to the rows that fit, and :class:`BudgetExhausted` is raised once
    nothing more fits.

    Args:
        problem: A single-objective problem.
        tracker: The run's tracker (observing ``problem``), whose budget is in forward-equivalents.
        rng: The run's random generator (inits, latent noise).

    Attributes:
        cost: Forward-equivalents of one gradient evaluation (``problem.grad_cost``).
        dim: Length of a solution.
    """

    def __init__(self, problem: LatentProblem, tracker: Tracker, rng: np.random.Generator) -> None:
        self.problem = problem
        self.tracker = tracker
        self.rng = rng
        self.cost = float(problem.grad_cost)
        self.dim = problem.dim
        self.loc = np.tile(problem.latent.mean.reshape(-1), problem.k)
        self.scale = np.tile(problem.latent.std.reshape(-1), problem.k)

    def affordable(self) -> int:
        """How many more gradient evaluations the budget allows."""
        if self.tracker.budget is None:
            return 2**62
        left = self.tracker.budget - self.tracker.forward_equivalents
        return max(0, math.floor(left / self.cost + 1e-9))

    def to_x(self, U: NDArray[np.float64]) -> NDArray[np.float64]:
        """Solutions ``x`` of normalised latents ``U`` ``(m, dim)``."""
        out: NDArray[np.float64] = self.loc + self.scale * U
        return out

    def to_u(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """Normalised latents of solutions ``X``."""
        out: NDArray[np.float64] = (X - self.loc) / self.scale
        return out

    def value_grad(self, U: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fitness ``(m',)`` and its gradient with respect to ``u`` ``(m', dim)`` for the first ``m'`` rows of ``U``.

        ``m' = min(m, affordable())``; failed (non-finite) rows come back as ``+inf`` with
        a zero gradient.

        Raises:
            BudgetExhausted: nothing fits any more (no evaluation was made).
        """
        U = np.atleast_2d(np.asarray(U, dtype=np.float64))
        m = min(U.shape[0], self.affordable())
        if m == 0:
            raise BudgetExhausted
        F, G = self.problem.evaluate_grad(self.to_x(U[:m]))
        g: NDArray[np.float64] = G[:, 0] * self.scale
        return F[:, 0], g

    def best_u(self) -> NDArray[np.float64] | None:
        """The run's best solution so far in normalised coordinates (None before any finite evaluation)."""
        x = self.tracker.best_x
        return None if x is None else self.to_u(x)
