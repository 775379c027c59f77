"""Distribution shifts of a test split: deterministic, shape- and range-preserving, and doing what they say."""

from __future__ import annotations

import numpy as np
import pytest

from latentbridge.augment.shift import CONTRAST_FACTOR, SHIFTS, apply_shift
from latentbridge.errors import InputError


def _strokes(n: int = 6, side: int = 28, seed: int = 0) -> np.ndarray:
    """Bright 3-pixel-wide crosses on a dark (-1) background, ``(n, 1, side, side)``."""
    rng = np.random.default_rng(seed)
    x = np.full((n, 1, side, side), -1.0, dtype=np.float32)
    for i in range(n):
        c = side // 2 + int(rng.integers(-1, 2))
        x[i, 0, c - 1 : c + 2, side // 4 : 3 * side // 4] = 1.0
        x[i, 0, side // 4 : 3 * side // 4, c - 1 : c + 2] = 1.0
    return x


@pytest.mark.parametrize("name", SHIFTS)
@pytest.mark.parametrize("side", [8, 25, 28])
def test_every_shift_is_deterministic_float32_same_shape_in_range(name: str, side: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (5, 1, side, side)).astype(np.float64)
    before = x.copy()
    a = apply_shift(name, x, seed=3)
    assert a.dtype == np.float32
    assert a.shape == x.shape
    assert a.min() >= -1.0
    assert a.max() <= 1.0
    assert np.array_equal(a, apply_shift(name, x, seed=3))
    assert np.array_equal(x, before)  # the input is not modified
    assert not np.array_equal(a, x.astype(np.float32))


def test_rgb_and_empty_inputs() -> None:
    x = np.random.default_rng(0).uniform(-1, 1, (3, 3, 20, 20)).astype(np.float32)
    for name in SHIFTS:
        assert apply_shift(name, x, seed=0).shape == (3, 3, 20, 20)
        assert apply_shift(name, np.zeros((0, 1, 8, 8), np.float32), seed=0).shape == (0, 1, 8, 8)


def test_thin_and_thick_change_the_ink_whatever_its_polarity() -> None:
    x = _strokes()
    ink = (x > 0).sum()
    thin, thick = apply_shift("thin", x, seed=0), apply_shift("thick", x, seed=0)
    assert 0 < (thin > 0).sum() < ink  # 3-pixel strokes become 1 pixel wide: thinner, still there
    assert (thick > 0).sum() > ink
    assert np.all(thin <= x)
    assert np.all(thick >= x)
    # dark ink on a bright background: the same strokes, thinned and thickened as ink (not as background)
    assert np.array_equal(apply_shift("thin", -x, seed=0), -thin)
    assert np.array_equal(apply_shift("thick", -x, seed=0), -thick)


def test_tiny_images_get_half_strength_so_one_pixel_strokes_stay() -> None:
    x = np.full((1, 1, 8, 8), -1.0, dtype=np.float32)
    x[0, 0, 4, 1:7] = 1.0  # a one-pixel stroke of an 8×8 digit
    thin = apply_shift("thin", x, seed=0)
    assert np.all(thin[0, 0, 4, 1:7] == 0.0)  # halfway: fainter but legible
    assert np.all(thin[0, 0, :4] == -1.0)
    thick = apply_shift("thick", x, seed=0)
    assert np.all(thick[0, 0, 3, 1:7] == 0.0)  # half-strength growth above, below and at the ends of the stroke
    assert np.all(thick[0, 0, 5, 1:7] == 0.0)
    assert thick[0, 0, 4, 0] == thick[0, 0, 4, 7] == 0.0
    assert np.all(thick[0, 0, 4, 1:7] == 1.0)
    assert thick[0, 0, 3, 0] == -1.0  # a cross, not a square: the diagonal neighbour stays background


def test_which_value_is_ink_is_decided_once_for_all_the_images() -> None:
    x = _strokes(n=4)
    x[3] = -x[3]  # one image of dark ink among bright-ink ones: treated by the set's convention
    thin = apply_shift("thin", x, seed=0)
    assert np.all(thin <= x)


@pytest.mark.parametrize(("side", "step"), [(8, 1), (25, 3), (28, 3)])
def test_translate_moves_by_a_tenth_of_the_side_and_fills_the_background(side: int, step: int) -> None:
    x = np.full((40, 1, side, side), -1.0, dtype=np.float32)
    x[:, 0, side // 2, side // 2] = 1.0  # one bright dot in the middle of each image
    out = apply_shift("translate", x, seed=5)
    assert np.all((out == 1.0).sum(axis=(1, 2, 3)) == 1)  # the dot moved, nothing else appeared
    assert np.all((out == -1.0).sum(axis=(1, 2, 3)) == side * side - 1)
    ys, xs = np.nonzero(out[:, 0] == 1.0)[1:]
    dy, dx = ys - side // 2, xs - side // 2
    dist = np.hypot(dy, dx)  # about a tenth of the side, rounded to whole pixels in any direction
    assert np.all(dist >= max(1.0, step - 1))
    assert np.all(dist <= 1.5 * step)
    assert len(set(zip(dy.tolist(), dx.tolist(), strict=True))) >= 6  # random directions per image
    other = apply_shift("translate", x, seed=6)
    assert not np.array_equal(out, other)


def test_translate_fills_with_each_images_background() -> None:
    x = np.full((2, 1, 20, 20), 0.5, dtype=np.float32)
    x[1] = -0.25
    x[:, :, 8:12, 8:12] = 1.0
    out = apply_shift("translate", x, seed=0)
    assert set(np.unique(out[0]).tolist()) == {0.5, 1.0}
    assert set(np.unique(out[1]).tolist()) == {-0.25, 1.0}


def test_low_contrast_halves_the_spread_around_each_images_mean() -> None:
    x = _strokes()
    x[1] *= 0.5
    out = apply_shift("low-contrast", x, seed=0)
    np.testing.assert_allclose(out.mean(axis=(2, 3)), x.mean(axis=(2, 3)), atol=1e-6)
    np.testing.assert_allclose(out.std(axis=(2, 3)), CONTRAST_FACTOR * x.std(axis=(2, 3)), rtol=1e-5)


def test_bad_input_is_one_clear_error() -> None:
    x = np.zeros((2, 1, 8, 8), np.float32)
    with pytest.raises(InputError, match=r"unknown distribution shift 'thinn': did you mean 'thin'.*known shifts"):
        apply_shift("thinn", x, seed=0)
    with pytest.raises(InputError, match="unknown distribution shift 'blur': known shifts: thin, thick"):
        apply_shift("blur", x, seed=0)
    with pytest.raises(InputError, match=r"\(n, C, H, W\), found dtype float32 of shape \(8, 8\)"):
        apply_shift("thin", x[0, 0], seed=0)
    with pytest.raises(InputError, match=r"finite values in \[-1, 1\]"):
        apply_shift("thin", x + 2, seed=0)
    with pytest.raises(InputError, match=r"finite values in \[-1, 1\]"):
        apply_shift("thin", np.full_like(x, np.nan), seed=0)
    with pytest.raises(InputError, match="seed must be an int"):
        apply_shift("translate", x, seed=1.5)  # type: ignore[arg-type]
