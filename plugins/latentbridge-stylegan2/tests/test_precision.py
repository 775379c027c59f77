"""The generator's precision option: float32 images, close to fp32, in the config, refused when unsupported."""

from __future__ import annotations

from typing import Any

import latentbridge.precision as lbp
import numpy as np
import pytest
import torch
from latentbridge.errors import PrecisionError
from latentbridge.testing import expect_emulation_warning

from latentbridge_stylegan2 import StyleGAN2Generator
from sg2_support import TINY_KWARGS


@pytest.fixture(scope="module")
def gen() -> StyleGAN2Generator:
    return StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64)


def test_bf16_images_are_float32_and_close(gen: StyleGAN2Generator) -> None:
    with expect_emulation_warning("bf16"):  # on a CPU without bf16 instructions it runs, emulated
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
    with expect_emulation_warning("bf16"):
        assert gen.with_precision("bf16").config()["precision"] == "bf16"


def test_bad_precision_is_refused() -> None:
    with pytest.raises(PrecisionError, match="generator 'stylegan2': precision must be one of"):
        StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64, precision="fp64")


def test_bad_compile_is_refused() -> None:
    with pytest.raises(PrecisionError, match="generator 'stylegan2': compile must be False, True"):
        StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64, compile="yes")


@pytest.mark.parametrize("mode", [True, "freeze"])
def test_compile_wraps_synthesis(mode: Any, gen: StyleGAN2Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[tuple[Any, dict[str, Any]]] = []
    calls: list[bool] = []

    def fake_compile(fn: Any, **kwargs: Any) -> Any:
        compiled.append((fn, kwargs))

        def run(ws: torch.Tensor) -> torch.Tensor:
            calls.append(getattr(fn, "inner", fn).options["fused"])  # "freeze" wraps it in its own forward
            return fn(ws)

        return run

    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", fake_compile)
    cg = StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64, compile=mode)
    assert len(compiled) == 2  # unfused (batches) and fused (batch 1) synthesis
    assert all(kw == {"dynamic": False} for _, kw in compiled)  # "freeze" patches inductor's config at the calls
    assert cg.compile_mode == mode
    assert cg.compiled
    z = torch.as_tensor(gen.latent.sample(3, seed=0), dtype=torch.float32)
    torch.testing.assert_close(cg.generate(z), gen.generate(z))
    cg.generate(z[:1])
    assert calls == [False, True]
    assert cg.compile_seconds > 0
    assert "compile" not in cg.config()  # an execution option, not part of the identity


def test_random_noise_is_not_checked_against_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    noisy = StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64, compile=True, noise_mode="random")
    const = StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64, compile=True)
    assert not any(c.check for c in noisy._compiled.values())  # two draws of noise always differ
    assert all(c.check for c in const._compiled.values())
