"""Any nevergrad optimizer through the batched driver: the CMA family at 512 dimensions, failures as latentbridge errors.

Issue 18: the driver used to ask a whole batch before telling any, so a CMA-ES whose
population exceeds the batch (nevergrad's ``CMApara``, which ``NGOpt`` and ``CMA``
select for batched runs) asked ``cma`` for a new generation before the last was told,
which ``cma``'s TPA step-size adaptation (on from about 300 dimensions) refuses.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import random
import re
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.errors import (
    InputError,
    LatentBridgeError,
    MissingDependencyError,
    UnsupportedOptimizerError,
)
from latentbridge.testing import tiny_generator

ng = pytest.importorskip("nevergrad")
lbng = importlib.import_module("latentbridge.nevergrad")
ngdriver = importlib.import_module("latentbridge.nevergrad._driver")
ngrecast = importlib.import_module("latentbridge.nevergrad._recast")

pytestmark = pytest.mark.filterwarnings("ignore")  # cma's TPA consistency chatter, nevergrad's loss clipping


@pytest.fixture(scope="module")
def problem512() -> lb.TargetSimilarity:
    """A 512-dimensional latent (StyleGAN2's z) on a tiny generator with 4x4 images."""
    gen = tiny_generator(latent_dim=512, image_shape=(1, 4, 4), seed=1)
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 512)).astype(np.float32))
    return lb.TargetSimilarity(gen, lb.load_scorer("rmse"), gen.generate(z)[0], batch_size=64)


def _population(name: str, dim: int, num_workers: int) -> int:
    """The CMA-ES population nevergrad gives ``name`` for this dimension and ``num_workers``."""
    opt = ng.optimizers.registry[name](dim, budget=1000, num_workers=num_workers)
    while hasattr(opt, "optim"):
        opt = opt.optim
    return int(opt._popsize)


# -- the CMA family at d = 512 -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["NGOpt", "CMA", "DiagonalCMA", "TwoPointsDE"])
def test_512_dims_odd_batch_runs_and_is_deterministic(name: str, problem512: lb.TargetSimilarity) -> None:
    batch = 42  # smaller than CMApara's population at d=512 (4 + 8 ln 512 = 53): the old driver crashed
    budget = 4 * 54
    r1 = lbng.minimize(problem512, name, budget, batch=batch, seed=11)
    r2 = lbng.minimize(problem512, name, budget, batch=batch, seed=11)
    assert r1.n_evals == budget == int(r1.trace.evals[-1])
    steps = np.diff([0, *r1.trace.evals])
    assert steps.max() <= batch
    assert len(steps) >= 4
    np.testing.assert_array_equal(r1.x, r2.x)
    assert r1.f == r2.f
    assert r1.trace.best == r2.trace.best
    np.testing.assert_array_equal(r1.extra["recommendation"], r2.extra["recommendation"])
    if name != "NGOpt":  # NGOpt runs a full-covariance CMA at d=512 here: seconds per run on a loaded machine
        r3 = lbng.minimize(problem512, name, budget, batch=batch, seed=12)
        assert not np.array_equal(r1.x, r3.x)


def test_cma_steps_end_at_generation_boundaries(problem512: lb.TargetSimilarity) -> None:
    pop = _population("CMApara", 512, 42)
    assert pop > 42  # the case the issue describes
    res = lbng.minimize(problem512, "CMApara", 3 * pop, batch=42, seed=0)
    steps = np.diff([0, *res.trace.evals]).tolist()
    assert steps == [42, pop - 42] * 3  # never a new generation before the last one was told


def test_default_batch_of_a_cma_is_its_population(problem512: lb.TargetSimilarity) -> None:
    # batch_size 16 < CMApara's population at d=512 (4 + 8 ln 512 = 53): one generation per call, not 16 + 16 + ...
    problem = lb.TargetSimilarity(problem512.generator, problem512.scorers[0], problem512.targets[0], batch_size=16)
    res = lbng.minimize(problem, "CMApara", 200, seed=0)
    pop = _population("CMApara", 512, 16)
    assert res.params["batch"] == pop == 53
    assert any("population" in n for n in res.extra["notes"])
    assert np.diff([0, *res.trace.evals]).tolist() == [pop] * (200 // pop) + [200 % pop]


@pytest.mark.parametrize("name", ["CMA", "CMApara"])
def test_elitist_population_is_fitted_to_the_batch(name: str, problem512: lb.TargetSimilarity) -> None:
    """CMApara's population is num_workers + 1: the driver builds it with batch - 1 workers."""
    res = lbng.minimize(problem512, name, 256, batch=64, seed=0)
    assert res.extra["num_workers"] == 63
    assert res.params["batch"] == 64
    assert res.trace.evals == [64, 128, 192, 256]


@pytest.mark.parametrize("name", ["LatentPaperGA", "LatentSetGA"])
def test_seed_gas_at_512_dims(name: str, problem512: lb.TargetSimilarity) -> None:
    r1 = lbng.minimize(problem512, name, 200, seed=3, pop_size=50)
    r2 = lbng.minimize(problem512, name, 200, seed=3, pop_size=50)
    assert r1.extra["generations"] >= 3
    np.testing.assert_array_equal(r1.x, r2.x)
    assert r1.trace.best == r2.trace.best


# -- optimizers that cannot batch -------------------------------------------------------------------
@pytest.fixture(scope="module")
def small() -> lb.TargetSimilarity:
    gen = tiny_generator(latent_dim=16, seed=2)
    z = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 16)).astype(np.float32))
    return lb.TargetSimilarity(gen, lb.load_scorer("rmse"), gen.generate(z)[0], batch_size=32)


@pytest.mark.parametrize("name", ["DS14", "NelderMead", "Powell", "ChainCMAPowell"])
def test_optimizer_that_cannot_batch_runs_with_batch_1(
    name: str, small: lb.TargetSimilarity, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    res = lbng.minimize(small, name, 40, seed=0)
    gc.collect()
    assert not unraisable  # no half-built optimizer printing "Exception ignored in __del__"
    assert res.params["batch"] == 1
    assert res.trace.evals == list(range(1, 41))
    assert "ran with batch 1" in res.extra["notes"][0]
    with pytest.raises(UnsupportedOptimizerError, match=r"cannot ask several candidates at once.*batch=1"):
        lbng.minimize(small, name, 40, batch=8, seed=0)


@pytest.mark.parametrize("name", ["MultiDS", "DS14"])
def test_recast_threads_compute_one_at_a_time(
    name: str, small: lb.TargetSimilarity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``directsearch`` threads draw from numpy's global generator: none may still compute while others run."""
    pytest.importorskip("directsearch")
    before = set(threading.enumerate())
    opts: list[Any] = []
    drive = ngdriver._drive

    def spy(problem: Any, opt: Any, *args: Any) -> Any:
        opts.append(opt)
        return drive(problem, opt, *args)

    monkeypatch.setattr(ngdriver, "_drive", spy)

    busy: list[int] = []

    def listener(ev: Any) -> None:  # runs inside evaluate(): every tell before it is done
        threads = ngrecast.recast_threads(ngdriver._sub_optimizers(opts[-1]))
        busy.extend(i for i, (o, t) in enumerate(threads) if not ngrecast.recast_settled(o, t))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: unsynchronised draws would interleave
    try:
        with small.observe(listener):
            runs = [lbng.minimize(small, name, 120, seed=5) for _ in range(3)]
    finally:
        sys.setswitchinterval(interval)
    assert not busy
    for r in runs[1:]:
        assert r.f == runs[0].f
        np.testing.assert_array_equal(r.x, runs[0].x)
    left = [t for t in threading.enumerate() if t not in before and type(t).__name__ == "_MessagingThread"]
    assert not left  # the solvers' threads were stopped and joined


def test_recast_thread_of_a_callers_instance_is_left_running(small: lb.TargetSimilarity) -> None:
    pytest.importorskip("directsearch")
    opt = ng.optimizers.registry["DSproba"](lbng.parametrization(small), budget=30)
    lbng.minimize(small, opt, 20, batch=1, seed=0)
    assert opt._messaging_thread is not None
    assert opt._messaging_thread.is_alive()  # the caller may go on with it
    opt._messaging_thread.stop()


# -- upstream failures become latentbridge errors ------------------------------------------------------
class _Broken(ng.optimizers.base.Optimizer):  # type: ignore[misc]
    """An optimizer whose third ask fails the way an upstream bug would."""

    def _internal_ask_candidate(self) -> Any:
        if self.num_ask == 2:
            raise ZeroDivisionError("integer division or modulo by zero")
        return self.parametrization.spawn_child()


def test_upstream_failure_is_one_clear_error(small: lb.TargetSimilarity) -> None:
    with pytest.raises(UnsupportedOptimizerError) as info:
        lbng.minimize(small, _Broken, 10, batch=5, seed=0)
    msg = str(info.value)
    assert "'_Broken'" in msg
    assert "asking candidate 3" in msg
    assert "ZeroDivisionError" in msg
    assert "batch=1" in msg
    assert isinstance(info.value.__cause__, ZeroDivisionError)


class _NaNAsker(ng.optimizers.base.Optimizer):  # type: ignore[misc]
    def _internal_ask_candidate(self) -> Any:
        return self.parametrization.spawn_child(new_value=np.full(self.dimension, np.nan))


def test_non_finite_candidate_is_refused(small: lb.TargetSimilarity) -> None:
    with pytest.raises(UnsupportedOptimizerError, match="NaN, inf or coordinates beyond the float32 range"):
        lbng.minimize(small, _NaNAsker, 10, batch=5, seed=0)
    assert small.n_failed == 0


def test_missing_optional_package_names_the_install(
    small: lb.TargetSimilarity, monkeypatch: pytest.MonkeyPatch
) -> None:
    class _NeedsPackage(ng.optimizers.base.Optimizer):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ModuleNotFoundError("No module named 'bayes_opt'", name="bayes_opt")

    with pytest.raises(MissingDependencyError, match=r"pip install bayesian-optimization"):
        lbng.minimize(small, _NeedsPackage, 10, seed=0)
    if importlib.util.find_spec("ax") is None:
        with pytest.raises(
            MissingDependencyError, match=r"'AX' needs the package 'ax-platform'.*pip install ax-platform"
        ):
            lbng.minimize(small, "AX", 10, seed=0)


def test_bad_class_kwargs_are_input_errors(small: lb.TargetSimilarity) -> None:
    with pytest.raises(InputError, match="cannot build optimizer"):
        lbng.minimize(small, ng.optimizers.base.Optimizer, 10, seed=0, nonsense=1)


def test_model_errors_are_not_wrapped(small: lb.TargetSimilarity, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(Z: Any) -> Any:
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(small, "evaluate", boom)
    with pytest.raises(RuntimeError, match="out of memory") as info:
        lbng.minimize(small, "CMA", 20, seed=0)
    assert not isinstance(info.value, LatentBridgeError)


# -- a seeded sample of the whole registry -----------------------------------------------------------------
class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` swallows it."""


@pytest.fixture
def alarm() -> Iterator[Any]:
    def handler(signum: int, frame: Any) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, handler)
    try:
        yield signal.alarm
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


#: Bayesian optimization and friends: their cost grows with every point told (minutes, not seconds).
_SLOW = re.compile(r"BO|Bayes|Smac|SMAC|BAR|Ax|Optuna|HyperOpt|Pymoo|NLOPT|Powell|Cobyla|SQP|BFGS|QN|Chain")


def test_registry_sample_finishes_or_raises_a_latentbridge_error(small: lb.TargetSimilarity, alarm: Any) -> None:
    names = sorted(n for n in ng.optimizers.registry if not _SLOW.search(n))
    sample = random.Random(18).sample(names, 24)
    outcomes: dict[str, str] = {}
    for name in sample:
        alarm(15)
        try:
            res = lbng.minimize(small, name, 40, seed=0)
            outcomes[name] = "finished" if res.n_evals == 40 else f"wrong n_evals {res.n_evals}"
        except LatentBridgeError as exc:
            outcomes[name] = f"refused: {type(exc).__name__}"
        except _Timeout:
            outcomes[name] = "timeout"
        except Exception as exc:
            outcomes[name] = f"RAW {type(exc).__name__}: {exc}"
        finally:
            alarm(0)
    bad = {k: v for k, v in outcomes.items() if not (v == "finished" or v.startswith("refused"))}
    assert not bad, bad
    assert sum(v == "finished" for v in outcomes.values()) >= len(sample) // 2


def test_installed_package_without_the_module_nevergrad_expects(small: lb.TargetSimilarity) -> None:
    """nevergrad's Pymoo* optimizers import pymoo.factory, gone from pymoo 0.6: not a missing package."""

    class _OldApi(ng.optimizers.base.Optimizer):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ModuleNotFoundError("No module named 'numpy.factory'", name="numpy.factory")

    with pytest.raises(UnsupportedOptimizerError, match=r"imports 'numpy.factory', which the installed numpy"):
        lbng.minimize(small, _OldApi, 10, seed=0)
