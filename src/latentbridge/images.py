"""Reading target images and writing image grids, in latentbridge's ``(C, H, W)`` in [-1, 1] convention."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from ._protocols import LatentGenerator
from .errors import ImageShapeError, InputError

__all__ = ["ImageBatch", "grid", "load", "save", "save_grid", "to_uint8"]


def load(
    path: str | Path,
    *,
    like: LatentGenerator | None = None,
    size: tuple[int, int] | None = None,
    channels: int | None = None,
) -> torch.Tensor:
    """Load an image file (PNG, JPEG, ... or ``.npy``) as a float32 ``(C, H, W)`` tensor in [-1, 1].

    Args:
        path: Image file. ``.npy`` files hold ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``
            arrays, uint8 in [0, 255] or float in [-1, 1].
        like: Resize and convert channels to match this generator's ``image_shape``.
        size: ``(H, W)`` to resize to (overrides ``like``'s).
        channels: 1 (luminance) or 3 (RGB) (overrides ``like``'s).

    Raises:
        InputError: missing file or unreadable image.
    """
    from ._validation import check_image_file, read_npy

    p = Path(path)
    if not p.is_file():
        raise InputError(f"image file not found: {p}")
    if p.suffix.lower() == ".npy":
        arr = read_npy(p, "image")
        if arr.ndim == 2:
            arr = arr[None]
        elif arr.ndim == 3 and arr.shape[-1] in (1, 3) and arr.shape[0] not in (1, 3):
            arr = np.moveaxis(arr, -1, 0)
        if arr.dtype == np.uint8:
            x = torch.from_numpy(arr.astype(np.float32) / 127.5 - 1.0)
        else:
            x = torch.from_numpy(np.asarray(arr, dtype=np.float32).copy())
    else:
        try:
            from PIL import Image
        except ImportError as exc:  # pragma: no cover - pillow is a dependency
            raise InputError("reading image files needs Pillow: pip install pillow") from exc
        check_image_file(p, "image")  # size cap and decompression-bomb guard before decoding
        try:
            with Image.open(p) as im:
                rgb_or_l = im.convert("RGB") if im.mode not in ("L", "RGB") else im
                arr = np.asarray(rgb_or_l, dtype=np.uint8)
        except OSError as exc:
            raise InputError(f"cannot read image {p}: {exc}") from exc
        arr = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
        x = torch.from_numpy(arr.astype(np.float32) / 127.5 - 1.0)
    if like is not None:
        c, h, w = like.image_shape
        size = size or (h, w)
        channels = channels or c
    return convert(x, size=size, channels=channels)


def convert(image: torch.Tensor, *, size: tuple[int, int] | None = None, channels: int | None = None) -> torch.Tensor:
    """Resize (bilinear, antialiased) and convert channels of a ``(C, H, W)`` image."""
    if image.ndim != 3:
        raise ImageShapeError(f"image must have shape (C, H, W), got {tuple(image.shape)}")
    x = image.to(torch.float32)
    if channels is not None and x.shape[0] != channels:
        if channels == 1 and x.shape[0] == 3:
            x = (x * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
        elif channels == 3 and x.shape[0] == 1:
            x = x.expand(3, -1, -1)
        else:
            raise ImageShapeError(f"cannot convert {x.shape[0]} channels to {channels}")
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x[None], size=tuple(size), mode="bilinear", align_corners=False, antialias=True)[0]
    return x.clamp(-1.0, 1.0).contiguous()


def to_uint8(images: torch.Tensor | NDArray[Any]) -> NDArray[np.uint8]:
    """``(..., C, H, W)`` floats in [-1, 1] -> ``(..., H, W, C)`` uint8 (clipped)."""
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    x = np.clip((x.astype(np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return np.moveaxis(x, -3, -1)


ImageBatch: TypeAlias = torch.Tensor | NDArray[Any] | Sequence[torch.Tensor | NDArray[Any]]
"""What :func:`grid` and :func:`save_grid` accept: ``(n, C, H, W)`` or a list of ``(C, H, W)``, tensors or arrays."""


def _as_batch(images: ImageBatch) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        return images.detach().cpu()
    if isinstance(images, np.ndarray):
        return torch.from_numpy(np.asarray(images, dtype=np.float32))
    items = list(images)
    if not items:
        raise ImageShapeError("grid needs a non-empty batch (n, C, H, W), got an empty list")
    tensors = [_as_batch(im) for im in items]
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) != 1:
        raise ImageShapeError(f"grid needs images of one shape (C, H, W), got shapes {sorted(shapes)}")
    return torch.stack(tensors)


def grid(images: ImageBatch, *, ncol: int | None = None, pad: int = 2) -> NDArray[np.uint8]:
    """Tile images into one ``(H', W', C)`` uint8 array.

    Args:
        images: ``(n, C, H, W)`` or a list of same-shaped ``(C, H, W)`` images in [-1, 1], as
            torch tensors or numpy arrays (e.g. :func:`latentbridge.data.heldout_digit`'s
            output); a single ``(C, H, W)`` image is a batch of one.
        ncol: Images per row (default: about the square root of ``n``).
        pad: White pixels between and around the images.

    Raises:
        ImageShapeError: not a non-empty batch of ``(C, H, W)`` images of one shape.
    """
    x = _as_batch(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] == 0:
        raise ImageShapeError(f"grid needs a non-empty batch (n, C, H, W), got shape {tuple(x.shape)}")
    x = x.to(torch.float32)
    n, c, h, w = x.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    nrow = int(np.ceil(n / ncol))
    tiles = to_uint8(x)
    out = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, ncol)
        y0, x0 = pad + r * (h + pad), pad + q * (w + pad)
        out[y0 : y0 + h, x0 : x0 + w] = tiles[i]
    return out


def save(array: NDArray[np.uint8], path: str | Path, *, scale: int = 1) -> Path:
    """Write an ``(H, W, C)`` uint8 array as PNG (nearest-neighbour upscaled by ``scale``)."""
    from PIL import Image

    a = np.asarray(array)
    if scale > 1:
        a = a.repeat(scale, axis=0).repeat(scale, axis=1)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(p)
    return p


def save_grid(images: ImageBatch, path: str | Path, *, ncol: int | None = None, scale: int = 1, pad: int = 2) -> Path:
    """:func:`grid` then :func:`save` (tensors or numpy arrays, a batch, a list of images or one image)."""
    return save(grid(images, ncol=ncol, pad=pad), path, scale=scale)
