"""The named algorithms: what pyribs builds for each, their defaults and parameter checks."""

from __future__ import annotations

import pytest

from latentbridge.errors import InputError, UnknownNameError
from latentbridge.qd import ALGORITHMS, QualityDiversity, algorithm, algorithm_names


def test_names_and_gradient_flags() -> None:
    assert algorithm_names() == ["cma-mae", "cma-maega", "cma-me", "cma-mega", "map-elites"]
    assert [n for n in algorithm_names() if ALGORITHMS[n].gradient] == ["cma-maega", "cma-mega"]
    with pytest.raises(UnknownNameError, match="Did you mean 'cma-mae'"):
        algorithm("cma-ma")


@pytest.mark.parametrize(
    ("name", "emitter", "learning_rate"),
    [
        ("map-elites", "IsoLineEmitter", 1.0),
        ("cma-me", "EvolutionStrategyEmitter", 1.0),
        ("cma-mae", "EvolutionStrategyEmitter", 0.01),
        ("cma-mega", "GradientArborescenceEmitter", 1.0),
        ("cma-maega", "GradientArborescenceEmitter", 0.01),
    ],
)
def test_each_name_builds_pyribs_components(
    tiny_qd: QualityDiversity, name: str, emitter: str, learning_rate: float
) -> None:
    algo = algorithm(name)
    params = algo.params({})
    scheduler = algo.build(tiny_qd, tiny_qd.grid(8), params, seed=0)
    assert [type(e).__name__ for e in scheduler.emitters] == [emitter] * params["emitters"]
    assert float(scheduler.archive.learning_rate) == learning_rate
    if learning_rate < 1:
        assert float(scheduler.archive.threshold_min) == tiny_qd.qd_offset  # CMA-MAE's threshold_min
    assert algo.iteration_size(params) == 150  # every default iteration evaluates 150 latents


def test_gaussian_variation_and_rankers(tiny_qd: QualityDiversity) -> None:
    algo = algorithm("map-elites")
    s = algo.build(tiny_qd, tiny_qd.grid(8), algo.params({"variation": "gaussian"}), seed=0)
    assert type(s.emitters[0]).__name__ == "GaussianEmitter"
    assert algorithm("cma-me").defaults["ranker"] == "2imp"
    assert algorithm("cma-mae").defaults["ranker"] == "imp"


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("cma-me", {"emitters": 0}, "positive int"),
        ("cma-me", {"sigma": -1}, "> 0"),
        ("cma-mae", {"learning_rate": 1.0}, r"\(0, 1\)"),
        ("cma-me", {"ranker": "best"}, "ranker"),
        ("map-elites", {"variation": "cross"}, "variation"),
        ("map-elites", {"lr": 0.1}, "does not take"),
    ],
)
def test_bad_parameters(name: str, params: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        algorithm(name).params(params)
