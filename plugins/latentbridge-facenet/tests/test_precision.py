"""The scorer's precision and layout options: float32 features, rankings kept, refusals named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from latentbridge.errors import PrecisionError
from latentbridge.testing import expect_emulation_warning
from scipy.stats import spearmanr

from latentbridge_facenet import FaceNetScorer


def test_bf16_channels_last_keep_the_distances(scorer: FaceNetScorer, weights_file: Path) -> None:
    with expect_emulation_warning("bf16"):  # on a CPU without bf16 instructions it runs, emulated
        fast = FaceNetScorer.load(
            weights=weights_file, crop_box=(0.25, 0.125, 0.75, 0.875), precision="bf16", channels_last=True
        )
    assert fast.config()["precision"] == "bf16"
    assert "precision" not in scorer.config()
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 64, 64, generator=gen) * 2 - 1
    t = torch.linspace(0, 1, 24).view(-1, 1, 1, 1)
    images = (1 - t) * a + t * b  # distances to the first image grow along the path
    with torch.inference_mode():
        ref, low = scorer.embed(images), fast.embed(images)
    assert low.dtype == torch.float32
    assert low.shape == ref.shape
    d_ref = scorer.distance(ref[1:], ref[:1])[:, 0]
    d_low = fast.distance(low[1:], low[:1])[:, 0]
    assert spearmanr(d_ref.numpy(), d_low.numpy())[0] >= 0.99
    assert (d_ref - d_low).abs().max() < 0.05


def test_bad_precision_is_refused_before_the_model_build(weights_file: Path) -> None:
    with pytest.raises(PrecisionError, match="scorer 'facenet': precision must be one of"):
        FaceNetScorer.load(weights=weights_file, precision="int8")
