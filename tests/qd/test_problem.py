"""QualityDiversity: one forward per chunk for objective and measures, ranges, offsets, gradients."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.errors import InputError
from latentbridge.measures import Boldness, ClassProbability, Lightness, Similarity
from latentbridge.qd import Grid, QualityDiversity


class _CountingGenerator:
    """Wraps a generator and counts its forward passes."""

    def __init__(self, gen: lb.TorchGenerator) -> None:
        self.gen = gen
        self.calls = 0
        self.latent, self.image_shape, self.device = gen.latent, gen.image_shape, gen.device

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.gen.generate(z)


def test_objective_and_measures_come_from_one_forward_per_chunk(
    tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor
) -> None:
    gen = _CountingGenerator(tiny_gen)
    p = QualityDiversity(
        gen, Similarity(lb.load_scorer("rmse"), tiny_target), ["boldness", "lightness"], ranges=[(0, 64), (0.5, 1)]
    )
    p.batch_size = 4
    gen.calls = 0  # construction estimated the objective's offset from prior samples
    Z = p.sample(10, seed=1)
    obj, meas = p.evaluate_qd(Z)
    assert gen.calls == 3
    assert p.n_evals == 10
    with torch.inference_mode():
        imgs = tiny_gen.generate(torch.tensor(Z, dtype=torch.float32))
    assert obj == pytest.approx(
        Similarity(lb.load_scorer("rmse"), tiny_target).measure(imgs).double().numpy(), abs=1e-6
    )
    assert meas[:, 0] == pytest.approx(Boldness().measure(imgs).double().numpy())
    assert meas[:, 1] == pytest.approx(Lightness().measure(imgs).double().numpy(), abs=1e-6)
    assert p.evaluate(Z) == pytest.approx(-obj)  # as a LatentProblem: fitness -objective, minimised


def test_listeners_receive_the_measures(tiny_qd: QualityDiversity) -> None:
    seen: list[lb.Evaluation] = []
    with tiny_qd.observe(seen.append):
        tiny_qd.evaluate(tiny_qd.sample(6, seed=0))
        obj, meas = tiny_qd.evaluate_qd(tiny_qd.sample(4, seed=1))
    assert [e.n for e in seen] == [6, 4]
    assert all(e.D is not None and e.D.shape == (e.n, 2) for e in seen)
    assert pytest.approx(meas) == seen[1].D
    assert -seen[1].F[:, 0] == pytest.approx(obj)


def test_ranges_known_given_or_estimated_and_recorded(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    obj = Similarity(lb.load_scorer("rmse"), tiny_target)
    p = QualityDiversity(tiny_gen, obj, ["boldness", "lightness"], ranges=[None, (0.6, 0.9)], n_estimate=50)
    assert p.ranges[0] == (0.0, 64.0)
    assert p.ranges[1] == (0.6, 0.9)
    assert p.range_sources == ("known", "given")
    assert p.offset_source == "estimated"
    cfg = p.config()
    json.dumps(cfg)
    assert cfg["estimate"] == {"n": 50, "seed": 0, "margin": 0.1}
    assert cfg["qd_offset"] == p.qd_offset
    assert cfg["measure_names"] == ["boldness", "lightness"]
    # the offset is the estimated minimum widened by 10 % of the range: every prior sample counts positively
    vals, _ = p.sample_values(50, 0)
    assert p.qd_offset == pytest.approx(vals.min() - 0.1 * (vals.max() - vals.min()))
    again = QualityDiversity(tiny_gen, obj, ["boldness", "lightness"], ranges=[None, (0.6, 0.9)], n_estimate=50)
    assert again.qd_offset == p.qd_offset
    assert again.config_hash() == p.config_hash()
    other = QualityDiversity(
        tiny_gen, obj, ["boldness", "lightness"], ranges=[None, (0.6, 0.9)], n_estimate=50, estimate_seed=1
    )
    assert other.config_hash() != p.config_hash()


def test_estimated_measure_ranges_cover_the_prior_samples(tiny_qd: QualityDiversity) -> None:
    tiny = QualityDiversity(
        tiny_qd.generator, tiny_qd.objective, [Boldness(unit="fraction")], ranges=None, n_estimate=100
    )
    assert tiny.range_sources == ("known",)  # fraction: (0, 1)
    pca_like = QualityDiversity(tiny_qd.generator, tiny_qd.objective, [tiny_qd.objective], n_estimate=100, margin=0.0)
    _, meas = pca_like.sample_values(100, 0)
    assert pca_like.ranges[0] == pytest.approx((meas.min(), meas.max()))
    assert pca_like.range_sources == ("estimated",)


def test_known_objective_bounds_give_the_offset() -> None:
    gen = lb.load_generator("mnist-dcgan")
    p = QualityDiversity(gen, ClassProbability(8), ["boldness", "lightness"])
    assert p.qd_offset == 0.0
    assert p.offset_source == "known"
    assert not p.estimated
    assert p.ranges == ((0.0, 784.0), (0.5, 1.0))  # lsi_mnist's ranges
    assert p.grid(200) == Grid((200, 200), ((0.0, 784.0), (0.5, 1.0)), 0.0, ("boldness", "lightness"))
    assert QualityDiversity(gen, ClassProbability(8), "boldness", qd_offset=-1.0).qd_offset == -1.0


def test_gradients_match_finite_differences(tiny_qd: QualityDiversity) -> None:
    Z = tiny_qd.sample(3, seed=2)
    obj, meas, jac = tiny_qd.evaluate_qd_grad(Z)
    assert jac.shape == (3, 3, tiny_qd.dim)
    o2, m2 = tiny_qd.evaluate_qd(Z)
    assert obj == pytest.approx(o2, abs=1e-6)
    assert meas == pytest.approx(m2, abs=1e-6)
    rng = np.random.default_rng(0)
    eps = 1e-2
    for _ in range(3):
        d = rng.standard_normal(tiny_qd.dim)
        d /= np.linalg.norm(d)
        op, mp = tiny_qd.evaluate_qd(Z + eps * d)
        om, mm = tiny_qd.evaluate_qd(Z - eps * d)
        fd = (np.c_[op, mp] - np.c_[om, mm]) / (2 * eps)
        assert jac @ d == pytest.approx(fd, rel=0.05, abs=1e-3)


def test_gradient_evaluations_are_counted_and_observed(tiny_qd: QualityDiversity) -> None:
    seen: list[lb.Evaluation] = []
    with tiny_qd.observe(seen.append):
        tiny_qd.evaluate_qd_grad(tiny_qd.sample(5, seed=0))
    assert tiny_qd.n_evals == 5
    assert tiny_qd.n_grad_evals == 5
    assert seen[0].n == 5
    assert seen[0].D is not None
    assert seen[0].first == 0
    tiny_qd.reset_counter()
    assert tiny_qd.n_grad_evals == 0
    assert tiny_qd.n_evals == 0


def test_gradients_need_differentiable_measures(hard_qd: QualityDiversity) -> None:
    assert not hard_qd.differentiable
    with pytest.raises(InputError, match=r"\['boldness', 'lightness'\] are not"):
        hard_qd.evaluate_qd_grad(hard_qd.sample(2, seed=0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objective": "boldness", "measures": []}, "at least one measure"),
        ({"objective": "boldness", "measures": ["lightness", "lightness"]}, "distinct"),
        ({"objective": "boldness", "measures": ["lightness"], "ranges": [(1, 0)]}, "low < high"),
        ({"objective": "boldness", "measures": ["lightness"], "ranges": [None, None]}, "1 entries"),
        ({"objective": "boldness", "measures": ["lightness"], "qd_offset": float("nan")}, "qd_offset"),
        ({"objective": 3, "measures": ["lightness"]}, "latentbridge.Measure"),
    ],
)
def test_bad_arguments_raise_one_clear_error(tiny_gen: lb.TorchGenerator, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        QualityDiversity(tiny_gen, **kwargs)


def test_objective_must_have_one_column(tiny_gen: lb.TorchGenerator) -> None:
    from latentbridge.measures import EmbeddingPCA

    imgs = torch.rand(10, 1, 8, 8) * 2 - 1
    with pytest.raises(InputError, match="one column"):
        QualityDiversity(tiny_gen, EmbeddingPCA(lb.load_scorer("rmse"), images=imgs), ["boldness"])


def test_problem_pickles_and_repr(tiny_qd: QualityDiversity) -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(tiny_qd))
    Z = tiny_qd.sample(3, seed=0)
    assert copy.evaluate_qd(Z)[0] == pytest.approx(tiny_qd.evaluate_qd(Z)[0])
    assert "boldness" in repr(tiny_qd)
    assert tiny_qd.name.startswith("quality-diversity-")
