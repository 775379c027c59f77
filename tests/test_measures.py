"""Measures: each built-in on constructed images with known answers, the plugin kind, the contract checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.errors import ImageShapeError, InputError, UnknownNameError
from latentbridge.measures import (
    Boldness,
    ClassProbability,
    EmbeddingPCA,
    Lightness,
    Similarity,
    as_measure,
    check_measure_output,
    fitted_bounds,
)


def _black(n: int = 1, shape: tuple[int, int, int] = (1, 28, 28)) -> torch.Tensor:
    """Images of -1 everywhere (intensity 0 on the [0, 1] scale)."""
    return torch.full((n, *shape), -1.0)


def _with_white(values: list[float], shape: tuple[int, int, int] = (1, 28, 28)) -> torch.Tensor:
    """One black image whose first pixels have the given [-1, 1] values."""
    img = _black(1, shape).reshape(-1)
    img[: len(values)] = torch.tensor(values)
    return img.reshape(1, *shape)


# -- boldness ----------------------------------------------------------------------------------------
def test_boldness_counts_pixels_at_or_above_the_threshold() -> None:
    b = Boldness()
    # 0.0 in [-1, 1] is 0.5 on the [0, 1] scale: white (>=); -0.02 is 0.49: not white
    imgs = torch.cat([_black(), _with_white([1.0] * 10), _with_white([0.0, -0.02, 0.5])])
    assert b.measure(imgs).tolist() == [0.0, 10.0, 2.0]
    assert b.bounds((1, 28, 28)) == ((0.0, 784.0),)
    assert b.names == ("boldness",)
    assert not b.differentiable


def test_boldness_fraction_and_several_channels() -> None:
    b = Boldness(unit="fraction")
    img = _with_white([1.0] * 12, shape=(3, 4, 4))  # 48 values, 12 white
    assert b.measure(img).item() == pytest.approx(0.25)
    assert b.bounds((3, 4, 4)) == ((0.0, 1.0),)
    assert Boldness().measure(img).item() == 12.0
    assert Boldness().bounds((3, 4, 4)) == ((0.0, 48.0),)


def test_boldness_threshold_moves_the_cut() -> None:
    img = _with_white([0.0, 0.5, 1.0])  # 0.5, 0.75, 1.0 on the [0, 1] scale
    assert Boldness(threshold=0.7).measure(img).item() == 2.0
    assert Boldness(threshold=0.99).measure(img).item() == 1.0


def test_smooth_boldness_tends_to_the_count_and_has_gradients() -> None:
    img = _with_white([1.0] * 10 + [-0.6] * 5)  # 10 white, 5 at 0.2
    soft = Boldness(temperature=0.01)
    assert soft.differentiable
    assert soft.measure(img).item() == pytest.approx(10.0, abs=1e-3)
    x = _with_white([0.05, -0.05]).requires_grad_(True)
    Boldness(temperature=0.1).measure(x).sum().backward()
    assert x.grad is not None
    assert x.grad.reshape(-1)[:2].abs().min() > 0


def test_boldness_refuses_bad_settings() -> None:
    with pytest.raises(InputError, match="threshold"):
        Boldness(threshold=1.5)
    with pytest.raises(InputError, match="unit"):
        Boldness(unit="percent")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="temperature"):
        Boldness(temperature=0)
    with pytest.raises(ImageShapeError, match=r"\(n, C, H, W\)"):
        Boldness().measure(torch.zeros(28, 28))


# -- lightness ---------------------------------------------------------------------------------------
def test_lightness_is_the_mean_of_white_pixels_with_lsi_mnists_plus_one() -> None:
    li = Lightness()
    imgs = torch.cat([_black(), _with_white([1.0] * 10), _with_white([0.0, 1.0]), _with_white([-0.5])])
    expected = [0.0, 10 / 11, (0.5 + 1.0) / 3, 0.0]  # -0.5 is 0.25: not white
    assert li.measure(imgs).tolist() == pytest.approx(expected)
    assert li.bounds((1, 28, 28)) == ((0.5, 1.0),)
    assert Lightness(threshold=0.6).bounds((1, 28, 28)) == ((0.6, 1.0),)


def test_smooth_lightness_tends_to_the_exact_value() -> None:
    img = _with_white([1.0] * 10 + [0.6] * 10)
    exact = Lightness().measure(img).item()
    assert Lightness(temperature=0.005).measure(img).item() == pytest.approx(exact, abs=1e-3)
    assert Lightness(temperature=0.005).differentiable
    assert not Lightness().differentiable


# -- class probability ------------------------------------------------------------------------------
def test_class_probability_recognises_held_out_digits() -> None:
    from latentbridge.data import heldout_digit

    imgs = torch.from_numpy(np.stack([heldout_digit(d, i) for d in range(10) for i in range(3)]))
    probs = torch.stack([ClassProbability(d).measure(imgs) for d in range(10)], dim=1)  # (30, 10)
    assert torch.allclose(probs.sum(dim=1), torch.ones(30), atol=1e-5)
    labels = torch.arange(10).repeat_interleave(3)
    assert (probs.argmax(dim=1) == labels).float().mean() >= 0.9
    assert ClassProbability(3).bounds((1, 28, 28)) == ((0.0, 1.0),)
    assert ClassProbability(3).names == ("p(3)",)


def test_class_probability_is_differentiable_and_checks_shapes() -> None:
    from latentbridge.data import heldout_digit

    x = torch.from_numpy(heldout_digit(8)[None].copy()).requires_grad_(True)
    ClassProbability(8).measure(x).sum().backward()
    assert x.grad is not None
    assert float(x.grad.abs().sum()) > 0
    with pytest.raises(ImageShapeError, match="28x28"):
        ClassProbability(8).measure(torch.zeros(2, 1, 8, 8))
    with pytest.raises(InputError, match="digit"):
        ClassProbability(10)


# -- embedding PCA -----------------------------------------------------------------------------------
def _line_images(n: int = 20) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images ``base + t_i * d`` on a line through pixel space (1x4x4), ``t`` from -0.5 to 0.5."""
    base = torch.full((1, 4, 4), -0.2)
    d = torch.zeros(1, 4, 4)
    d[0, 0, :2] = 1.0
    d[0, 3, 3] = -0.5
    t = torch.linspace(-0.5, 0.5, n)
    return base + t[:, None, None, None] * d, d, t


def test_embedding_pca_finds_the_direction_of_a_line_of_images() -> None:
    imgs, d, t = _line_images()
    pca = EmbeddingPCA(lb.load_scorer("rmse"), components=1, images=imgs, margin=0.0)
    # rmse embeds intensities (x + 1) / 2: the line's direction is d / 2, its unit vector d / |d|
    unit = (d.reshape(-1) / d.norm()).to(torch.float64)
    assert torch.allclose(pca.components[0], unit, atol=1e-6)  # signed: largest coordinate positive
    assert pca.explained_variance_ratio[0] == pytest.approx(1.0, abs=1e-6)
    coords = pca.measure(imgs)
    expected = (t - t.mean()) * float(d.norm()) / 2
    assert torch.allclose(coords.to(torch.float64), expected.to(torch.float64), atol=1e-5)
    lo, hi = pca.bounds((1, 4, 4))[0]
    assert (lo, hi) == pytest.approx((float(expected.min()), float(expected.max())), abs=1e-5)


def test_embedding_pca_fit_is_deterministic_and_recorded() -> None:
    imgs, _, _ = _line_images()
    noisy = (imgs + 0.05 * torch.randn(imgs.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    a = EmbeddingPCA(lb.load_scorer("rmse"), components=2, images=noisy)
    b = EmbeddingPCA(lb.load_scorer("rmse"), components=2, images=noisy.clone())
    assert torch.equal(a.components, b.components)
    assert torch.allclose(a.components @ a.components.T, torch.eye(2, dtype=torch.float64), atol=1e-9)
    assert a.config() == b.config()
    fit = a.config()["fit"]
    assert fit["data"] == "given"
    assert fit["n"] == 20
    assert len(fit["components_sha256"]) == 64
    json.dumps(a.config())
    lo, hi = a.bounds((1, 4, 4))[1]
    span = float(a.measure(noisy)[:, 1].max() - a.measure(noisy)[:, 1].min())
    assert hi - lo == pytest.approx(1.2 * span, rel=1e-4)  # margin 0.1 on each side


def test_embedding_pca_on_mnist_digits_with_the_embedded_scorer() -> None:
    pca = EmbeddingPCA(digits=[3, 8])
    assert pca.fit_record["data"] == "mnist-train"
    assert pca.fit_record["n"] == 800
    assert pca.names == ("pc1", "pc2")
    assert pca.differentiable
    x = torch.from_numpy(np.stack([lb.data.heldout_digit(3)])).requires_grad_(True)
    pca.measure(x)[:, 0].sum().backward()
    assert x.grad is not None
    assert float(x.grad.abs().sum()) > 0


def test_embedding_pca_refuses_bad_input() -> None:
    with pytest.raises(InputError, match="components"):
        EmbeddingPCA(lb.load_scorer("rmse"), components=0, images=_line_images()[0])
    with pytest.raises(ImageShapeError):
        EmbeddingPCA(lb.load_scorer("rmse"), images=np.zeros((1, 1, 4, 4), dtype=np.float32))
    with pytest.raises(InputError, match="digits"):
        EmbeddingPCA(lb.load_scorer("rmse"), images=_line_images()[0], digits=[1])


# -- similarity --------------------------------------------------------------------------------------
def test_similarity_is_highest_for_the_target_itself() -> None:
    imgs, _, _ = _line_images(5)
    target = imgs[2]
    ncc = Similarity(lb.load_scorer("ncc"), target)
    assert ncc.measure(imgs[2:3]).item() == pytest.approx(1.0, abs=1e-5)  # NCC of an image with itself
    rmse = Similarity(lb.load_scorer("rmse"), target.numpy())
    vals = rmse.measure(imgs)
    assert vals[2].item() == pytest.approx(0.0, abs=1e-6)  # -distance
    assert vals.argmax().item() == 2
    assert bool((vals <= 0).all())
    assert ncc.bounds((1, 4, 4)) == (None,)


# -- the plugin kind ---------------------------------------------------------------------------------
def test_measures_are_registered_and_loaded_by_name() -> None:
    assert {"boldness", "lightness", "class-probability", "embedding-pca", "similarity"} <= set(
        lb.registry("measure").names()
    )
    m = lb.load_measure("boldness", unit="fraction")
    assert isinstance(m, lb.Measure)
    assert isinstance(m, Boldness)
    assert m.unit == "fraction"
    with pytest.raises(InputError, match="unknown option"):
        lb.load_measure("boldness", thresold=0.4)
    with pytest.raises(UnknownNameError, match="boldness"):
        lb.load_measure("boldnes")


def test_the_plugins_command_lists_measures() -> None:
    from typer.testing import CliRunner

    from latentbridge.cli import app

    out = CliRunner().invoke(app, ["plugins", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)["registered"]
    assert {"kind": "measure", "name": "lightness"}.items() <= next(r for r in rows if r["name"] == "lightness").items()


def test_output_and_measure_checks() -> None:
    b = Boldness()
    assert check_measure_output(b, torch.zeros(3), 3).shape == (3, 1)
    with pytest.raises(InputError, match="expected"):
        check_measure_output(b, torch.zeros(3, 2), 3)
    with pytest.raises(InputError, match="torch tensor"):
        check_measure_output(b, np.zeros(3), 3)
    assert isinstance(lb.load_measure("lightness"), Lightness)
    with pytest.raises(InputError, match=r"is a name: build it with latentbridge.load_measure\('lightness'\)"):
        as_measure("lightness")
    with pytest.raises(InputError, match=r"pass a scorer object \(latentbridge.load_scorer\('rmse'\)\)"):
        EmbeddingPCA("rmse", images=_line_images()[0])  # type: ignore[arg-type]
    by_name = lb.load_measure("embedding-pca", scorer="rmse", components=1, images=_line_images()[0])
    assert by_name.scorer.name == "rmse"
    with pytest.raises(InputError, match=r"latentbridge\.Measure"):
        as_measure(object())


def test_fitted_bounds_widen_and_refuse_all_nan() -> None:
    vals = np.array([[0.0, 5.0], [2.0, 5.0], [np.nan, 5.0]])
    assert fitted_bounds(vals, 0.1) == [pytest.approx((-0.2, 2.2)), (4.5, 5.5)]
    with pytest.raises(InputError, match="NaN"):
        fitted_bounds(np.full((3, 1), np.nan), 0.1)


@pytest.mark.parametrize("name", ["boldness", "lightness"])
def test_pixel_measures_run_on_generated_images(name: str, tiny_gen: lb.TorchGenerator) -> None:
    with torch.inference_mode():
        imgs = tiny_gen.generate(torch.randn(5, 8, generator=torch.Generator().manual_seed(0)))
    vals = lb.load_measure(name).measure(imgs)
    assert vals.shape == (5,)
    assert bool(torch.isfinite(vals).all())
