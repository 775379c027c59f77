from __future__ import annotations

import numpy as np
import pytest

from latentbridge.augment.classifiers import make_classifier, scores
from latentbridge.errors import InputError


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0, 0.2, (n, 1, 6, 6)).astype(np.float32)
    for c in range(3):
        x[y == c, 0, 2 * c : 2 * c + 2, :] += 1.0
    return np.clip(x, -1, 1).astype(np.float32), y.astype(np.int64)


@pytest.mark.parametrize("kind", ["cnn", "logreg", "svm"])
def test_classifiers_learn_and_are_seeded(kind: str) -> None:
    x, y = _blobs(60, 0)
    xt, yt = _blobs(30, 1)
    a = make_classifier(kind, 3, seed=0, epochs=15).fit(x, y).predict_proba(xt)
    b = make_classifier(kind, 3, seed=0, epochs=15).fit(x, y).predict_proba(xt)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (30, 3)
    assert scores(yt, a, 3)["accuracy"] >= 0.9


def test_scores_macro_and_unknown_kind() -> None:
    proba = np.eye(3)[[0, 0, 1, 2]]
    m = scores(np.array([0, 1, 1, 2]), proba, 3)
    assert m["accuracy"] == 0.75
    assert m["recall"] == pytest.approx((1 + 0.5 + 1) / 3)
    with pytest.raises(InputError, match="classifier must be one of cnn, logreg, svm"):
        make_classifier("forest", 3, seed=0)
