"""Shared fixtures: a tiny generator, a reachable target, fresh plugin state, fixture paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.testing import tiny_generator

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def tiny_gen() -> lb.TorchGenerator:
    """A seeded 8-d -> 1x8x8 MLP generator."""
    return tiny_generator(8, (1, 8, 8), seed=0)


@pytest.fixture
def tiny_target(tiny_gen: lb.TorchGenerator) -> torch.Tensor:
    """A target the tiny generator can reach exactly (its image of a fixed latent)."""
    z = torch.from_numpy(np.random.default_rng(123).standard_normal((1, 8)).astype(np.float32))
    with torch.inference_mode():
        return tiny_gen.generate(z)[0].clone()


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Rediscover plugins before and after the test."""
    lb.reset_plugins()
    yield
    lb.reset_plugins()
