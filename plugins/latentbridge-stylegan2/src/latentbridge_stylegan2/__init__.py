"""latentbridge plugin: StyleGAN2-ADA generators (NVIDIA snapshots read without executing their code)."""

from __future__ import annotations

from latentbridge import hookimpl
from latentbridge.hookspecs import Register

from ._safe_pickle import ALLOWED_GLOBALS
from .errors import SnapshotLayoutError, SnapshotLimitError, UnsafePickleError
from .generator import SPACES, StyleGAN2Generator
from .loading import load_file, read_snapshot, read_state_dict
from .networks import Generator

__version__ = "0.1.0"

__all__ = [
    "ALLOWED_GLOBALS",
    "SPACES",
    "Generator",
    "SnapshotLayoutError",
    "SnapshotLimitError",
    "StyleGAN2Generator",
    "UnsafePickleError",
    "__version__",
    "latentbridge_register_generators",
    "load_file",
    "read_snapshot",
    "read_state_dict",
]


@hookimpl
def latentbridge_register_generators(register: Register) -> None:
    """Register the ``stylegan2`` generator."""
    register(
        "stylegan2",
        StyleGAN2Generator.load,
        description="StyleGAN2-ADA (NVIDIA .pkl snapshots or state dicts), z/w/w+ spaces",
    )
