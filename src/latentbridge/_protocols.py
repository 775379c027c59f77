"""The two things plugins provide: latent generators and scorers (typing protocols)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import weakref
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import torch

    from ._latent import LatentSpace

__all__ = ["LatentGenerator", "Scorer", "SupportsSimilarity", "describe", "set_origin", "weights_digest"]

T = TypeVar("T")


@runtime_checkable
class LatentGenerator(Protocol):
    """Maps latent vectors to images; what ``load_generator`` returns.

    Conventions every implementation follows:

    * ``generate(z)`` takes a float32 tensor of shape ``(n, *latent.shape)`` on
      ``device`` and returns a float32 tensor ``(n, *image_shape)`` (NCHW) with
      pixel values in ``[-1, 1]`` (approximately: GAN outputs may overshoot).
    * Problems call ``generate`` inside ``torch.inference_mode()`` and split large
      batches themselves; a generator may assume ``n`` is what the caller chose.
    * ``config()`` (optional) returns a JSON-serialisable dict that identifies the
      model (name, weights file, options) for the bench store.
    """

    @property
    def latent(self) -> LatentSpace:
        """The latent space (shape and prior) this generator reads."""
        ...

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of generated images."""
        ...

    @property
    def device(self) -> torch.device:
        """Where ``generate`` expects its input and runs."""
        ...

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images for latents ``z``: ``(n, *latent.shape)`` -> ``(n, C, H, W)`` in [-1, 1]."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """Turns images into features and measures distances between features.

    * ``embed(images)`` takes ``(n, C, H, W)`` float images in ``[-1, 1]`` (on any
      device) and returns ``(n, F)`` features on ``device``; it owns all of its
      preprocessing (resize, crop, channel conversion, normalisation).
    * ``distance(a, b)`` takes features ``(..., n, F)`` and ``(..., m, F)`` and
      returns ``(..., n, m)`` distances: lower means more alike, ``distance(a, a)``
      has a zero diagonal. Leading batch axes broadcast as in ``torch.cdist``.
    """

    @property
    def device(self) -> torch.device:
        """Where ``embed`` runs and returns its features."""
        ...

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``(n, F)`` of images ``(n, C, H, W)`` in [-1, 1]."""
        ...

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pairwise distances ``(..., n, m)`` between features ``(..., n, F)`` and ``(..., m, F)``."""
        ...


@runtime_checkable
class SupportsSimilarity(Protocol):
    """Opt-in: a scorer whose natural measure is a similarity (e.g. NCC in [-1, 1]).

    Set-diversity problems report mean pairwise *similarity* (seed 002); scorers
    without this method use ``-distance`` as their similarity.
    """

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pairwise similarities ``(..., n, m)``; higher means more alike."""
        ...


_ORIGIN_ATTR = "_latentbridge_origin"
_DIGESTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_ORIGINS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _jsonable(value: Any) -> Any:
    """``value`` reduced to JSON types (paths and devices as strings) for identities."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


#: Options that choose how a model runs, not what it computes: left out of the identity. ``precision``
#: does change results, and objects put it in their own ``config()`` whenever it is not fp32.
EXECUTION_OPTIONS = frozenset({"device", "channels_last", "compile", "precision"})


def set_origin(obj: T, name: str, options: dict[str, Any]) -> T:
    """Record that ``obj`` was built as registry name ``name`` with ``options`` (part of :func:`describe`).

    Options in :data:`EXECUTION_OPTIONS` (device, memory layout, compilation, precision)
    are not recorded: the same model on another device or layout is the same problem.
    """
    kept = {k: v for k, v in options.items() if k not in EXECUTION_OPTIONS}
    origin = {"name": name, "options": _jsonable(kept)}
    try:
        object.__setattr__(obj, _ORIGIN_ATTR, origin)
    except (AttributeError, TypeError):  # __slots__ or a frozen object: remember it on the side
        with contextlib.suppress(TypeError):
            _ORIGINS[obj] = origin
    return obj


def _origin(obj: Any) -> dict[str, Any] | None:
    origin = getattr(obj, _ORIGIN_ATTR, None)
    if isinstance(origin, dict):
        return origin
    try:
        return _ORIGINS.get(obj)
    except TypeError:
        return None


def _modules(obj: Any) -> list[Any]:
    """The ``torch.nn.Module`` objects that hold ``obj``'s weights (itself, its attributes, a bound method's owner)."""
    import torch

    found: list[Any] = []
    candidates = [obj, getattr(obj, "__self__", None)]
    with contextlib.suppress(TypeError):
        for value in vars(obj).values():
            candidates += [value, getattr(value, "__self__", None)]
    for c in candidates:
        if isinstance(c, torch.nn.Module) and all(c is not f for f in found):
            found.append(c)
    return found


def module_digest(module: Any) -> str:
    """SHA-256 of a module's ``state_dict`` (names, dtypes, shapes and bytes), computed once per module object."""
    cached = _DIGESTS.get(module)
    if cached is not None:
        return cached
    import torch

    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        if isinstance(value, torch.Tensor):
            t = value.detach().to("cpu").contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        else:
            h.update(repr(value).encode())
    digest = h.hexdigest()
    _DIGESTS[module] = digest
    return digest


def weights_digest(obj: Any) -> str | None:
    """SHA-256 over the weights of every module ``obj`` holds, or None when it holds none."""
    mods = _modules(obj)
    if not mods:
        return None
    if len(mods) == 1:
        return module_digest(mods[0])
    return hashlib.sha256("".join(module_digest(m) for m in mods).encode()).hexdigest()


def describe(obj: Any) -> dict[str, Any]:
    """The identity of a generator or scorer: what a problem's ``config_hash`` is computed from.

    Its ``config()`` (or its class name when it has none), plus ``registry`` (the registry
    name and options it was built from by ``load_generator``/``load_scorer``) and
    ``state_sha256`` (a hash of the weights of the torch modules it holds, computed once per
    module). Two generators that differ in weights, registry name or options therefore
    never describe alike.
    """
    out: dict[str, Any] = {"class": f"{type(obj).__module__}.{type(obj).__qualname__}"}
    cfg = getattr(obj, "config", None)
    if callable(cfg):
        got = cfg()
        if isinstance(got, dict):
            out = dict(got)
    origin = _origin(obj)
    if origin is not None:
        out["registry"] = origin
    if "state_sha256" not in out:
        digest = weights_digest(obj)
        if digest is not None:
            out["state_sha256"] = digest
    return out
