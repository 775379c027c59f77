"""The two things plugins provide: latent generators and scorers (typing protocols)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from ._latent import LatentSpace

__all__ = ["LatentGenerator", "Scorer", "SupportsSimilarity"]


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


def describe(obj: Any) -> dict[str, Any]:
    """The ``config()`` of a generator or scorer, or its class name when it has none."""
    cfg = getattr(obj, "config", None)
    if callable(cfg):
        out = cfg()
        if isinstance(out, dict):
            return dict(out)
    return {"class": f"{type(obj).__module__}.{type(obj).__qualname__}"}
