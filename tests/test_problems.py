"""Batched problems: contracts, batched == one-at-a-time, chunking, seed-002 definitions, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.errors import ImageShapeError, InputError, LatentShapeError
from latentbridge.testing import tiny_generator


class SpyGenerator:
    """Wraps a generator and records the batch size of each call."""

    def __init__(self, inner: lb.TorchGenerator) -> None:
        self.inner = inner
        self.calls: list[int] = []
        self.latent = inner.latent
        self.image_shape = inner.image_shape
        self.device = inner.device

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        self.calls.append(int(z.shape[0]))
        assert torch.is_inference_mode_enabled()
        return self.inner.generate(z)


@pytest.fixture
def problems(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> dict[str, lb.LatentProblem]:
    rng = np.random.default_rng(0)
    originals = rng.uniform(-1, 1, (12, 1, 8, 8)).astype(np.float32)
    return {
        "target": lb.TargetSimilarity(tiny_gen, lb.RMSEScorer(), tiny_target, batch_size=7),
        "target-mo": lb.TargetSimilarity(
            tiny_gen, [lb.RMSEScorer(), lb.NCCScorer()], [tiny_target, -tiny_target], batch_size=5
        ),
        "set-rmse": lb.SetDiversity(tiny_gen, lb.RMSEScorer(), k=3, batch_size=7),
        "set-ncc": lb.SetDiversity(tiny_gen, lb.NCCScorer(), k=4, batch_size=9),
        "centroid": lb.CentroidDiversity(tiny_gen, lb.NCCScorer(), originals, k=3, batch_size=8),
    }


@pytest.mark.parametrize("key", ["target", "target-mo", "set-rmse", "set-ncc", "centroid"])
def test_batched_equals_one_at_a_time(problems: dict[str, lb.LatentProblem], key: str) -> None:
    p = problems[key]
    Z = p.sample(23, seed=1)
    batched = p.evaluate(Z)
    single = np.stack([p.evaluate(z) for z in Z]).reshape(batched.shape)
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-6)
    assert batched.shape == ((23,) if p.n_obj == 1 else (23, p.n_obj))
    assert batched.dtype == np.float64
    assert p.n_evals == 46


@pytest.mark.parametrize("key", ["target", "set-ncc", "centroid"])
def test_input_is_not_modified(problems: dict[str, lb.LatentProblem], key: str) -> None:
    p = problems[key]
    for dtype in (np.float32, np.float64):
        Z = p.sample(5, seed=2).astype(dtype)
        before = Z.copy()
        p.evaluate(Z)
        np.testing.assert_array_equal(Z, before)


def test_chunks_never_exceed_batch_size(tiny_gen: lb.TorchGenerator) -> None:
    spy = SpyGenerator(tiny_gen)
    p = lb.SetDiversity(spy, lb.NCCScorer(), k=3, batch_size=10)  # type: ignore[arg-type]
    p.evaluate(p.sample(50, seed=0))
    assert max(spy.calls) <= 10
    assert sum(spy.calls) == 150
    assert len(spy.calls) == 17  # 3 sets (9 images) per chunk


def test_target_similarity_reaches_zero_at_the_target_latent(
    tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor
) -> None:
    p = lb.TargetSimilarity(tiny_gen, lb.RMSEScorer(), tiny_target)
    z_star = np.random.default_rng(123).standard_normal((1, 8)).astype(np.float32)
    assert p.evaluate(z_star)[0] == pytest.approx(0.0, abs=1e-6)
    assert p.evaluate(p.sample(10, seed=0)).min() > 0.01


def test_multi_objective_layout_is_scorer_major(
    problems: dict[str, lb.LatentProblem], tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor
) -> None:
    p = problems["target-mo"]
    assert p.n_obj == 4
    Z = p.sample(6, seed=3)
    F = p.evaluate(Z)
    only = lb.TargetSimilarity(tiny_gen, lb.NCCScorer(), -tiny_target).evaluate(Z)
    np.testing.assert_allclose(F[:, 3], only, rtol=1e-5)
    mean = lb.TargetSimilarity(
        tiny_gen, [lb.RMSEScorer(), lb.NCCScorer()], [tiny_target, -tiny_target], aggregate="mean"
    )
    np.testing.assert_allclose(mean.evaluate(Z), F.mean(axis=1), rtol=1e-5)


def test_set_diversity_is_seed_002_mean_pairwise_similarity(tiny_gen: lb.TorchGenerator) -> None:
    k = 4
    ncc = lb.SetDiversity(tiny_gen, lb.NCCScorer(), k=k)
    rmse = lb.SetDiversity(tiny_gen, lb.RMSEScorer(), k=k)
    z = ncc.sample(1, seed=5)
    imgs = ncc.render(z[0]).numpy().reshape(k, -1)
    x01 = (imgs + 1) / 2
    nccs, rmses = [], []
    for i in range(k):
        for j in range(i + 1, k):
            a, b = x01[i], x01[j]
            nccs.append(np.mean((a - a.mean()) * (b - b.mean())) / (a.std() * b.std()))
            rmses.append(np.sqrt(np.mean((a - b) ** 2)))
    assert ncc.evaluate(z)[0] == pytest.approx(np.mean(nccs), rel=1e-4)
    assert rmse.evaluate(z)[0] == pytest.approx(-np.mean(rmses), rel=1e-4)
    assert rmse.diversity(z)[0] == pytest.approx(np.mean(rmses), rel=1e-4)


def test_centroid_diversity_matches_seed_002_definition(tiny_gen: lb.TorchGenerator) -> None:
    rng = np.random.default_rng(1)
    originals = rng.uniform(-1, 1, (5, 1, 8, 8)).astype(np.float32)
    p = lb.CentroidDiversity(tiny_gen, lb.NCCScorer(), originals, k=3)
    z = p.sample(1, seed=0)
    gen = p.render(z[0]).numpy()
    centroid = np.concatenate([originals, gen]).mean(axis=0).ravel()
    vals = []
    for g in gen:
        a, b = g.ravel(), centroid
        vals.append(np.mean((a - a.mean()) * (b - b.mean())) / (a.std() * b.std()))
    assert p.evaluate(z)[0] == pytest.approx(np.mean(vals), rel=1e-4)


def test_render_and_metadata(problems: dict[str, lb.LatentProblem]) -> None:
    p = problems["set-ncc"]
    assert p.dim == 32
    assert p.k == 4
    imgs = p.render(p.sample(1, seed=0)[0])
    assert imgs.shape == (4, 1, 8, 8)
    assert imgs.device.type == "cpu"
    lo, hi = p.bounds()
    assert lo.shape == hi.shape == (32,)
    cfg = p.config()
    assert json.loads(json.dumps(cfg))["kind"] == "set-diversity"
    assert p.name.startswith("set-diversity-")
    before = p.n_evals
    p.render(p.sample(1, seed=0)[0])
    assert p.n_evals == before  # rendering is not an evaluation
    p.reset_counter()
    assert p.n_evals == 0


def test_config_hash_is_stable_and_distinguishes_instances(
    tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor
) -> None:
    a = lb.TargetSimilarity(tiny_gen, lb.RMSEScorer(), tiny_target, batch_size=4)
    b = lb.TargetSimilarity(tiny_generator(seed=0), lb.RMSEScorer(), tiny_target.clone(), batch_size=64)
    c = lb.TargetSimilarity(tiny_gen, lb.RMSEScorer(), -tiny_target)
    assert a.config_hash() == b.config_hash()  # batch size is not part of the instance
    assert a.config_hash() != c.config_hash()


def test_bad_latents_get_one_clear_error(problems: dict[str, lb.LatentProblem]) -> None:
    p = problems["set-rmse"]
    with pytest.raises(LatentShapeError, match=r"shape \(n, 24\)"):
        p.evaluate(np.zeros((2, 8)))
    with pytest.raises(LatentShapeError, match="NaN"):
        p.evaluate(np.full((2, 24), np.nan))
    before = p.n_evals
    with pytest.raises(LatentShapeError):
        p.evaluate(np.zeros((2, 3, 8)))
    assert p.n_evals == before


def test_bad_construction(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    with pytest.raises(InputError, match="k >= 2"):
        lb.SetDiversity(tiny_gen, lb.NCCScorer(), k=1)
    with pytest.raises(InputError, match="batch_size"):
        lb.SetDiversity(tiny_gen, lb.NCCScorer(), batch_size=0)
    with pytest.raises(ImageShapeError, match=r"\(1, 8, 8\)"):
        lb.TargetSimilarity(tiny_gen, lb.NCCScorer(), np.zeros((3, 28, 28), np.float32))
    with pytest.raises(InputError, match="LatentGenerator"):
        lb.TargetSimilarity(object(), lb.NCCScorer(), tiny_target)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="Scorer"):
        lb.TargetSimilarity(tiny_gen, object(), tiny_target)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="non-empty"):
        lb.TargetSimilarity(tiny_gen, lb.NCCScorer(), [])
    with pytest.raises(ImageShapeError, match="originals"):
        lb.CentroidDiversity(tiny_gen, lb.NCCScorer(), np.zeros((8, 8), np.float32))


def test_generator_lying_about_its_shape_is_caught(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    liar = lb.TorchGenerator(tiny_gen.module, tiny_gen.latent, (1, 8, 8))
    liar._image_shape = (1, 4, 4)  # simulate a plugin bug
    p = lb.TargetSimilarity(liar, lb.RMSEScorer(), np.zeros((1, 4, 4), np.float32))
    with pytest.raises(ImageShapeError, match="image_shape says"):
        p.evaluate(p.sample(2, seed=0))


def test_evaluate_with_descriptors_uses_the_same_images(problems: dict[str, lb.LatentProblem]) -> None:
    p = problems["set-ncc"]
    Z = p.sample(11, seed=4)
    seen: list[tuple[int, ...]] = []

    def describe(images: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(images.shape))
        return images.mean(dim=(1, 2, 3, 4)).unsqueeze(1)

    before = p.n_evals
    F, D = p.evaluate_with(Z, describe)
    np.testing.assert_allclose(F, p.evaluate(Z))
    assert D.shape == (11, 1)
    assert all(s[1:] == (4, 1, 8, 8) for s in seen)
    assert sum(s[0] for s in seen) == 11
    expected = np.stack([p.render(z).mean().item() for z in Z])
    np.testing.assert_allclose(D[:, 0], expected, rtol=1e-5)
    assert p.n_evals == before + 22
