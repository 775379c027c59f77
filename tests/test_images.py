"""Image files and grids in the (C, H, W) / [-1, 1] convention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latentbridge import images
from latentbridge.errors import ImageShapeError, InputError
from latentbridge.testing import tiny_generator


def test_png_roundtrip_with_resize_and_grey(tmp_path: Path) -> None:
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    x = images.load(tmp_path / "red.png", like=tiny_generator(image_shape=(1, 8, 8)))
    assert x.shape == (1, 8, 8)
    assert float(x.mean()) == pytest.approx(0.299 * 2 - 1, abs=1e-2)
    y = images.load(tmp_path / "red.png")
    assert y.shape == (3, 16, 16)
    assert float(y[0].min()) == pytest.approx(1.0)


def test_npy_layouts(tmp_path: Path) -> None:
    np.save(tmp_path / "hw.npy", np.full((8, 8), 255, np.uint8))
    np.save(tmp_path / "hwc.npy", np.zeros((8, 8, 3), np.float32))
    assert images.load(tmp_path / "hw.npy").shape == (1, 8, 8)
    assert images.load(tmp_path / "hwc.npy").shape == (3, 8, 8)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        images.load(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="cannot read image"):
        images.load(tmp_path / "bad.png")


def test_grid_and_save(tmp_path: Path) -> None:
    x = torch.linspace(-1, 1, 5 * 3 * 4 * 4).reshape(5, 3, 4, 4)
    g = images.grid(x, ncol=3, pad=1)
    assert g.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    assert g.dtype == np.uint8
    p = images.save_grid(x[:, :1], tmp_path / "sub" / "g.png", scale=2)
    with Image.open(p) as im:  # 3 columns x 2 rows of 4x4 tiles, pad 2, upscaled x2
        assert im.size == (2 * (3 * 6 + 2), 2 * (2 * 6 + 2))
        assert im.mode == "L"
    with pytest.raises(ImageShapeError):
        images.grid(torch.zeros(0, 1, 4, 4))


def test_to_uint8_clips() -> None:
    out = images.to_uint8(torch.tensor([[[[-2.0, 0.0, 2.0]]]]))
    assert out.shape == (1, 1, 3, 1)
    assert out.ravel().tolist() == [0, 128, 255]


def test_save_grid_accepts_numpy_arrays(tmp_path: Path) -> None:
    from latentbridge.data import heldout_digit

    digit = heldout_digit(3)  # a numpy (1, 28, 28) array
    p = images.save_grid([digit, heldout_digit(5)], tmp_path / "digits.png", ncol=2)
    with Image.open(p) as im:
        assert im.size == (2 * 28 + 3 * 2, 28 + 2 * 2)
    batch = np.stack([digit, digit])
    assert np.array_equal(images.grid(batch), images.grid(torch.from_numpy(batch)))
    assert images.grid(digit).shape == (28 + 4, 28 + 4, 1)  # one (C, H, W) image is a batch of one
    with pytest.raises(ImageShapeError, match="one shape"):
        images.grid([digit, np.zeros((1, 8, 8), np.float32)])
    with pytest.raises(ImageShapeError, match="non-empty"):
        images.grid([])
