"""Gradients through the FaceNet scorer (crop, resize, InceptionResnetV1) against finite differences."""

from __future__ import annotations

import warnings

import latentbridge as lb
import numpy as np
import torch
from latentbridge.precision import PrecisionWarning
from latentbridge.testing import tiny_generator

from latentbridge_facenet import FaceNetScorer


def _problem(scorer: FaceNetScorer) -> lb.TargetSimilarity:
    gen = tiny_generator(8, (3, 24, 24), seed=0)
    with torch.inference_mode():
        target = gen.generate(torch.ones(1, 8))[0].clone()
    return lb.TargetSimilarity(gen, scorer, target, batch_size=2)


def test_gradient_matches_finite_differences(scorer: FaceNetScorer) -> None:
    problem = _problem(scorer)
    Z = problem.sample(2, seed=1)
    F, G = problem.evaluate_grad(Z)
    np.testing.assert_allclose(F[:, 0], problem.evaluate(Z), rtol=1e-5)
    V = np.random.default_rng(0).standard_normal((2, problem.dim))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    h = 1e-2
    fd = np.stack([(problem.evaluate(Z + h * v) - problem.evaluate(Z - h * v)) / (2 * h) for v in V], axis=1)
    an = G[:, 0] @ V.T
    assert np.linalg.norm(fd - an) / np.linalg.norm(an) < 5e-2


def test_bf16_gradient_points_where_fp32_does(scorer: FaceNetScorer) -> None:
    fp32 = _problem(scorer)
    with warnings.catch_warnings():  # bf16 is emulated (PrecisionWarning) on CPUs without native bf16
        warnings.simplefilter("ignore", PrecisionWarning)
        low = _problem(scorer.with_precision("bf16"))
        Z = fp32.sample(2, seed=3)
        G16 = low.evaluate_grad(Z)[1][:, 0]
    G32 = fp32.evaluate_grad(Z)[1][:, 0]
    cos = np.sum(G32 * G16, axis=1) / (np.linalg.norm(G32, axis=1) * np.linalg.norm(G16, axis=1))
    assert cos.min() > 0.9
