"""The facenet-pytorch loader: normal import when torchvision works, the model file alone when it does not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from latentbridge.errors import MissingDependencyError

from latentbridge_facenet import FACENET_INSTALL, calibrate, facenet_module
from latentbridge_facenet import _loader as loader


def _fake_packages(root: Path, torchvision_init: str) -> None:
    """Minimal importable torchvision (and requests/tqdm) so that ``import facenet_pytorch`` can run."""
    files = {
        "torchvision/__init__.py": torchvision_init,
        "torchvision/transforms/__init__.py": "",
        "torchvision/transforms/functional.py": "",
        "torchvision/ops/__init__.py": "",
        "torchvision/ops/boxes.py": "def batched_nms(*args, **kwargs):\n    raise NotImplementedError\n",
        "requests/__init__.py": "",
        "requests/adapters.py": "class HTTPAdapter:\n    pass\n",
        "tqdm/__init__.py": "class tqdm:\n    pass\n",
        "tqdm/auto.py": "from . import tqdm\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _via(fake_root: Path) -> list[str]:
    code = textwrap.dedent(
        """
        import sys
        from latentbridge_facenet import facenet_module
        fp = facenet_module()
        print(fp.via, "facenet_pytorch" in sys.modules, fp.module.InceptionResnetV1.__module__, sep="|")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake_root), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().split("|")


def test_normal_import_when_torchvision_works(tmp_path: Path) -> None:
    _fake_packages(tmp_path, "")
    assert _via(tmp_path) == ["package", "True", "facenet_pytorch.models.inception_resnet_v1"]


def test_model_file_alone_when_torchvision_is_broken(tmp_path: Path) -> None:
    _fake_packages(tmp_path, "raise RuntimeError('operator torchvision::nms does not exist')\n")
    via, imported, module = _via(tmp_path)
    assert (via, imported) == ("file", "False")  # nothing half-imported is left behind
    assert module.startswith("latentbridge_facenet.")


def test_this_process() -> None:
    fp = facenet_module()
    assert fp.module.InceptionResnetV1.__name__ == "InceptionResnetV1"
    assert fp.via in ("package", "file")
    assert fp.version == "2.6.0"
    if fp.via == "file":
        assert fp.reason  # why the normal import failed, for bug reports
        assert "facenet_pytorch" not in sys.modules


def test_missing_facenet_pytorch_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_CACHE", None)
    monkeypatch.setattr(loader.importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(MissingDependencyError, match=r"--no-deps facenet-pytorch==2\.6\.0") as info:
        loader.facenet_module()
    assert FACENET_INSTALL in str(info.value)


class _NeverGenerate:
    """A generator that must not be asked for images."""

    def generate(self, z: Any) -> Any:
        raise AssertionError("calibrate generated images although MTCNN is unavailable")


def test_calibrate_without_torchvision_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    # The MTCNN path itself needs a working torchvision and cannot run here; only its absence is tested.
    monkeypatch.setitem(sys.modules, "torchvision", None)  # `import torchvision` -> ImportError
    for name in [k for k in sys.modules if k == "facenet_pytorch" or k.startswith("facenet_pytorch.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(MissingDependencyError) as info:
        calibrate(_NeverGenerate(), n=4)
    msg = str(info.value)
    for part in ("MTCNN", "torchvision", "crop_box=", "separate virtual environment", "calibrate_images"):
        assert part in msg
    from latentbridge_facenet import calibrate_images

    with pytest.raises(MissingDependencyError, match="torchvision"):
        calibrate_images(np.zeros((1, 8, 8, 3), np.uint8))
