"""FaceNetScorer: embeddings, equality with facenet-pytorch's forward, crop/resize, distances, errors."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import latentbridge
import pytest
import torch
import torch.nn.functional as F
from latentbridge.errors import ImageShapeError, InputError, UnsafeFileError, UnsafePickleError, WeightsError

from latentbridge_facenet import INPUT_SIZE, FaceNetScorer, facenet_module, pixel_box, standardize


def _images(n: int, h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, h, w, generator=g) * 2 - 1


@pytest.fixture(scope="module")
def reference_class() -> Iterator[type[Any]]:
    """facenet-pytorch's own InceptionResnetV1, imported independently of latentbridge_facenet's loader.

    With a working torchvision this is ``facenet_pytorch.InceptionResnetV1``; otherwise the package
    folder is mounted under a private name without running its ``__init__`` (which imports MTCNN ->
    torchvision), with empty stand-ins for the download-only ``requests``/``tqdm`` if they are absent.
    """
    try:
        from facenet_pytorch import InceptionResnetV1

        yield InceptionResnetV1
        return
    except Exception:
        pass
    spec = importlib.util.find_spec("facenet_pytorch")
    assert spec is not None
    assert spec.submodule_search_locations
    pkg_dir = Path(next(iter(spec.submodule_search_locations)))
    added: list[str] = []

    def add(name: str, module: types.ModuleType) -> None:
        sys.modules[name] = module
        added.append(name)

    pkg = types.ModuleType("_fp_reference")
    pkg.__path__ = [str(pkg_dir)]
    add("_fp_reference", pkg)
    missing = {root for root in ("requests", "tqdm") if importlib.util.find_spec(root) is None}
    for name in ("requests", "requests.adapters", "tqdm", "tqdm.auto"):
        if name.split(".")[0] in missing:
            stub = types.ModuleType(name)
            stub.HTTPAdapter = object  # type: ignore[attr-defined]
            stub.tqdm = object  # type: ignore[attr-defined]
            add(name, stub)
    try:
        mod = importlib.import_module("_fp_reference.models.inception_resnet_v1")
        yield mod.InceptionResnetV1
    finally:
        for name in [*added, *(k for k in sys.modules if k.startswith("_fp_reference."))]:
            sys.modules.pop(name, None)


# --- embeddings ---------------------------------------------------------------------------------------------


def test_embedding_shape_norm_and_determinism(scorer: FaceNetScorer, weights_file: Path) -> None:
    x = _images(3)
    a = scorer.embed(x)
    assert a.shape == (3, 512)
    assert a.dtype == torch.float32
    assert a.device == scorer.device
    torch.testing.assert_close(a.norm(dim=1), torch.ones(3))
    assert torch.equal(scorer.embed(x), a)  # eval mode: no dropout, fixed BatchNorm statistics
    again = latentbridge.load_scorer("facenet", weights=weights_file, crop_box=(0.25, 0.125, 0.75, 0.875))
    assert torch.equal(again.embed(x), a)  # reloaded weights give the same embeddings
    torch.testing.assert_close(scorer.embed(x[1:2]), a[1:2], rtol=1e-5, atol=1e-6)  # batch-independent


def test_equals_facenet_pytorch_forward(scorer: FaceNetScorer, weights_file: Path, reference_class: type[Any]) -> None:
    ref = reference_class(pretrained=None, classify=False)
    ref.load_state_dict(torch.load(weights_file, weights_only=True))
    ref.eval()
    x = _images(2, seed=1)
    x[0, 0, 5, 10] = 1.3  # GAN overshoot: clamped like a saved uint8 image
    crop = x[:, :, 4:28, 8:24].clamp(-1, 1)  # (0.25, 0.125, 0.75, 0.875) of 32×32
    crop = F.interpolate(crop, size=(160, 160), mode="bilinear", align_corners=False, antialias=True)
    pixels = (crop + 1) * 127.5
    with torch.no_grad():
        expected = ref((pixels - 127.5) / 128.0)  # facenet-pytorch's fixed_image_standardization
    torch.testing.assert_close(expected.norm(dim=1), torch.ones(2))  # its forward L2-normalises
    torch.testing.assert_close(scorer.embed(x), expected, rtol=1e-5, atol=1e-5)


# --- crop and resize ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "units", "hw", "expected"),
    [
        (None, "fraction", (32, 48), (0, 0, 48, 32)),
        ((0.25, 0.125, 0.75, 0.875), "fraction", (32, 32), (8, 4, 24, 28)),
        ((0.25, 0.125, 0.75, 0.875), "fraction", (1024, 1024), (256, 128, 768, 896)),
        ((8, 4, 24, 28), "pixels", (32, 32), (8, 4, 24, 28)),
        ((7.6, 4.2, 23.5, 28.0), "pixels", (32, 32), (8, 4, 24, 28)),
        ((0.5, 0.5, 0.501, 0.501), "fraction", (16, 16), (8, 8, 9, 9)),  # never empty
    ],
)
def test_pixel_box(box: Any, units: Any, hw: tuple[int, int], expected: tuple[int, int, int, int]) -> None:
    assert pixel_box(box, units, *hw) == expected


def test_crop_selects_exactly_the_box(scorer: FaceNetScorer) -> None:
    x = torch.full((1, 3, 32, 32), -1.0)
    x[:, :, 4:28, 8:24] = 0.5  # the face box; a one-pixel error would pull in -1 at the border
    out = scorer.prepare(x)
    assert out.shape == (1, 3, *INPUT_SIZE)
    torch.testing.assert_close(out, torch.full_like(out, 0.5 * 127.5 / 128.0))


def test_crop_then_resize_matches_manual(weights_file: Path) -> None:
    pix = FaceNetScorer.load(weights=weights_file, crop_box=(10, 6, 60, 40), crop_units="pixels")
    frac = FaceNetScorer(pix.model, crop_box=(10 / 64, 6 / 48, 60 / 64, 40 / 48))
    x = _images(2, 48, 64)
    manual = F.interpolate(x[:, :, 6:40, 10:60], size=(160, 160), mode="bilinear", antialias=True)
    torch.testing.assert_close(pix.prepare(x), manual * 127.5 / 128.0)
    torch.testing.assert_close(frac.prepare(x), pix.prepare(x))


def test_resize_grey_and_native_size(scorer: FaceNetScorer) -> None:
    full = FaceNetScorer(scorer.model)  # no crop box: the whole image
    x = _images(1, 160, 160)
    torch.testing.assert_close(full.prepare(x), x * (127.5 / 128.0))  # already 160×160: no resampling
    grey = _images(1, 20, 20)[:, :1]
    torch.testing.assert_close(full.prepare(grey), full.prepare(grey.expand(-1, 3, -1, -1)))
    idx = torch.arange(320)
    checker = ((idx[:, None] + idx[None, :]) % 2 * 2 - 1).float().expand(1, 3, -1, -1)  # ±1, highest frequency
    down = full.prepare(checker)  # antialiased 2× downscale averages it out instead of aliasing it
    assert down.shape == (1, 3, 160, 160)
    assert down[..., 1:-1, 1:-1].abs().max() < 1e-5


def test_standardize_is_fixed_image_standardization() -> None:
    x = torch.linspace(-1, 1, 11)
    torch.testing.assert_close(standardize(x), ((x + 1) * 127.5 - 127.5) / 128.0)


# --- distances ----------------------------------------------------------------------------------------------


def test_l2_and_cosine_distances(scorer: FaceNetScorer) -> None:
    g = torch.Generator().manual_seed(3)
    a = F.normalize(torch.randn(2, 4, 512, generator=g), dim=-1)
    b = F.normalize(torch.randn(2, 3, 512, generator=g), dim=-1)
    d = scorer.distance(a, b)
    assert d.shape == (2, 4, 3)
    torch.testing.assert_close(d, (a[:, :, None] - b[:, None]).norm(dim=-1))
    assert torch.all(scorer.distance(a[0], a[0]).diagonal() == 0)
    cos = FaceNetScorer(scorer.model, metric="cosine")
    torch.testing.assert_close(cos.distance(a, b), 1 - a @ b.transpose(-1, -2))
    torch.testing.assert_close(cos.distance(a, b), d**2 / 2)  # unit vectors: |a-b|² = 2 - 2cos


# --- registration and config --------------------------------------------------------------------------------


def test_registered_through_entry_point(scorer: FaceNetScorer) -> None:
    entry = latentbridge.registry("scorer").get("facenet")
    assert entry.distribution == "latentbridge-facenet"
    assert "seed 000" in entry.description
    assert isinstance(scorer, latentbridge.Scorer)
    cfg = json.loads(json.dumps(scorer.config()))
    assert cfg["name"] == "facenet"
    assert cfg["metric"] == "l2"
    assert cfg["crop_box"] == [0.25, 0.125, 0.75, 0.875]
    assert len(cfg["sha256"]) == 64
    assert cfg["facenet_pytorch_import"] in ("package", "file")


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.zeros(3, 32, 32), r"\(n, C, H, W\)"),
        (torch.zeros(1, 4, 32, 32), "4 channels"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "float"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_wrong_image_shapes(scorer: FaceNetScorer, images: Any, match: str) -> None:
    with pytest.raises(ImageShapeError, match=match):
        scorer.embed(images)


def test_pixel_box_outside_image(weights_file: Path) -> None:
    s = FaceNetScorer.load(weights=weights_file, crop_box=(0, 0, 40, 40), crop_units="pixels")
    with pytest.raises(ImageShapeError, match=r"does not fit inside the 32×32"):
        s.prepare(torch.zeros(1, 3, 32, 32))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"crop_box": (0.5, 0.1, 0.4, 0.9)}, "left < right"),
        ({"crop_box": (0.1, 0.1, 1.2, 0.9)}, r"in \[0, 1\]"),
        ({"crop_box": (0.1, 0.1, 0.9)}, "4 finite numbers"),
        ({"crop_box": (0.1, float("nan"), 0.9, 0.9)}, "4 finite numbers"),
        ({"crop_box": "face"}, "4 numbers"),
        ({"crop_box": (-1, 0, 10, 10), "crop_units": "pixels"}, "pixel coordinates"),
        ({"crop_units": "percent"}, "crop_units"),
        ({"metric": "l1"}, "metric"),
        ({"pretrained": "vggface2"}, "not both"),
    ],
)
def test_bad_options(weights_file: Path, options: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        latentbridge.load_scorer("facenet", weights=weights_file, **options)


def test_unknown_pretrained() -> None:
    with pytest.raises(InputError, match=r"\['casia-webface', 'vggface2'\]"):
        latentbridge.load_scorer("facenet", pretrained="imagenet")


def test_no_weights_says_where_to_get_them() -> None:
    with pytest.raises(WeightsError, match="needs weights") as info:
        latentbridge.load_scorer("facenet")
    msg = str(info.value)
    assert "20180402-114759-vggface2.pt" in msg
    assert "weights=" in msg


def test_missing_and_bad_weight_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"does not exist.*releases/download"):
        latentbridge.load_scorer("facenet", weights=tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="cannot read FaceNet weights"):
        latentbridge.load_scorer("facenet", weights=junk)
    other = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(2)}, other)
    with pytest.raises(WeightsError, match="not an InceptionResnetV1 state_dict: missing keys"):
        latentbridge.load_scorer("facenet", weights=other)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """An empty torch hub cache and a facenet-pytorch downloader that records its URL and fails."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    calls: list[str] = []

    def no_network(url: str, dst: str, *args: Any, **kwargs: Any) -> None:
        calls.append(url)
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(facenet_module().module, "download_url_to_file", no_network)
    return calls


def test_pretrained_without_network(offline: list[str], tmp_path: Path) -> None:
    url = "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt"
    cache = tmp_path / "torch" / "checkpoints" / "20180402-114759-vggface2.pt"
    with pytest.raises(WeightsError) as info:
        latentbridge.load_scorer("facenet", pretrained="vggface2")
    assert offline == [url]  # facenet-pytorch's own downloader was asked, and nothing else
    msg = str(info.value)
    assert url in msg
    assert str(cache) in msg
    assert "weights=" in msg
    assert "could not download" in msg
    with pytest.raises(WeightsError, match="download=False"):
        latentbridge.load_scorer("facenet", pretrained="casia-webface", download=False)
    assert offline == [url]  # download=False never calls the downloader


def test_pretrained_from_cache(offline: list[str], tmp_path: Path, weights_file: Path) -> None:
    state = torch.load(weights_file, weights_only=True)
    state["logits.weight"] = torch.zeros(3, 512)  # release files carry the classifier head: ignored
    cache = tmp_path / "torch" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state, cache / "20180408-102900-casia-webface.pt")
    s = latentbridge.load_scorer("facenet", pretrained="casia-webface")
    assert offline == []
    assert s.config()["pretrained"] == "casia-webface"
    assert s.config()["weights"] == str(cache / "20180408-102900-casia-webface.pt")


class _Call:
    """Pickles as ``func(*args)`` (written by reference; never called by the test)."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> Any:
        return (self.func, self.args)


def _hostile_files(tmp_path: Path) -> dict[str, tuple[Path, type[Exception], str]]:
    marker = tmp_path / "payload_ran"
    code = tmp_path / "code.pt"
    torch.save({"conv.weight": _Call(os.system, f"touch {marker}")}, code)
    big = tmp_path / "big.pt"
    storage = torch.zeros(6)._typed_storage()  # 6 floats, declared as a 1000×1000 tensor
    torch.save({"conv.weight": _Call(torch._utils._rebuild_tensor_v2, storage, 0, (1000, 1000), (1000, 1))}, big)
    return {
        "code": (code, UnsafePickleError, r"refusing to load global (posix|os)\.system"),
        "beyond-storage": (big, UnsafeFileError, r"needs 1000000 elements but its torch.float32 storage holds 6"),
    }


@pytest.mark.parametrize("kind", ["code", "beyond-storage"])
def test_hostile_weight_files_are_refused(tmp_path: Path, kind: str) -> None:
    path, error, match = _hostile_files(tmp_path)[kind]
    with pytest.raises(error, match=match):
        latentbridge.load_scorer("facenet", weights=path)
    assert not (tmp_path / "payload_ran").exists()


def test_state_dict_of_wrong_shapes_is_not_an_inception_resnet(tmp_path: Path, weights_file: Path) -> None:
    # load_state_dict raised torch's own "size mismatch for conv2d_1a.conv.weight: ..." here.
    sd = torch.load(weights_file, weights_only=True)
    sd["conv2d_1a.conv.weight"] = torch.zeros(8, 3, 3, 3)
    path = tmp_path / "shapes.pt"
    torch.save(sd, path)
    with pytest.raises(
        WeightsError,
        match=r"not an InceptionResnetV1 state_dict: wrong tensor shapes or types: conv2d_1a\.conv\.weight "
        r"\(8, 3, 3, 3\) \(expected \(32, 3, 3, 3\)\)",
    ):
        latentbridge.load_scorer("facenet", weights=path)


_CAPPED = """
import json, resource, sys, warnings
warnings.simplefilter("ignore")
import latentbridge, latentbridge_facenet
with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm + (384 << 20),) * 2)
try:
    latentbridge.load_scorer("facenet", weights=sys.argv[1])
    print(json.dumps(["loaded", ""]))
except Exception as exc:
    print(json.dumps([type(exc).__name__, str(exc)]))
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="the check reads its address space from /proc")
def test_deeply_nested_keys_are_refused_without_crashing(tmp_path: Path) -> None:
    # A ~150 kB pickle: a dict key nesting a tuple 150k deep (hashing it recursed in C: SIGSEGV). Loaded in
    # a subprocess with a capped address space, so that a crash or a blow-up fails the test, not the run.
    import zipfile

    path = tmp_path / "deep.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("deep/data.pkl", b"\x80\x04}K\x01" + b"\x85" * 150_000 + b"K\x01s.")
    proc = subprocess.run([sys.executable, "-c", _CAPPED, str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"crashed with {proc.returncode}: {proc.stderr[-2000:]}"
    kind, message = json.loads(proc.stdout.strip().splitlines()[-1])
    assert kind == "UnsafeFileError"
    assert "nested deeper than 64 levels" in message


def test_downloaded_weights_are_read_by_the_safe_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights_file: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    served = {"file": _hostile_files(tmp_path)["code"][0]}

    def fake_download(url: str, dst: str, *args: Any, **kwargs: Any) -> None:
        shutil.copyfile(served["file"], dst)

    monkeypatch.setattr(facenet_module().module, "download_url_to_file", fake_download)
    with pytest.raises(UnsafePickleError):
        latentbridge.load_scorer("facenet", pretrained="vggface2")
    assert not (tmp_path / "payload_ran").exists()
    (tmp_path / "torch" / "checkpoints" / "20180402-114759-vggface2.pt").unlink()
    served["file"] = weights_file
    s = latentbridge.load_scorer("facenet", pretrained="vggface2")
    assert s.config()["pretrained"] == "vggface2"
    assert s.embed(_images(2)).shape == (2, 512)


def test_conforms_to_the_scorer_contract(weights_file: Path) -> None:
    """latentbridge.testing.check_scorer on the registered plugin (random weights), grey and RGB images."""
    from latentbridge.testing import check_scorer

    scorer = latentbridge.load_scorer("facenet", weights=weights_file)
    check_scorer(scorer, (3, 40, 32), n=3)
    check_scorer(scorer, (1, 24, 24), n=3)
