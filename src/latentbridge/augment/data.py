"""Load and validate an augmentation data set, then split it into training originals and a held-out test set.

Three kinds of ``DATA``:

- a folder with one subfolder per class of image files (torchvision's ``ImageFolder`` layout);
- an ``.npz`` file with arrays ``images`` (``(n, H, W)``, ``(n, H, W, C)`` or ``(n, C, H, W)``; uint8 0..255
  or floats in [0, 1] / [-1, 1]) and ``labels`` (``(n,)`` ints or strings);
- a built-in name: ``mnist-small`` (MNIST digits the embedded models were *not* trained on),
  ``sklearn-digits`` (scikit-learn's 8×8 digits) or ``lfw-faces`` (scikit-image's 25×25 grey face crops
  against non-face crops: a data set of another kind than digits).

Everything is checked before any training starts; every problem raises one :class:`AugmentDataError`
that names the file or class. Sizes are checked before anything is decoded: image files by their headers
(at most :data:`MAX_SIDE` pixels per side, :data:`MAX_VALUES` pixel values in all), ``.npz`` arrays by their
``.npy`` headers (plain numeric images, labels of at most :data:`MAX_LABEL_BYTES` bytes each, at most
:data:`MAX_VALUES` values and :data:`MAX_ARRAY_BYTES` bytes per array). Class and file names are shown with
:func:`~latentbridge.campaign.render.visible` (an undecodable byte as ``\\xff``, control characters escaped).
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..campaign.render import visible
from ..errors import InputError

__all__ = [
    "BUILTIN_DATASETS",
    "IMAGE_SUFFIXES",
    "AugmentDataError",
    "DataSplit",
    "load_data",
]

#: File suffixes read from an ImageFolder-style directory (other files are ignored).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
#: Names that need no file.
BUILTIN_DATASETS: tuple[str, ...] = ("mnist-small", "sklearn-digits", "lfw-faces")

#: Most pixel values (images × channels × height × width) a data set may have: 2**28, 1 GiB as float32.
MAX_VALUES: int = 1 << 28
#: Most bytes an ``.npz`` array may declare (its ``.npy`` header is read first).
MAX_ARRAY_BYTES: int = 1 << 30
#: Most bytes one label of an ``.npz`` may declare (``<U64`` is 256 bytes).
MAX_LABEL_BYTES: int = 256
#: Most pixels per side of an image file.
MAX_SIDE: int = 512
_MAX_PIXELS = MAX_VALUES
_MAX_SIDE = MAX_SIDE
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "P;L"}


class AugmentDataError(InputError):
    """``DATA`` for ``latentbridge augment`` is missing, unreadable or unusable; the message names the file or class."""


@dataclass(frozen=True)
class DataSplit:
    """A labelled image set split into training originals and a held-out test set.

    Attributes:
        name: Where it came from (path or built-in name).
        classes: Class names; label ``i`` is ``classes[i]``.
        train_x: ``(n_train, C, H, W)`` float32 in [-1, 1]: the originals (GANs, supervisors and
            classifiers see only these).
        train_y: ``(n_train,)`` int64 labels.
        test_x: ``(n_test, C, H, W)`` float32 in [-1, 1]: never used for training anything.
        test_y: ``(n_test,)`` int64 labels.
    """

    name: str
    classes: tuple[str, ...]
    train_x: NDArray[np.float32]
    train_y: NDArray[np.int64]
    test_x: NDArray[np.float32]
    test_y: NDArray[np.int64]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def originals(self, label: int) -> NDArray[np.float32]:
        """Training images of class ``label`` ``(n, C, H, W)``."""
        out: NDArray[np.float32] = self.train_x[self.train_y == label]
        return out

    def digest(self) -> str:
        """sha256 over classes, images and labels of both splits (identifies the data in the store)."""
        h = hashlib.sha256()
        h.update("\x00".join(self.classes).encode())
        for arr in (self.train_x, self.train_y, self.test_x, self.test_y):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        """Sizes for the store and the report."""
        return {
            "name": self.name,
            "classes": list(self.classes),
            "image_shape": list(self.image_shape),
            "train_per_class": [int((self.train_y == i).sum()) for i in range(self.n_classes)],
            "test_per_class": [int((self.test_y == i).sum()) for i in range(self.n_classes)],
            "sha256": self.digest(),
        }


# --------------------------------------------------------------------------------------------- readers
def _to_float(arr: NDArray[Any], where: str) -> NDArray[np.float32]:
    """uint8 0..255 or floats in [0, 1] / [-1, 1] → float32 [-1, 1]."""
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32)
        x /= np.float32(127.5)
        x -= np.float32(1.0)
        return x
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise AugmentDataError(f"{where}: integer pixels must be in 0..255, found {arr.min()}..{arr.max()}")
        return (arr.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        x = arr.astype(np.float32)
        if not np.all(np.isfinite(x)):
            raise AugmentDataError(f"{where}: images contain NaN or inf")
        lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        if lo >= 0.0 and hi <= 1.0:
            return (x * 2.0 - 1.0).astype(np.float32)
        if lo >= -1.0 and hi <= 1.0:
            return x
        raise AugmentDataError(f"{where}: float pixels must lie in [0, 1] or [-1, 1], found {lo:.3g}..{hi:.3g}")
    raise AugmentDataError(f"{where}: images must be uint8, int or float, found dtype {arr.dtype}")


def _shown(path: Path | str) -> str:
    """A path as it is printed: undecodable bytes and control characters as visible escapes."""
    return visible(path)


def _image_header(path: Path) -> tuple[int, int, int]:
    """``(C, H, W)`` of an image file from its header only (nothing decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:  # reads the header; pixels are decoded by load()
            w, h = im.size
            channels = 1 if im.mode in _GREY_MODES else 3
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise AugmentDataError(
            f"image {_shown(path)} cannot be read ({type(exc).__name__}: {visible(exc)}); it is corrupt or not an "
            "image: remove or replace it"
        ) from None
    if w < 1 or h < 1 or w > _MAX_SIDE or h > _MAX_SIDE:
        raise AugmentDataError(f"image {_shown(path)}: size {w}×{h} is outside 1..{_MAX_SIDE} pixels per side")
    return channels, h, w


def _read_image(path: Path) -> NDArray[np.uint8]:
    """One image file → ``(C, H, W)`` uint8 (grey modes → 1 channel, everything else RGB)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
            if w < 1 or h < 1 or w > _MAX_SIDE or h > _MAX_SIDE:
                raise AugmentDataError(f"image {_shown(path)}: size {w}×{h} is outside 1..{_MAX_SIDE} pixels per side")
            rgb = im.mode not in _GREY_MODES
            im.load()
            arr = np.asarray(im.convert("RGB" if rgb else "L"), dtype=np.uint8)
    except AugmentDataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise AugmentDataError(
            f"image {_shown(path)} cannot be read ({type(exc).__name__}: {visible(exc)}); it is corrupt or not an "
            "image: remove or replace it"
        ) from None
    return arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)


def _class_names(dirs: list[Path]) -> tuple[str, ...]:
    """Folder names as class names, printable and writable (see :func:`visible`); two that read alike are refused."""
    names = tuple(visible(d.name) for d in dirs)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise AugmentDataError(f"two class folders are both shown as {dup!r}; rename one of them")
    return names


def _read_folder(root: Path) -> tuple[tuple[str, ...], NDArray[np.float32], NDArray[np.int64]]:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise AugmentDataError(
            f"DATA folder {_shown(root)} has no class subfolders; expected one subfolder of images per class "
            "(e.g. DATA/cat/*.png, DATA/dog/*.png)"
        )
    classes = _class_names(class_dirs)
    # pass 1: headers only, so a folder too large for memory is refused before any pixel is decoded
    plan: list[tuple[Path, int]] = []
    first: tuple[Path, tuple[int, ...]] | None = None
    for label, cdir in enumerate(class_dirs):
        files = sorted(p for p in cdir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise AugmentDataError(
                f"class {classes[label]!r} ({_shown(cdir)}) holds no image files ({', '.join(IMAGE_SUFFIXES[:4])}, ...)"
            )
        for f in files:
            shape = _image_header(f)
            if first is None:
                first = (f, shape)
            elif shape != first[1]:
                raise AugmentDataError(
                    f"image {_shown(f)} has shape (C, H, W) = {shape}, but {_shown(first[0])} has {first[1]}: every "
                    "image needs the same size and channel count (resize them or convert them all to grey or RGB first)"
                )
            plan.append((f, label))
            if len(plan) * int(np.prod(shape)) > _MAX_PIXELS:
                raise AugmentDataError(
                    f"DATA folder {_shown(root)} holds more than {_MAX_PIXELS:,} pixel values ({len(plan)} images of "
                    f"{'x'.join(map(str, shape))} so far, at {_shown(f)}); use fewer or smaller images"
                )
    assert first is not None
    # pass 2: decode into one preallocated array (uint8, then float32 in place: 5 bytes per value at most)
    raw = np.empty((len(plan), *first[1]), dtype=np.uint8)
    for i, (f, _) in enumerate(plan):
        arr = _read_image(f)
        if arr.shape != first[1]:  # the header said otherwise (a forged or changing file)
            raise AugmentDataError(f"image {_shown(f)} decodes to shape {arr.shape}, its header said {first[1]}")
        raw[i] = arr
    labels = np.asarray([label for _, label in plan], dtype=np.int64)
    return classes, _to_float(raw, _shown(root)), labels


#: What reading a damaged ``.npz`` member can raise (a truncated or corrupt deflate stream, an encrypted or
#: unknown-compression entry, a bad CRC).
_ARCHIVE_ERRORS = (
    ValueError,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
    SyntaxError,
)


def _npz_header(zf: zipfile.ZipFile, member: str, path: Path) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of one ``.npy`` member, read from its header only (nothing allocated)."""
    try:
        with zf.open(member) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
    except _ARCHIVE_ERRORS as exc:
        raise AugmentDataError(
            f"{_shown(path)}: {member} is not a readable .npy array ({type(exc).__name__}: {visible(exc)})"
        ) from None
    dims = tuple(int(s) for s in shape)
    if any(d < 0 for d in dims):
        raise AugmentDataError(f"{_shown(path)}: {member} declares a negative dimension {dims}")
    return dims, dtype


def _check_npz_sizes(
    path: Path,
    zf: zipfile.ZipFile,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    lshape: tuple[int, ...],
    ldtype: np.dtype[Any],
) -> None:
    """Refuse declared sizes that the reader would allocate blindly (before anything is read)."""
    where = _shown(path)
    if dtype.hasobject or ldtype.hasobject:
        raise AugmentDataError(f"{where}: object arrays are refused (they would need pickle); store numbers or strings")
    if dtype.kind not in "uifb" or dtype.itemsize > 8 or dtype.fields is not None:
        raise AugmentDataError(f"{where}: images must be numbers (uint8, int or float), found dtype {dtype}")
    if ldtype.kind not in "iuUSb" or ldtype.itemsize > MAX_LABEL_BYTES or ldtype.fields is not None:
        raise AugmentDataError(
            f"{where}: labels must be ints or strings of at most {MAX_LABEL_BYTES} bytes each, found dtype {ldtype}"
        )
    count = int(np.prod(shape, dtype=object))
    if len(shape) not in (3, 4) or count > _MAX_PIXELS:
        raise AugmentDataError(
            f"{where}: images must be (n, H, W), (n, H, W, C) or (n, C, H, W) of at most {_MAX_PIXELS:,} values, "
            f"found shape {shape}"
        )
    if len(lshape) != 1 or lshape[0] != shape[0]:
        raise AugmentDataError(f"{where}: labels must have shape ({shape[0]},) (one per image), found {lshape}")
    for member, n, dt in (("images.npy", count, dtype), ("labels.npy", lshape[0], ldtype)):
        nbytes = n * dt.itemsize
        stored = zf.getinfo(member).file_size
        if nbytes > MAX_ARRAY_BYTES or nbytes > stored:
            raise AugmentDataError(
                f"{where}: {member} declares {nbytes:,} bytes of data but the archive holds {stored:,} for it "
                f"(at most {MAX_ARRAY_BYTES:,} are read): the file is truncated or forged"
            )


def _read_npz(path: Path) -> tuple[tuple[str, ...], NDArray[np.float32], NDArray[np.int64]]:
    where = _shown(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for key in ("images", "labels"):
                if f"{key}.npy" not in names:
                    found = sorted(visible(n.removesuffix(".npy")) for n in names)
                    raise AugmentDataError(
                        f"{where} has no array {key!r} (found {found}); save it with "
                        "np.savez(path, images=..., labels=...)"
                    )
            shape, dtype = _npz_header(zf, "images.npy", path)
            lshape, ldtype = _npz_header(zf, "labels.npy", path)
            _check_npz_sizes(path, zf, shape, dtype, lshape, ldtype)
    except AugmentDataError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise AugmentDataError(f"{where} is not a readable .npz file ({type(exc).__name__}: {visible(exc)})") from None
    member = "images.npy"
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = np.asarray(npz["images"])
            member = "labels.npy"
            raw_labels = np.asarray(npz["labels"])
    except _ARCHIVE_ERRORS as exc:
        raise AugmentDataError(
            f"{where}: {member} cannot be read ({type(exc).__name__}: {visible(exc)}); the file is truncated or "
            "corrupt: save it again"
        ) from None
    if raw.ndim == 3:
        raw = raw[:, None]
    elif raw.shape[1] in (1, 3) and raw.shape[-1] not in (1, 3):
        pass  # (n, C, H, W)
    elif raw.shape[-1] in (1, 3):
        raw = np.moveaxis(raw, -1, 1)
    else:
        raise AugmentDataError(f"{where}: images must have 1 or 3 channels, found shape {raw.shape}")
    x = _to_float(raw, where)
    classes_arr, labels = np.unique(raw_labels, return_inverse=True)
    classes = tuple(visible(c) for c in classes_arr.tolist())
    if len(set(classes)) != len(classes):
        raise AugmentDataError(f"{where}: two labels are shown alike once made printable; rename one of them")
    return classes, x, labels.astype(np.int64).reshape(-1)


def _mnist_small() -> tuple[tuple[str, ...], NDArray[np.float32], NDArray[np.int64]]:
    """The 1,000 MNIST digits held out from the embedded models' training (100 per class)."""
    from ..data import load_mnist, to_float_images

    images, labels = load_mnist("test")
    return tuple(str(d) for d in range(10)), to_float_images(images), labels.astype(np.int64)


def _sklearn_digits() -> tuple[tuple[str, ...], NDArray[np.float32], NDArray[np.int64]]:
    """scikit-learn's 1,797 8×8 digits (pixels 0..16)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - sklearn is in the augment extra
        from ..errors import missing_extra

        raise missing_extra("sklearn", "augment", exc) from exc
    d = load_digits()
    x = (np.asarray(d.images, dtype=np.float32) / np.float32(8.0) - np.float32(1.0))[:, None]
    return tuple(str(c) for c in range(10)), x.astype(np.float32), np.asarray(d.target, dtype=np.int64)


#: What scikit-image's ``data/lfw_subset.npy`` must hold: 100 face crops, then 100 non-face crops, 25×25 grey.
_LFW_SHAPE: tuple[int, int, int] = (200, 25, 25)
#: Most bytes read from it (it is 1,000,080 bytes in scikit-image 0.22–0.26).
_LFW_MAX_BYTES: int = 4 << 20


def _lfw_path() -> Path:
    """Where the installed scikit-image keeps ``lfw_subset.npy`` (found without importing scikit-image)."""
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        from ..errors import missing_extra

        raise missing_extra("skimage", "augment")
    return Path(spec.origin).parent / "data" / "lfw_subset.npy"


def _lfw_faces() -> tuple[tuple[str, ...], NDArray[np.float32], NDArray[np.int64]]:
    """scikit-image's ``lfw_subset.npy``: 100 grey 25×25 face crops (label 0), then 100 non-faces (label 1).

    The file is read by :func:`latentbridge._validation.read_npy` (no pickle, size-capped, header checked
    against the file's length), then its shape, dtype and value range are checked.
    """
    from .._validation import read_npy

    path = _lfw_path()
    where = f"lfw-faces ({_shown(path)}, from scikit-image)"
    try:
        raw = read_npy(path, where, max_bytes=_LFW_MAX_BYTES)
    except InputError as exc:
        raise AugmentDataError(f"{exc}; reinstall scikit-image (pip install 'latentbridge[augment]')") from None
    if raw.shape != _LFW_SHAPE or raw.dtype.kind != "f":
        raise AugmentDataError(
            f"{where} holds {raw.dtype} of shape {raw.shape}, expected floats of shape {_LFW_SHAPE} (100 faces, then "
            "100 non-faces): this scikit-image ships another file; reinstall scikit-image>=0.22"
        )
    x = raw.astype(np.float32)
    if not np.all(np.isfinite(x)) or x.min() < 0.0 or x.max() > 1.0:
        raise AugmentDataError(f"{where} holds values outside [0, 1] or NaN: reinstall scikit-image>=0.22")
    half = _LFW_SHAPE[0] // 2
    labels = np.repeat(np.arange(2, dtype=np.int64), half)
    return ("face", "non-face"), (x * np.float32(2.0) - np.float32(1.0))[:, None], labels


_BUILTIN_LOADERS = {"mnist-small": _mnist_small, "sklearn-digits": _sklearn_digits, "lfw-faces": _lfw_faces}


# --------------------------------------------------------------------------------------------- public
def load_data(data: str | Path, *, train_per_class: int = 40, folds: int = 5, seed: int = 0) -> DataSplit:
    """Read ``data``, check it, and split each class into ``train_per_class`` originals and a test rest.

    Which images of a class are originals is drawn by ``numpy.random.default_rng(seed)`` (classes in
    order), so the split is fixed by the seed.

    Args:
        data: A class-per-subfolder image folder, an ``.npz`` (``images``, ``labels``) or a name in
            :data:`BUILTIN_DATASETS`.
        train_per_class: Originals per class (seed 002: 40).
        folds: Cross-validation folds the originals will be split into (each class needs at least this many).
        seed: Seed of the split.

    Returns:
        The :class:`DataSplit`.

    Raises:
        AugmentDataError: A missing path, an unreadable or corrupt image (named), mixed image sizes or
            channel counts (the first odd file is named), a single class, a class with fewer images than
            ``folds`` or without test images left (named), a built-in file that is not what it should be.
        MissingDependencyError: ``lfw-faces`` without scikit-image (or ``sklearn-digits`` without
            scikit-learn): install ``latentbridge[augment]``.
    """
    for name, val, low in (("train_per_class", train_per_class, 2), ("folds", folds, 2)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < low:
            raise AugmentDataError(f"{name} must be an int >= {low}, found {val!r}")
    if train_per_class < folds:
        raise AugmentDataError(
            f"train_per_class ({train_per_class}) must be >= folds ({folds}): the originals are split into the folds"
        )
    if isinstance(data, str) and data in BUILTIN_DATASETS:
        classes, x, y = _BUILTIN_LOADERS[data]()
        name = data
    else:
        path = Path(data)
        if not path.exists():
            raise AugmentDataError(
                f"DATA path {_shown(path)} does not exist; pass a folder with one subfolder of images per class, an "
                f".npz with 'images' and 'labels', or a built-in name ({', '.join(BUILTIN_DATASETS)})"
            )
        if path.is_dir():
            classes, x, y = _read_folder(path)
        elif path.suffix.lower() == ".npz":
            classes, x, y = _read_npz(path)
        else:
            raise AugmentDataError(
                f"DATA {_shown(path)} is a file but not an .npz; pass a folder of class subfolders or an .npz"
            )
        name = _shown(path)
    if len(classes) < 2:
        raise AugmentDataError(
            f"DATA {name} has a single class ({classes[0]!r}); augmentation for classification needs at least 2 classes"
        )
    rng = np.random.default_rng(seed)
    train_idx: list[NDArray[np.int64]] = []
    test_idx: list[NDArray[np.int64]] = []
    for label, cname in enumerate(classes):
        idx = np.flatnonzero(y == label)
        if idx.size < folds:
            raise AugmentDataError(
                f"class {cname!r} has {idx.size} images, fewer than the {folds} cross-validation folds; "
                "add images or lower --folds"
            )
        if idx.size <= train_per_class:
            raise AugmentDataError(
                f"class {cname!r} has {idx.size} images: {train_per_class} are taken as originals "
                "(--train-per-class) and none would be left for the test split; add images or lower --train-per-class"
            )
        perm = rng.permutation(idx)
        train_idx.append(np.sort(perm[:train_per_class]))
        test_idx.append(np.sort(perm[train_per_class:]))
    tr, te = np.concatenate(train_idx), np.concatenate(test_idx)
    return DataSplit(
        name=name,
        classes=tuple(classes),
        train_x=np.ascontiguousarray(x[tr]),
        train_y=y[tr].copy(),
        test_x=np.ascontiguousarray(x[te]),
        test_y=y[te].copy(),
    )
