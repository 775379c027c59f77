"""Shared argument checks: each names the argument, what was expected and what was found."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from .errors import ImageShapeError, InputError, LatentShapeError

__all__ = ["as_image", "check_images", "check_latents", "check_positive_int"]


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or an :class:`InputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_latents(Z: Any, dim: int, name: str = "Z") -> NDArray[np.float32]:
    """Validate a batch of flattened solutions and return it as a float32 array ``(n, dim)``.

    Accepts anything ``np.asarray`` understands (lists, numpy arrays, CPU tensors) with
    shape ``(n, dim)`` or a single solution ``(dim,)``. The caller's array is never
    modified: float32 C-contiguous input is returned as a read-only view, anything else
    is copied.

    Raises:
        LatentShapeError: wrong rank or width, non-numeric dtype, NaN or inf values.
    """
    if isinstance(Z, torch.Tensor):
        Z = Z.detach().cpu().numpy()
    try:
        arr = np.asarray(Z)
    except (TypeError, ValueError) as exc:
        raise LatentShapeError(f"{name} must be a numeric array of shape (n, {dim}); got {type(Z).__name__}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise LatentShapeError(f"{name} must hold real numbers (float or int dtype), got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.shape[0] == dim:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise LatentShapeError(
            f"{name} must have shape (n, {dim}) (one flattened solution per row), got shape {arr.shape}"
            + (
                f"; for set problems a row holds all k latents flattened (k * latent_dim = {dim})"
                if arr.ndim == 3
                else ""
            )
        )
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))
        rows = sorted({int(r) for r in bad[:, 0]})
        raise LatentShapeError(
            f"{name} contains NaN or inf in {len(rows)} row(s) (first: row {rows[0]}, column {int(bad[0, 1])}); "
            "every coordinate must be finite"
        )
    if out is arr:  # no copy was made: hand out a read-only view so nothing downstream writes into it
        out = out.view()
        out.flags.writeable = False
    return out


def check_images(images: Any, name: str = "images") -> None:
    """Check that ``images`` is a float tensor of shape ``(n, C, H, W)`` with C in {1, 3}."""
    if not isinstance(images, torch.Tensor):
        raise ImageShapeError(f"{name} must be a torch.Tensor of shape (n, C, H, W), got {type(images).__name__}")
    if images.ndim != 4:
        raise ImageShapeError(f"{name} must have shape (n, C, H, W), got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ImageShapeError(f"{name} must be a float tensor with values in [-1, 1], got dtype {images.dtype}")


def as_image(image: Any, shape: tuple[int, int, int], name: str = "target") -> torch.Tensor:
    """Convert one image to a float32 tensor ``(C, H, W)`` in [-1, 1] matching ``shape``.

    Accepts numpy arrays or tensors shaped ``(C, H, W)``, ``(H, W)`` (single channel) or
    ``(H, W, C)`` (channels last, converted), with float values in [-1, 1] or uint8
    values in [0, 255]. The caller's array is copied, never modified.

    Raises:
        ImageShapeError: the image cannot be read as ``shape``.
    """
    c, h, w = shape
    if isinstance(image, torch.Tensor):
        arr = image.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(image)
        except (TypeError, ValueError) as exc:
            raise ImageShapeError(f"{name} must be an image array, got {type(image).__name__}") from exc
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2 and c == 1:
        arr = arr[None]
    elif arr.ndim == 3 and arr.shape[0] != c and arr.shape[-1] == c and arr.shape[:2] == (h, w):
        arr = np.moveaxis(arr, -1, 0)
    if arr.shape != (c, h, w):
        raise ImageShapeError(
            f"{name} must have shape {(c, h, w)} (C, H, W) to match the generator's images, got {arr.shape}; "
            "resize it first, e.g. with latentbridge.images.load(path, like=generator)"
        )
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 127.5 - 1.0
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32, copy=True)
        if not np.isfinite(out).all():
            raise ImageShapeError(f"{name} contains NaN or inf")
        lo, hi = float(out.min()), float(out.max())
        if lo < -1.05 or hi > 1.05:
            raise ImageShapeError(
                f"{name} must have float values in [-1, 1] (or be uint8 in [0, 255]); got range [{lo:.3g}, {hi:.3g}]"
            )
    else:
        raise ImageShapeError(f"{name} must be uint8 or float, got dtype {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(out))
