"""Fixtures for the bench tests: a tiny suite on the seeded MLP generator and simple optimizers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.testing import registered, tiny_generator

TINY_GEN = "latentbridge.testing:tiny_generator"


@pytest.fixture(autouse=True, scope="session")
def _trust_testing_factories() -> Iterator[None]:
    """Suites here name ``latentbridge.testing:tiny_generator``: trust that module, as ``--allow-import`` would."""
    from latentbridge.bench.problems import trusted_imports

    with trusted_imports(["latentbridge.testing"]):
        yield


class PriorSampler:
    """Random search from the prior in batches: deterministic under ``seed``, registered as ``prior``."""

    def __init__(self, batch: int = 25, overshoot: int = 0) -> None:
        self.batch = batch
        self.overshoot = overshoot

    def solve(self, problem: lb.LatentProblem, budget: int, seed: int) -> lb.OptimizeResult:
        rng = np.random.default_rng(seed)
        trace = lb.Trace()
        best_f, best_x, used = np.inf, problem.sample(1, rng)[0], 0
        while used < budget + self.overshoot:
            Z = problem.sample(min(self.batch, budget + self.overshoot - used), rng)
            f = problem.evaluate(Z)
            used += Z.shape[0]
            i = int(np.argmin(f))
            if f[i] < best_f:
                best_f, best_x = float(f[i]), Z[i]
            trace.record(used, best_f)
        return lb.OptimizeResult(best_x, best_f, used, trace, "prior", seed=seed)


class Noisy(PriorSampler):
    """A PriorSampler that warns on every batch."""

    def solve(self, problem: lb.LatentProblem, budget: int, seed: int) -> lb.OptimizeResult:
        import warnings

        for _ in range(3):
            warnings.warn("step size is tiny", UserWarning, stacklevel=1)
        return super().solve(problem, budget, seed)


class Broken:
    """An optimizer that always raises."""

    def solve(self, problem: lb.LatentProblem, budget: int, seed: int) -> lb.OptimizeResult:
        raise RuntimeError("boom")


@pytest.fixture(scope="session")
def target_npy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A target the tiny generator can reach, saved as .npy."""
    gen = tiny_generator(8, (1, 8, 8), seed=0)
    z = torch.from_numpy(np.random.default_rng(123).standard_normal((1, 8)).astype(np.float32))
    with torch.inference_mode():
        img = gen.generate(z)[0].numpy()
    path = tmp_path_factory.mktemp("target") / "target.npy"
    np.save(path, img)
    return path


@pytest.fixture
def write_suite(tmp_path: Path, target_npy: Path) -> Callable[..., Path]:
    """Write a tiny suite TOML: a target problem and a set problem on the tiny generator."""

    def write(
        optimizers: str = '[[optimizers]]\nname = "prior"\n',
        *,
        name: str = "tiny",
        budget: int = 100,
        seeds: int = 2,
        extra_problems: str = "",
    ) -> Path:
        text = f"""
[suite]
name = "{name}"
budget = {budget}
seeds = {seeds}

[[problems]]
id = "target"
kind = "target-similarity"
generator = "{TINY_GEN}"
scorer = "rmse"
target = {{ npy = "{target_npy}" }}

[[problems]]
id = "set"
kind = "set-diversity"
generator = "{TINY_GEN}"
scorer = "ncc"
k = 3
{extra_problems}
{optimizers}
"""
        path = tmp_path / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def prior_optimizer() -> Iterator[None]:
    """Register ``prior`` (PriorSampler), ``prior-over`` (overshoots the budget), ``broken`` and ``noisy``."""
    with (
        registered("optimizer", "prior", PriorSampler),
        registered("optimizer", "prior-over", lambda **p: PriorSampler(overshoot=60, **p)),
        registered("optimizer", "broken", Broken),
        registered("optimizer", "noisy", Noisy),
    ):
        yield
