"""Facts about optimizer names, in one table: what each algorithm needs and which problems it fits.

:mod:`latentbridge.pymoo` builds and refuses algorithms from this table and
:mod:`latentbridge.optimizers` decides applicability from it, without importing pymoo.
Adding a pymoo algorithm means adding one row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["PRESET_FACTS", "PYMOO_ALGORITHMS", "AlgorithmFacts", "pymoo_facts"]


@dataclass(frozen=True)
class AlgorithmFacts:
    """What latentbridge knows about one algorithm.

    Attributes:
        name: The canonical name (``"NSGA2"``, ``"paper-ga"``).
        target: ``"module:Class"`` of the pymoo class (empty for presets).
        multi_objective: Built for several objectives (the bench runs it on multi-objective
            problems only; single-objective algorithms refuse them).
        one_objective: Why it does not run on a single objective (None: it does);
            :func:`latentbridge.pymoo.solve` refuses it there with this reason.
        ref_dirs: Needs reference directions (latentbridge passes das-dennis ones).
        dedup_via_kwargs: Forwards ``eliminate_duplicates`` through ``**kwargs``.
        requires: Constructor arguments latentbridge cannot choose for you; without them
            ``solve`` refuses the algorithm and says which to pass.
        refused: Why latentbridge refuses the algorithm altogether (None: accepted).
        min_k: Smallest number of latents per solution it is meant for (bench rule).
    """

    name: str
    target: str = ""
    multi_objective: bool = False
    one_objective: str | None = None
    ref_dirs: bool = False
    dedup_via_kwargs: bool = False
    requires: tuple[str, ...] = ()
    refused: str | None = None
    min_k: int = 1


def _so(name: str, module: str, cls: str | None = None, **kw: object) -> AlgorithmFacts:
    return AlgorithmFacts(name, f"pymoo.algorithms.soo.nonconvex.{module}:{cls or name}", **kw)  # type: ignore[arg-type]


def _mo(name: str, module: str, cls: str | None = None, **kw: object) -> AlgorithmFacts:
    kw.setdefault("multi_objective", True)
    return AlgorithmFacts(name, f"pymoo.algorithms.moo.{module}:{cls or name}", **kw)  # type: ignore[arg-type]


_REF_DIRS = "its reference directions in objective space need at least two objectives"
_HV = "its survival ranks by hypervolume contribution, which needs at least two objectives"

#: Every pymoo algorithm :func:`latentbridge.pymoo.solve` knows by name.
PYMOO_ALGORITHMS: Final[Mapping[str, AlgorithmFacts]] = MappingProxyType(
    {
        f.name: f
        for f in (
            _so("GA", "ga"),
            _so("DE", "de"),
            _so("CMAES", "cmaes"),
            _so("PSO", "pso"),
            _so("ES", "es"),
            _so("SRES", "sres"),
            _so("ISRES", "isres"),
            _so("G3PCX", "g3pcx"),
            _so("NelderMead", "nelder"),
            _so("PatternSearch", "pattern"),
            _so("NRBO", "nrbo"),
            _so("NicheGA", "ga_niching"),
            _so("BRKGA", "brkga", refused="it searches random keys in [0, 1] through a problem-specific decoder"),
            _mo("NSGA2", "nsga2", dedup_via_kwargs=True),
            _mo("NSGA3", "nsga3", ref_dirs=True, one_objective=_REF_DIRS),
            _mo("UNSGA3", "unsga3", ref_dirs=True, one_objective=_REF_DIRS),
            _mo("RNSGA2", "rnsga2", requires=("ref_points",)),
            _mo("RNSGA3", "rnsga3", requires=("ref_points", "pop_per_ref_point"), one_objective=_REF_DIRS),
            _mo("MOEAD", "moead", ref_dirs=True, one_objective=_REF_DIRS),
            _mo("CTAEA", "ctaea", ref_dirs=True, one_objective=_REF_DIRS),
            _mo("AGEMOEA", "age", dedup_via_kwargs=True),
            _mo("AGEMOEA2", "age2", dedup_via_kwargs=True),
            _mo("SMSEMOA", "sms", dedup_via_kwargs=True, one_objective=_HV),
            _mo("SPEA2", "spea2", dedup_via_kwargs=True),
            _mo("RVEA", "rvea", ref_dirs=True, one_objective=_REF_DIRS),
            _mo(
                "DNSGA2",
                "dnsga2",
                refused="it is for time-varying problems and re-evaluates solutions outside the evaluation budget "
                "to detect change; latentbridge problems are static (use NSGA2)",
            ),
            _mo("GDE3", "gde3"),
            _mo("NSDE", "nsde"),
            _mo(
                "PINSGA2",
                "pinsga2",
                refused="it is interactive: it asks a human to rank solutions during the run",
            ),
        )
    }
)

#: latentbridge's presets (:mod:`latentbridge.pymoo` and the bench's built-in optimizers).
PRESET_FACTS: Final[Mapping[str, AlgorithmFacts]] = MappingProxyType(
    {
        "paper-ga": AlgorithmFacts("paper-ga"),
        "set-ga": AlgorithmFacts("set-ga", min_k=2),
        "random": AlgorithmFacts("random", multi_objective=True),
    }
)


def _norm(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


_BY_NORM = {_norm(n): f for n, f in (*PYMOO_ALGORITHMS.items(), *PRESET_FACTS.items())}


def pymoo_facts(name: str) -> AlgorithmFacts | None:
    """The facts of a preset or pymoo algorithm name (case, ``-`` and ``_`` ignored), or None."""
    return _BY_NORM.get(_norm(name))
