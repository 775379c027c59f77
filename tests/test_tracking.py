"""The one observation path: LatentProblem.observe, Tracker, non-finite policy, pickling."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge._tracking import hypervolume, nondominated
from latentbridge.errors import InputError, NonFiniteFitnessError, NonFiniteFitnessWarning


class NaNGenerator:
    """Returns NaN images for latents whose first coordinate is positive."""

    def __init__(self, inner: lb.TorchGenerator) -> None:
        self.inner = inner
        self.latent = inner.latent
        self.image_shape = inner.image_shape
        self.device = inner.device

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        imgs = self.inner.generate(z).clone()
        imgs[z[:, 0] > 0] = float("nan")
        return imgs


def test_observe_sees_every_batch_and_is_removed(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    p = lb.TargetSimilarity(tiny_gen, lb.RMSEScorer(), tiny_target, batch_size=4)
    seen: list[lb.Evaluation] = []
    Z = p.sample(10, seed=0)
    with p.observe(seen.append):
        F = p.evaluate(Z)
        p.evaluate(Z[:3])
    p.evaluate(Z)  # not observed
    assert [e.n for e in seen] == [10, 3]
    assert [e.first for e in seen] == [0, 10]
    np.testing.assert_array_equal(seen[0].X, Z)
    np.testing.assert_array_equal(seen[0].F[:, 0], F)
    assert seen[0].seconds >= 0


def test_observe_removes_listener_on_error(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    p = lb.TargetSimilarity(tiny_gen, lb.RMSEScorer(), tiny_target)
    seen: list[lb.Evaluation] = []
    with pytest.raises(RuntimeError), p.observe(seen.append):
        raise RuntimeError("boom")
    p.evaluate(p.sample(2, seed=0))
    assert seen == []


def test_tracker_single_objective_budget_and_trace() -> None:
    t = lb.Tracker(1, budget=5)
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    assert t.update(X[:3], [3.0, 1.0, 2.0]) == 3
    assert t.update(X[3:], [0.5, 0.1, -9.0]) == 2  # the last row is past the budget
    assert t.best_f == 0.1
    np.testing.assert_array_equal(t.best_x, X[4])
    assert t.trace.evals == [3, 5]
    assert t.trace.best == [1.0, 0.1]
    assert t.n_evals == 5
    assert t.n_seen == 6
    res = t.result("demo", seed=3)
    assert res.best == 0.1
    assert res.n_evals == 5
    assert res.seed == 3
    assert "demo" in repr(res)
    assert len(repr(res)) < 200


def test_tracker_counts_nonfinite_as_failed() -> None:
    t = lb.Tracker(1)
    t.update(np.zeros((3, 2)), [np.nan, np.inf, 4.0])
    assert t.n_failed == 2
    assert t.best_f == 4.0
    with pytest.warns(NonFiniteFitnessWarning, match="2 of 3"):
        res = t.result("x")
    assert res.n_failed == 2


def test_tracker_all_failed_raises() -> None:
    t = lb.Tracker(1)
    t.update(np.zeros((2, 2)), [np.nan, np.nan])
    with pytest.raises(NonFiniteFitnessError, match="all 2 evaluations"):
        t.result("x")


def test_tracker_front_and_hypervolume() -> None:
    t = lb.Tracker(2, ref_point=[4.0, 4.0])
    X = np.eye(4)
    t.update(X, [[1.0, 3.0], [3.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    assert t.front_F is not None
    assert t.front_F.shape == (3, 2)
    np.testing.assert_array_equal(t.front_F[:, 0], [1.0, 2.0, 3.0])  # sorted by first objective
    assert t.hv == pytest.approx(hypervolume(t.front_F, [4.0, 4.0]))
    assert t.hv == pytest.approx(6.0)
    assert t.score == -t.hv
    res = t.result("mo")
    assert res.extra["hypervolume"] == pytest.approx(6.0)


def test_tracker_rejects_bad_ref_point() -> None:
    with pytest.raises(InputError, match="ref_point"):
        lb.Tracker(2, ref_point=[1.0])


def test_nondominated_keeps_duplicates() -> None:
    F = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_array_equal(nondominated(F), [True, True, False])


def test_evaluate_scores_nonfinite_as_inf_and_counts(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> None:
    p = lb.TargetSimilarity(NaNGenerator(tiny_gen), lb.RMSEScorer(), tiny_target)
    Z = p.sample(40, seed=0)
    with p.observe(lb.Tracker(1)) as tracker:
        F = p.evaluate(Z)
    bad = Z[:, 0] > 0
    assert np.all(np.isinf(F[bad]))
    assert np.all(np.isfinite(F[~bad]))
    assert p.n_failed == tracker.n_failed == int(bad.sum())
    assert tracker.best_f == F[~bad].min()
    p.reset_counter()
    assert p.n_failed == 0


@pytest.mark.parametrize("clone", [pickle.loads, copy.deepcopy])
def test_problem_pickles_and_deep_copies(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor, clone: object) -> None:
    p = lb.TargetSimilarity(tiny_gen, lb.RMSEScorer(), tiny_target)
    Z = p.sample(5, seed=0)
    with p.observe(lambda e: None):
        q = clone(pickle.dumps(p)) if clone is pickle.loads else clone(p)  # type: ignore[operator]
    np.testing.assert_allclose(q.evaluate(Z), p.evaluate(Z))
    assert q._listeners == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q.reset_counter()


def test_tracker_minus_inf_is_a_failure_not_a_best() -> None:
    t = lb.Tracker(1, budget=3)
    X = np.arange(8, dtype=np.float64).reshape(4, 2)
    t.update(X[:2], [-np.inf, 2.0])
    t.update(X[2:], [1.0, np.nan])  # the NaN row is past the budget: not counted
    assert t.n_failed == 1
    assert t.best_f == 1.0
    np.testing.assert_array_equal(t.best_x, X[2])
    assert t.trace.best == [2.0, 1.0]
