"""The nevergrad driver's lighter parameter tree (issue 7) changes no candidate and no state."""

from __future__ import annotations

import re
import uuid
from typing import Any

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.testing import tiny_generator

ng = pytest.importorskip("nevergrad")
lbng = pytest.importorskip("latentbridge.nevergrad")
light = pytest.importorskip("latentbridge.nevergrad._light")


@pytest.fixture(scope="module")
def target_problem() -> lb.TargetSimilarity:
    gen = tiny_generator(latent_dim=8, seed=0)
    z = torch.from_numpy(np.random.default_rng(42).standard_normal((1, 8)).astype(np.float32))
    return lb.TargetSimilarity(gen, lb.load_scorer("rmse"), gen.generate(z)[0], batch_size=64)


def _stock_items(param: Any) -> list[tuple[Any, Any]]:
    """What nevergrad's own Subobjects scan yields for ``param``."""
    from nevergrad.parametrization import utils

    return list(utils.Subobjects.items(param._subobjects))


def _state(node: Any, uids: dict[str, str]) -> dict[str, Any]:
    """Every attribute of ``node``'s tree, comparable between a stock and a light tree.

    uids are random: each is checked to be a uuid4 and replaced by its order of first
    appearance (so parenthood links are still compared); layers by their types and
    indices; the random state by its content.
    """

    def uid(u: str) -> str:
        assert re.fullmatch(r"[0-9a-f]{32}", u)
        assert uuid.UUID(hex=u).version == 4
        return uids.setdefault(u, f"uid{len(uids)}")

    out: dict[str, Any] = {"__class__": "Array" if type(node).__name__ == "LeanArray" else type(node).__name__}
    for key, value in sorted(node.__dict__.items()):
        if key == "uid":
            out[key] = uid(value)
        elif key == "parents_uids":
            out[key] = [uid(u) for u in value]
        elif key == "heritage":
            out[key] = {k: uid(v) if k == "lineage" else v for k, v in value.items()}
        elif key == "_layers":
            assert value[0] is node
            assert all(x._layers is value for x in value)
            out[key] = [(type(x).__name__, x._layer_index, x.__dict__.keys() - {"_layers"}) for x in value[1:]]
        elif key == "_subobjects":
            assert value.obj is node
            out[key] = (value.attribute, [k for k, _ in _stock_items(node)], [k for k, _ in value.items()])
        elif key == "_random_state":
            out[key] = None if value is None else str(value.get_state())
        elif isinstance(value, np.ndarray):
            out[key] = (value.dtype, value.shape, value.tobytes())
        elif isinstance(value, ng.p.Parameter):
            out[key] = _state(value, uids)
        elif type(value).__module__.startswith("nevergrad") and not callable(value):
            out[key] = (type(value).__name__, vars(value))  # FunctionInfo...: compared by content
        elif key == "_content":
            out[key] = {k: _state(v, uids) for k, v in value.items()}
        else:
            out[key] = value
    return out


def _life(param: Any) -> list[dict[str, Any]]:
    """States of a candidate's life: spawned, given data, frozen, checked, and a grandchild."""
    uids: dict[str, str] = {}
    param.freeze()
    states = [_state(param, uids)]
    child = param.spawn_child()
    states.append(_state(child, uids))
    child.set_standardized_data(np.linspace(-1, 1, param.dimension), reference=param)
    states.append(_state(child, uids))
    assert child.satisfies_constraints(param)
    child.freeze()
    states.append(_state(child, uids))
    grandchild = child.spawn_child()
    grandchild.mutate() if not grandchild._frozen else None
    states.append(_state(grandchild, uids))
    states.append({"std": child.get_standardized_data(reference=param).tobytes(), "value": child.value.tobytes()})
    states.append({"copy": _state(child.copy(), uids), "name": param.name, "repr": repr(child)})
    return states


@pytest.mark.parametrize("bounded", [False, True])
def test_light_tree_has_every_attribute_of_the_stock_tree(target_problem: lb.TargetSimilarity, bounded: bool) -> None:
    stock = lbng.parametrization(target_problem, bounded=bounded, seed=0)
    lean = lbng.parametrization(target_problem, bounded=bounded, seed=0, _lean=True)
    assert type(lean).__name__ == "LeanArray"
    assert _life(lean) == _life(stock)


def test_unnamed_array_keeps_nevergrad_name() -> None:
    stock, lean = ng.p.Array(shape=(3,)), light.fix_subobjects(light.LeanArray(shape=(3,)))
    assert lean.name == stock.name == "Array{(3,)}"


def test_uuid4_hex_is_a_uuid4() -> None:
    for _ in range(100):
        u = light._uuid4_hex()
        assert uuid.UUID(hex=u).version == 4
        assert uuid.UUID(hex=u).hex == u


def test_frozen_candidate_still_refuses_changes(target_problem: lb.TargetSimilarity) -> None:
    lean = lbng.parametrization(target_problem, seed=0, _lean=True)
    child = lean.spawn_child()
    child.freeze()
    with pytest.raises(RuntimeError, match="frozen"):
        child.value = np.zeros(child.dimension)
    with pytest.raises(RuntimeError, match="frozen"):
        child.set_standardized_data(np.zeros(child.dimension))


def test_lighten_rescans_after_a_new_attribute(target_problem: lb.TargetSimilarity) -> None:
    lean = lbng.parametrization(target_problem, _lean=True)
    extra = ng.p.Scalar()
    lean.extra_param = extra  # a new sub-parameter: the recorded keys are stale, the count is not
    assert ("extra_param", extra) in lean._subobjects.items()
    with pytest.raises(light._NotClonable):  # a Scalar sub-parameter: copies take nevergrad's path
        light._clone(lean)
    child = lean.spawn_child()
    assert child.extra_param is not extra
    assert type(child.extra_param) is ng.p.Scalar


def _first_negative(x: Any) -> bool:
    return float(x[0]) < 0


def test_constraints_take_nevergrads_path(target_problem: lb.TargetSimilarity) -> None:
    lean = lbng.parametrization(target_problem, seed=0, _lean=True)
    lean.register_cheap_constraint(_first_negative)
    child = lean.spawn_child()
    child.set_standardized_data(np.ones(lean.dimension), reference=lean)
    assert not child.satisfies_constraints(lean)
    child.set_standardized_data(-np.ones(lean.dimension), reference=lean)
    assert child.satisfies_constraints(lean)


def test_candidate_random_state_stays_lazy() -> None:
    """A tree without a random state initialises it on first use, as stock nevergrad does (global numpy RNG)."""
    results = []
    for lean in (False, True):
        p = light.fix_subobjects(light.LeanArray(shape=(4,))) if lean else ng.p.Array(shape=(4,))
        np.random.seed(3)  # noqa: NPY002 - nevergrad seeds a missing random state from the legacy global RNG
        child = p.spawn_child()
        results.append((child.value.tobytes(), str(p.random_state.get_state())))
    assert results[0] == results[1]


_OPTIMIZERS = ["TwoPointsDE", "DE", "PSO", "OnePlusOne", "CMA", "DiagonalCMA", "RandomSearch", "TBPSA", "NGOpt"]


def _assert_same(fast: lb.OptimizeResult, slow: lb.OptimizeResult) -> None:
    np.testing.assert_array_equal(fast.x, slow.x)
    assert fast.trace.best == slow.trace.best
    assert ("recommendation" in fast.extra) == ("recommendation" in slow.extra)
    if "recommendation" in fast.extra:
        np.testing.assert_array_equal(fast.extra["recommendation"], slow.extra["recommendation"])


@pytest.mark.parametrize("name", _OPTIMIZERS)
@pytest.mark.parametrize("bounded", [False, True])
def test_fast_driver_matches_stock(name: str, bounded: bool, target_problem: lb.TargetSimilarity) -> None:
    fast = lbng.minimize(target_problem, name, 60, batch=20, seed=7, bounded=bounded)
    slow = lbng.minimize(target_problem, name, 60, batch=20, seed=7, bounded=bounded, fast=False)
    _assert_same(fast, slow)


#: Slow families (cost grows with every point told) and names whose stock runs are not reproducible under a seed.
_SKIP = re.compile(r"BO|Bayes|Smac|SMAC|BAR|AX|Optuna|Pymoo|NLOPT|Powell|Cobyla|SQP|BFGS|QN|Chain|DS|Multi")


def _registry_sample(n: int, seed: int) -> list[str]:
    import random

    return random.Random(seed).sample(sorted(x for x in ng.optimizers.registry if not _SKIP.search(x)), n)


@pytest.mark.parametrize("name", _registry_sample(8, 13))
def test_fast_driver_matches_stock_on_a_registry_sample(name: str, target_problem: lb.TargetSimilarity) -> None:
    """A seeded sample of the registry at a budget of a few generations (the whole registry: optimizer_compat.py)."""
    runs = []
    for fast in (True, False):
        try:
            runs.append(lbng.minimize(target_problem, name, 300, batch=30, seed=2, fast=fast))
        except lb.errors.LatentBridgeError as exc:  # refused: then refused both ways, for the same reason
            runs.append(type(exc))
    if isinstance(runs[0], type) or isinstance(runs[1], type):
        assert runs[0] == runs[1]
    else:
        _assert_same(runs[0], runs[1])


_SAMPLING = [
    "MetaTuneRecentering",  # what NGOpt selects at d = 9,216, budget 600, batch 200
    "MetaRecentering",
    "ScrHammersleySearch",
    "ScrHaltonSearchPlusMiddlePoint",
    "HaltonSearch",
    "HammersleySearchPlusMiddlePoint",
]


@pytest.mark.parametrize("name", _SAMPLING)
def test_fast_quasi_random_samplers_match_stock(name: str) -> None:
    gen = tiny_generator(latent_dim=50, seed=0)
    problem = lb.SetDiversity(gen, lb.load_scorer("rmse"), k=2)  # d = 100: primes below and above the budget
    fast = lbng.minimize(problem, name, 260, batch=40, seed=3)
    slow = lbng.minimize(problem, name, 260, batch=40, seed=3, fast=False)
    _assert_same(fast, slow)
    np.testing.assert_array_equal(fast.trace.as_array(), slow.trace.as_array())


def test_radical_inverse_is_nevergrads_at_every_index() -> None:
    from nevergrad.optimization import sequences

    for cls in (sequences.HaltonSampler, sequences.HammersleySampler):
        for scrambling in (True, False):
            stock = cls(40, budget=60, scrambling=scrambling, random_state=np.random.RandomState(4))
            twin = cls(40, budget=60, scrambling=scrambling, random_state=np.random.RandomState(4))
            assert light.FastRadicalInverse.applies(twin)
            twin._internal_sampler = light.FastRadicalInverse(twin)
            for _ in range(60):
                np.testing.assert_array_equal(np.asarray(twin()), np.asarray(stock()))  # bit for bit


def test_sampler_watch_swaps_only_after_the_sampler_exists() -> None:
    opt = ng.optimizers.registry["MetaTuneRecentering"](ng.p.Array(shape=(30,)), budget=50)
    watch = light.SamplerWatch([opt])
    watch.after_ask()
    assert opt._sampler_instance is None  # built by nevergrad at the first ask, not by the watch
    opt.ask()
    watch.after_ask()
    assert isinstance(vars(opt._sampler_instance)["_internal_sampler"], light.FastRadicalInverse)
    lhs = ng.optimizers.registry["LHSSearch"](ng.p.Array(shape=(30,)), budget=50)
    assert not light.SamplerWatch([lhs])._pending  # other samplers are left alone


def test_ngopt_recommendation_matches_stock_at_300_dims() -> None:
    """Issue 13: NGOpt overrides recommend (best point told); the fast driver used to return CMA's xbest."""
    gen = tiny_generator(latent_dim=100, seed=0)
    problem = lb.SetDiversity(gen, lb.load_scorer("rmse"), k=3)
    fast = lbng.minimize(problem, "NGOpt", 600, seed=0)
    slow = lbng.minimize(problem, "NGOpt", 600, seed=0, fast=False)
    _assert_same(fast, slow)
    assert problem.evaluate(fast.extra["recommendation"])[0] == fast.f  # NGOpt recommends the best point told


def test_shortcuts_are_gated_on_the_nevergrad_version(
    target_problem: lb.TargetSimilarity, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert light.shortcuts_apply() == ng.__version__.startswith(light.SUPPORTED)
    monkeypatch.setattr(light, "_nevergrad_version", lambda: "1.1.0")
    assert not light.shortcuts_apply()
    res = lbng.minimize(target_problem, "CMA", 40, batch=20, seed=0)
    assert res.extra["driven"] == "CMA"  # not unwrapped: stock nevergrad end to end
    assert "pyproject" not in res.extra
    ref = lbng.minimize(target_problem, "CMA", 40, batch=20, seed=0, fast=False)
    _assert_same(res, ref)


def test_unwrap_only_pure_forwarders() -> None:
    from nevergrad.optimization import optimizerlib as nglib

    cma = ng.optimizers.registry["CMA"](ng.p.Array(shape=(400,)), budget=1000, num_workers=42)
    assert isinstance(light.unwrap(cma), nglib._CMA)  # CMA only selects: drive what it selected
    ngopt = ng.optimizers.registry["NGOpt"](ng.p.Array(shape=(400,)), budget=1000, num_workers=42)
    assert light.unwrap(ngopt) is ngopt  # NGOpt overrides recommend
