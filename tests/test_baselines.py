"""Seed 002's baselines: random search and MAP-Elites (pyribs) on the set-diversity problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.baselines import image_descriptors, map_elites, random_search
from latentbridge.errors import InputError
from latentbridge.testing import tiny_generator


@pytest.fixture(scope="module")
def gen() -> lb.TorchGenerator:
    return tiny_generator(8, (1, 8, 8), seed=0)


@pytest.fixture
def sd(gen: lb.TorchGenerator) -> lb.SetDiversity:
    return lb.SetDiversity(gen, lb.load_scorer("ncc"), k=3, batch_size=96)


def test_random_search_exact_budget_and_best(sd: lb.SetDiversity) -> None:
    res = random_search(sd, 130, seed=0, batch=50)
    assert res.n_evals == sd.n_evals == 130
    assert res.trace.evals == [50, 100, 130]
    assert res.x.shape == (24,)
    np.testing.assert_allclose(sd.evaluate(res.x[None]), res.best, rtol=1e-6)
    assert np.all(np.diff(res.trace.best) <= 0)


def test_random_search_deterministic(sd: lb.SetDiversity) -> None:
    a, b = random_search(sd, 60, seed=1, batch=20), random_search(sd, 60, seed=1, batch=20)
    np.testing.assert_array_equal(a.x, b.x)
    # batch size does not change which samples are drawn from one generator: same stream, same best
    c = random_search(sd, 60, seed=1, batch=60)
    np.testing.assert_array_equal(a.x, c.x)


def test_image_descriptors_shape_and_range() -> None:
    imgs = torch.rand(5, 3, 1, 8, 8) * 2 - 1
    d = image_descriptors(imgs)
    assert d.shape == (5, 2)
    assert torch.all(d[:, 0].abs() <= 1)
    assert torch.all((d[:, 1] >= 0) & (d[:, 1] <= 1))


def test_map_elites_runs_and_is_deterministic(sd: lb.SetDiversity) -> None:
    res = map_elites(sd, 150, seed=0, batch=30, cells=5)
    assert res.n_evals == sd.n_evals == 150
    assert res.optimizer == "map-elites"
    assert 0 < res.extra["coverage"] <= 1
    assert res.extra["num_elites"] >= 1
    assert res.extra["descriptor_names"] == ["mean_intensity", "mean_contrast"]
    np.testing.assert_allclose(sd.evaluate(res.x[None]), res.best, rtol=1e-6)
    assert np.all(np.diff(res.trace.best) <= 0)
    again = map_elites(sd, 150, seed=0, batch=30, cells=5)
    np.testing.assert_array_equal(res.x, again.x)
    assert res.trace.best == again.trace.best


def test_map_elites_custom_descriptors_and_ranges(sd: lb.SetDiversity) -> None:
    def one(images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(1, 2, 3, 4)).unsqueeze(1)

    res = map_elites(sd, 60, seed=0, batch=20, cells=[4], descriptors=one, ranges=[(-1.0, 1.0)])
    assert res.extra["ranges"] == [(-1.0, 1.0)]
    assert res.n_evals == 60


def test_baseline_errors(sd: lb.SetDiversity, gen: lb.TorchGenerator) -> None:
    with pytest.raises(InputError, match="n_init"):
        map_elites(sd, 10, seed=0, batch=20)
    with pytest.raises(InputError, match="p_mutation"):
        map_elites(sd, 100, seed=0, p_mutation=1.5)
    with pytest.raises(InputError, match="cells"):
        map_elites(sd, 100, seed=0, batch=20, cells=[3, 3, 3])
    target = torch.zeros(1, 8, 8)
    mo = lb.TargetSimilarity(gen, [lb.load_scorer("rmse"), lb.load_scorer("ncc")], target)
    with pytest.raises(InputError, match="single-objective"):
        random_search(mo, 10, seed=0)
    with pytest.raises(InputError, match="budget"):
        random_search(sd, 0, seed=0)
