"""Shared fixtures: random-weight InceptionResnetV1 files (nothing is ever downloaded)."""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Iterator
from pathlib import Path

import latentbridge
import pytest
import torch

from latentbridge_facenet import FaceNetScorer, facenet_module


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Rediscover plugins per test, with only ``facenet`` loaded: other plugins' state is not this suite's concern.

    Tests that need another plugin (the StyleGAN2 integration test) unblock it themselves.
    """
    others = sorted({ep.name for ep in md.entry_points(group="latentbridge")} - {"facenet"})
    monkeypatch.setenv("LATENTBRIDGE_BLOCK_PLUGINS", ",".join(others))
    latentbridge.reset_plugins()
    yield
    latentbridge.reset_plugins()


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state_dict of a randomly initialised InceptionResnetV1 (seed 0), saved with torch.save."""
    torch.manual_seed(0)
    model = facenet_module().module.InceptionResnetV1(pretrained=None, classify=False)
    path = tmp_path_factory.mktemp("facenet") / "random_irv1.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def scorer(weights_file: Path) -> FaceNetScorer:
    """The scorer on random weights, crop box = the central (0.25, 0.125, 0.75, 0.875) of the image."""
    return FaceNetScorer.load(weights=weights_file, crop_box=(0.25, 0.125, 0.75, 0.875))
