"""The conformance helpers catch broken generators and scorers."""

from __future__ import annotations

import pytest
import torch

import latentbridge as lb
from latentbridge.testing import check_generator, check_scorer, registered, tiny_generator


def test_tiny_generator_conforms_and_is_seeded() -> None:
    a, b = tiny_generator(seed=3), tiny_generator(seed=3)
    check_generator(a)
    z = torch.randn(2, 8)
    torch.testing.assert_close(a.generate(z), b.generate(z))
    assert not torch.allclose(a.generate(z), tiny_generator(seed=4).generate(z))


def test_check_generator_catches_batch_coupling() -> None:
    class Coupled(lb.TorchGenerator):
        def generate(self, z: torch.Tensor) -> torch.Tensor:
            out = super().generate(z)
            return out - out.mean(dim=0, keepdim=True)  # rows depend on each other

    base = tiny_generator()
    with pytest.raises(AssertionError, match="depends on the other rows"):
        check_generator(Coupled(base.module, base.latent, base.image_shape))


def test_check_scorer_catches_asymmetric_distance() -> None:
    class Lopsided(lb.RMSEScorer):
        def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            d = super().distance(a, b)
            return d + torch.triu(torch.ones_like(d), diagonal=1)

    with pytest.raises(AssertionError, match="symmetric"):
        check_scorer(Lopsided())


def test_registered_is_temporary(fresh_plugins: None) -> None:
    with registered("generator", "tmp-tiny", tiny_generator):
        assert lb.load_generator("tmp-tiny").latent.dim == 8
    assert "tmp-tiny" not in lb.registry("generator")
