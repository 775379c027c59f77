"""pymoo adapter: latentbridge problems as vectorized pymoo problems, the seeds' operators as pymoo operators.

Importing this package imports pymoo (``pip install 'latentbridge[pymoo]'``); ``import
latentbridge`` alone never does. One module per job, all re-exported here:

- ``_problem`` — :func:`as_pymoo` / :class:`PymooProblem` (any
  :class:`~latentbridge.LatentProblem` as a pymoo ``Problem`` with
  ``elementwise=False``: one batched ``evaluate`` per population) and
  :class:`LatentSampling` (initial populations from the latent prior);
- ``_operators`` — :class:`BLXAlpha`, :class:`UniformCrossover`,
  :class:`GaussianMutation`, :class:`CreepMutation`: pymoo operators (``_do`` contract)
  around the numpy kernels of :mod:`latentbridge.operators`, clipping offspring to the
  box of bounded pymoo problems;
- ``_selection`` — :class:`TournamentSelection`;
- ``_algorithms`` — :class:`GenerationalGA` (the seeds' GA, with an array-only fast
  path) and :class:`PriorRandomSearch`;
- ``_presets`` — :func:`paper_ga` (seed 000), :func:`set_ga` (seed 002) and
  :func:`random_search`;
- ``_make`` — names: :func:`algorithm_names`, :func:`algorithm_facts`,
  :func:`make_algorithm` (from the one table of algorithm facts);
- ``_solve`` — :func:`solve`: run a preset or any pymoo algorithm by name on a
  latentbridge problem under an exact evaluation budget, watched by a
  :class:`~latentbridge.Tracker`, and return an :class:`~latentbridge.OptimizeResult`.

Example:
    >>> from latentbridge.pymoo import solve                      # doctest: +SKIP
    >>> res = solve(problem, "paper-ga", budget=20_000, seed=0)   # doctest: +SKIP
    >>> res.best, res.n_evals                                     # doctest: +SKIP
"""

from __future__ import annotations

from ..errors import missing_extra

try:
    import pymoo  # noqa: F401
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("pymoo", "pymoo", _exc) from _exc

from .._algorithm_facts import AlgorithmFacts
from ._algorithms import GenerationalGA, PriorRandomSearch
from ._make import algorithm_facts, algorithm_names, make_algorithm, min_population
from ._operators import BLXAlpha, CreepMutation, GaussianMutation, UniformCrossover
from ._presets import paper_ga, random_search, set_ga
from ._problem import LatentSampling, PymooProblem, as_pymoo
from ._selection import TournamentSelection
from ._solve import solve

__all__ = [
    # problem
    "LatentSampling",
    "PymooProblem",
    "as_pymoo",
    # operators
    "BLXAlpha",
    "CreepMutation",
    "GaussianMutation",
    "TournamentSelection",
    "UniformCrossover",
    # algorithms and presets
    "GenerationalGA",
    "PriorRandomSearch",
    "paper_ga",
    "random_search",
    "set_ga",
    # names and running
    "AlgorithmFacts",
    "algorithm_facts",
    "algorithm_names",
    "make_algorithm",
    "min_population",
    "solve",
]
