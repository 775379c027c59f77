"""The nevergrad driver's lighter parametrization tree (issue 7) changes no candidate and no state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.testing import tiny_generator

ng = pytest.importorskip("nevergrad")
lbng = pytest.importorskip("latentbridge.nevergrad")


@pytest.fixture(scope="module")
def target_problem() -> lb.TargetSimilarity:
    gen = tiny_generator(latent_dim=8, seed=0)
    z = torch.from_numpy(np.random.default_rng(42).standard_normal((1, 8)).astype(np.float32))
    return lb.TargetSimilarity(gen, lb.load_scorer("rmse"), gen.generate(z)[0], batch_size=64)


def _stock_items(param: Any) -> list[tuple[Any, Any]]:
    """What nevergrad's own Subobjects scan yields for ``param``."""
    from nevergrad.parametrization import utils

    sub = param._subobjects
    return list(utils.Subobjects.items(sub))


def _tree_state(param: Any) -> list[tuple[Any, ...]]:
    out = [(type(param).__name__, param._frozen, param._generation, len(param.parents_uids))]
    for _, child in _stock_items(param):
        out += _tree_state(child)
    return out


@pytest.mark.parametrize("bounded", [False, True])
def test_lighten_keeps_the_tree(target_problem: lb.TargetSimilarity, bounded: bool) -> None:
    stock = lbng.parametrization(target_problem, bounded=bounded, seed=0)
    light = lbng._lighten(lbng.parametrization(target_problem, bounded=bounded, seed=0))
    for p in (stock, light):
        p.freeze()
    kids = []
    for p in (stock, light):
        child = p.spawn_child()
        child.set_standardized_data(np.full(p.dimension, 0.5))
        assert child.satisfies_constraints(p)
        child.freeze()
        grandchild = child.spawn_child()
        kids.append((child, grandchild))
    (c0, g0), (c1, g1) = kids
    assert [k for k, _ in c1._subobjects.items()] == [k for k, _ in _stock_items(c1)]
    assert _tree_state(c0) == _tree_state(c1)
    assert _tree_state(g0) == _tree_state(g1)
    np.testing.assert_array_equal(c0.value, c1.value)
    assert type(c1._subobjects) is lbng._FixedSubobjects
    with pytest.raises(RuntimeError):
        c1.value = np.zeros(c1.dimension)  # frozen, as with the stock tree


def test_lighten_rescans_after_a_new_attribute(target_problem: lb.TargetSimilarity) -> None:
    light = lbng._lighten(lbng.parametrization(target_problem))
    extra = ng.p.Scalar()
    light.extra_param = extra  # a new sub-parameter: the recorded keys are stale, the count is not
    assert ("extra_param", extra) in light._subobjects.items()


@pytest.mark.parametrize("name", ["TwoPointsDE", "PSO", "OnePlusOne", "CMA", "RandomSearch"])
@pytest.mark.parametrize("bounded", [False, True])
def test_fast_driver_matches_stock(name: str, bounded: bool, target_problem: lb.TargetSimilarity) -> None:
    fast = lbng.minimize(target_problem, name, 60, batch=20, seed=7, bounded=bounded)
    slow = lbng.minimize(target_problem, name, 60, batch=20, seed=7, bounded=bounded, fast=False)
    np.testing.assert_array_equal(fast.x, slow.x)
    assert fast.trace.best == slow.trace.best
    np.testing.assert_array_equal(fast.extra["recommendation"], slow.extra["recommendation"])
