from __future__ import annotations

import numpy as np
import torch

import latentbridge as lb
from latentbridge.augment.supervise import SupervisorProblem, run_supervisor


def _gen() -> lb.TorchGenerator:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 36), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 6, 6)))
    return lb.TorchGenerator(net, lb.LatentSpace((4,)), (1, 6, 6))


def test_without_classifier_equals_centroid_diversity() -> None:
    gen, ncc = _gen(), lb.load_scorer("ncc")
    orig = np.random.default_rng(0).uniform(-1, 1, (5, 1, 6, 6)).astype(np.float32)
    ours = SupervisorProblem(gen, ncc, orig, k=3)
    ref = lb.CentroidDiversity(gen, ncc, orig, k=3)
    Z = ours.sample(7, seed=0)
    np.testing.assert_array_equal(ours.evaluate(Z), ref.evaluate(Z))
    assert ours.first_batch is not None
    assert ours.first_batch[0].shape == (7, 12)


def test_class_consistency_penalty() -> None:
    gen, ncc = _gen(), lb.load_scorer("ncc")
    orig = np.random.default_rng(0).uniform(-1, 1, (5, 1, 6, 6)).astype(np.float32)

    def proba(x: np.ndarray) -> np.ndarray:  # p(class 1) = fraction of bright pixels
        p1 = (x.reshape(len(x), -1) > 0).mean(axis=1)
        return np.stack([1 - p1, p1], axis=1)

    cc = SupervisorProblem(gen, ncc, orig, k=3, proba=proba, label=1, weight=0.5)
    ref = lb.CentroidDiversity(gen, ncc, orig, k=3)
    Z = cc.sample(4, seed=1)
    imgs = np.stack([cc.render(z).numpy() for z in Z])
    expected = ref.evaluate(Z) + 0.5 * (1 - proba(imgs.reshape(-1, 1, 6, 6))[:, 1].reshape(4, 3)).mean(axis=1)
    np.testing.assert_allclose(cc.evaluate(Z), expected, rtol=1e-6)
    assert cc.config()["consistency_weight"] == 0.5


def test_run_supervisor_improves_on_first_generation() -> None:
    gen, ncc = _gen(), lb.load_scorer("ncc")
    orig = np.random.default_rng(0).uniform(-1, 1, (5, 1, 6, 6)).astype(np.float32)
    run = run_supervisor(SupervisorProblem(gen, ncc, orig, k=3), budget=60, seed=0, pop_size=10)
    again = run_supervisor(SupervisorProblem(gen, ncc, orig, k=3), budget=60, seed=0, pop_size=10)
    assert run.n_evals == 60
    assert run.images.shape == (3, 1, 6, 6)
    assert run.latents.shape == (3, 4)
    assert run.fitness <= run.first_fitness
    np.testing.assert_array_equal(run.images, again.images)
