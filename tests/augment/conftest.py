"""Small synthetic image folders (one shape per class) and tiny run settings for the augment tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

#: Settings that make a whole run take a few seconds (8×8 images, logistic regression).
TINY: dict[str, Any] = {
    "budget": 20,
    "pop_size": 10,
    "seeds": 2,
    "folds": 2,
    "train_per_class": 6,
    "gan_steps": 8,
    "classifier": "logreg",
}


def shape_image(kind: str, rng: np.random.Generator, size: int = 8) -> np.ndarray:
    """One ``size × size`` uint8 image of a shape at a random offset."""
    img = np.zeros((size, size), dtype=np.uint8)
    o = rng.integers(0, 3, size=2)
    if kind == "square":
        img[o[0] + 1 : o[0] + 5, o[1] + 1 : o[1] + 5] = 255
    elif kind == "cross":
        img[o[0] + 3, o[1] : o[1] + 6] = 255
        img[o[0] : o[0] + 6, o[1] + 3] = 255
    else:  # diagonal
        for i in range(5):
            img[o[0] + i, o[1] + i] = 255
    return img


def make_folder(root: Path, n: int = 10, kinds: tuple[str, ...] = ("square", "cross", "diag"), seed: int = 0) -> Path:
    """``root/<kind>/<i>.png`` with ``n`` images per class."""
    rng = np.random.default_rng(seed)
    for kind in kinds:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(shape_image(kind, rng)).save(root / kind / f"{i:02d}.png")
    return root


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    """A 3-class folder of 10 grey 8×8 PNGs per class."""
    return make_folder(tmp_path / "shapes")
