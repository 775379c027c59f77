"""The classifier-feedback set fitnesses on fake classifiers whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.augment.selection import Coverage, Disagreement, SelectionProblem, Uncertainty, class_penalty
from latentbridge.errors import InputError


def _proba_from_mean(images: np.ndarray) -> np.ndarray:
    """Two classes: p(class 1) = the image's mean mapped from [-1, 1] to [0, 1]."""
    p1 = (images.reshape(len(images), -1).mean(axis=1) + 1) / 2
    return np.stack([1 - p1, p1], axis=1)


def _sets(*means: float, k: int = 2) -> np.ndarray:
    return np.stack([np.full((k, 1, 2, 2), m, np.float32) for m in means])


def test_class_penalty_is_the_fraction_of_images_the_checker_puts_in_another_class() -> None:
    imgs = _sets(1.0, -1.0, 0.4)
    assert class_penalty(_proba_from_mean, imgs, 1) == pytest.approx([0.0, 1.0, 0.0])
    mixed = np.concatenate([_sets(1.0, k=3), _sets(-1.0, k=1)], axis=1)  # one set: 3 in class, 1 not
    assert class_penalty(_proba_from_mean, mixed, 1) == pytest.approx([0.25])
    with pytest.raises(InputError, match="checker returned probabilities"):
        class_penalty(_proba_from_mean, imgs, 5)


def test_entropy_prefers_sets_at_the_decision_boundary() -> None:
    u = Uncertainty(_proba_from_mean, _proba_from_mean, 1, weight=0.0)
    f = u(_sets(1.0, 0.0, 0.5))
    assert f[1] == pytest.approx(-1.0)  # p = (0.5, 0.5): normalised entropy 1
    assert f[0] == pytest.approx(0.0, abs=1e-9)
    assert f[1] < f[2] < f[0]
    margin = Uncertainty(_proba_from_mean, _proba_from_mean, 1, weight=0.0, measure="margin")
    assert margin(_sets(0.0, 0.5)) == pytest.approx([-1.0, -0.5])


def test_the_checker_keeps_sets_in_their_class_without_rewarding_its_confidence() -> None:
    u = Uncertainty(_proba_from_mean, _proba_from_mean, 1, weight=1.0)
    off, on = u(_sets(-0.2, 0.2))  # equally uncertain, one leaning to the wrong class
    assert on < off
    near, far = u(_sets(0.1, 0.9))  # both in class: the more uncertain set wins, however sure the checker is
    assert near < far
    with pytest.raises(InputError, match="weight must be >= 0"):
        Uncertainty(_proba_from_mean, _proba_from_mean, 1, weight=-1.0)
    with pytest.raises(InputError, match="entropy' or 'margin'"):
        Uncertainty(_proba_from_mean, _proba_from_mean, 1, measure="gini")  # type: ignore[arg-type]


def test_bald_is_zero_when_passes_agree_and_high_when_confident_passes_disagree() -> None:
    def mc(images: np.ndarray) -> np.ndarray:
        n = len(images)
        agree = np.tile([[0.5, 0.5]], (n, 1))
        disagree = np.where(images.reshape(n, -1).mean(axis=1, keepdims=True) > 0, [[1.0, 0.0]], [[0.5, 0.5]])
        return np.stack([agree, disagree, np.tile([[0.0, 1.0]], (n, 1))])

    d = Disagreement(mc, _proba_from_mean, 0, weight=0.0)
    mi = d.bald(_sets(1.0, -1.0, k=1))
    assert mi[0, 0] > mi[1, 0] >= 0.0
    assert d(_sets(1.0, -1.0, k=1))[0] < d(_sets(1.0, -1.0, k=1))[1]
    with pytest.raises(InputError, match="passes"):
        Disagreement(lambda x: np.zeros((len(x), 2)), _proba_from_mean, 0)(_sets(0.0))


def test_coverage_rewards_sets_that_reach_every_original() -> None:
    originals = np.stack([np.full((1, 2, 2), v, np.float32) for v in (-1.0, 1.0)])

    def embed(images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), -1)[:, :1].astype(np.float64)

    cov = Coverage(embed, originals, _proba_from_mean, 0, weight=0.0)
    assert cov.scale == pytest.approx(2.0)
    spread = np.stack([np.concatenate([originals[:1], originals[1:]])])
    clumped = np.stack([np.concatenate([originals[:1], originals[:1]])])
    assert cov(spread)[0] == pytest.approx(0.0)
    assert cov(clumped)[0] == pytest.approx(0.5)  # one original at distance 2 = one scale, averaged over 2
    with pytest.raises(InputError, match="at least 2 originals"):
        Coverage(embed, originals[:1], _proba_from_mean, 0)


def test_selection_problem_searches_latents_and_keeps_its_first_batch() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 2, 2)))
    gen = lb.TorchGenerator(net, lb.LatentSpace((3,)), (1, 2, 2))
    problem = SelectionProblem(gen, Uncertainty(_proba_from_mean, _proba_from_mean, 1, weight=0.0), k=2, name="entropy")
    Z = np.random.default_rng(0).standard_normal((5, 6))
    F = problem(Z)
    assert F.shape == (5,)
    assert problem.first_batch is not None
    assert np.array_equal(problem.first_batch[0], Z)
    assert problem.config()["objective"] == "entropy"
    again = SelectionProblem(gen, lambda images: np.zeros(3), k=2)
    with pytest.raises(InputError, match="returned 3 values for 5 sets"):
        again(Z)
