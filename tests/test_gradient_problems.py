"""``LatentProblem.evaluate_grad``: gradients against finite differences, memory chunks, counting, observers, errors.

The problems take float32 latents (``check_latents``), so the finite differences run in
float32: central differences along a few random unit directions with a step that keeps
rounding noise small. ReLU/max-pool kinks of the embedded models make those differences
a little rougher than the smooth pixel scorers', hence the two tolerances.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.data import heldout_digit
from latentbridge.errors import LatentShapeError, NotDifferentiableError
from latentbridge.precision import PrecisionWarning
from latentbridge.testing import tiny_generator


def directional_error(problem: lb.LatentProblem, Z: np.ndarray, h: float, n_dir: int = 3) -> float:
    """Relative L2 error of ``G·v`` against central differences of ``evaluate`` over rows, objectives, directions."""
    _, G = problem.evaluate_grad(Z)
    V = np.random.default_rng(7).standard_normal((n_dir, problem.dim))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    fd = np.stack(
        [
            (problem.evaluate(Z + h * v).reshape(len(Z), -1) - problem.evaluate(Z - h * v).reshape(len(Z), -1))
            / (2 * h)
            for v in V
        ],
        axis=-1,
    )  # (n, n_obj, n_dir)
    an = G @ V.T
    return float(np.linalg.norm(fd - an) / np.linalg.norm(an))


@pytest.fixture(scope="module")
def dcgan() -> Any:
    return lb.load_generator("mnist-dcgan")


@pytest.fixture(scope="module")
def embed() -> Any:
    return lb.load_scorer("mnist-embed")


@pytest.mark.parametrize("scorer", ["rmse", "ncc"])
def test_target_similarity_pixel_scorers_match_finite_differences(scorer: str, tiny_target: torch.Tensor) -> None:
    problem = lb.TargetSimilarity(tiny_generator(8, (1, 8, 8), seed=0), lb.load_scorer(scorer), tiny_target)
    assert directional_error(problem, problem.sample(6, seed=1), h=1e-2) < 1e-2


def test_target_similarity_embedded_models_match_finite_differences(dcgan: Any, embed: Any) -> None:
    problem = lb.TargetSimilarity(dcgan, embed, heldout_digit(3), batch_size=4)
    assert directional_error(problem, problem.sample(6, seed=1), h=1e-3) < 5e-2


def test_several_objectives_each_get_their_gradient(dcgan: Any, embed: Any) -> None:
    targets = [heldout_digit(3), heldout_digit(8)]
    problem = lb.TargetSimilarity(dcgan, [embed, lb.load_scorer("rmse")], targets, batch_size=3)
    Z = problem.sample(4, seed=2)
    F, G = problem.evaluate_grad(Z)
    assert F.shape == (4, 4)
    assert G.shape == (4, 4, 100)
    np.testing.assert_array_equal(F, problem.evaluate(Z))
    assert directional_error(problem, Z, h=1e-3) < 5e-2
    mean = lb.TargetSimilarity(dcgan, [embed, lb.load_scorer("rmse")], targets, aggregate="mean")
    Fm, Gm = mean.evaluate_grad(Z)
    np.testing.assert_allclose(Gm[:, 0], G.mean(axis=1), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(Fm[:, 0], F.mean(axis=1), rtol=1e-6)


@pytest.mark.parametrize("scorer", ["rmse", "ncc"])
def test_set_diversity_matches_finite_differences(scorer: str) -> None:
    problem = lb.SetDiversity(tiny_generator(8, (1, 8, 8), seed=0), lb.load_scorer(scorer), k=3, batch_size=4)
    assert directional_error(problem, problem.sample(5, seed=3), h=1e-2) < 1e-2


def test_set_diversity_on_the_embedded_scorer(dcgan: Any, embed: Any) -> None:
    problem = lb.SetDiversity(dcgan, embed, k=3, batch_size=6)
    assert directional_error(problem, problem.sample(3, seed=3), h=1e-3) < 5e-2


@pytest.mark.parametrize("scorer", ["rmse", "ncc"])
def test_centroid_diversity_matches_finite_differences(scorer: str, dcgan: Any) -> None:
    originals = np.stack([heldout_digit(3, i) for i in range(5)])
    problem = lb.CentroidDiversity(dcgan, lb.load_scorer(scorer), originals, k=2, batch_size=3)
    assert directional_error(problem, problem.sample(4, seed=4), h=1e-3) < 5e-2


@pytest.mark.parametrize("batch_size", [1, 2, 5, 7, 64])
def test_chunks_keep_whole_sets_and_give_the_same_gradients(batch_size: int) -> None:
    gen = tiny_generator(8, (1, 8, 8), seed=0)
    ref = lb.SetDiversity(gen, lb.load_scorer("rmse"), k=3, batch_size=64)
    problem = lb.SetDiversity(gen, lb.load_scorer("rmse"), k=3, batch_size=batch_size)
    calls: list[int] = []
    module = gen.module

    def spy(z: torch.Tensor) -> torch.Tensor:
        calls.append(z.shape[0])
        out: torch.Tensor = module(z)
        return out

    problem.generator = lb.TorchGenerator(spy, gen.latent, gen.image_shape, name="tiny")
    Z = ref.sample(7, seed=5)
    F0, G0 = ref.evaluate_grad(Z)
    F1, G1 = problem.evaluate_grad(Z)
    np.testing.assert_allclose(F1, F0, rtol=1e-6)
    np.testing.assert_allclose(G1, G0, rtol=1e-5, atol=1e-8)
    forwards = calls[2:]  # the first gradient evaluation checks the generator on one latent, twice
    assert all(c % 3 == 0 and c <= max(3, batch_size) for c in forwards)
    assert sum(forwards) == 7 * 3


def test_counted_separately_and_observed(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    problem = lb.TargetSimilarity(tiny_gen, lb.load_scorer("rmse"), tiny_target)
    problem.grad_cost = 2.5
    seen: list[lb.Evaluation] = []
    tracker = lb.Tracker(1, budget=10)
    with problem.observe(seen.append), problem.observe(tracker):
        problem.evaluate(problem.sample(3, seed=0))
        _, G = problem.evaluate_grad(problem.sample(4, seed=1))
    assert (problem.n_evals, problem.n_grad_evals) == (3, 4)
    plain, grad = seen
    assert not plain.gradient
    assert plain.G is None
    assert plain.cost == 1.0
    assert grad.gradient
    assert grad.cost == 2.5
    assert grad.first == 3
    assert grad.G is not None
    np.testing.assert_array_equal(grad.G, G)
    # budget 10 forward-equivalents: 3 plain + 2 gradient rows of 2.5 each; the other two do not count
    assert (tracker.n_evals, tracker.n_grad_evals, tracker.forward_equivalents) == (3, 2, 8.0)
    assert tracker.trace.evals == [3, 8]
    res = tracker.result("x")
    assert (res.n_evals, res.n_grad_evals, res.forward_equivalents) == (3, 2, 8.0)
    assert "n_grad_evals=2" in repr(res)
    problem.reset_counter()
    assert problem.n_grad_evals == 0


def test_grad_cost_from_the_measured_table(dcgan: Any, embed: Any) -> None:
    from latentbridge._chunks import GRAD_COST_DEFAULT, GRAD_COSTS

    p = lb.TargetSimilarity(dcgan, embed, heldout_digit(3))
    assert p.grad_cost == max(GRAD_COSTS["mnist-dcgan"], GRAD_COSTS["mnist-embed"])
    assert lb.SetDiversity(dcgan, lb.load_scorer("rmse"), k=2).grad_cost == GRAD_COSTS["mnist-dcgan"]
    tiny = lb.SetDiversity(tiny_generator(), lb.load_scorer("rmse"), k=2)
    assert tiny.grad_cost == GRAD_COST_DEFAULT
    with pytest.raises(lb.errors.InputError, match="grad_cost must be a finite number >= 1"):
        tiny.grad_cost = 0.5


def test_non_finite_rows_fail_with_zero_gradient(tiny_target: torch.Tensor) -> None:
    gen = tiny_generator(8, (1, 8, 8), seed=0)
    module = gen.module

    def sometimes_nan(z: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = module(z)
        poison = torch.where(z.detach()[:, :1, None, None] > 0, float("nan"), 0.0)  # NaN images for z[0] > 0
        return out + poison

    problem = lb.TargetSimilarity(
        lb.TorchGenerator(sometimes_nan, gen.latent, (1, 8, 8)), lb.load_scorer("rmse"), tiny_target
    )
    Z = problem.sample(8, seed=0)
    Z[:, 0] = np.where(np.arange(8) % 2 == 0, -1.0, 1.0)
    F, G = problem.evaluate_grad(Z)
    bad = np.arange(8) % 2 == 1
    assert np.all(np.isinf(F[bad, 0]))
    assert np.all(G[bad] == 0)
    assert np.all(np.isfinite(F[~bad]))
    assert problem.n_failed == 4


def test_caller_array_untouched_and_one_row_accepted(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    problem = lb.TargetSimilarity(tiny_gen, lb.load_scorer("ncc"), tiny_target)
    z = problem.sample(1, seed=0)[0]
    before = z.copy()
    F, G = problem.evaluate_grad(z)
    assert F.shape == (1, 1)
    assert G.shape == (1, 1, 8)
    np.testing.assert_array_equal(z, before)
    with pytest.raises(LatentShapeError, match=r"shape \(n, 8\)"):
        problem.evaluate_grad(np.zeros((2, 3)))


class NumpyScorer:
    """A scorer that leaves torch for numpy (so autograd cannot see through it)."""

    name = "numpy-pixels"
    device = torch.device("cpu")

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(images.detach().reshape(images.shape[0], -1).numpy().copy())

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cdist(a, b)


class InferenceOnly(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    @torch.inference_mode()
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.inner(z)
        return out


def test_a_numpy_scorer_is_named(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    problem = lb.TargetSimilarity(tiny_gen, NumpyScorer(), tiny_target)
    problem.evaluate(problem.sample(2, seed=0))  # plain evaluations still work
    with pytest.raises(NotDifferentiableError, match=r"scorer 'numpy-pixels' \(NumpyScorer\)"):
        problem.evaluate_grad(problem.sample(2, seed=0))
    assert problem.n_grad_evals == 0


def test_an_inference_only_generator_is_named(tiny_target: torch.Tensor) -> None:
    gen = tiny_generator(8, (1, 8, 8), seed=0)
    blocked = lb.TorchGenerator(InferenceOnly(gen.module), gen.latent, (1, 8, 8), name="frozen-mlp")
    problem = lb.SetDiversity(blocked, lb.load_scorer("rmse"), k=2)
    with pytest.raises(NotDifferentiableError, match=r"generator 'frozen-mlp' \(TorchGenerator\).*inference_mode"):
        problem.evaluate_grad(problem.sample(2, seed=0))


def test_an_in_place_generator_is_named(tiny_target: torch.Tensor) -> None:
    gen = tiny_generator(8, (1, 8, 8), seed=0)
    module = gen.module

    def in_place(z: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = module(z.mul_(1.0))
        return out

    problem = lb.TargetSimilarity(
        lb.TorchGenerator(in_place, gen.latent, (1, 8, 8), name="inplace"), lb.load_scorer("rmse"), tiny_target
    )
    problem.evaluate(problem.sample(2, seed=0))
    with pytest.raises(NotDifferentiableError, match=r"generator 'inplace'.*autograd cannot run it backwards"):
        problem.evaluate_grad(problem.sample(2, seed=0))


def test_bf16_gradient_points_where_fp32_does(dcgan: Any, embed: Any) -> None:
    fp32 = lb.TargetSimilarity(dcgan, embed, heldout_digit(3), batch_size=8)
    with warnings.catch_warnings():  # CPUs without native bf16 emulate it (PrecisionWarning); others do not warn
        warnings.simplefilter("ignore", PrecisionWarning)
        low = lb.TargetSimilarity(dcgan, embed, heldout_digit(3), batch_size=8, precision="bf16")
        Z = fp32.sample(6, seed=1)
        _, G32 = fp32.evaluate_grad(Z)
        _, G16 = low.evaluate_grad(Z)
    assert not np.array_equal(G16, G32)
    cos = np.sum(G32 * G16, axis=-1) / (np.linalg.norm(G32, axis=-1) * np.linalg.norm(G16, axis=-1))
    assert cos.min() > 0.9
