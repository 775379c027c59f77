"""Gradients through the StyleGAN2 generator in z, w and w+ (problem.evaluate_grad against finite differences)."""

from __future__ import annotations

import warnings

import latentbridge as lb
import numpy as np
import pytest
import torch
from latentbridge.precision import PrecisionWarning

from latentbridge_stylegan2 import StyleGAN2Generator
from sg2_support import TINY_KWARGS


def _problem(space: str, **options: object) -> lb.TargetSimilarity:
    gen = StyleGAN2Generator.random(TINY_KWARGS, space=space, w_stats_samples=256, device="cpu", **options)
    z0 = torch.as_tensor(gen.latent.sample(1, seed=9), dtype=torch.float32).reshape(1, *gen.latent.shape)
    target = gen.generate(z0)[0].clamp(-1, 1)
    return lb.TargetSimilarity(gen, lb.load_scorer("rmse"), target, batch_size=3)


@pytest.mark.parametrize("space", ["z", "w", "w+"])
@pytest.mark.parametrize("psi", [1.0, 0.7])
def test_gradient_matches_finite_differences(space: str, psi: float) -> None:
    problem = _problem(space, truncation_psi=psi)
    Z = problem.sample(4, seed=1)
    F, G = problem.evaluate_grad(Z)
    assert G.shape == (4, 1, problem.dim)
    np.testing.assert_allclose(F[:, 0], problem.evaluate(Z), rtol=1e-5)
    V = np.random.default_rng(0).standard_normal((3, problem.dim))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    scale = float(np.mean(problem.latent.std))  # step in units of the prior's std: w's spread is not 1
    h = 1e-2 * scale
    fd = np.stack([(problem.evaluate(Z + h * v) - problem.evaluate(Z - h * v)) / (2 * h) for v in V], axis=1)
    an = G[:, 0] @ V.T
    assert np.linalg.norm(fd - an) / np.linalg.norm(an) < 2e-2


def test_plain_calls_stay_in_inference_mode() -> None:
    gen = StyleGAN2Generator.random(TINY_KWARGS, w_stats_samples=64, device="cpu")
    z = torch.randn(2, 8)
    assert gen.generate(z).is_inference()
    out = gen.generate(z.requires_grad_(True))
    assert out.requires_grad
    assert not out.is_inference()


def test_compiled_generator_differentiates_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    import latentbridge.precision as lbp

    calls: list[bool] = []

    def fake_compile(fn: object, **kwargs: object) -> object:
        def run(ws: torch.Tensor) -> torch.Tensor:
            calls.append(torch.is_grad_enabled())
            with torch.inference_mode():  # what a compiled inference-only graph would hand back
                out: torch.Tensor = fn(ws)  # type: ignore[operator]
            return out

        return run

    monkeypatch.setattr(lbp, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", fake_compile)
    problem = _problem("w", compile=True)
    ref = _problem("w")
    Z = problem.sample(3, seed=2)
    _, G = problem.evaluate_grad(Z)
    assert not any(calls)  # gradient evaluations never go through the compiled synthesis
    np.testing.assert_allclose(G, ref.evaluate_grad(Z)[1], rtol=1e-5, atol=1e-8)


def test_bf16_gradient_points_where_fp32_does() -> None:
    fp32 = _problem("w+")
    with warnings.catch_warnings():  # bf16 is emulated (PrecisionWarning) on CPUs without native bf16
        warnings.simplefilter("ignore", PrecisionWarning)
        low = _problem("w+", precision="bf16")
        Z = fp32.sample(3, seed=3)
        G16 = low.evaluate_grad(Z)[1][:, 0]
    G32 = fp32.evaluate_grad(Z)[1][:, 0]
    cos = np.sum(G32 * G16, axis=1) / (np.linalg.norm(G32, axis=1) * np.linalg.norm(G16, axis=1))
    assert cos.min() > 0.9
