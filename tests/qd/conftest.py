"""A tiny quality-diversity problem: the 8-d tiny generator, rmse similarity to a target, smooth pixel measures."""

from __future__ import annotations

import pytest
import torch

import latentbridge as lb
from latentbridge.measures import Boldness, Lightness, Similarity
from latentbridge.qd import QualityDiversity


@pytest.fixture
def tiny_qd(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> QualityDiversity:
    """Objective: -rmse to a reachable target (range estimated); measures: smooth boldness and lightness."""
    measures = [Boldness(unit="fraction", temperature=0.05), Lightness(temperature=0.05)]
    return QualityDiversity(
        tiny_gen, Similarity(lb.load_scorer("rmse"), tiny_target), measures, n_estimate=200, batch_size=32
    )


@pytest.fixture
def hard_qd(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> QualityDiversity:
    """As ``tiny_qd`` with lsi_mnist's exact (not differentiable) boldness and lightness."""
    return QualityDiversity(
        tiny_gen, Similarity(lb.load_scorer("rmse"), tiny_target), ["boldness", "lightness"], n_estimate=200
    )
