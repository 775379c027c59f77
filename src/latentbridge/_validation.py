"""Shared argument checks: each names the argument, what was expected and what was found."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import torch
from numpy.typing import NDArray

from .errors import ImageShapeError, InputError, LatentShapeError

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_IMAGE_PIXELS",
    "as_image",
    "check_device",
    "check_image_file",
    "check_images",
    "check_latents",
    "check_positive_int",
    "check_seed",
    "read_npy",
]

#: Largest ``.npy`` or image file read as a target or originals (bytes).
MAX_FILE_BYTES = 256 * 2**20
#: Largest image (width × height) decoded; bigger ones are refused before decoding (decompression bombs).
MAX_IMAGE_PIXELS = 64 * 2**20


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or an :class:`InputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


_NUMPY_TORCH_DTYPES = {
    torch.float16,
    torch.float32,
    torch.float64,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint8,
}


@overload
def check_seed(value: Any, name: str = ..., *, allow_none: Literal[False] = ...) -> int: ...
@overload
def check_seed(value: Any, name: str = ..., *, allow_none: bool) -> int | None: ...
def check_seed(value: Any, name: str = "seed", *, allow_none: bool = False) -> int | None:
    """``value`` as a seed: an int in ``[0, 2**63)`` (numpy ints too); None only if ``allow_none``.

    Floats, strings and bools are refused rather than coerced: ``1.5`` or ``'1'`` are
    almost always a mistake, and a run that records its seed must really have one.
    """
    if value is None:
        if allow_none:
            return None
        raise InputError(
            f"{name} must be an int >= 0 (runs are reproducible only under a seed), got None; pass e.g. {name}=0"
        )
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an int >= 0, got {value!r} ({type(value).__name__})")
    if not 0 <= int(value) < 2**63:
        raise InputError(f"{name} must be an int in [0, 2**63), got {value}")
    return int(value)


def check_device(device: Any, name: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` that exists on this machine (None -> CPU).

    Raises:
        InputError: not a device name, or a CUDA/MPS device this machine does not have.
    """
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise InputError(f"{name} must be a device name such as 'cpu' or 'cuda:0', got {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a torch device such as 'cpu' or 'cuda:0', got {device!r}") from exc
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = 0 if dev.index is None else dev.index
        if index >= count:
            have = f"this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})" if count else "no CUDA here"
            raise InputError(f"{name} {str(device)!r} does not exist: {have}; use 'cpu' or an existing device")
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise InputError(f"{name} {str(device)!r} does not exist: MPS is not available here; use 'cpu'")
    return dev


def _regular_file(path: Any, what: str, max_bytes: int) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what}: file not found (or not a regular file): {p}")
    size = p.stat().st_size
    if size > max_bytes:
        raise InputError(f"{what}: {p} is {size:,} bytes, more than the {max_bytes:,} bytes latentbridge reads")
    return p


def read_npy(path: str | Path, what: str = "array", *, max_bytes: int = MAX_FILE_BYTES) -> NDArray[Any]:
    """Read a ``.npy`` file of real numbers safely: size-capped, no pickles, no object or structured dtypes.

    The header is checked before any data is read: its shape must match the file's size,
    so a small file cannot make numpy allocate a huge array.

    Raises:
        InputError: missing, too large, truncated, not ``.npy`` or not a numeric array.
    """
    p = _regular_file(path, what, max_bytes)
    fmt = np.lib.format
    try:
        with p.open("rb") as fh:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(fh)
            else:
                shape, _, dtype = fmt.read_array_header_2_0(fh)
            offset = fh.tell()
    except (ValueError, OSError, SyntaxError, EOFError) as exc:
        raise InputError(f"{what}: {p} is not a readable .npy file ({exc})") from exc
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
        raise InputError(f"{what}: {p} holds dtype {dtype}; only plain numeric arrays are read (no objects)")
    if dtype.kind not in "fiub":
        raise InputError(f"{what}: {p} holds dtype {dtype}; expected float, int or uint8 values")
    count = math.prod(int(v) for v in shape)
    expected = offset + count * dtype.itemsize
    if count < 0 or expected != p.stat().st_size:
        raise InputError(
            f"{what}: {p} declares shape {shape} ({expected:,} bytes) but the file has {p.stat().st_size:,} bytes "
            "(truncated or forged header)"
        )
    try:
        arr: NDArray[Any] = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{what}: cannot read {p}: {exc}") from exc
    return arr


def check_image_file(
    path: str | Path, what: str = "image", *, max_bytes: int = MAX_FILE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> Path:
    """Check an image file before decoding it: size-capped, and at most ``max_pixels`` (decompression bombs).

    Only the header is read (Pillow opens lazily).

    Raises:
        InputError: missing, too large, unreadable, or more pixels than ``max_pixels``.
    """
    p = _regular_file(path, what, max_bytes)
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow is a dependency
        raise InputError("reading image files needs Pillow: pip install pillow") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below, with our limit
            with Image.open(p) as im:
                w, h = im.size
                frames = int(getattr(im, "n_frames", 1) or 1)
    except Image.DecompressionBombError as exc:
        raise InputError(f"{what}: {p} is a decompression bomb ({exc}); latentbridge does not decode it") from exc
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, ...
        raise InputError(f"{what}: cannot read image {p}: {type(exc).__name__}: {exc}") from exc
    if w * h > max_pixels or w < 1 or h < 1:
        raise InputError(
            f"{what}: {p} is {w} x {h} pixels; latentbridge decodes at most {max_pixels:,} pixels "
            "(a decompression bomb, or resize it first)"
        )
    if frames > 1:
        raise InputError(f"{what}: {p} has {frames} frames; give a single still image")
    return p


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
        if Z.dtype not in _NUMPY_TORCH_DTYPES:
            raise LatentShapeError(
                f"{name} is a torch tensor of dtype {Z.dtype}, which latentbridge does not convert silently; "
                f"pass {name}.float() (float32) or a numpy array"
            )
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
