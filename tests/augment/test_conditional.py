"""The class-conditional DCGAN: shapes, seeded training on all classes, conditioning, cache, per-class views."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import latentbridge as lb
from latentbridge.augment.conditional import (
    CGAN_DEFAULTS,
    ClassView,
    ConditionalDiscriminator,
    ConditionalGenerator,
    class_generator,
    conditional_cache_key,
    load_conditional_dcgan,
    matched_schedule,
    save_conditional_dcgan,
    train_conditional_dcgan,
)
from latentbridge.errors import InputError

TINY = {"steps": 3, "batch_size": 8, "latent_dim": 6, "channels": 8, "d_channels": 4}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 5 random (1, 8, 8) images."""
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, size=(15, 1, 8, 8)).astype(np.float32), np.repeat(np.arange(3), 5)


@pytest.fixture(scope="module")
def trained(data: tuple[np.ndarray, np.ndarray]) -> ConditionalGenerator:
    """A conditional generator after three steps."""
    g, _ = train_conditional_dcgan(*data, 3, seed=1, **TINY)
    return g


def test_shapes_of_generator_and_discriminator() -> None:
    g = ConditionalGenerator((3, 10, 13), 4, latent_dim=5, channels=8)
    assert (g.latent_dim, g.n_classes, g.image_shape) == (5, 4, (3, 10, 13))
    x = g.eval()(torch.randn(2, 5), torch.tensor([0, 3]))
    assert x.shape == (2, 3, 10, 13)
    d = ConditionalDiscriminator((3, 10, 13), 4, channels=4)
    assert d.eval()(x, torch.tensor([0, 3])).shape == (2,)
    with pytest.raises(InputError, match=r"0\.\.3"):
        g(torch.randn(1, 5), torch.tensor([4]))
    with pytest.raises(InputError, match="one label per"):
        g(torch.randn(2, 5), torch.tensor([1]))
    with pytest.raises(InputError, match=r"\(n, 5\)"):
        g(torch.randn(2, 6), torch.tensor([1, 1]))


def test_training_is_seeded(data: tuple[np.ndarray, np.ndarray], trained: ConditionalGenerator) -> None:
    g2, info = train_conditional_dcgan(*data, 3, seed=1, **TINY)
    g3, _ = train_conditional_dcgan(*data, 3, seed=2, **TINY)
    z, y = torch.randn(6, 6, generator=torch.Generator().manual_seed(0)), torch.arange(6) % 3
    assert torch.equal(trained(z, y), g2(z, y))
    assert not torch.equal(trained(z, y), g3(z, y))
    assert info["steps"] == 3
    assert info["batch_size"] == 8
    assert not trained.training
    assert not any(p.requires_grad for p in trained.parameters())


def test_label_conditions_the_output(trained: ConditionalGenerator) -> None:
    z = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    images = [trained(z, torch.full((4,), c)) for c in range(3)]
    for a in range(3):
        for b in range(a + 1, 3):
            assert (images[a] - images[b]).abs().amax(dim=(1, 2, 3)).min() > 1e-4  # every z changes with y


def test_bad_training_data_is_refused(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    with pytest.raises(InputError, match="one label per"):
        train_conditional_dcgan(x, y[:-1], 3, seed=0, **TINY)
    with pytest.raises(InputError, match=r"0\.\.1"):
        train_conditional_dcgan(x, y, 2, seed=0, **TINY)
    with pytest.raises(InputError, match=r"\(n, C, H, W\)"):
        train_conditional_dcgan(x[:, 0], y, 3, seed=0, **TINY)
    with pytest.raises(InputError, match="integers"):
        train_conditional_dcgan(x, y.astype(np.float32), 3, seed=0, **TINY)


def test_cache_round_trip_and_refusal(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray], trained: ConditionalGenerator
) -> None:
    path = tmp_path / "cgan.pt"
    assert load_conditional_dcgan(path, (1, 8, 8), 3, latent_dim=6, channels=8) is None  # missing
    digest = save_conditional_dcgan(trained, path)
    assert len(digest) == 64
    back = load_conditional_dcgan(path, (1, 8, 8), 3, latent_dim=6, channels=8)
    assert back is not None
    z, y = torch.randn(5, 6), torch.tensor([0, 1, 2, 0, 1])
    assert torch.equal(back(z, y), trained(z, y))
    assert load_conditional_dcgan(path, (1, 8, 8), 4, latent_dim=6, channels=8) is None  # other class count
    assert load_conditional_dcgan(path, (1, 8, 8), 3, latent_dim=6, channels=16) is None  # other width
    path.write_bytes(b"corrupt")
    assert load_conditional_dcgan(path, (1, 8, 8), 3, latent_dim=6, channels=8) is None
    x, labels = data
    settings = dict(TINY)
    key = conditional_cache_key(x, labels, 1, settings)
    assert key == conditional_cache_key(x.copy(), labels.copy(), 1, settings)
    assert key != conditional_cache_key(x, labels, 2, settings)
    assert key != conditional_cache_key(x, labels[::-1].copy(), 1, settings)
    assert key != conditional_cache_key(x, labels, 1, {**settings, "steps": 4})


def test_class_generator_is_one_class_and_pickles(
    data: tuple[np.ndarray, np.ndarray], trained: ConditionalGenerator
) -> None:
    gen = class_generator(trained, 2)
    assert isinstance(gen, lb.TorchGenerator)
    assert gen.latent.shape == (6,)
    assert gen.image_shape == (1, 8, 8)
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(gen.generate(z), trained(z, torch.full((3,), 2)))
        back = pickle.loads(pickle.dumps(gen))
        assert torch.equal(back.generate(z), gen.generate(z))
    x, y = data
    problem = lb.CentroidDiversity(gen, lb.NCCScorer(), x[y == 2], k=2)
    f = problem.evaluate(problem.sample(4, seed=0))
    assert f.shape == (4,)
    assert np.isfinite(f).all()
    with pytest.raises(InputError, match=r"0\.\.2"):
        class_generator(trained, 3)
    with pytest.raises(InputError, match="ConditionalGenerator"):
        ClassView(torch.nn.Linear(2, 2), 0)  # type: ignore[arg-type]


def test_defaults_cover_the_training_settings() -> None:
    assert set(CGAN_DEFAULTS) == {"latent_dim", "channels", "d_channels", "steps", "batch_size", "ema_decay", "lr"}


def test_matched_schedule_shows_as_many_images_as_the_per_class_gans() -> None:
    assert matched_schedule([40] * 10) == {"steps": CGAN_DEFAULTS["steps"], "batch_size": CGAN_DEFAULTS["batch_size"]}
    assert matched_schedule([40, 40]) == {"steps": 1000, "batch_size": 16}  # 200 × 80 images, 5 batches a pass
    assert matched_schedule([3, 2], per_class_steps=4) == {"steps": 4, "batch_size": 5}  # 4 × 5 images
    with pytest.raises(InputError, match="class_sizes"):
        matched_schedule([])
    with pytest.raises(InputError, match="per_class_steps"):
        matched_schedule([4], per_class_steps=0)
