"""Building problems from specs (latentbridge.bench.problems): targets of any image shape, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentbridge import images
from latentbridge.bench import load_suite
from latentbridge.bench.problems import build_problem, load_target, rebuild_problem
from latentbridge.bench.specs import ProblemSpec, SuiteError
from latentbridge.data import heldout_digit
from latentbridge.errors import ImageShapeError, InputError, UnknownNameError
from latentbridge.testing import tiny_generator


def test_heldout_digit_target_as_is_for_a_28x28_generator() -> None:
    out = load_target({"heldout_digit": 3, "index": 1}, tiny_generator(image_shape=(1, 28, 28)))
    assert np.array_equal(out, heldout_digit(3, 1))


def test_heldout_digit_target_for_another_shape_says_how_to_resize(tmp_path: Path) -> None:
    gen = tiny_generator(image_shape=(3, 16, 16))
    with pytest.raises(ImageShapeError, match=r"1x28x28.*3x16x16.*path = \"digit.png\"") as info:
        load_target({"heldout_digit": 3}, gen)
    assert "save_grid(heldout_digit(3), 'digit.png', pad=0)" in str(info.value)
    # the advice works as written: the saved digit, named by path, is resized to the generator's shape
    images.save_grid(heldout_digit(3), tmp_path / "digit.png", pad=0)
    out = load_target({"path": str(tmp_path / "digit.png")}, gen)
    assert out.shape == (3, 16, 16)
    assert out.dtype == np.float32
    assert float(out.min()) >= -1.0
    assert float(out.max()) <= 1.0
    assert np.allclose(out[0], out[1])  # a grey digit expanded to three channels


def test_path_target_is_resized_and_converted_to_the_generator(tmp_path: Path) -> None:
    from PIL import Image

    rgb = np.zeros((40, 30, 3), dtype=np.uint8)
    rgb[:, :15] = 255  # left half white, right half black
    Image.fromarray(rgb).save(tmp_path / "x.png")
    for shape in ((1, 28, 28), (3, 12, 12), (3, 64, 48)):
        out = load_target({"path": str(tmp_path / "x.png")}, tiny_generator(image_shape=shape))
        assert out.shape == shape
        assert out[..., :, 0].mean() > 0.9
        assert out[..., :, -1].mean() < -0.9


_SUITE = """\
[suite]
name = "s"
budget = 10

[[problems]]
id = "p"
kind = "set-diversity"
generator = "mnist-dcgan"
scorer = "ncc"
k = 2

[[optimizers]]
name = "random"
"""


@pytest.mark.parametrize(
    ("old", "new", "key", "line", "error"),
    [
        ('scorer = "ncc"', 'scorer = "nccc"', "scorer", 9, UnknownNameError),
        ('generator = "mnist-dcgan"', 'generator = { name = "mnist-dcgan", foo = 1 }', "generator", 8, InputError),
        ("k = 2", 'k = 2\noriginals = { npy = "missing.npy" }', "originals", 11, InputError),
        ('kind = "set-diversity"', 'kind = "set-diversityy"', "kind", 7, UnknownNameError),
        ("k = 2", "k = 2\noptions = { bogus = 1 }", "options", 11, InputError),
    ],
)
def test_build_problem_names_the_suite_key_that_failed(
    tmp_path: Path, old: str, new: str, key: str, line: int, error: type[Exception]
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(_SUITE.replace(old, new))
    spec = load_suite(path).problems[0]
    with pytest.raises(SuiteError, match=rf"s\.toml:{line}: problems\[0\]\.{key}: ") as info:
        build_problem(spec)
    assert isinstance(info.value, error)  # an unknown name stays an UnknownNameError (a KeyError)


def test_a_spec_without_a_location_raises_the_step_error() -> None:
    spec = ProblemSpec("p", "set-diversity", "mnist-dcgan", "nccc", options={"k": 2})
    with pytest.raises(UnknownNameError, match="nccc") as info:
        build_problem(spec)
    assert not isinstance(info.value, SuiteError)
    with pytest.raises(UnknownNameError, match="nccc"):
        rebuild_problem(spec.to_dict())


def test_rebuild_problem_rebuilds_a_stored_spec() -> None:
    spec = ProblemSpec("p", "set-diversity", "mnist-dcgan", "ncc", options={"k": 2})
    assert rebuild_problem(spec.to_dict()).config_hash() == build_problem(spec).config_hash()
