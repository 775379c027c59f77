"""The seeds' algorithms as ready-made pymoo algorithms: :func:`paper_ga`, :func:`set_ga`, :func:`random_search`.

Their defaults come from :mod:`latentbridge._presets`, shared with nevergrad's registry entries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from .._presets import PAPER_GA, SET_GA
from ._algorithms import GenerationalGA, PriorRandomSearch
from ._operators import BLXAlpha, CreepMutation, GaussianMutation, UniformCrossover
from ._selection import TournamentSelection

__all__ = ["PRESETS", "paper_ga", "random_search", "set_ga"]


def paper_ga(
    pop_size: int = PAPER_GA["pop_size"],
    alpha: float = PAPER_GA["alpha"],
    p_crossover: float = PAPER_GA["p_crossover"],
    sigma: float = PAPER_GA["sigma"],
    p_mutation: float = PAPER_GA["p_mutation"],
    tournament_size: int = PAPER_GA["tournament_size"],
    *,
    mu: float = PAPER_GA["mu"],
    elitism: int = PAPER_GA["elitism"],
) -> GenerationalGA:
    """Seed 000's GA (DEAP ``eaSimple`` with the paper's operators) as a pymoo algorithm.

    Population 200 sampled from the prior; tournament selection of size 3; BLX-α with
    ``α = 0.2`` applied to each pair with probability 0.75; Gaussian mutation ``N(0, 1)``
    of each gene with probability 0.001; *generational* replacement: the 200 offspring
    replace the population, with no elite by default (the seed uses DEAP's ``eaSimple``,
    which keeps none; the best solution ever seen is still reported, like DEAP's hall of
    fame). Offspring identical to a parent inherit its fitness (DEAP re-evaluates only
    individuals whose fitness was invalidated).

    Args:
        pop_size: Population size.
        alpha: BLX-α extension, ``>= 0``.
        p_crossover: Per-pair crossover probability.
        sigma: Gaussian mutation standard deviation.
        p_mutation: Per-gene mutation probability.
        tournament_size: Tournament size.
        mu: Gaussian mutation mean.
        elitism: Elites kept per generation (0 in the seed).

    Returns:
        A :class:`GenerationalGA`.
    """
    return GenerationalGA(
        pop_size,
        TournamentSelection(tournament_size),
        BLXAlpha(alpha, p_crossover),
        GaussianMutation(mu, sigma, p_mutation),
        elitism=elitism,
    )


def set_ga(
    pop_size: int = SET_GA["pop_size"],
    step: float = SET_GA["step"],
    p_mutation: float = SET_GA["p_mutation"],
    tournament_size: int = SET_GA["tournament_size"],
    *,
    swap: float = SET_GA["swap"],
    p_crossover: float = SET_GA["p_crossover"],
    elitism: int = SET_GA["elitism"],
) -> GenerationalGA:
    """Seed 002's GA for sets of latents: uniform crossover, creep mutation, tournament, elitism 1.

    Seed 002 gives no numbers beyond "elitism of 1"; the defaults (population 100,
    creep ``U(-0.1, 0.1)`` per gene with probability 0.1, tournament 3, swap 0.5 on
    every pair) are ours, shared with nevergrad's ``"LatentSetGA"``. Each generation
    the ``pop_size - 1`` offspring plus the best individual form the new pool.

    Args:
        pop_size: Pool size.
        step: Creep half-width (latent units).
        p_mutation: Per-gene creep probability.
        tournament_size: Tournament size.
        swap: Per-gene swap probability of the uniform crossover.
        p_crossover: Per-pair crossover probability.
        elitism: Elites kept per generation.

    Returns:
        A :class:`GenerationalGA`.
    """
    return GenerationalGA(
        pop_size,
        TournamentSelection(tournament_size),
        UniformCrossover(swap, p_crossover),
        CreepMutation(step, p_mutation),
        elitism=elitism,
    )


def random_search(pop_size: int = 100) -> PriorRandomSearch:
    """Random sampling from the latent prior, ``pop_size`` solutions per batch (seed 002's RS, batched)."""
    return PriorRandomSearch(pop_size=pop_size)


#: Preset name → factory, as :func:`~latentbridge.pymoo.solve` accepts them.
PRESETS: Final[Mapping[str, Callable[..., Any]]] = MappingProxyType(
    {"paper-ga": paper_ga, "set-ga": set_ga, "random": random_search}
)
