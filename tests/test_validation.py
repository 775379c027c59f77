"""Argument checks: clear errors, no mutation of user arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentbridge._validation import as_image, check_latents, check_positive_int
from latentbridge.errors import ImageShapeError, InputError, LatentShapeError


def test_check_latents_accepts_rows_and_single_vector() -> None:
    assert check_latents(np.zeros((3, 4)), 4).shape == (3, 4)
    assert check_latents(np.zeros(4), 4).shape == (1, 4)
    assert check_latents([[1, 2, 3, 4]], 4).dtype == np.float32
    assert check_latents(torch.zeros(2, 4), 4).shape == (2, 4)


def test_check_latents_returns_read_only_view_of_float32_input() -> None:
    z = np.zeros((2, 4), dtype=np.float32)
    out = check_latents(z, 4)
    assert not out.flags.writeable
    assert z.flags.writeable  # the caller's array is untouched


@pytest.mark.parametrize(
    ("Z", "match"),
    [
        (np.zeros((3, 5)), r"shape \(n, 4\)"),
        (np.zeros((2, 3, 4)), "k \\* latent_dim"),
        (np.array([["a"] * 4]), "real numbers"),
        (np.array([[1.0, np.nan, 0, 0]]), "NaN or inf in 1 row"),
        (np.array([[0, 0, 0, 0], [1.0, 2, np.inf, 0]]), "first: row 1, column 2"),
        (np.array([[1 + 1j] * 4]), "real numbers"),
    ],
)
def test_check_latents_errors(Z: np.ndarray, match: str) -> None:
    with pytest.raises(LatentShapeError, match=match):
        check_latents(Z, 4)


def test_check_positive_int() -> None:
    assert check_positive_int(np.int64(3), "k") == 3
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(InputError, match="k"):
            check_positive_int(bad, "k")


def test_as_image_layouts_and_ranges() -> None:
    hw = np.full((8, 8), 255, dtype=np.uint8)
    out = as_image(hw, (1, 8, 8))
    assert out.shape == (1, 8, 8)
    assert float(out.max()) == pytest.approx(1.0)
    hwc = np.zeros((8, 8, 3), dtype=np.float32)
    assert as_image(hwc, (3, 8, 8)).shape == (3, 8, 8)
    src = np.zeros((1, 8, 8), dtype=np.float32)
    as_image(src, (1, 8, 8))[0, 0, 0] = 5.0
    assert src[0, 0, 0] == 0.0  # copied, not aliased


@pytest.mark.parametrize(
    ("img", "match"),
    [
        (np.zeros((1, 16, 16), np.float32), r"must have shape \(1, 8, 8\)"),
        (np.zeros((3, 8, 8), np.float32), r"must have shape \(1, 8, 8\)"),
        (np.full((1, 8, 8), 200.0, np.float32), r"\[-1, 1\]"),
        (np.full((1, 8, 8), np.nan, np.float32), "NaN"),
        (np.zeros((1, 8, 8), np.int32), "uint8 or float"),
    ],
)
def test_as_image_errors(img: np.ndarray, match: str) -> None:
    with pytest.raises(ImageShapeError, match=match):
        as_image(img, (1, 8, 8))
