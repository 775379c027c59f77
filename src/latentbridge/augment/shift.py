"""Distribution-shift variants of a test split: thinner or thicker strokes, translation, lower contrast.

Published augmentation gains often appear only when the test images differ from the training ones, so an
augmentation run can score its classifiers on shifted copies of the held-out test split as well. Each shift
is a fixed, deterministic image transform (no learning), applied to images ``(n, C, H, W)`` in [-1, 1]:

- ``thin`` / ``thick``: grey erosion / dilation of the ink with a 3×3 cross (a pixel and its four
  neighbours; the full 3×3 square erases most of an MNIST digit). Which value is ink is decided once per call
  over all the images given (one convention per data set): the background is the median of the border pixels,
  and the ink is bright when that background lies below the images' mean (``mnist-small`` and
  ``sklearn-digits``: background -1, ink towards +1; ``lfw-faces``: border median about -0.5, mean about -0.27),
  dark otherwise. Thinning bright
  ink is a minimum filter, thickening a maximum filter (swapped for dark ink). Images smaller than 16 pixels a
  side (``sklearn-digits``' 8×8) get a half-strength blend ``(x + filter(x)) / 2`` so their one- or two-pixel
  strokes stay legible.
- ``translate``: each image moved by :data:`TRANSLATE_FRACTION` of its side (at least one pixel) in a random
  direction drawn per image from ``numpy.random.default_rng(seed)``; uncovered pixels take the image's
  background (border median, per channel).
- ``low-contrast``: each image scaled around its mean (per channel) by :data:`CONTRAST_FACTOR`.

Every result is float32, of the input's shape, clipped to [-1, 1]; only ``translate`` depends on the seed.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validation import check_seed
from ..errors import InputError

__all__ = ["CONTRAST_FACTOR", "SHIFTS", "SHIFT_NOTES", "TRANSLATE_FRACTION", "apply_shift"]

#: The distribution shifts, in report order.
SHIFTS: tuple[str, ...] = ("thin", "thick", "translate", "low-contrast")
#: One line per shift for reports.
SHIFT_NOTES: dict[str, str] = {
    "thin": "strokes eroded (3×3 cross minimum filter of the ink; half strength below 16 px)",
    "thick": "strokes dilated (3×3 cross maximum filter of the ink; half strength below 16 px)",
    "translate": "moved by 10% of the side in a random direction per image, background filled in",
    "low-contrast": "contrast halved around each image's mean",
}
#: Translation as a fraction of the image side.
TRANSLATE_FRACTION: float = 0.1
#: Contrast scale of ``low-contrast``.
CONTRAST_FACTOR: float = 0.5
#: Images with a smaller side get the half-strength erosion / dilation.
_FULL_STRENGTH_SIDE = 16


def _check_images(images: Any) -> NDArray[np.float32]:
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.dtype.kind not in "fiu":
        raise InputError(
            f"images for a distribution shift must be a numeric array (n, C, H, W), found dtype {arr.dtype} "
            f"of shape {arr.shape}"
        )
    x = arr.astype(np.float32)
    if x.size and (not np.all(np.isfinite(x)) or x.min() < -1.0 or x.max() > 1.0):
        raise InputError("images for a distribution shift must be finite values in [-1, 1] (the augment range)")
    return x


def _border_median(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Per image and channel, the median of the border pixels ``(n, C, 1, 1)``: the background."""
    border = np.concatenate([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], axis=-1)
    return np.asarray(np.median(border, axis=-1), dtype=np.float32)[:, :, None, None]


def _morph(x: NDArray[np.float32], thicken: bool) -> NDArray[np.float32]:
    """Erode (``thicken=False``) or dilate the ink of every image (see the module docstring)."""
    from scipy import ndimage

    cross = np.zeros((1, 1, 3, 3), dtype=bool)
    cross[0, 0, 1, :] = cross[0, 0, :, 1] = True
    bright_ink = float(np.median(_border_median(x))) <= float(x.mean())
    grow = ndimage.maximum_filter if bright_ink == thicken else ndimage.minimum_filter
    out = np.asarray(grow(x, footprint=cross, mode="nearest"), dtype=np.float32)
    if min(x.shape[2:]) < _FULL_STRENGTH_SIDE:
        out = (x + out) / np.float32(2.0)
    return out


def _translate(x: NDArray[np.float32], seed: int) -> NDArray[np.float32]:
    """Move every image by ``TRANSLATE_FRACTION`` of its side in a seeded random direction."""
    n, _, h, w = x.shape
    rng = np.random.default_rng(seed)
    angles: list[float] = np.asarray(rng.uniform(0.0, 2.0 * math.pi, size=n), dtype=np.float64).tolist()
    step_y = max(1, math.floor(TRANSLATE_FRACTION * h + 0.5))
    step_x = max(1, math.floor(TRANSLATE_FRACTION * w + 0.5))
    out = np.broadcast_to(_border_median(x), x.shape).copy()
    for i, a in enumerate(angles):
        # |cos| or |sin| is at least 1/sqrt(2), so a step of >= 1 pixel never rounds to (0, 0)
        dy, dx = round(step_y * math.sin(a)), round(step_x * math.cos(a))
        src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
        src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
        out[i, :, dst_y, dst_x] = x[i, :, src_y, src_x]
    return out


def _low_contrast(x: NDArray[np.float32]) -> NDArray[np.float32]:
    mean = x.mean(axis=(2, 3), keepdims=True)
    return np.asarray(mean + np.float32(CONTRAST_FACTOR) * (x - mean), dtype=np.float32)


def apply_shift(name: str, images: NDArray[np.floating[Any]], *, seed: int) -> NDArray[np.float32]:
    """``images`` under the distribution shift ``name`` (one of :data:`SHIFTS`).

    Args:
        name: The shift.
        images: ``(n, C, H, W)`` values in [-1, 1] (a :class:`~latentbridge.augment.data.DataSplit`'s
            ``test_x``); not modified.
        seed: Seed of the random directions of ``translate`` (the other shifts ignore it). Use one seed per
            run, so every arm, seed and fold is scored on the same shifted images.

    ``thin`` and ``thick`` decide which value is ink once over all of ``images``: pass the whole test split.

    Returns:
        A new float32 array of the same shape, clipped to [-1, 1].

    Raises:
        InputError: An unknown shift (close names suggested), images that are not ``(n, C, H, W)`` in [-1, 1],
            or a seed that is not an int >= 0.
    """
    if not isinstance(name, str) or name not in SHIFTS:
        close = difflib.get_close_matches(str(name), SHIFTS, n=2, cutoff=0.5)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise InputError(f"unknown distribution shift {str(name)[:60]!r}: {hint}known shifts: {', '.join(SHIFTS)}")
    seed = check_seed(seed)
    x = _check_images(images)
    if x.shape[0] == 0:
        return x.copy()
    if name in ("thin", "thick"):
        out = _morph(x, thicken=name == "thick")
    elif name == "translate":
        out = _translate(x, seed)
    else:
        out = _low_contrast(x)
    return np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)
