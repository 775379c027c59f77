"""Measures: batched functions of images, the behaviour descriptors (and objectives) of quality-diversity searches.

A measure maps a batch of images ``(n, C, H, W)`` in [-1, 1] to ``(n,)`` or ``(n, m)``
values with torch operations, so that a gradient emitter can differentiate it through
the generator where it is differentiable. Measures are plugins found by name
(:func:`latentbridge.load_measure`); the built-ins are:

============================  ==========================================================================
``boldness``                  pixels at or above a threshold (pyribs' ``lsi_mnist``: a count in [0, C·H·W])
``lightness``                 mean intensity of those pixels (``lsi_mnist``: in [threshold, 1])
``class-probability``         the embedded digit classifier's probability of one digit, in [0, 1]
``embedding-pca``             coordinates along principal directions of a scorer's embedding of real images
``similarity``                a scorer's similarity to a target image (an objective: higher is more alike)
============================  ==========================================================================

Each reports a known range per column through ``bounds(image_shape)`` when it has one
(``None`` where it has not: a :class:`latentbridge.qd.QualityDiversity` problem then
estimates it from prior samples and records how).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from numpy.typing import NDArray

from ._protocols import Scorer, SupportsSimilarity, describe
from ._validation import as_image, check_device
from .errors import ImageShapeError, InputError

if TYPE_CHECKING:
    from .models.mnist import DigitCNN

__all__ = [
    "Boldness",
    "ClassProbability",
    "EmbeddingPCA",
    "ImageMeasure",
    "Lightness",
    "Measure",
    "Similarity",
    "as_measure",
    "check_measure_output",
]

#: A range per column: ``(low, high)`` when known, ``None`` when it must be estimated.
Bounds = tuple[tuple[float, float] | None, ...]


@runtime_checkable
class Measure(Protocol):
    """What a measure provides (what :func:`latentbridge.load_measure` returns).

    * ``names``: one name per column of the output (``m = len(names)``).
    * ``differentiable``: whether ``measure`` is differentiable in the images (torch autograd);
      gradient emitters (CMA-MEGA, CMA-MAEGA) need it.
    * ``bounds(image_shape)``: the known ``(low, high)`` of each column for images of that
      shape, or ``None`` per column where it is not known.
    * ``measure(images)``: ``(n, C, H, W)`` float images in [-1, 1] on any device ->
      ``(n,)`` (one column) or ``(n, m)`` float values; must not modify its input.
    * ``config()`` (optional): a JSON-able identity for problem configs.
    """

    @property
    def names(self) -> tuple[str, ...]:
        """One name per output column."""
        ...

    @property
    def differentiable(self) -> bool:
        """Whether :meth:`measure` has useful gradients with respect to the images."""
        ...

    def bounds(self, image_shape: tuple[int, int, int]) -> Bounds:
        """Known ``(low, high)`` of each column for images of ``image_shape``, ``None`` where unknown."""
        ...

    def measure(self, images: torch.Tensor) -> torch.Tensor:
        """Values ``(n,)`` or ``(n, m)`` of images ``(n, C, H, W)`` in [-1, 1]."""
        ...


def check_measure_output(measure: Measure, values: Any, n: int) -> torch.Tensor:
    """``values`` returned by ``measure`` for ``n`` images as an ``(n, m)`` tensor, or one clear error."""
    m = len(measure.names)
    if not isinstance(values, torch.Tensor):
        raise InputError(f"measure {_label(measure)} must return a torch tensor, got {type(values).__name__}")
    out = values.reshape(n, 1) if values.ndim == 1 else values
    if out.ndim != 2 or tuple(out.shape) != (n, m):
        raise InputError(
            f"measure {_label(measure)} returned shape {tuple(values.shape)} for {n} images; expected ({n},) or "
            f"({n}, {m}) (one column per name in {measure.names})"
        )
    return out


def _label(measure: Any) -> str:
    names = getattr(measure, "names", None)
    return f"{type(measure).__name__}{tuple(names) if names else ''}"


def as_measure(value: Any, what: str = "measure") -> Measure:
    """``value`` if it is a :class:`Measure`, else one clear error (names are resolved by
    :func:`latentbridge.load_measure`; :class:`~latentbridge.qd.QualityDiversity` accepts both)."""
    if isinstance(value, str):
        raise InputError(f"{what}={value!r} is a name: build it with latentbridge.load_measure({value!r})")
    if not isinstance(value, Measure):
        raise InputError(
            f"{what} must implement latentbridge.Measure (names, differentiable, bounds, measure) or be a registered "
            f"measure name; got {type(value).__name__}. Use latentbridge.load_measure(name, **options)"
        )
    names = value.names
    if not isinstance(names, tuple) or not names or not all(isinstance(s, str) and s for s in names):
        raise InputError(f"{what}: names must be a non-empty tuple of non-empty strings, got {names!r}")
    return value


class ImageMeasure(ABC):
    """Base class of the built-in measures: checks the images, computes, checks the output shape.

    Subclasses implement :meth:`_compute` on a float32 ``(n, C, H, W)`` tensor on
    :attr:`device` and set :attr:`names` and :attr:`differentiable`.
    """

    names: tuple[str, ...] = ()
    differentiable: bool = True
    _device: torch.device | None = None

    @property
    def device(self) -> torch.device | None:
        """Where the measure computes (None: on the images' device)."""
        return self._device

    def bounds(self, image_shape: tuple[int, int, int]) -> Bounds:
        """Known ranges (default: unknown for every column)."""
        return tuple(None for _ in self.names)

    def measure(self, images: torch.Tensor) -> torch.Tensor:
        """Values ``(n,)`` for one column, else ``(n, m)``, float32, on :attr:`device` (or the images' device)."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ImageShapeError(f"{_label(self)} takes images (n, C, H, W) as a torch tensor, got {shape}")
        x = images.to(self._device if self._device is not None else images.device, torch.float32)
        out = check_measure_output(self, self._compute(x), int(x.shape[0]))
        return out[:, 0] if out.shape[1] == 1 else out

    @abstractmethod
    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        """Values ``(n, m)`` (or ``(n,)``) of float32 images ``x`` in [-1, 1]."""

    def config(self) -> dict[str, Any]:
        """JSON-able identity (class, names and the settings that change the values)."""
        return {"class": type(self).__name__, "names": list(self.names), **self._settings()}

    def _settings(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._settings().items() if not isinstance(v, (dict, list)))
        return f"{type(self).__name__}({settings})"


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) or not 0 < threshold < 1:
        raise InputError(f"threshold must be a number in (0, 1) (on the [0, 1] intensity scale), got {threshold!r}")
    return float(threshold)


def _check_temperature(temperature: Any) -> float | None:
    if temperature is None:
        return None
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) or not temperature > 0:
        raise InputError(f"temperature must be None (exact count) or a number > 0 (smooth), got {temperature!r}")
    return float(temperature)


def _white(x01: torch.Tensor, threshold: float, temperature: float | None) -> torch.Tensor:
    """Per-pixel "white" weight: exactly ``x >= threshold`` (0/1), or ``sigmoid((x - threshold) / temperature)``."""
    if temperature is None:
        return (x01 >= threshold).to(x01.dtype)
    return torch.sigmoid((x01 - threshold) / temperature)


class Boldness(ImageMeasure):
    """How many pixels are "white": pyribs' ``lsi_mnist`` boldness.

    Pixels are mapped from [-1, 1] to [0, 1] (``(x + 1) / 2``); a pixel is white when its
    value is at least ``threshold`` (0.5 in ``lsi_mnist``). Every channel value counts.

    Args:
        threshold: White threshold on the [0, 1] scale.
        unit: ``"count"`` (``lsi_mnist``: in [0, C·H·W], 784 for MNIST) or ``"fraction"`` (in [0, 1]).
        temperature: None: the exact count (not differentiable: its gradient is zero almost
            everywhere). A number > 0: a smooth count, ``sum(sigmoid((x - threshold) / temperature))``,
            differentiable, for gradient emitters; it tends to the count as temperature -> 0.
    """

    def __init__(
        self, *, threshold: float = 0.5, unit: Literal["count", "fraction"] = "count", temperature: float | None = None
    ) -> None:
        if unit not in ("count", "fraction"):
            raise InputError(f"unit must be 'count' or 'fraction', got {unit!r}")
        self.threshold = _check_threshold(threshold)
        self.unit = unit
        self.temperature = _check_temperature(temperature)
        self.names = ("boldness",)
        self.differentiable = self.temperature is not None

    def bounds(self, image_shape: tuple[int, int, int]) -> Bounds:
        """``(0, C·H·W)`` for counts, ``(0, 1)`` for fractions."""
        return ((0.0, float(np.prod(image_shape)) if self.unit == "count" else 1.0),)

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        white = _white((x + 1.0) / 2.0, self.threshold, self.temperature).flatten(1)
        return white.sum(dim=1) if self.unit == "count" else white.mean(dim=1)

    def _settings(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "unit": self.unit, "temperature": self.temperature}


class Lightness(ImageMeasure):
    """Mean intensity of the white pixels: pyribs' ``lsi_mnist`` lightness.

    ``sum(x · white) / (count(white) + 1)`` on the [0, 1] scale, with ``white`` as in
    :class:`Boldness` (the ``+ 1`` is ``lsi_mnist``'s, to avoid dividing by zero: an image
    without white pixels has lightness 0). Its range is ``(threshold, 1)`` as in
    ``lsi_mnist`` (a few white pixels give less; the archive puts them in the edge cells).

    Args:
        threshold: White threshold on the [0, 1] scale.
        temperature: None: exact; a number > 0: smooth white weights (differentiable), as in
            :class:`Boldness`.
    """

    def __init__(self, *, threshold: float = 0.5, temperature: float | None = None) -> None:
        self.threshold = _check_threshold(threshold)
        self.temperature = _check_temperature(temperature)
        self.names = ("lightness",)
        self.differentiable = self.temperature is not None

    def bounds(self, image_shape: tuple[int, int, int]) -> Bounds:
        """``(threshold, 1)``, as ``lsi_mnist``."""
        return ((self.threshold, 1.0),)

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        x01 = ((x + 1.0) / 2.0).flatten(1)
        white = _white(x01, self.threshold, self.temperature)
        return (x01 * white).sum(dim=1) / (white.sum(dim=1) + 1.0)

    def _settings(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "temperature": self.temperature}


def _check_digit(digit: Any) -> int:
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= int(digit) <= 9:
        raise InputError(f"digit must be an int in 0..9, got {digit!r}")
    return int(digit)


class ClassProbability(ImageMeasure):
    """The embedded digit classifier's probability that an image shows ``digit``, in [0, 1].

    ``softmax(DigitCNN(x))[:, digit]`` on ``(n, 1, 28, 28)`` images (the classifier of the
    ``mnist-embed`` scorer, whose logits head the scorer does not use). As an objective it
    is ``lsi_mnist``'s (there: LeNet-5's probability of an 8); as a realism check it is the
    classifier's confidence in the intended class. Differentiable.

    Args:
        digit: The class, 0..9.
        path: A weights file made by ``latentbridge train mnist``; default: the shipped one.
        device: Where to run the classifier.
        classifier: An already loaded :class:`~latentbridge.models.mnist.DigitCNN` (then ``path``
            is ignored).
        channels_last: Channels-last weights and inputs for the classifier it loads (faster on
            CPU, as the built-in models' default).
    """

    def __init__(
        self,
        digit: int,
        *,
        path: str | None = None,
        device: str | torch.device | None = None,
        classifier: DigitCNN | None = None,
        channels_last: bool = True,
    ) -> None:
        from .models.mnist import DigitCNN, load_digit_cnn
        from .precision import to_channels_last

        self.digit = _check_digit(digit)
        self._device = check_device(device)
        if classifier is not None and not isinstance(classifier, DigitCNN):
            raise InputError(f"classifier must be a latentbridge DigitCNN, got {type(classifier).__name__}")
        self.net = classifier.to(self._device) if classifier is not None else load_digit_cnn(path, self._device)
        self.channels_last = bool(channels_last) and classifier is None and to_channels_last(self.net)
        self.names = (f"p({self.digit})",)
        self.differentiable = True

    def bounds(self, image_shape: tuple[int, int, int]) -> Bounds:
        """``(0, 1)``."""
        return ((0.0, 1.0),)

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != (1, 28, 28):
            raise ImageShapeError(
                f"class-probability uses the embedded digit classifier, which takes (n, 1, 28, 28) images; got "
                f"{tuple(x.shape)}. Use it with a 28x28 grey generator such as mnist-dcgan"
            )
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return torch.softmax(self.net(x), dim=1)[:, self.digit]

    def _settings(self) -> dict[str, Any]:
        from ._protocols import weights_digest

        return {"digit": self.digit, "state_sha256": weights_digest(self.net)}


def _as_scorer(scorer: Any) -> Scorer:
    """A scorer object; registered names are resolved by :func:`latentbridge.load_measure`, not here."""
    if scorer is None:  # the embedded digit CNN's features, as the registered scorer "mnist-embed"
        from ._embedded import mnist_embed

        return mnist_embed()
    if isinstance(scorer, str):
        raise InputError(
            f"scorer={scorer!r} is a name: pass a scorer object (latentbridge.load_scorer({scorer!r})), or build the "
            f"measure by name, which resolves it: latentbridge.load_measure(..., scorer={scorer!r})"
        )
    if not isinstance(scorer, Scorer):
        raise InputError(
            f"scorer must be a latentbridge.Scorer or a registered scorer name, got {type(scorer).__name__}"
        )
    return scorer


def _fit_images(images: Any, digits: Sequence[int] | None) -> tuple[torch.Tensor, str]:
    """Real images to fit on ``(N, C, H, W)`` float32 in [-1, 1], and a name for the record."""
    if images is None:
        from .data import load_mnist, to_float_images

        raw, labels = load_mnist("train")
        keep = np.ones(labels.shape[0], dtype=bool) if digits is None else np.isin(labels, list(digits))
        return torch.from_numpy(to_float_images(raw[keep])), "mnist-train"
    if digits is not None:
        raise InputError("digits selects classes of the built-in MNIST sample; with your own images leave it None")
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or arr.shape[0] < 2:
        raise ImageShapeError(f"images to fit on must be (N, C, H, W) with N >= 2, got shape {arr.shape}")
    shape = (int(arr.shape[1]), int(arr.shape[2]), int(arr.shape[3]))
    return torch.stack([as_image(a, shape, name=f"images[{i}]") for i, a in enumerate(arr)]), "given"


class EmbeddingPCA(ImageMeasure):
    """Coordinates along the first principal directions of a scorer's embedding of real images.

    Fitting (at construction, deterministic): the real images (by default the 4,000
    ``train`` digits of :func:`latentbridge.data.load_mnist`, optionally only some
    ``digits``) are embedded by ``scorer`` in float64; the directions are the top right
    singular vectors of the centred features, each signed so that its largest-magnitude
    coordinate is positive. ``measure`` projects ``embed(images) - mean`` on them
    (differentiable where the scorer is). The known range of each coordinate is the range
    of the real images' projections widened by ``margin`` of it on each side. :meth:`config`
    records the scorer, the data, its sha256, the explained variance and a hash of the fit.

    Args:
        scorer: A scorer (None: the embedded digit CNN's features, the ``"mnist-embed"`` scorer); by name
            through ``latentbridge.load_measure("embedding-pca", scorer="mnist-embed")``.
        components: How many directions (columns).
        images: Real images ``(N, C, H, W)`` to fit on instead of the MNIST sample.
        digits: With the MNIST sample, fit on these classes only.
        margin: Widening of the fitted ranges, as a fraction of each range.
    """

    def __init__(
        self,
        scorer: Scorer | None = None,
        *,
        components: int = 2,
        images: Any = None,
        digits: Sequence[int] | None = None,
        margin: float = 0.1,
    ) -> None:
        if isinstance(components, bool) or not isinstance(components, (int, np.integer)) or components < 1:
            raise InputError(f"components must be a positive int, got {components!r}")
        if not 0 <= float(margin) <= 10:
            raise InputError(f"margin must be a fraction in [0, 10], got {margin!r}")
        digit_list = None if digits is None else sorted({_check_digit(d) for d in digits})
        self.scorer = _as_scorer(scorer)
        self._device = self.scorer.device
        real, source = _fit_images(images, digit_list)
        feats = self._embed_all(real).to(torch.float64)
        if int(components) > min(feats.shape):
            raise InputError(
                f"components={components} exceeds what {feats.shape[0]} images of {feats.shape[1]} features allow"
            )
        self.mean = feats.mean(dim=0)
        centred = feats - self.mean
        _, sv, vh = torch.linalg.svd(centred, full_matrices=False)
        comps = vh[: int(components)]
        signs = torch.sign(comps.gather(1, comps.abs().argmax(dim=1, keepdim=True)))
        self.components = comps * signs  # (components, F)
        proj = centred @ self.components.T
        lo, hi = proj.min(dim=0).values, proj.max(dim=0).values
        pad = float(margin) * (hi - lo)
        self._bounds = tuple((float(a), float(b)) for a, b in zip(lo - pad, hi + pad, strict=True))
        var = sv.square()
        self.explained_variance_ratio = [float(v) for v in (var[: int(components)] / var.sum())]
        self.names = tuple(f"pc{i + 1}" for i in range(int(components)))
        self.differentiable = True
        digest = hashlib.sha256(real.numpy().tobytes()).hexdigest()
        self.fit_record: dict[str, Any] = {
            "data": source,
            "digits": digit_list,
            "n": int(real.shape[0]),
            "images_sha256": digest,
            "margin": float(margin),
            "explained_variance_ratio": self.explained_variance_ratio,
            "components_sha256": hashlib.sha256(self.components.numpy().tobytes()).hexdigest(),
        }
        self._mean32 = self.mean.to(self._device, torch.float32)
        self._comps32 = self.components.to(self._device, torch.float32)

    def _embed_all(self, images: torch.Tensor, chunk: int = 512) -> torch.Tensor:
        with torch.no_grad():  # not inference_mode: the fit's tensors take part in later autograd graphs
            return torch.cat([self.scorer.embed(images[i : i + chunk]).cpu() for i in range(0, len(images), chunk)])

    def bounds(self, image_shape: tuple[int, int, int]) -> Bounds:
        """The real images' projection ranges, widened by ``margin``."""
        return self._bounds

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.scorer.embed(x).to(torch.float32)
        out: torch.Tensor = (feats - self._mean32.to(feats.device)) @ self._comps32.to(feats.device).T
        return out

    def _settings(self) -> dict[str, Any]:
        return {"scorer": describe(self.scorer), "fit": self.fit_record}


class Similarity(ImageMeasure):
    """A scorer's similarity of each image to a target image: an objective for quality-diversity.

    ``scorer.similarity(embed(image), embed(target))`` when the scorer has one (``ncc``),
    else ``-scorer.distance(...)``: higher is more alike, as pyribs maximises. The range is
    unknown (a :class:`~latentbridge.qd.QualityDiversity` problem estimates it).

    Args:
        scorer: A scorer; by name through ``latentbridge.load_measure("similarity", scorer="ncc", target=...)``.
        target: The target image ``(C, H, W)`` (or ``(H, W)``, ``(H, W, C)``), float in [-1, 1] or uint8.
    """

    def __init__(self, scorer: Scorer, target: Any) -> None:
        self.scorer = _as_scorer(scorer)
        self._device = self.scorer.device
        arr = target.detach().cpu() if isinstance(target, torch.Tensor) else np.asarray(target)
        if arr.ndim not in (2, 3):
            raise ImageShapeError(
                f"target must be one image (C, H, W), (H, W) or (H, W, C), got shape {tuple(arr.shape)}"
            )
        self.target = as_image(arr, _image_shape_of(arr), name="target")
        with torch.no_grad():  # not inference_mode: these features take part in later autograd graphs
            self._target_feats = self.scorer.embed(self.target[None].to(self._device)).clone()
        self.names = ("similarity",)
        self.differentiable = True

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.scorer.embed(x)
        tf = self._target_feats.to(feats.device)
        if isinstance(self.scorer, SupportsSimilarity):
            return self.scorer.similarity(feats, tf)[:, 0]
        return -self.scorer.distance(feats, tf)[:, 0]

    def _settings(self) -> dict[str, Any]:
        digest = hashlib.sha256(self.target.numpy().tobytes()).hexdigest()
        return {"scorer": describe(self.scorer), "target_sha256": digest}


def _image_shape_of(arr: Any) -> tuple[int, int, int]:
    """``(C, H, W)`` of one image given as ``(C, H, W)``, ``(H, W)`` or ``(H, W, C)``."""
    shape = tuple(int(s) for s in arr.shape)
    if len(shape) == 2:
        return (1, shape[0], shape[1])
    if shape[0] in (1, 3):
        return (shape[0], shape[1], shape[2])
    return (shape[2], shape[0], shape[1])


def fitted_bounds(values: NDArray[np.float64], margin: float) -> list[tuple[float, float]]:
    """Per column ``[min, max]`` of finite ``values (n, m)``, widened by ``margin`` of the range (0.5 if flat)."""
    out = []
    for col in values.T:
        ok = col[np.isfinite(col)]
        if ok.size == 0:
            raise InputError("cannot estimate a measure's range: every sampled value is NaN or inf")
        lo, hi = float(ok.min()), float(ok.max())
        pad = margin * (hi - lo) if hi > lo else 0.5
        out.append((lo - pad, hi + pad))
    return out
