"""Pixel scorers (RMSE, NCC) against hand computations, and the embedding wrapper."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.errors import ImageShapeError, InputError
from latentbridge.testing import check_scorer


def _imgs(n: int = 4, shape: tuple[int, int, int] = (1, 6, 6), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *shape), generator=g) * 2 - 1


@pytest.mark.parametrize("scorer", [lb.RMSEScorer(), lb.NCCScorer()], ids=["rmse", "ncc"])
def test_conformance(scorer: lb.Scorer) -> None:
    check_scorer(scorer, (1, 6, 6))
    check_scorer(scorer, (3, 5, 7))


def test_rmse_matches_definition_on_0_1_intensities() -> None:
    x = _imgs()
    s = lb.RMSEScorer()
    d = s.distance(s.embed(x), s.embed(x)).numpy()
    a, b = (x[0].numpy() + 1) / 2, (x[1].numpy() + 1) / 2
    assert d[0, 1] == pytest.approx(math.sqrt(np.mean((a - b) ** 2)), rel=1e-5)


def test_ncc_matches_definition_and_is_scale_invariant() -> None:
    x = _imgs()
    s = lb.NCCScorer()
    f = s.embed(x)
    a, b = x[0].numpy().ravel(), x[1].numpy().ravel()
    ncc = np.mean((a - a.mean()) * (b - b.mean())) / (a.std() * b.std())
    assert float(s.similarity(f, f)[0, 1]) == pytest.approx(ncc, rel=1e-4)
    assert float(s.distance(f, f)[0, 1]) == pytest.approx(1 - ncc, rel=1e-4)
    # contrast change of image 1 (still in range) does not change NCC
    y = x.clone()
    y[1] = x[1] * 0.5
    assert float(s.similarity(s.embed(y), s.embed(y))[0, 1]) == pytest.approx(ncc, rel=1e-4)


def test_ncc_constant_image_is_uncorrelated() -> None:
    s = lb.NCCScorer()
    x = torch.cat([torch.zeros(1, 1, 4, 4), _imgs(1, (1, 4, 4))])
    f = s.embed(x)
    assert torch.isfinite(f).all()
    assert float(s.similarity(f, f)[0, 1]) == 0.0


def test_embedding_scorer_resizes_converts_and_measures() -> None:
    seen: list[tuple[int, ...]] = []

    def embedder(x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return x.mean(dim=(2, 3))  # (n, 3)

    s = lb.EmbeddingScorer(embedder, input_size=(10, 10), channels=3)
    assert seen == [(1, 3, 10, 10)]  # the construction-time dry run on one blank image
    f = s.embed(_imgs(2, (1, 6, 6)))
    assert seen[1:] == [(2, 3, 10, 10)]
    assert f.shape == (2, 3)
    d = s.distance(f, f)
    torch.testing.assert_close(d, torch.cdist(f, f))
    cos = lb.EmbeddingScorer(embedder, metric="cosine")
    fc = cos.embed(_imgs(2, (3, 4, 4)))
    assert torch.allclose(fc.norm(dim=1), torch.ones(2))
    check_scorer(cos, (3, 4, 4))


def test_embedding_scorer_rgb_to_grey() -> None:
    s = lb.EmbeddingScorer(lambda x: x.flatten(1), channels=1)
    rgb = torch.zeros(1, 3, 2, 2)
    rgb[:, 0] = 1.0
    assert float(s.prepare(rgb)[0, 0, 0, 0]) == pytest.approx(0.299)


def test_embedding_scorer_bad_options() -> None:
    with pytest.raises(InputError, match="metric"):
        lb.EmbeddingScorer(lambda x: x, metric="manhattan")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="channels"):
        lb.EmbeddingScorer(lambda x: x, channels=2)
    with pytest.raises(InputError, match="device"):
        lb.EmbeddingScorer(lambda x: x, device="warp-drive")


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((1, 1, 4, 4)), "torch.Tensor"),
        (torch.zeros(1, 4, 4), r"\(n, C, H, W\)"),
        (torch.zeros(1, 1, 4, 4, dtype=torch.uint8), "float"),
    ],
)
def test_scorers_reject_bad_images(bad: object, match: str) -> None:
    with pytest.raises(ImageShapeError, match=match):
        lb.NCCScorer().embed(bad)  # type: ignore[arg-type]
