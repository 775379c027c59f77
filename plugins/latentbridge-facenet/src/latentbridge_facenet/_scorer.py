"""FaceNet (facenet-pytorch's InceptionResnetV1) as a latentbridge scorer: fixed crop, 160×160, L2 or cosine."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from latentbridge import EmbeddingScorer
from latentbridge.errors import ImageShapeError, InputError, UnsafeFileError, WeightsError
from latentbridge.models.safe_load import load_torch_file
from latentbridge.precision import CompileMode, Precision, check_compile, check_precision
from latentbridge.validation import as_device, check_images
from torch import nn

from ._loader import facenet_module

__all__ = [
    "INPUT_SIZE",
    "PRETRAINED_URLS",
    "CropBox",
    "CropUnits",
    "FaceNetScorer",
    "pixel_box",
    "standardize",
]

INPUT_SIZE = (160, 160)
"""``(height, width)`` FaceNet was trained on; crops are resized to it."""

PRETRAINED_URLS: dict[str, str] = {
    "vggface2": "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
    "casia-webface": (
        "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180408-102900-casia-webface.pt"
    ),
}
"""Where facenet-pytorch 2.6.0 downloads its pretrained state_dicts from (its ``load_weights``)."""

CropUnits = Literal["fraction", "pixels"]
CropBox = tuple[float, float, float, float]


def standardize(x: torch.Tensor) -> torch.Tensor:
    """facenet-pytorch's ``fixed_image_standardization`` for latentbridge images.

    ``fixed_image_standardization(p) = (p - 127.5) / 128`` on pixels ``p`` in [0, 255]; with
    ``p = (x + 1) * 127.5`` for ``x`` in [-1, 1] this is ``x * 127.5 / 128``.

    Args:
        x: Images ``(n, 3, H, W)`` in [-1, 1].

    Returns:
        Standardised images ``(n, 3, H, W)``, values in [-0.996, 0.996].
    """
    return x * (127.5 / 128.0)


def _check_crop_box(crop_box: Sequence[float] | None, units: str) -> tuple[CropBox | None, CropUnits]:
    """Validate a crop box and its units; pixel boxes are checked against the image later."""
    if units not in ("fraction", "pixels"):
        raise InputError(f"crop_units must be 'fraction' or 'pixels', got {units!r}")
    if crop_box is None:
        return None, units  # type: ignore[return-value]
    try:
        box = tuple(float(v) for v in crop_box)
    except (TypeError, ValueError) as exc:
        raise InputError(f"crop_box must be 4 numbers (x0, y0, x1, y1), got {crop_box!r}") from exc
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise InputError(f"crop_box must be 4 finite numbers (x0, y0, x1, y1), got {crop_box!r}")
    x0, y0, x1, y1 = box
    upper = 1.0 if units == "fraction" else math.inf
    what = "fractions of the width/height in [0, 1]" if units == "fraction" else "pixel coordinates >= 0"
    if not (0.0 <= x0 < x1 <= upper and 0.0 <= y0 < y1 <= upper):
        raise InputError(
            f"crop_box must be (left, top, right, bottom) as {what} with left < right and top < bottom "
            f"(crop_units={units!r}), got {crop_box!r}"
        )
    return (x0, y0, x1, y1), units  # type: ignore[return-value]


def pixel_box(crop_box: CropBox | None, units: CropUnits, height: int, width: int) -> tuple[int, int, int, int]:
    """The crop box in whole pixels of a ``height`` × ``width`` image.

    Edges are rounded to the nearest pixel (fractions are scaled by the image size first);
    ``right``/``bottom`` are exclusive, and every box keeps at least one pixel.

    Args:
        crop_box: ``(left, top, right, bottom)`` in ``units``, or None for the whole image.
        units: ``"fraction"`` (of width/height) or ``"pixels"``.
        height: Image height in pixels.
        width: Image width in pixels.

    Returns:
        ``(left, top, right, bottom)`` with ``0 <= left < right <= width`` and ``0 <= top < bottom <= height``.

    Raises:
        ImageShapeError: a pixel box that does not fit inside the image.
    """
    if crop_box is None:
        return 0, 0, width, height
    x0, y0, x1, y1 = crop_box
    if units == "fraction":
        x0, x1, y0, y1 = x0 * width, x1 * width, y0 * height, y1 * height
    elif x1 > width or y1 > height:
        raise ImageShapeError(
            f"crop_box {crop_box} (pixels: left, top, right, bottom) does not fit inside the {height}×{width} "
            "images; give a box inside the image or use crop_units='fraction'"
        )
    left, top = min(round(x0), width - 1), min(round(y0), height - 1)
    right, bottom = max(round(x1), left + 1), max(round(y1), top + 1)
    return left, top, right, bottom


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _where_to_get(name: str | None = None) -> str:
    urls = {name: PRETRAINED_URLS[name]} if name else PRETRAINED_URLS
    links = "; ".join(f"{k}: {v}" for k, v in urls.items())
    return (
        f"Download the facenet-pytorch state_dict ({links}) on a machine with internet access, put the .pt file "
        "anywhere on this machine (e.g. next to your StyleGAN2 pickle) and pass weights='/path/to/file.pt'; "
        "or copy it into the torch hub cache that pretrained=... reads"
    )


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state_dict from a ``torch.save`` file, without unpickling arbitrary objects."""
    try:
        obj = load_torch_file(path)  # checked and bounded (latentbridge.models.safe_load), never torch.load
    except UnsafeFileError as exc:
        raise type(exc)(
            f"cannot read FaceNet weights from {path} ({exc}); expected a state_dict saved with torch.save. "
            f"{_where_to_get()}"
        ) from exc
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise WeightsError(f"{path} does not hold an InceptionResnetV1 state_dict (found {type(obj).__name__})")
    return {k: v for k, v in obj.items() if not k.startswith("logits.")}  # classifier head: unused


def _build(module: Any, state: dict[str, torch.Tensor], source: str) -> nn.Module:
    model: nn.Module = module.InceptionResnetV1(pretrained=None, classify=False)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise WeightsError(
            f"{source} is not an InceptionResnetV1 state_dict: missing keys {missing[:5]}"
            f"{'...' if len(missing) > 5 else ''}, unexpected keys {[k[:80] for k in unexpected[:5]]}"
            f"{'...' if len(unexpected) > 5 else ''}"
        )
    wrong = [
        f"{k} {tuple(v.shape)} (expected {tuple(expected[k].shape)})"
        for k, v in state.items()
        if v.shape != expected[k].shape or v.is_complex()
    ]
    if wrong:
        raise WeightsError(
            f"{source} is not an InceptionResnetV1 state_dict: wrong tensor shapes or types: {', '.join(wrong[:3])}"
            f"{f' ... ({len(wrong)} in all)' if len(wrong) > 3 else ''}"
        )
    model.load_state_dict(state, strict=True)
    return model


class FaceNetScorer(EmbeddingScorer):
    """Seed 000's face-similarity metric: FaceNet embeddings of a fixed face crop, compared by L2.

    ``embed`` turns images ``(n, C, H, W)`` in [-1, 1] (C = 1 or 3, any size) into unit-norm
    512-d embeddings ``(n, 512)`` on ``device``:

    1. grey images are repeated to RGB;
    2. the fixed crop box is cut out (seed 000 replaced per-image MTCNN detection by the
       average MTCNN box over many generated faces; see :func:`latentbridge_facenet.calibrate`);
    3. values are clamped to [-1, 1] (as saving the image as uint8 would) and the crop is resized
       to 160×160 (bilinear, antialiased like PIL's BILINEAR that MTCNN's ``extract_face`` uses);
    4. facenet-pytorch's fixed standardisation ``(p - 127.5) / 128`` is applied;
    5. facenet-pytorch's ``InceptionResnetV1.forward`` (eval mode) returns L2-normalised embeddings.

    ``distance`` is the Euclidean distance between embeddings (``metric="l2"``, seed 000's, in
    [0, 2]) or ``1 - cos`` (``metric="cosine"``, in [0, 2]), batched as ``(..., n, m)``.

    Use :meth:`load` (what ``latentbridge.load_scorer("facenet", ...)`` calls) to build one from
    weights; the constructor takes an already built model.

    Args:
        model: An ``InceptionResnetV1(classify=False)`` (or any module mapping ``(n, 3, 160, 160)``
            standardised images to ``(n, F)`` unit-norm features). Put in eval mode, frozen and moved
            to ``device``.
        crop_box: ``(left, top, right, bottom)`` of the face in every generated image, in
            ``crop_units``; None uses the whole image.
        crop_units: ``"fraction"`` (default: fractions of width and height in [0, 1], valid at any
            resolution) or ``"pixels"`` (pixel coordinates of the generator's images, right/bottom
            exclusive).
        metric: ``"l2"`` or ``"cosine"``.
        device: Where the model runs and features live (default CPU).
        extra_config: More JSON-able facts for :meth:`config` (weights file, hash, ...).
        precision: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: the network runs under
            ``torch.autocast``; crop, resize, standardisation and distances stay float32.
        channels_last: Channels-last weights and inputs (oneDNN's fast path on CPU).
        compile: ``True``: ``torch.compile``; ``"freeze"``: with the weights frozen into the graph
            (oneDNN fusion on CPU); eager fallback with a warning.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        crop_box: Sequence[float] | None = None,
        crop_units: CropUnits = "fraction",
        metric: Literal["l2", "cosine"] = "l2",
        device: str | torch.device | None = None,
        extra_config: dict[str, Any] | None = None,
        precision: Precision = "fp32",
        channels_last: bool = False,
        compile: CompileMode = False,
    ) -> None:
        dev = as_device(device)
        self.crop_box, self.crop_units = _check_crop_box(crop_box, crop_units)
        self.model = model.eval().requires_grad_(False).to(dev)
        super().__init__(
            self.model,
            metric=metric,
            input_size=INPUT_SIZE,
            channels=3,
            preprocess=standardize,
            normalize=False,  # InceptionResnetV1 already L2-normalises (cosine normalises anyway)
            device=dev,
            name="facenet",
            extra_config=extra_config,
            precision=precision,
            channels_last=channels_last,
            compile=compile,
        )

    @classmethod
    def load(
        cls,
        *,
        pretrained: str | None = None,
        weights: str | os.PathLike[str] | None = None,
        crop_box: Sequence[float] | None = None,
        crop_units: CropUnits = "fraction",
        metric: Literal["l2", "cosine"] = "l2",
        device: str | torch.device | None = None,
        download: bool = True,
        precision: Precision = "fp32",
        channels_last: bool = False,
        compile: CompileMode = False,
    ) -> FaceNetScorer:
        """Build the scorer from a local weights file or facenet-pytorch's pretrained weights.

        Args:
            pretrained: ``"vggface2"`` or ``"casia-webface"``: facenet-pytorch's own weights, read
                from its cache (``$TORCH_HOME/checkpoints``, default ``~/.cache/torch/checkpoints``)
                or downloaded there by facenet-pytorch when ``download`` is true and the network allows.
            weights: Path of a state_dict saved with ``torch.save`` (e.g. one of facenet-pytorch's
                release files); works offline. Give exactly one of ``pretrained`` and ``weights``.
            crop_box: See :class:`FaceNetScorer`.
            crop_units: See :class:`FaceNetScorer`.
            metric: ``"l2"`` (seed 000) or ``"cosine"``.
            device: Where the model runs, e.g. ``"cuda:0"`` (default CPU).
            download: Allow facenet-pytorch to download missing pretrained weights.
            precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (see :class:`FaceNetScorer`).
            channels_last: Channels-last weights and inputs.
            compile: ``True``, ``"freeze"`` or ``False`` (see :class:`FaceNetScorer`).

        Returns:
            The scorer; its ``config()`` records the weights' source and sha256.

        Raises:
            WeightsError: no weights given, the file is missing or not an InceptionResnetV1
                state_dict, or pretrained weights are neither cached nor downloadable; the message
                says where to get them and where to put them.
            InputError: both or an unknown ``pretrained`` name, bad crop box, metric or device.
            MissingDependencyError: facenet-pytorch is not installed.
        """
        if pretrained is not None and weights is not None:
            raise InputError("give either pretrained=... or weights=PATH, not both")
        if pretrained is not None and pretrained not in PRETRAINED_URLS:
            raise InputError(f"pretrained must be one of {sorted(PRETRAINED_URLS)}, got {pretrained!r}")
        if pretrained is None and weights is None:
            raise WeightsError(
                "the 'facenet' scorer needs weights: pass pretrained='vggface2' (facenet-pytorch downloads "
                f"and caches them) or weights=PATH to a local file. {_where_to_get()}"
            )
        _check_crop_box(crop_box, crop_units)  # fail before the (slow) model build
        if metric not in ("l2", "cosine"):
            raise InputError(f"metric must be 'l2' or 'cosine', got {metric!r}")
        check_precision(precision, as_device(device), owner="scorer 'facenet'")  # fail before the model build
        check_compile(compile, owner="scorer 'facenet'")
        fp = facenet_module()
        if weights is not None:
            path = Path(os.fspath(weights)).expanduser()
            if not path.is_file():
                raise WeightsError(f"FaceNet weights file {str(path)!r} does not exist. {_where_to_get()}")
            model = _build(fp.module, _read_state_dict(path), str(path))
            source: dict[str, Any] = {"weights": str(path.resolve()), "sha256": _sha256(path)}
        else:
            assert pretrained is not None
            model, path = _pretrained(fp.module, pretrained, download)
            source = {"pretrained": pretrained, "weights": str(path), "sha256": _sha256(path)}
        extra = {
            **source,
            "crop_box": list(crop_box) if crop_box is not None else None,
            "crop_units": crop_units,
            "facenet_pytorch": fp.version,
            "facenet_pytorch_import": fp.via,
        }
        return cls(
            model,
            crop_box=crop_box,
            crop_units=crop_units,
            metric=metric,
            device=device,
            extra_config=extra,
            precision=precision,
            channels_last=channels_last,
            compile=compile,
        )

    def pixel_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """The crop box in whole pixels ``(left, top, right, bottom)`` of ``height`` × ``width`` images."""
        return pixel_box(self.crop_box, self.crop_units, height, width)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` in [-1, 1] -> FaceNet input ``(n, 3, 160, 160)`` (crop, resize, standardise).

        Raises:
            ImageShapeError: not a float ``(n, C, H, W)`` tensor, C not 1 or 3, or a pixel crop
                box outside the image.
        """
        check_images(images, "images")
        if images.shape[1] not in (1, 3):
            raise ImageShapeError(
                f"FaceNet needs RGB (or grey) images (n, 3, H, W); got {images.shape[1]} channels "
                f"(shape {tuple(images.shape)})"
            )
        x = images.to(self.device, torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        left, top, right, bottom = self.pixel_box(x.shape[-2], x.shape[-1])
        x = x[:, :, top:bottom, left:right].clamp(-1.0, 1.0)
        if tuple(x.shape[-2:]) != INPUT_SIZE:
            x = F.interpolate(x, size=INPUT_SIZE, mode="bilinear", align_corners=False, antialias=True)
        return standardize(x)

    def config(self) -> dict[str, Any]:
        """JSON-able identity for the bench store (weights, hash, crop box, metric)."""
        out = super().config()
        out["crop_box"] = list(self.crop_box) if self.crop_box is not None else None
        out["crop_units"] = self.crop_units
        return out

    def calibrate(self, generator: Any, n: int = 1000, *, seed: int = 0, batch_size: int = 32) -> Any:
        """Set this scorer's crop box to the average MTCNN face box over ``n`` generated images.

        See :func:`latentbridge_facenet.calibrate` (needs torchvision); returns its
        :class:`~latentbridge_facenet.Calibration`.
        """
        from ._calibrate import calibrate

        cal = calibrate(generator, n, seed=seed, batch_size=batch_size)
        self.crop_box, self.crop_units = cal.box, "fraction"
        return cal

    def __repr__(self) -> str:
        return (
            f"FaceNetScorer(metric={self.metric!r}, crop_box={self.crop_box!r}, crop_units={self.crop_units!r}, "
            f"device={str(self.device)!r})"
        )


def _pretrained(module: Any, name: str, download: bool) -> tuple[nn.Module, Path]:
    """facenet-pytorch's pretrained model, from its cache or its own downloader."""
    url = PRETRAINED_URLS[name]
    cache = Path(module.get_torch_home()) / "checkpoints" / os.path.basename(url)
    if cache.is_file():
        return _build(module, _read_state_dict(cache), str(cache)), cache
    hint = (
        f"FaceNet weights pretrained={name!r} are not in facenet-pytorch's cache {str(cache)!r}"
        f" (set by $TORCH_HOME, default ~/.cache/torch/checkpoints)"
    )
    fix = (
        f"Download {url} where the network allows it and either copy it to {str(cache)!r} or pass "
        f"weights='/path/to/{os.path.basename(url)}' (works offline)."
    )
    if not download:
        raise WeightsError(f"{hint} and download=False. {fix}")
    try:  # facenet-pytorch's own downloader; the file is then read like any other (its load_weights would torch.load)
        cache.parent.mkdir(parents=True, exist_ok=True)
        module.download_url_to_file(url, str(cache))
    except Exception as exc:
        raise WeightsError(
            f"{hint}, and facenet-pytorch could not download them ({type(exc).__name__}: {exc}). {fix}"
        ) from exc
    return _build(module, _read_state_dict(cache), str(cache)), cache
