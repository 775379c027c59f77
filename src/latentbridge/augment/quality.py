"""Sample quality of class generators, judged by a classifier trained on the originals.

- :func:`frechet_distance` — the Fréchet distance between Gaussians fitted to two feature sets (the FID's
  formula, Heusel et al., 2017, here on any features, e.g. a small classifier's embedding);
- :func:`generator_quality` — per class: ``agreement`` (the fraction of generated images the classifier
  assigns to their class) and ``frechet`` (between the classifier's embeddings of generated and reference
  images of that class), with ``n`` images;
- :func:`quality_summary` — those numbers averaged over classes.

Example::

    from latentbridge.augment.classifiers import CNNClassifier
    from latentbridge.augment.quality import generator_quality, quality_summary

    clf = CNNClassifier(split.n_classes, seed=0).fit(split.train_x, split.train_y)
    per_class = generator_quality(images_by_class, clf, {c: split.originals(c) for c in images_by_class})
    quality_summary(per_class)  # {"agreement": ..., "frechet": ..., "n": ..., "classes": ...}
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = ["EmbeddingClassifier", "frechet_distance", "generator_quality", "quality_summary"]


class EmbeddingClassifier(Protocol):
    """A trained classifier with class probabilities and an embedding (e.g. :class:`~.classifiers.CNNClassifier`)."""

    def predict_proba(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(n, n_classes)`` probabilities."""
        ...

    def embed(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(n, d)`` features."""
        ...


def _features(a: Any, name: str) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a feature matrix (n, d), found shape {arr.shape}")
    if arr.shape[0] < 2:
        raise InputError(
            f"{name} needs at least 2 feature vectors to fit a Gaussian, found {arr.shape[0]}; pass more samples"
        )
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or inf")
    return arr


def frechet_distance(a: Any, b: Any) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a`` ``(n, d)`` and ``b`` ``(m, d)``.

    ``‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2})`` with unbiased covariances; the matrix square root
    is :func:`scipy.linalg.sqrtm`'s real part (retried with ``1e-6·I`` added to both covariances when it is
    not finite, as in the reference FID code). Zero for identical sets (up to rounding), never negative.

    Raises:
        InputError: not 2-D, fewer than 2 rows, NaN/inf, or different feature lengths.
    """
    from scipy import linalg

    fa, fb = _features(a, "a"), _features(b, "b")
    if fa.shape[1] != fb.shape[1]:
        raise InputError(f"a and b must have the same feature length, found {fa.shape[1]} and {fb.shape[1]}")
    mu_a, mu_b = fa.mean(axis=0), fb.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(fa, rowvar=False))
    cov_b = np.atleast_2d(np.cov(fb, rowvar=False))
    with warnings.catch_warnings():  # singular covariances (n < d, dead ReLU units) are expected here
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = np.asarray(linalg.sqrtm(cov_a @ cov_b))
        if not np.isfinite(covmean).all():
            eye = np.eye(cov_a.shape[0]) * 1e-6
            covmean = np.asarray(linalg.sqrtm((cov_a + eye) @ (cov_b + eye)))
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean.real))
    return max(0.0, value)


def generator_quality(
    images_by_class: Mapping[int, NDArray[np.float32]],
    classifier: EmbeddingClassifier,
    reference_by_class: Mapping[int, NDArray[np.float32]],
) -> dict[int, dict[str, float]]:
    """Per class: how often the classifier agrees with the label, and how far the embeddings lie from the reference.

    Args:
        images_by_class: Generated images ``(n, C, H, W)`` in [-1, 1] per class label.
        classifier: Trained on the originals; its ``predict_proba`` columns are the labels.
        reference_by_class: Real images of each class (the originals or held-out ones), for the Fréchet
            distance; every class of ``images_by_class`` needs one.

    Returns:
        ``{label: {"agreement": fraction in [0, 1], "frechet": distance, "n": images}}``, labels in order.

    Raises:
        InputError: a class without reference images, a label outside the classifier's columns, or fewer
            than 2 images of a class (a Gaussian needs 2).
    """
    out: dict[int, dict[str, float]] = {}
    for label in sorted(images_by_class):
        if label not in reference_by_class:
            raise InputError(f"reference_by_class has no images of class {label}; pass real images of every class")
        images = np.asarray(images_by_class[label], dtype=np.float32)
        if images.ndim != 4 or images.shape[0] < 2:
            raise InputError(
                f"images_by_class[{label}] must be at least 2 images (n, C, H, W), found shape {images.shape}"
            )
        proba = np.asarray(classifier.predict_proba(images))
        if not 0 <= int(label) < proba.shape[1]:
            raise InputError(f"class {label} is not a column of the classifier's {proba.shape[1]} probabilities")
        agreement = float(np.mean(proba.argmax(axis=1) == int(label)))
        ref = np.asarray(reference_by_class[label], dtype=np.float32)
        try:
            fd = frechet_distance(classifier.embed(images), classifier.embed(ref))
        except InputError as exc:
            raise InputError(f"class {label}: {exc}") from None
        out[int(label)] = {"agreement": agreement, "frechet": fd, "n": float(images.shape[0])}
    return out


def quality_summary(per_class: Mapping[int, Mapping[str, float]]) -> dict[str, float]:
    """Mean ``agreement`` and ``frechet`` over classes, total ``n`` and the number of ``classes``.

    Raises:
        InputError: no classes.
    """
    if not per_class:
        raise InputError("per_class is empty: judge at least one class")
    rows = list(per_class.values())
    return {
        "agreement": float(np.mean([r["agreement"] for r in rows])),
        "frechet": float(np.mean([r["frechet"] for r in rows])),
        "n": float(sum(r["n"] for r in rows)),
        "classes": float(len(rows)),
    }
