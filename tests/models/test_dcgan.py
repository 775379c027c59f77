"""The public DCGAN pieces: networks for any image shape, initialisation, training step, BN recalibration,
reproducibility and affine jitter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentbridge.errors import InputError
from latentbridge.models import DCGANGenerator, load_dcgan
from latentbridge.models.dcgan import (
    Discriminator,
    Generator,
    affine_jitter,
    dcgan_step,
    ema_update,
    init_dcgan,
    recalibrate_batchnorm,
    reproducible,
)


def test_generator_at_28x28_is_the_embedded_generator() -> None:
    ours = Generator((1, 28, 28), 100, 128).state_dict()
    theirs = DCGANGenerator().state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_shipped_weights_load_strictly_and_give_the_same_images() -> None:
    shipped = load_dcgan()
    g = Generator((1, 28, 28))
    g.load_state_dict(shipped.state_dict(), strict=True)
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((8, 100)).astype(np.float32))
    with torch.no_grad():
        assert torch.equal(g.eval()(z), shipped(z))


def test_odd_sizes_and_colour() -> None:
    g = Generator((3, 10, 13), 16, 8)
    d = Discriminator((3, 10, 13), 4)
    x = g.eval()(torch.randn(2, 16))
    assert x.shape == (2, 3, 10, 13)
    assert d.eval()(x).shape == (2,)
    assert d.net[7].in_features == 2 * 4 * 2 * 3  # 10 → 5 → 2, 13 → 6 → 3


def test_discriminator_keeps_the_embedded_training_keys() -> None:
    d = Discriminator((1, 28, 28), 32)
    assert list(d.state_dict()) == [
        "net.0.weight",
        "net.0.bias",
        "net.2.weight",
        "net.3.weight",
        "net.3.bias",
        "net.3.running_mean",
        "net.3.running_var",
        "net.3.num_batches_tracked",
        "net.7.weight",
        "net.7.bias",
    ]
    assert d.net[7].in_features == 64 * 7 * 7


@pytest.mark.parametrize("shape", [(1, 3, 28), (1, 28, 2), (0, 8, 8), (8, 8), "abc"])
def test_too_small_or_malformed_shapes_are_refused(shape: object) -> None:
    with pytest.raises(InputError, match="image_shape must be"):
        Discriminator(shape)  # type: ignore[arg-type]


def test_init_dcgan() -> None:
    torch.manual_seed(0)
    d = Discriminator((1, 28, 28), 32)
    d.apply(init_dcgan)
    d.requires_grad_(False)
    assert abs(float(d.net[0].weight.std()) - 0.02) < 0.002
    assert float(d.net[0].bias.abs().max()) == 0.0
    assert abs(float(d.net[3].weight.mean()) - 1.0) < 0.01
    assert float(d.net[3].bias.abs().max()) == 0.0


def test_dcgan_step_and_ema_update() -> None:
    torch.manual_seed(0)
    g, d = Generator((1, 8, 8), 4, 8), Discriminator((1, 8, 8), 4)
    g.apply(init_dcgan)
    d.apply(init_dcgan)
    before_g = [p.detach().clone() for p in g.parameters()]
    before_d = [p.detach().clone() for p in d.parameters()]
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3)
    real = torch.rand(6, 1, 8, 8) * 2 - 1
    loss_d, loss_g, logit_real, logit_fake = dcgan_step(g, d, opt_g, opt_d, real, torch.randn(6, 4))
    assert torch.isfinite(loss_d)
    assert torch.isfinite(loss_g)
    assert logit_real.shape == logit_fake.shape == (6,)
    assert all(not torch.equal(a, b) for a, b in zip(before_g, g.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(before_d, d.parameters(), strict=True))
    ema = [t.clone() for t in before_g]
    ema_update(list(zip(ema, g.parameters(), strict=True)), 0.75)
    for e, old, new in zip(ema, before_g, g.parameters(), strict=True):
        assert torch.allclose(e, old + 0.25 * (new.detach() - old))


def test_recalibrate_batchnorm_uses_exact_averages() -> None:
    torch.manual_seed(0)
    g = Generator((1, 8, 8), 4, 8)
    g.apply(init_dcgan)
    bn = g.project[1]
    bn.momentum = 0.3
    recalibrate_batchnorm(g, torch.Generator().manual_seed(5), batches=3, batch_size=16)
    assert not g.training
    assert bn.momentum == 0.3
    rng = torch.Generator().manual_seed(5)
    with torch.no_grad():
        means = [g.project[0](torch.randn(16, 4, generator=rng)).mean(0) for _ in range(3)]
    assert torch.allclose(bn.running_mean, torch.stack(means).mean(0), atol=1e-6)


def test_reproducible_seeds_and_restores() -> None:
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with reproducible(3, 1) as gen:
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled()
        a, b = torch.rand(3), torch.rand(3, generator=gen)
    with reproducible(3, 1) as gen:
        assert torch.equal(a, torch.rand(3))
        assert torch.equal(b, torch.rand(3, generator=gen))
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det
    with pytest.raises(InputError, match="threads"), reproducible(0, 0):
        pass


def test_affine_jitter() -> None:
    x = torch.rand(5, 3, 10, 13) * 2 - 1
    a = affine_jitter(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape
    assert torch.equal(a, affine_jitter(x, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, affine_jitter(x, torch.Generator().manual_seed(2)))
    assert not torch.allclose(a, x)
    still = affine_jitter(x, torch.Generator().manual_seed(1), degrees=0.0, scale=0.0, shift=0.0)
    assert torch.allclose(still, x, atol=1e-5)
    blank = -torch.ones(2, 1, 8, 8)
    assert torch.equal(affine_jitter(blank, torch.Generator().manual_seed(0)), blank)  # background stays -1
