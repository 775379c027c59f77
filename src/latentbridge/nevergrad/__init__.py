"""nevergrad adapter: latent parametrization, batched driver, the seeds' GAs and an ExperimentFunction.

nevergrad's ``ask()`` hands out one candidate at a time; a GAN objective is only fast in
batches, so :func:`minimize` asks up to ``batch`` candidates, evaluates them with *one*
``problem.evaluate`` call and tells the losses back. Any optimizer of nevergrad's registry
can be passed (``"NGOpt"``, ``"CMA"``, ``"DiagonalCMA"``, ``"TwoPointsDE"``, ``"PSO"``...),
as can an optimizer instance or a ``ConfiguredOptimizer``; those that fail upstream raise
one latentbridge error (``docs/optimizers.md`` lists how every registry name fares)::

    import latentbridge.nevergrad as lbng
    res = lbng.minimize(problem, "TwoPointsDE", budget=4000, batch=200, seed=0)
    res.best, res.x.shape, res.trace.as_array()[-1]

Importing this package imports nevergrad (``pip install 'latentbridge[nevergrad]'``;
``import latentbridge`` alone never does) and registers the seeds' genetic algorithms in
``nevergrad.optimizers.registry`` (idempotently): ``"LatentPaperGA"`` (seed 000: pop 200,
tournament 3, BLX-α α=0.2 with p=0.75, Gaussian N(0, 1) mutation per gene with p=0.001,
generational) and ``"LatentSetGA"`` (seed 002: tournament, uniform crossover, creep
mutation, elitism 1). One module per job, all public names re-exported here:

- ``_parametrization`` — :func:`parametrization`: an ``ng.p.Array`` over flattened
  solutions, centred on the prior;
- ``_names`` — :func:`lookup` (a registry name, with close matches), :func:`configure`
  (a ``ConfiguredOptimizer`` with overrides) and :func:`check_params` (a name and its
  parameters checked without building anything; :mod:`latentbridge.optimizers` uses it);
- ``_failures`` — every exception raised inside nevergrad or a package it imports as one
  latentbridge error (missing package, unsupported version, upstream failure);
- ``_recast`` — the background threads of nevergrad's scipy-style "recast" optimizers:
  one computes at a time, all are stopped when a run ends;
- ``_driver`` — :func:`minimize`: resolve the optimizer, build it with its batch plan
  (CMA-ES populations, optimizers that cannot batch), the ask/evaluate/tell loop, seeding;
- ``_seed_gas`` — :class:`SeedGA` (the seeds' generational GA as a nevergrad optimizer)
  and :func:`register_seed_gas`;
- ``_light`` — the driver's shortcuts (``fast=True``), gated on the nevergrad versions
  they were checked against in one place;
- ``_experiment`` — :class:`LatentExperiment`, a ``nevergrad.functions.ExperimentFunction``
  for nevergrad's benchmark machinery.
"""

from __future__ import annotations

from ..errors import missing_extra

try:
    import nevergrad  # noqa: F401
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    if getattr(_exc, "name", None) and not str(_exc.name).startswith("nevergrad"):
        raise
    raise missing_extra("nevergrad", "nevergrad", _exc) from _exc

from ._driver import minimize
from ._experiment import LatentExperiment
from ._names import check_params, configure, lookup
from ._parametrization import parametrization
from ._seed_gas import SeedGA, register_seed_gas

__all__ = [
    # parametrization and driver
    "minimize",
    "parametrization",
    # names
    "check_params",
    "configure",
    "lookup",
    # the seeds' GAs
    "LatentPaperGA",
    "LatentSetGA",
    "SeedGA",
    "register_seed_gas",
    # benchmarking
    "LatentExperiment",
]

_REGISTERED = register_seed_gas()
#: Seed 000's GA (``nevergrad.optimizers.registry["LatentPaperGA"]``).
LatentPaperGA: SeedGA = _REGISTERED["LatentPaperGA"]
#: Seed 002's set GA (``nevergrad.optimizers.registry["LatentSetGA"]``).
LatentSetGA: SeedGA = _REGISTERED["LatentSetGA"]
