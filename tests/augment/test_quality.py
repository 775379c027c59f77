"""Sample quality: the Fréchet distance of feature sets, class agreement and its summary."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from latentbridge.augment.quality import frechet_distance, generator_quality, quality_summary
from latentbridge.errors import InputError


def test_frechet_is_zero_for_identical_sets_and_grows_with_a_shift() -> None:
    a = np.random.default_rng(0).standard_normal((50, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    near, far = frechet_distance(a, a + 1.0), frechet_distance(a, a + 3.0)
    assert near == pytest.approx(4 * 1.0**2, rel=1e-6)  # a shift moves only the means
    assert far == pytest.approx(4 * 3.0**2, rel=1e-6)


def test_frechet_of_two_gaussians_and_singular_sets() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4000, 2)), 2.0 * rng.standard_normal((4000, 2))
    assert frechet_distance(a, b) == pytest.approx(2 * (1 - 2) ** 2, abs=0.15)  # tr(1 + 4 − 2·2) per axis
    few = rng.standard_normal((3, 8))  # n < d: singular covariances
    assert frechet_distance(few, few) == pytest.approx(0.0, abs=1e-5)


def test_frechet_refuses_bad_input() -> None:
    a = np.zeros((5, 3))
    with pytest.raises(InputError, match="at least 2"):
        frechet_distance(a[:1], a)
    with pytest.raises(InputError, match="same feature length"):
        frechet_distance(a, np.zeros((5, 4)))
    with pytest.raises(InputError, match=r"\(n, d\)"):
        frechet_distance(np.zeros(5), a)
    with pytest.raises(InputError, match="NaN"):
        frechet_distance(np.full((3, 3), np.nan), a)


class FakeClassifier:
    """Predicts class ``round(mean pixel)`` of 3; embeds an image as its mean and max pixel."""

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        cls = np.clip(np.rint(x.reshape(len(x), -1).mean(axis=1)), 0, 2).astype(int)
        return np.eye(3)[cls]

    def embed(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        flat = x.reshape(len(x), -1).astype(np.float64)
        return np.stack([flat.mean(axis=1), flat.max(axis=1)], axis=1)


def test_agreement_and_frechet_per_class() -> None:
    rng = np.random.default_rng(0)

    def images(values: list[float]) -> NDArray[np.float32]:
        return (np.asarray(values)[:, None, None, None] + rng.normal(0, 0.01, (len(values), 1, 2, 2))).astype(
            np.float32
        )

    generated = {0: images([0, 0, 1, 0]), 2: images([2, 2, 2, 1, 0])}  # 3/4 and 3/5 right
    reference = {0: images([0, 0, 0]), 1: images([1, 1]), 2: images([2, 2, 2])}
    out = generator_quality(generated, FakeClassifier(), reference)
    assert list(out) == [0, 2]
    assert out[0]["agreement"] == pytest.approx(0.75)
    assert out[2]["agreement"] == pytest.approx(0.6)
    assert out[0]["n"] == 4
    assert out[2]["n"] == 5
    same = generator_quality({0: reference[0]}, FakeClassifier(), reference)
    assert same[0]["frechet"] == pytest.approx(0.0, abs=1e-6)
    assert out[0]["frechet"] > 0.1
    summary = quality_summary(out)
    assert summary["agreement"] == pytest.approx((0.75 + 0.6) / 2)
    assert summary["frechet"] == pytest.approx((out[0]["frechet"] + out[2]["frechet"]) / 2)
    assert summary["n"] == 9
    assert summary["classes"] == 2


def test_quality_refuses_missing_references_and_tiny_sets() -> None:
    x = np.zeros((3, 1, 2, 2), np.float32)
    with pytest.raises(InputError, match="no images of class 1"):
        generator_quality({1: x}, FakeClassifier(), {0: x})
    with pytest.raises(InputError, match="at least 2 images"):
        generator_quality({0: x[:1]}, FakeClassifier(), {0: x})
    with pytest.raises(InputError, match="class 0: b needs at least 2"):
        generator_quality({0: x}, FakeClassifier(), {0: x[:1]})
    with pytest.raises(InputError, match="not a column"):
        generator_quality({5: x}, FakeClassifier(), {5: x})
    with pytest.raises(InputError, match="empty"):
        quality_summary({})
