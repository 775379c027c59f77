"""The one place that imports facenet-pytorch: InceptionResnetV1 without torchvision, MTCNN with it."""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from latentbridge.errors import MissingDependencyError

__all__ = ["FACENET_INSTALL", "FaceNetModule", "facenet_module", "mtcnn_class"]

FACENET_INSTALL = "pip install --no-deps facenet-pytorch==2.6.0"
"""How to install facenet-pytorch without letting pip replace torch/numpy (it pins torch<2.3, numpy<2)."""

# Private names under which the two files are registered in sys.modules when loaded without the package.
_PREFIX = "latentbridge_facenet._facenet_pytorch_file"
# Imported by facenet-pytorch only to download weights; a no-op stand-in is used where they are absent.
_DOWNLOAD_ONLY = ("requests", "tqdm")

_LOCK = threading.Lock()
_CACHE: FaceNetModule | None = None


@dataclass(frozen=True)
class FaceNetModule:
    """facenet-pytorch's ``models/inception_resnet_v1.py`` module and how it was obtained.

    Attributes:
        module: The module; it defines ``InceptionResnetV1``, ``load_weights``, ``get_torch_home``
            and (imported from ``models/utils/download.py``) ``download_url_to_file``.
        via: ``"package"`` when ``import facenet_pytorch`` worked, ``"file"`` when the file was
            executed on its own because the package import failed.
        reason: Why the package import failed (``""`` for ``"package"``).
        version: The installed facenet-pytorch version.
    """

    module: ModuleType
    via: str
    reason: str
    version: str


def _version() -> str:
    import importlib.metadata as md

    try:
        return md.version("facenet-pytorch")
    except md.PackageNotFoundError:
        return "unknown"


def _package_dir() -> Path:
    """facenet-pytorch's package folder, found without executing its ``__init__``."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the 'facenet' scorer needs facenet-pytorch, which is not installed. Install it WITHOUT its "
            f"dependencies, so that pip keeps your torch and numpy: {FACENET_INSTALL}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


class _NoProgress:
    """Stand-in for ``tqdm.tqdm`` (progress bar of facenet-pytorch's downloader) when tqdm is absent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        """Ignore progress."""


def _stand_in(name: str) -> ModuleType:
    """An empty module for a download-only import (``requests``, ``tqdm``) that is not installed."""
    mod = ModuleType(name)
    mod.__doc__ = f"latentbridge-facenet stand-in for the missing {name!r} (only used to download weights)"
    mod.tqdm = _NoProgress  # type: ignore[attr-defined]  # tqdm, tqdm.auto
    mod.HTTPAdapter = object  # type: ignore[attr-defined]  # requests.adapters (imported, never used)
    return mod


def _importer(siblings: Mapping[str, ModuleType]) -> Callable[..., ModuleType]:
    """An ``__import__`` for one executed file: siblings for relative imports, stand-ins for download-only deps."""
    real = builtins.__import__

    def _import(
        name: str,
        globals: Mapping[str, object] | None = None,
        locals: Mapping[str, object] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> ModuleType:
        if level > 0 and name in siblings:
            return siblings[name]
        try:
            return real(name, globals, locals, fromlist, level)
        except ImportError:
            if level == 0 and name.split(".")[0] in _DOWNLOAD_ONLY:
                return _stand_in(name)
            raise

    return _import


def _exec_file(path: Path, name: str, siblings: Mapping[str, ModuleType]) -> ModuleType:
    """Execute ``path`` as module ``name`` with :func:`_importer` as its ``__import__``."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MissingDependencyError(f"cannot read {path}; reinstall facenet-pytorch: {FACENET_INSTALL}")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__builtins__"] = {**vars(builtins), "__import__": _importer(siblings)}
    sys.modules[name] = module  # classes defined there must be findable by name (pickle, torch.save)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_file(pkg: Path) -> ModuleType:
    """``models/inception_resnet_v1.py`` executed on its own, without ``facenet_pytorch/__init__.py``.

    The package ``__init__`` imports MTCNN, which imports torchvision; the model file itself only
    needs torch, its sibling ``models/utils/download.py`` (resolved here) and, for downloads,
    ``requests``/``tqdm`` (replaced by inert stand-ins where they are not installed).
    """
    download = _exec_file(pkg / "models" / "utils" / "download.py", f"{_PREFIX}.download", {})
    return _exec_file(
        pkg / "models" / "inception_resnet_v1.py", f"{_PREFIX}.inception_resnet_v1", {"utils.download": download}
    )


def facenet_module() -> FaceNetModule:
    """facenet-pytorch's InceptionResnetV1 module, imported the normal way when possible.

    ``import facenet_pytorch`` runs the package ``__init__``, which imports MTCNN and through it
    torchvision. Where that import fails (torchvision missing or built for another torch, or
    ``requests``/``tqdm`` missing after a ``--no-deps`` install), the model file
    ``facenet_pytorch/models/inception_resnet_v1.py`` is executed on its own instead; the network
    and its forward are facenet-pytorch's code either way. The result is cached per process.

    Returns:
        The module and how it was obtained.

    Raises:
        MissingDependencyError: facenet-pytorch is not installed (the message gives the command).
    """
    global _CACHE
    with _LOCK:
        if _CACHE is not None:
            return _CACHE
        pkg = _package_dir()
        before = set(sys.modules)
        try:
            with warnings.catch_warnings():  # a broken torchvision warns while failing to import
                warnings.simplefilter("ignore")
                module = importlib.import_module("facenet_pytorch.models.inception_resnet_v1")
            _CACHE = FaceNetModule(module, "package", "", _version())
        except Exception as exc:  # ImportError, but a mismatched torchvision can raise RuntimeError too
            for name in set(sys.modules) - before:  # drop what the failed attempt left half-imported
                if name == "facenet_pytorch" or name.startswith("facenet_pytorch."):
                    del sys.modules[name]
            module = _load_file(pkg)
            _CACHE = FaceNetModule(module, "file", f"{type(exc).__name__}: {exc}", _version())
        return _CACHE


def mtcnn_class() -> type[Any]:
    """facenet-pytorch's ``MTCNN`` detector class (needs a working torchvision).

    Raises:
        MissingDependencyError: facenet-pytorch or torchvision cannot be imported; the message
            says how to calibrate anyway.
    """
    _package_dir()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from facenet_pytorch import MTCNN
    except Exception as exc:
        raise MissingDependencyError(
            "calibrate() runs facenet-pytorch's MTCNN face detector, which needs torchvision, and "
            f"`import facenet_pytorch` fails here ({type(exc).__name__}: {exc}). The scorer itself works "
            "without torchvision: pass crop_box=(x0, y0, x1, y1) instead. To calibrate, install the "
            "torchvision built for your torch in this environment (torch 2.13 <-> torchvision 0.28), or use a "
            "separate virtual environment: `python -m venv calib && calib/bin/pip install torch==2.14.1 "
            "torchvision==0.29.1 numpy pillow requests tqdm && "
            "calib/bin/pip install --no-deps facenet-pytorch==2.6.0`, "
            "save generated images here with numpy.save, and run latentbridge_facenet.calibrate_images on them "
            "there (see the latentbridge-facenet README, 'Calibrating the crop box')."
        ) from exc
    cls: type[Any] = MTCNN
    return cls
