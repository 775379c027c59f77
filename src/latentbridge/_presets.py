"""The seeds' GA settings, defined once for the pymoo presets and nevergrad's registry entries.

``latentbridge.pymoo.paper_ga`` / ``set_ga`` take their defaults from here, and
``latentbridge.nevergrad`` registers ``"LatentPaperGA"`` / ``"LatentSetGA"`` (and gives
``SeedGA`` its defaults) from the same values: same operators, probabilities and
population sizes under the same names. The two implementations are not identical:
the nevergrad GA works in nevergrad's standardized space (mutation ``sigma`` / ``step``
in prior-std units, which are value units only for a ``N(0, 1)`` prior) and evaluates
every offspring it asks, where pymoo's GA reuses the fitness of offspring identical to
a parent. Their random streams differ too, so the same seed gives different runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

#: Seed 000 (StyleGAN2 + FaceNet): population 200, tournament 3, BLX-α (α=0.2) on each pair
#: with probability 0.75, Gaussian mutation N(0, 1) of each gene with probability 0.001,
#: generational replacement (DEAP ``eaSimple``: no elite).
PAPER_GA: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "pop_size": 200,
        "tournament_size": 3,
        "alpha": 0.2,
        "p_crossover": 0.75,
        "mu": 0.0,
        "sigma": 1.0,
        "p_mutation": 0.001,
        "elitism": 0,
    }
)

#: Seed 002 (set diversity): tournament, uniform crossover, creep mutation, elitism 1. The
#: seed gives no other number; population 100, tournament 3, swap 0.5 on every pair, creep
#: ``U(-0.1, 0.1)`` of each gene with probability 0.1 are latentbridge's choices.
SET_GA: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "pop_size": 100,
        "tournament_size": 3,
        "swap": 0.5,
        "p_crossover": 1.0,
        "step": 0.1,
        "p_mutation": 0.1,
        "elitism": 1,
    }
)
