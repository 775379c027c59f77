from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentbridge.augment import AugmentDataError, augment, load_data

from .conftest import TINY, make_folder


def test_folder_split_is_stratified_and_seeded(shapes: Path) -> None:
    split = load_data(shapes, train_per_class=6, folds=2, seed=3)
    assert split.classes == ("cross", "diag", "square")
    assert split.image_shape == (1, 8, 8)
    assert np.bincount(split.train_y).tolist() == [6, 6, 6]
    assert np.bincount(split.test_y).tolist() == [4, 4, 4]
    assert split.train_x.min() >= -1.0
    assert split.train_x.max() <= 1.0
    again = load_data(shapes, train_per_class=6, folds=2, seed=3)
    assert again.digest() == split.digest()
    assert load_data(shapes, train_per_class=6, folds=2, seed=4).digest() != split.digest()


def test_npz_in_all_layouts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(12, 6, 6, 3), dtype=np.uint8)
    labels = np.array(["a", "b"] * 6)
    np.savez(tmp_path / "hwc.npz", images=imgs, labels=labels)
    np.savez(tmp_path / "chw.npz", images=np.moveaxis(imgs, -1, 1), labels=labels)
    a = load_data(tmp_path / "hwc.npz", train_per_class=3, folds=2)
    b = load_data(tmp_path / "chw.npz", train_per_class=3, folds=2)
    assert a.image_shape == (3, 6, 6)
    assert a.classes == ("a", "b")
    assert a.digest() == b.digest()


def test_builtin_mnist_small_is_heldout_digits() -> None:
    from latentbridge.data import load_mnist

    split = load_data("mnist-small")
    assert split.image_shape == (1, 28, 28)
    assert np.bincount(split.train_y).tolist() == [40] * 10
    assert np.bincount(split.test_y).tolist() == [60] * 10
    train_imgs, _ = load_mnist("train")  # the embedded models' training digits
    train_set = {im.tobytes() for im in train_imgs}
    ours = ((split.train_x + 1) * 127.5).round().astype(np.uint8)[:, 0]
    assert not any(im.tobytes() in train_set for im in ours)


def _bad_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    cases = {}
    corrupt = make_folder(tmp_path / "corrupt", n=8)
    (corrupt / "cross" / "03.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    cases["corrupt"] = (corrupt, r"03\.png cannot be read")
    mixed = make_folder(tmp_path / "mixed", n=8)
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(mixed / "square" / "99.png")
    cases["sizes"] = (mixed, r"99\.png has shape .*same size")
    chans = make_folder(tmp_path / "chans", n=8)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(chans / "diag" / "99.png")
    cases["channels"] = (chans, r"99\.png has shape \(C, H, W\) = \(3, 8, 8\)")
    single = make_folder(tmp_path / "single", n=8, kinds=("square",))
    cases["single"] = (single, r"single class \('square'\)")
    few = make_folder(tmp_path / "few", n=8)
    for f in sorted((few / "cross").iterdir())[1:]:
        f.unlink()
    cases["few"] = (few, r"class 'cross' has 1 images, fewer than the 2 cross-validation folds")
    cases["missing"] = (tmp_path / "nowhere", r"DATA path .*nowhere does not exist")
    return cases


@pytest.mark.parametrize("case", ["corrupt", "sizes", "channels", "single", "few", "missing"])
def test_bad_input_one_clear_error_and_nothing_written(tmp_path: Path, case: str) -> None:
    data, pattern = _bad_cases(tmp_path)[case]
    out = tmp_path / "out"
    with pytest.raises(AugmentDataError, match=pattern):
        augment(data, out, **TINY)
    assert not out.exists()
    out.mkdir()  # an existing (empty) folder stays empty
    with pytest.raises(AugmentDataError):
        augment(data, out, **TINY)
    assert list(out.iterdir()) == []


def test_too_few_images_for_test_split(shapes: Path) -> None:
    with pytest.raises(AugmentDataError, match=r"class 'cross' has 10 images: 10 are taken as originals"):
        load_data(shapes, train_per_class=10, folds=2)


def test_npz_refuses_pickles_and_missing_keys(tmp_path: Path) -> None:
    np.savez(tmp_path / "obj.npz", images=np.array([object()] * 4, dtype=object), labels=np.arange(4))
    with pytest.raises(AugmentDataError, match="object arrays are refused"):
        load_data(tmp_path / "obj.npz")
    np.savez(tmp_path / "nokey.npz", x=np.zeros((4, 8, 8)))
    with pytest.raises(AugmentDataError, match="no array 'images'"):
        load_data(tmp_path / "nokey.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(AugmentDataError, match=r"not a readable \.npz"):
        load_data(tmp_path / "bad.npz")


def _needs_skimage() -> None:
    pytest.importorskip(
        "skimage", reason="lfw-faces reads scikit-image's lfw_subset.npy: install latentbridge[augment]"
    )


def test_builtin_lfw_faces_is_faces_against_non_faces() -> None:
    _needs_skimage()
    split = load_data("lfw-faces")
    assert split.classes == ("face", "non-face")
    assert split.image_shape == (1, 25, 25)
    assert split.train_x.dtype == np.float32
    assert np.bincount(split.train_y).tolist() == [40, 40]
    assert np.bincount(split.test_y).tolist() == [60, 60]
    assert -1.0 <= split.train_x.min() < -0.5
    assert 0.5 < split.train_x.max() <= 1.0
    assert load_data("lfw-faces").digest() == split.digest()


def test_lfw_faces_without_scikit_image_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbridge.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "skimage", None)  # find_spec answers None: as if not installed
    with pytest.raises(MissingDependencyError, match=r"'skimage' is required .*latentbridge\[augment\]"):
        load_data("lfw-faces")


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (np.zeros((200, 28, 28)), r"shape \(200, 28, 28\), expected floats of shape \(200, 25, 25\)"),
        (np.zeros((200, 25, 25), dtype=np.uint8), r"holds uint8 .*expected floats"),
        (np.full((200, 25, 25), 2.0), r"outside \[0, 1\]"),
        (np.array([object()] * 3, dtype=object), r"only plain numeric arrays"),
        (b"\x93NUMPY garbage", r"not a readable \.npy"),
    ],
)
def test_lfw_faces_refuses_a_file_that_is_not_the_expected_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: object, pattern: str
) -> None:
    from latentbridge.augment import data as data_module

    fake = tmp_path / "lfw_subset.npy"
    if isinstance(content, bytes):
        fake.write_bytes(content)
    else:
        np.save(fake, content, allow_pickle=True)
    monkeypatch.setattr(data_module, "_lfw_path", lambda: fake)
    with pytest.raises(AugmentDataError, match=pattern):
        load_data("lfw-faces")


def test_lfw_faces_refuses_a_truncated_or_huge_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbridge.augment import data as data_module

    fake = tmp_path / "lfw_subset.npy"
    np.save(fake, np.zeros((200, 25, 25)))
    fake.write_bytes(fake.read_bytes()[:-8])
    monkeypatch.setattr(data_module, "_lfw_path", lambda: fake)
    with pytest.raises(AugmentDataError, match="truncated or forged header"):
        load_data("lfw-faces")
    np.save(fake, np.zeros((2000, 25, 25)))
    with pytest.raises(AugmentDataError, match="more than the"):
        load_data("lfw-faces")
