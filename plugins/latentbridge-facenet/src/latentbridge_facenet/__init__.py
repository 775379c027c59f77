"""latentbridge-facenet: the ``facenet`` scorer (facenet-pytorch's InceptionResnetV1, seed 000's face metric)."""

from __future__ import annotations

from latentbridge import hookimpl
from latentbridge.hookspecs import Register

from ._calibrate import Calibration, calibrate, calibrate_images
from ._loader import FACENET_INSTALL, facenet_module
from ._scorer import INPUT_SIZE, PRETRAINED_URLS, FaceNetScorer, pixel_box, standardize

__all__ = [
    "FACENET_INSTALL",
    "INPUT_SIZE",
    "PRETRAINED_URLS",
    "Calibration",
    "FaceNetScorer",
    "calibrate",
    "calibrate_images",
    "facenet_module",
    "latentbridge_register_scorers",
    "pixel_box",
    "standardize",
]


@hookimpl
def latentbridge_register_scorers(register: Register) -> None:
    """Register ``facenet``: ``latentbridge.load_scorer("facenet", pretrained="vggface2" | weights=PATH, ...)``."""
    register(
        "facenet",
        FaceNetScorer.load,
        description="FaceNet (InceptionResnetV1, facenet-pytorch) embedding distance, seed 000",
    )
