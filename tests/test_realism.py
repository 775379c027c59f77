"""Realism measures: latent typicality, the shipped discriminator, the digit check, penalties and pymoo constraints."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.data import heldout_digit
from latentbridge.errors import InputError
from latentbridge.realism import (
    RealismConstraints,
    RealismPenalty,
    discriminator_for,
    latent_typicality,
    realism,
)
from latentbridge.testing import tiny_generator


@pytest.fixture(scope="module")
def dcgan() -> Any:
    return lb.load_generator("mnist-dcgan")


@pytest.fixture(scope="module")
def digits(dcgan: Any) -> lb.TargetSimilarity:
    return lb.TargetSimilarity(dcgan, lb.load_scorer("mnist-embed"), heldout_digit(3), batch_size=64)


def test_prior_samples_are_typical_and_scaled_ones_are_not() -> None:
    space = lb.LatentSpace((100,))
    Z = space.sample(2000, seed=0)
    t = latent_typicality(space, Z)
    assert abs(float(np.mean(t["latent_norm_ratio"])) - 1.0) < 0.01
    assert 0.4 < float(np.mean(t["latent_p"])) < 0.6  # two-sided tail probabilities of prior draws: ~uniform
    assert float(np.mean(t["latent_p"] < 0.05)) == pytest.approx(0.05, abs=0.02)
    unit = Z[:10] / np.linalg.norm(Z[:10], axis=1, keepdims=True) * 10.0  # norm sqrt(dim): the typical shell
    assert np.all(latent_typicality(space, unit)["latent_p"] > 0.5)
    far, near = latent_typicality(space, 1.5 * unit), latent_typicality(space, 0.5 * unit)
    assert np.all(far["latent_p"] < 1e-6)
    assert np.all(far["latent_norm_ratio"] > 1.3)
    assert np.all(near["latent_p"] < 1e-6)  # too close to the mean is atypical too


def test_w_spaces_and_sets_use_the_distance_ratio() -> None:
    w = lb.LatentSpace((4, 6), loc=2.0, scale=0.5, name="w+")
    t = latent_typicality(w, w.sample(3, seed=0).reshape(3, -1))
    assert np.all(np.isnan(t["latent_p"]))
    z = lb.LatentSpace((8,))
    two = latent_typicality(z, np.zeros((2, 16)) + 1.0, k=2)
    np.testing.assert_allclose(two["latent_norm_ratio"], 1.0)


def test_realism_columns_on_digits(digits: lb.TargetSimilarity) -> None:
    Z = digits.sample(64, seed=1)
    before = digits.n_evals
    r = realism(digits, Z)
    assert digits.n_evals == before  # measuring does not evaluate the problem
    assert set(r) == {
        "latent_norm_ratio",
        "latent_p",
        "discriminator",
        "discriminator_percentile",
        "digit_class",
        "digit_confidence",
        "digit_match",
    }
    assert all(v.shape == (64,) for v in r.values())
    assert np.all((r["discriminator_percentile"] >= 0) & (r["discriminator_percentile"] <= 1))
    np.testing.assert_array_equal(r["digit_match"], (r["digit_class"] == 3).astype(float))
    assert 0 < float(r["digit_match"].mean()) < 0.5  # prior samples: every class, some 3s
    assert np.all(r["digit_confidence"][r["digit_match"] == 1] > 0.1)
    other = realism(digits, Z, digit=8)
    np.testing.assert_array_equal(other["digit_match"], (r["digit_class"] == 8).astype(float))


def test_discriminator_ranks_real_digits_above_generated(dcgan: Any) -> None:
    disc = discriminator_for(dcgan)
    assert disc is not None
    assert len(disc.reference) == 1000
    assert float(np.mean(disc.percentile(disc.reference))) == pytest.approx(0.5, abs=0.01)
    pct = realism(dcgan, dcgan.latent.sample(256, seed=0))["discriminator_percentile"]
    assert float(np.median(pct)) < 0.4  # generated digits look less real to it than real ones
    assert discriminator_for(tiny_generator()) is None


def test_generator_source_and_no_digit_check_for_other_problems(tiny_target: torch.Tensor) -> None:
    gen = tiny_generator()
    assert set(realism(gen, gen.latent.sample(3, seed=0))) == {"latent_norm_ratio", "latent_p"}
    problem = lb.TargetSimilarity(gen, lb.load_scorer("rmse"), tiny_target)
    assert set(realism(problem, problem.sample(2, seed=0))) == {"latent_norm_ratio", "latent_p"}
    with pytest.raises(InputError, match="the digit check needs 1x28x28 digit images"):
        realism(problem, problem.sample(2, seed=0), digit=3)
    with pytest.raises(InputError, match="realism needs a latentbridge problem or generator"):
        realism("mnist-dcgan", np.zeros((1, 100)))  # type: ignore[arg-type]


def test_penalty_adds_the_terms_and_differentiates(digits: lb.TargetSimilarity) -> None:
    pen = RealismPenalty(digits, latent=2.0, discriminator=0.5)
    Z = digits.sample(6, seed=2)
    r = realism(digits, Z)
    expected = (
        digits.evaluate(Z) + 2.0 * (r["latent_norm_ratio"] - 1.0) ** 2 + 0.5 * np.log1p(np.exp(-r["discriminator"]))
    )
    np.testing.assert_allclose(pen.evaluate(Z), expected, rtol=1e-4)
    assert pen.n_evals == 6
    _, G = pen.evaluate_grad(Z)
    V = np.random.default_rng(0).standard_normal((2, pen.dim))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    h = 1e-3
    fd = np.stack([(pen.evaluate(Z + h * v) - pen.evaluate(Z - h * v)) / (2 * h) for v in V], axis=1)
    an = G[:, 0] @ V.T
    assert np.linalg.norm(fd - an) / np.linalg.norm(an) < 5e-2
    assert pen.config()["inner"] == digits.config()
    assert pen.config_hash() != digits.config_hash()


def test_penalty_refusals(tiny_target: torch.Tensor) -> None:
    problem = lb.TargetSimilarity(tiny_generator(), lb.load_scorer("rmse"), tiny_target)
    with pytest.raises(InputError, match="no discriminator is known for the generator 'tiny'"):
        RealismPenalty(problem, discriminator=1.0)
    with pytest.raises(InputError, match="latent must be a finite weight >= 0"):
        RealismPenalty(problem, latent=-1.0)
    RealismPenalty(problem, latent=1.0).evaluate(problem.sample(2, seed=0))


def test_pymoo_constraints_from_the_same_evaluation(digits: lb.TargetSimilarity) -> None:
    pytest.importorskip("pymoo")
    from latentbridge.pymoo import as_pymoo

    cons = RealismConstraints(digits, max_latent_ratio=1.05, min_discriminator_percentile=0.2)
    pp = as_pymoo(digits, constraints=cons)
    assert pp.n_ieq_constr == 2
    X = digits.sample(10, seed=3)
    before = digits.n_evals
    out = pp.evaluate(X, return_as_dictionary=True)
    assert digits.n_evals == before + 10  # fitness and constraints: one evaluation
    r = realism(digits, X)
    np.testing.assert_allclose(out["G"][:, 0], r["latent_norm_ratio"] - 1.05)
    np.testing.assert_allclose(out["G"][:, 1], 0.2 - r["discriminator_percentile"], atol=1e-9)
    with pytest.raises(InputError, match="built for this problem"):
        as_pymoo(lb.TargetSimilarity(digits.generator, digits.scorers[0], heldout_digit(5)), constraints=cons)
    with pytest.raises(InputError, match="needs max_latent_ratio and/or"):
        RealismConstraints(digits)


def test_constrained_ga_keeps_typical_latents(digits: lb.TargetSimilarity) -> None:
    pytest.importorskip("pymoo")
    from pymoo.optimize import minimize

    from latentbridge.pymoo import as_pymoo, paper_ga

    cons = RealismConstraints(digits, max_latent_ratio=1.05)
    res = minimize(as_pymoo(digits, constraints=cons), paper_ga(pop_size=20), ("n_gen", 5), seed=1)
    assert res.X is not None
    assert float(realism(digits, res.X)["latent_norm_ratio"][0]) <= 1.05
