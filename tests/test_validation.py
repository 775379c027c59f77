"""Argument checks: clear errors, no mutation of user arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import latentbridge as lb
import latentbridge.testing
from latentbridge._validation import as_image, check_latents, check_positive_int
from latentbridge.errors import ImageShapeError, InputError, LatentShapeError


def test_check_latents_accepts_rows_and_single_vector() -> None:
    assert check_latents(np.zeros((3, 4)), 4).shape == (3, 4)
    assert check_latents(np.zeros(4), 4).shape == (1, 4)
    assert check_latents([[1, 2, 3, 4]], 4).dtype == np.float32
    assert check_latents(torch.zeros(2, 4), 4).shape == (2, 4)


def test_check_latents_returns_read_only_view_of_float32_input() -> None:
    z = np.zeros((2, 4), dtype=np.float32)
    out = check_latents(z, 4)
    assert not out.flags.writeable
    assert z.flags.writeable  # the caller's array is untouched


@pytest.mark.parametrize(
    ("Z", "match"),
    [
        (np.zeros((3, 5)), r"shape \(n, 4\)"),
        (np.zeros((2, 3, 4)), "k \\* latent_dim"),
        (np.array([["a"] * 4]), "real numbers"),
        (np.array([[1.0, np.nan, 0, 0]]), "NaN or inf in 1 row"),
        (np.array([[0, 0, 0, 0], [1.0, 2, np.inf, 0]]), "first: row 1, column 2"),
        (np.array([[1 + 1j] * 4]), "real numbers"),
    ],
)
def test_check_latents_errors(Z: np.ndarray, match: str) -> None:
    with pytest.raises(LatentShapeError, match=match):
        check_latents(Z, 4)


def test_check_positive_int() -> None:
    assert check_positive_int(np.int64(3), "k") == 3
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(InputError, match="k"):
            check_positive_int(bad, "k")


def test_as_image_layouts_and_ranges() -> None:
    hw = np.full((8, 8), 255, dtype=np.uint8)
    out = as_image(hw, (1, 8, 8))
    assert out.shape == (1, 8, 8)
    assert float(out.max()) == pytest.approx(1.0)
    hwc = np.zeros((8, 8, 3), dtype=np.float32)
    assert as_image(hwc, (3, 8, 8)).shape == (3, 8, 8)
    src = np.zeros((1, 8, 8), dtype=np.float32)
    as_image(src, (1, 8, 8))[0, 0, 0] = 5.0
    assert src[0, 0, 0] == 0.0  # copied, not aliased


@pytest.mark.parametrize(
    ("img", "match"),
    [
        (np.zeros((1, 16, 16), np.float32), r"must have shape \(1, 8, 8\)"),
        (np.zeros((3, 8, 8), np.float32), r"must have shape \(1, 8, 8\)"),
        (np.full((1, 8, 8), 200.0, np.float32), r"\[-1, 1\]"),
        (np.full((1, 8, 8), np.nan, np.float32), "NaN"),
        (np.zeros((1, 8, 8), np.int32), "uint8 or float"),
    ],
)
def test_as_image_errors(img: np.ndarray, match: str) -> None:
    with pytest.raises(ImageShapeError, match=match):
        as_image(img, (1, 8, 8))


# -- no bare TypeError, no silent coercion ------------------------------------------------------------
def test_check_seed_refuses_what_it_would_have_to_coerce() -> None:
    from latentbridge._validation import check_seed

    assert check_seed(3) == 3
    assert check_seed(np.int64(3)) == 3
    assert check_seed(None, allow_none=True) is None
    for bad, match in [
        (None, "got None"),
        (1.5, "1.5 .float"),
        ("1", "'1' .str"),
        (True, "True"),
        (-1, r"\[0, 2\*\*63\)"),
    ]:
        with pytest.raises(InputError, match=match):
            check_seed(bad)


def test_optimizers_and_samplers_refuse_bad_seeds() -> None:
    from latentbridge import baselines
    from latentbridge import pymoo as lb_pymoo

    problem = lb.SetDiversity(lb.testing.tiny_generator(), lb.RMSEScorer(), k=2)
    for bad in (None, 1.5, "1"):
        with pytest.raises(InputError, match="seed must be an int"):
            lb_pymoo.solve(problem, "random", budget=20, seed=bad)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="seed must be an int"):
            baselines.random_search(problem, 10, bad)  # type: ignore[arg-type]
    for bad in (1.5, "1"):
        with pytest.raises(InputError, match="seed must be an int"):
            problem.sample(2, bad)  # type: ignore[arg-type]
    assert problem.sample(2, None).shape == (2, problem.dim)  # None: fresh entropy, as documented


def test_bfloat16_latents_are_refused_not_converted() -> None:
    from latentbridge._validation import check_latents

    with pytest.raises(LatentShapeError, match=r"Z is a torch tensor of dtype torch.bfloat16.*Z.float\(\)"):
        check_latents(torch.zeros(2, 4, dtype=torch.bfloat16), 4)
    with pytest.raises(LatentShapeError, match="complex"):
        check_latents(torch.zeros(2, 4, dtype=torch.complex64), 4)


def test_embedding_scorer_input_size_is_checked_at_construction() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5), torch.nn.Flatten())
    with pytest.raises(InputError, match=r"input_size must be a \(height, width\) pair.*input_size=\(16, 16\)"):
        lb.EmbeddingScorer(net, input_size=16)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"embedder fails on input_size=\(3, 3\) with 1 channel"):
        lb.EmbeddingScorer(net, input_size=(3, 3), channels=1)
    with pytest.raises(InputError, match="embedder must be a callable"):
        lb.EmbeddingScorer(None)  # type: ignore[arg-type]
    assert lb.EmbeddingScorer(net, input_size=(8, 8), channels=1).embed(torch.zeros(2, 1, 8, 8)).shape == (2, 64)


def test_check_device_names_devices_that_do_not_exist() -> None:
    from latentbridge._validation import check_device

    assert check_device(None) == torch.device("cpu")
    with pytest.raises(InputError, match="'cuda:7' does not exist"):
        check_device("cuda:7")
    with pytest.raises(InputError, match="torch device such as"):
        check_device("gpu-please")
    with pytest.raises(InputError, match="device name"):
        check_device(7)


def test_read_npy_is_bounded_and_never_unpickles(tmp_path: Path) -> None:
    from latentbridge._validation import read_npy

    ok = tmp_path / "ok.npy"
    np.save(ok, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert read_npy(ok).shape == (2, 3)
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="no objects"):
        read_npy(obj)
    with pytest.raises(InputError, match="more than the 10 bytes"):
        read_npy(ok, max_bytes=10)
    cut = tmp_path / "cut.npy"
    cut.write_bytes(ok.read_bytes()[:-4])
    with pytest.raises(InputError, match="truncated or forged"):
        read_npy(cut)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match=r"not a readable \.npy"):
        read_npy(junk)


def test_images_load_refuses_decompression_bombs(tmp_path: Path) -> None:
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (10_000, 10_000)).save(bomb)
    with pytest.raises(InputError, match=r"10000 x 10000 pixels.*decompression bomb"):
        lb.images.load(bomb)
