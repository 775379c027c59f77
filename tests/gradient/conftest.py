"""A small differentiable problem for the gradient optimizers: the tiny MLP generator towards a reachable target."""

from __future__ import annotations

import pytest
import torch

import latentbridge as lb


@pytest.fixture
def problem(tiny_gen: lb.TorchGenerator, tiny_target: torch.Tensor) -> lb.TargetSimilarity:
    p = lb.TargetSimilarity(tiny_gen, lb.load_scorer("rmse"), tiny_target, batch_size=16)
    p.grad_cost = 3.0
    return p
