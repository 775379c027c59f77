"""The generator's precision option: float32 images, close to fp32, in the config, refused when unsupported."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from latentbridge.errors import PrecisionError

from latentbridge_stylegan2 import StyleGAN2Generator
from sg2_support import TINY_KWARGS


@pytest.fixture(scope="module")
def gen() -> StyleGAN2Generator:
    return StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64)


def test_bf16_images_are_float32_and_close(gen: StyleGAN2Generator) -> None:
    low = gen.with_precision("bf16")
    assert gen.precision == "fp32"
    assert low.precision == "bf16"
    assert low.net is gen.net
    z = torch.as_tensor(gen.latent.sample(8, seed=0), dtype=torch.float32)
    ref, out = gen.generate(z), low.generate(z)
    assert out.dtype == torch.float32
    assert out.shape == ref.shape
    assert not torch.equal(out, ref)
    # bf16 keeps ~3 significant digits; pixel-wise correlation with the fp32 image stays near 1
    corr = np.corrcoef(ref.flatten().numpy(), out.flatten().numpy())[0, 1]
    assert corr > 0.99


def test_precision_in_config_only_when_reduced(gen: StyleGAN2Generator) -> None:
    assert "precision" not in gen.config()
    assert gen.with_precision("bf16").config()["precision"] == "bf16"


def test_bad_precision_is_refused() -> None:
    with pytest.raises(PrecisionError, match="generator 'stylegan2': precision must be one of"):
        StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64, precision="fp64")
