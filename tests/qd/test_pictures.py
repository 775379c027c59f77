"""Heatmaps, elite grids laid out by measure, and the realism share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import latentbridge as lb
from latentbridge.errors import InputError
from latentbridge.measures import ClassProbability
from latentbridge.qd import Archive, Grid, QualityDiversity, elite_grid, heatmap, realism


def _archive(problem: QualityDiversity, cells: list[tuple[int, int]], grid: Grid) -> Archive:
    """One elite per given cell, with objective = its first coordinate (to know which tile wins)."""
    idx = np.ravel_multi_index(np.array(cells).T, grid.dims).astype(np.int64)
    order = np.argsort(idx)
    n = len(cells)
    Z = problem.sample(n, seed=0)
    obj = np.arange(n, dtype=np.float64)
    meas = np.zeros((n, 2))
    return Archive(grid, idx[order], Z[order], obj[order], meas[order], obj[order])


def test_heatmap_writes_a_png(tiny_qd: QualityDiversity, tmp_path: Path) -> None:
    grid = tiny_qd.grid((6, 4))
    a = _archive(tiny_qd, [(0, 0), (5, 3), (2, 1)], grid)
    out = heatmap(a, tmp_path / "h.png", title="t", vmin=0, vmax=2)
    with Image.open(out) as im:
        assert im.size == (640, 480)
    fig = heatmap(a, values=[0.1, 0.2, 0.3])  # colour by other values, returns the figure
    assert fig.axes[0].get_xlabel() == "boldness"
    assert fig.axes[0].get_ylabel() == "lightness"
    with pytest.raises(InputError, match="one per elite"):
        heatmap(a, values=[1.0])
    one_d = Archive(
        Grid((5,), ((0.0, 1.0),)), np.array([2]), np.zeros((1, 8)), np.ones(1), np.zeros((1, 1)), np.ones(1)
    )
    assert heatmap(one_d, tmp_path / "h1.png").is_file()


def test_elite_grid_lays_elites_out_by_measure(tiny_qd: QualityDiversity, tmp_path: Path) -> None:
    grid = tiny_qd.grid((4, 4))
    # blocks of 2 x 2 cells: (0, 0) and (1, 1) share the bottom-left block, (3, 3) is top right
    a = _archive(tiny_qd, [(0, 0), (1, 1), (3, 3)], grid)
    out = elite_grid(a, tiny_qd, tmp_path / "g.png", rows=2, cols=2, scale=1)
    pixels = np.asarray(Image.open(out))
    # tiles 8x8 with 2 px padding: 2 * (8 + 2) + 2 = 22 square
    assert pixels.shape[:2] == (22, 22)
    tile = lambda r, c: pixels[2 + r * 10 : 10 + r * 10, 2 + c * 10 : 10 + c * 10]  # noqa: E731
    expect = lb.images.to_uint8(tiny_qd.render(a.solution[1]))[0][..., 0]  # best of the bottom-left block
    assert np.array_equal(tile(1, 0), expect)
    assert np.array_equal(tile(0, 1), lb.images.to_uint8(tiny_qd.render(a.solution[2]))[0][..., 0])
    assert np.all(tile(0, 0) == 255)
    assert np.all(tile(1, 1) == 255)
    # the filled box: elites in cells (2..3, 0..1) only; 2 x 2 blocks of one cell each
    corner = _archive(tiny_qd, [(2, 0), (3, 1)], grid)
    pixels = np.asarray(Image.open(elite_grid(corner, tiny_qd, tmp_path / "f.png", rows=2, cols=2, scale=1)))
    assert np.array_equal(tile(1, 0), lb.images.to_uint8(tiny_qd.render(corner.solution[0]))[0][..., 0])
    assert np.array_equal(tile(0, 1), lb.images.to_uint8(tiny_qd.render(corner.solution[1]))[0][..., 0])
    pixels = np.asarray(Image.open(elite_grid(corner, tiny_qd, tmp_path / "w.png", rows=2, cols=2, extent="grid")))
    assert pixels.shape[:2] == (44, 44)  # scale 2
    empty = Archive(grid, np.zeros(0, np.int64), np.zeros((0, 8)), np.zeros(0), np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(InputError, match="empty"):
        elite_grid(empty, tiny_qd, tmp_path / "e.png")


def test_realism_is_the_share_the_classifier_recognises() -> None:
    gen = lb.load_generator("mnist-dcgan")
    p = QualityDiversity(gen, ClassProbability(8), ["boldness", "lightness"])
    grid = p.grid(10)
    a = _archive(p, [(i, j) for i in range(4) for j in range(3)], grid)
    r = realism(a, p, 8, threshold=0.5)
    with torch.inference_mode():
        imgs = gen.generate(torch.tensor(a.solution, dtype=torch.float32))
    probs = ClassProbability(8).measure(imgs).double().numpy()
    assert r.probabilities == pytest.approx(probs, abs=1e-6)
    assert r.passed == int((probs >= 0.5).sum())
    assert r.share == pytest.approx(r.passed / 12)
    assert r.n == 12
    assert realism(a, p, 8, threshold=1e-30).share == 1.0
    with pytest.raises(InputError, match="not p"):
        realism(a, p, 3, classifier=ClassProbability(8))
    with pytest.raises(InputError, match="threshold"):
        realism(a, p, 8, threshold=0)
