"""Quality-diversity algorithms by name, each one pyribs archive + emitters + scheduler (nothing re-implemented).

========== ===================================================================== ===========
name       pyribs components                                                      gradients
========== ===================================================================== ===========
map-elites ``GridArchive`` + ``IsoLineEmitter`` (iso+line; or ``GaussianEmitter``)  no
cma-me     ``GridArchive`` + ``EvolutionStrategyEmitter`` (two-stage improvement)   no
cma-mae    soft ``GridArchive`` (``learning_rate``) + ``EvolutionStrategyEmitter``  no
cma-mega   ``GridArchive`` + ``GradientArborescenceEmitter``                        yes
cma-maega  soft ``GridArchive`` + ``GradientArborescenceEmitter``                   yes
========== ===================================================================== ===========

Step sizes are in units of the latent prior's standard deviation (multiplied by its mean
std), and every emitter starts at the prior mean (``map-elites`` from prior samples).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import InputError, UnknownNameError, missing_extra
from ._archive import new_ribs_archive
from ._grid import Grid
from ._problem import QualityDiversity

__all__ = ["ALGORITHMS", "QDAlgorithm", "algorithm", "algorithm_names"]

_RANKERS = ("imp", "2imp", "obj", "2obj", "rd", "2rd", "2combinedobj", "2combinedrd")


@dataclass(frozen=True)
class QDAlgorithm:
    """One named quality-diversity algorithm: its defaults and how pyribs builds it.

    Attributes:
        name: ``map-elites``, ``cma-me``, ``cma-mae``, ``cma-mega`` or ``cma-maega``.
        description: One line.
        gradient: Whether it needs objective and measure gradients (``ask_dqd``/``tell_dqd``).
        defaults: Its parameters and their defaults (every accepted parameter is here).
        reference: Where the defaults come from.
    """

    name: str
    description: str
    gradient: bool
    defaults: Mapping[str, Any]
    reference: str
    _build: Callable[[QualityDiversity, Grid, dict[str, Any], np.random.SeedSequence], Any] = field(repr=False)

    def params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults updated with ``given``; unknown names and bad values raise one clear error."""
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise InputError(f"{self.name} does not take {unknown}; it accepts {sorted(self.defaults)}")
        out = {**self.defaults, **given}
        for key in ("emitters", "batch_size"):
            v = out[key]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"{self.name}: {key} must be a positive int, got {v!r}")
            out[key] = int(v)
        for key in ("sigma", "iso_sigma", "line_sigma", "lr"):
            if key in out and not (
                isinstance(out[key], (int, float)) and not isinstance(out[key], bool) and out[key] > 0
            ):
                raise InputError(f"{self.name}: {key} must be a number > 0, got {out[key]!r}")
        if "learning_rate" in out and not (
            isinstance(out["learning_rate"], (int, float)) and 0 < out["learning_rate"] < 1
        ):
            raise InputError(
                f"{self.name}: learning_rate must be in (0, 1) (1 is cma-me's elitist archive), "
                f"got {out['learning_rate']!r}"
            )
        if "ranker" in out and out["ranker"] not in _RANKERS:
            raise InputError(f"{self.name}: ranker must be one of {_RANKERS}, got {out['ranker']!r}")
        if "variation" in out and out["variation"] not in ("iso-line", "gaussian"):
            raise InputError(f"{self.name}: variation must be 'iso-line' or 'gaussian', got {out['variation']!r}")
        return out

    def build(self, problem: QualityDiversity, grid: Grid, params: dict[str, Any], seed: int) -> Any:
        """A pyribs ``Scheduler`` for ``problem`` on ``grid``, deterministic under ``seed``."""
        return self._build(problem, grid, params, np.random.SeedSequence(seed))

    def iteration_size(self, params: Mapping[str, Any]) -> int:
        """Evaluations one ask/tell iteration makes (gradient evaluations included, one per emitter)."""
        return int(params["emitters"]) * (int(params["batch_size"]) + (1 if self.gradient else 0))


def _ribs() -> Any:
    try:
        import ribs.emitters as emitters
        import ribs.schedulers as schedulers
    except ImportError as exc:
        raise missing_extra("ribs", "qd", exc) from exc
    return emitters, schedulers


def _seeds(ss: np.random.SeedSequence, n: int) -> list[int]:
    return [int(s.generate_state(1)[0]) for s in ss.spawn(n)]


def _scale(problem: QualityDiversity) -> float:
    return float(np.mean(problem.latent.std))


def _x0(problem: QualityDiversity) -> np.ndarray:
    return np.asarray(problem.latent.mean, dtype=np.float64).copy()


def _archives(problem: QualityDiversity, grid: Grid, params: dict[str, Any], seed: int) -> Any:
    lr = params.get("learning_rate")
    tmin = params.get("threshold_min")
    if lr is None:
        return new_ribs_archive(grid, problem.dim, seed=seed)
    return new_ribs_archive(
        grid,
        problem.dim,
        learning_rate=float(lr),
        threshold_min=grid.qd_offset if tmin is None else float(tmin),
        seed=seed,
    )


def _build_map_elites(problem: QualityDiversity, grid: Grid, p: dict[str, Any], ss: np.random.SeedSequence) -> Any:
    em, sch = _ribs()
    seeds = _seeds(ss, p["emitters"] + 2)
    archive = _archives(problem, grid, p, seeds[0])
    rng = np.random.default_rng(seeds[1])
    s = _scale(problem)
    emitters = []
    for i in range(p["emitters"]):
        init = problem.sample(p["batch_size"], rng)
        if p["variation"] == "iso-line":
            e = em.IsoLineEmitter(
                archive,
                iso_sigma=p["iso_sigma"] * s,
                line_sigma=p["line_sigma"] * s,
                initial_solutions=init,
                batch_size=p["batch_size"],
                seed=seeds[2 + i],
            )
        else:
            e = em.GaussianEmitter(
                archive, sigma=p["sigma"] * s, initial_solutions=init, batch_size=p["batch_size"], seed=seeds[2 + i]
            )
        emitters.append(e)
    return sch.Scheduler(archive, emitters)


def _build_es(problem: QualityDiversity, grid: Grid, p: dict[str, Any], ss: np.random.SeedSequence) -> Any:
    em, sch = _ribs()
    seeds = _seeds(ss, p["emitters"] + 1)
    archive = _archives(problem, grid, p, seeds[0])
    emitters = [
        em.EvolutionStrategyEmitter(
            archive,
            x0=_x0(problem),
            sigma0=p["sigma"] * _scale(problem),
            ranker=p["ranker"],
            selection_rule=p["selection_rule"],
            restart_rule=p["restart_rule"],
            batch_size=p["batch_size"],
            seed=seeds[1 + i],
        )
        for i in range(p["emitters"])
    ]
    return sch.Scheduler(archive, emitters)


def _build_dqd(problem: QualityDiversity, grid: Grid, p: dict[str, Any], ss: np.random.SeedSequence) -> Any:
    em, sch = _ribs()
    seeds = _seeds(ss, p["emitters"] + 1)
    archive = _archives(problem, grid, p, seeds[0])
    s = _scale(problem)
    emitters = [
        em.GradientArborescenceEmitter(
            archive,
            x0=_x0(problem),
            sigma0=p["sigma"] * s,
            lr=p["lr"] * s,
            ranker=p["ranker"],
            selection_rule=p["selection_rule"],
            restart_rule=p["restart_rule"],
            grad_opt=p["grad_opt"],
            batch_size=p["batch_size"],
            seed=seeds[1 + i],
        )
        for i in range(p["emitters"])
    ]
    return sch.Scheduler(archive, emitters)


_ES = {"emitters": 5, "batch_size": 30, "sigma": 0.2}
_DQD = {"emitters": 5, "batch_size": 29, "sigma": 0.2, "lr": 0.1, "grad_opt": "gradient_ascent"}
_MAE = {"learning_rate": 0.01, "threshold_min": None}

ALGORITHMS: Mapping[str, QDAlgorithm] = MappingProxyType(
    {
        a.name: a
        for a in (
            QDAlgorithm(
                "map-elites",
                "MAP-Elites with iso+line variation of random elites (pyribs IsoLineEmitter)",
                False,
                MappingProxyType(
                    {
                        "emitters": 1,
                        "batch_size": 150,
                        "variation": "iso-line",
                        "iso_sigma": 0.1,
                        "line_sigma": 0.2,
                        "sigma": 0.2,
                    }
                ),
                "Vassiliades & Mouret 2018 (iso+line); pyribs examples/sphere.py line_map_elites; 150 per iteration "
                "as lsi_mnist's 5 x 30",
                _build_map_elites,
            ),
            QDAlgorithm(
                "cma-me",
                "CMA-ME: CMA-ES emitters ranked by two-stage improvement (pyribs EvolutionStrategyEmitter)",
                False,
                MappingProxyType(
                    {**_ES, "ranker": "2imp", "selection_rule": "filter", "restart_rule": "no_improvement"}
                ),
                "pyribs lsi_mnist: 5 emitters x 30, sigma0 0.2, ranker 2imp",
                _build_es,
            ),
            QDAlgorithm(
                "cma-mae",
                "CMA-MAE: CMA-ME on a soft archive (learning rate 0.01, threshold_min = the QD offset)",
                False,
                MappingProxyType({**_ES, **_MAE, "ranker": "imp", "selection_rule": "mu", "restart_rule": "basic"}),
                "pyribs cma_mae tutorial and examples/sphere.py cma_mae (imp, mu, basic, learning_rate 0.01)",
                _build_es,
            ),
            QDAlgorithm(
                "cma-mega",
                "CMA-MEGA: gradient arborescence around a point moved by gradient ascent (needs gradients)",
                True,
                MappingProxyType({**_DQD, "ranker": "2imp", "selection_rule": "mu", "restart_rule": "no_improvement"}),
                "pyribs examples/sphere.py cma_mega (gradient_ascent, mu); sigma/lr ours for a N(0, I) latent",
                _build_dqd,
            ),
            QDAlgorithm(
                "cma-maega",
                "CMA-MAEGA: CMA-MEGA on a soft archive (needs gradients)",
                True,
                MappingProxyType({**_DQD, **_MAE, "ranker": "imp", "selection_rule": "mu", "restart_rule": "basic"}),
                "pyribs examples/sphere.py cma_maega and the StyleGAN2+CLIP tutorial (imp, mu, basic, learning_rate)",
                _build_dqd,
            ),
        )
    }
)


def algorithm_names() -> list[str]:
    """The quality-diversity algorithms :func:`latentbridge.qd.solve` knows."""
    return sorted(ALGORITHMS)


def algorithm(name: str) -> QDAlgorithm:
    """The algorithm called ``name``, or an :class:`~latentbridge.errors.UnknownNameError` listing the known ones."""
    if not isinstance(name, str) or name not in ALGORITHMS:
        import difflib

        close = difflib.get_close_matches(str(name), ALGORITHMS, n=2)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownNameError(
            f"unknown quality-diversity algorithm {name!r}.{hint} Known: {', '.join(algorithm_names())}"
        )
    return ALGORITHMS[name]
