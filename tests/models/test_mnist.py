"""Tests of the embedded MNIST models: architectures, shipped weights, their quality, and load errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from latentbridge.data import load_mnist, to_float_images
from latentbridge.errors import InputError, WeightsError
from latentbridge.models import DCGANGenerator, DigitCNN, load_dcgan, load_digit_cnn
from latentbridge.models.mnist import DCGAN_WEIGHTS, EMBED_WEIGHTS, default_weights_path


@pytest.fixture(scope="module")
def generator() -> DCGANGenerator:
    return load_dcgan()


@pytest.fixture(scope="module")
def classifier() -> DigitCNN:
    return load_digit_cnn()


def _eval_latents(n: int = 512) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).standard_normal((n, 100)).astype(np.float32))


def test_generator_shapes() -> None:
    g = DCGANGenerator().eval()
    with torch.no_grad():
        out = g(torch.randn(4, 100))
    assert out.shape == (4, 1, 28, 28)
    assert out.dtype == torch.float32
    assert out.abs().max() <= 1.0
    with pytest.raises(InputError, match=r"\(n, 100\)"):
        g(torch.randn(4, 99))


def test_classifier_shapes() -> None:
    c = DigitCNN().eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        assert c.features(x).shape == (3, 128)
        assert c(x).shape == (3, 10)
        proba = c.predict_proba(x)
    torch.testing.assert_close(proba.sum(1), torch.ones(3))
    with pytest.raises(InputError, match="28, 28"):
        c(torch.zeros(3, 28, 28))


def test_shipped_weights_load(generator: DCGANGenerator, classifier: DigitCNN) -> None:
    for model in (generator, classifier):
        assert not model.training
        assert all(not p.requires_grad for p in model.parameters())
        assert all(p.dtype == torch.float32 for p in model.parameters())
    total = default_weights_path(DCGAN_WEIGHTS).stat().st_size + default_weights_path(EMBED_WEIGHTS).stat().st_size
    assert total <= 5 * 1024 * 1024
    meta = json.loads(default_weights_path("mnist_models.json").read_text())
    assert meta["digit_cnn"]["file"]["bytes"] == default_weights_path(EMBED_WEIGHTS).stat().st_size


def test_classifier_heldout_accuracy(classifier: DigitCNN) -> None:
    x, y = load_mnist("test")
    with torch.no_grad():
        pred = classifier(torch.from_numpy(to_float_images(x))).argmax(1).numpy()
    assert np.mean(pred == y) >= 0.95


def test_generated_samples_look_like_digits(generator: DCGANGenerator, classifier: DigitCNN) -> None:
    with torch.no_grad():
        images = generator(_eval_latents())
        top = classifier.predict_proba(images).max(1).values
    assert images.shape == (512, 1, 28, 28)
    assert float(top.mean()) >= 0.8
    # unconditional but not collapsed (a collapsed GAN scores ~1.0 above): at least 8 of the 10 classes
    # appear among 512 samples, and the class distribution's normalised entropy is >= 0.85 (uniform = 1)
    counts = torch.bincount(classifier(images).argmax(1), minlength=10).to(torch.float64)
    assert int((counts > 0).sum()) >= 8
    p = counts[counts > 0] / counts.sum()
    assert float(-(p * p.log()).sum() / math.log(10)) >= 0.85


def test_generation_is_deterministic(generator: DCGANGenerator) -> None:
    z = _eval_latents(16)
    with torch.no_grad():
        a = generator(z)
        b = generator(z.clone())
        c = load_dcgan()(z)
        single = generator(z[3:4])
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a, c, rtol=0, atol=0)
    torch.testing.assert_close(single, a[3:4], rtol=1e-5, atol=1e-5)  # eval-mode BN: batch-independent


def test_features_match_logits(classifier: DigitCNN) -> None:
    x = torch.from_numpy(to_float_images(load_mnist("test")[0][:8]))
    with torch.no_grad():
        feats = classifier.features(x)
        logits = classifier(x)
    assert feats.shape == (8, 128)
    assert bool((feats >= 0).all())
    torch.testing.assert_close(classifier.head(feats), logits)


def test_missing_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.pt"
    with pytest.raises(WeightsError, match="latentbridge train mnist") as info:
        load_dcgan(path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):  # WeightsError is a FileNotFoundError
        load_digit_cnn(path)


@pytest.mark.parametrize("content", [b"", b"not a torch file at all\n" * 10, b"PK\x03\x04garbage"])
def test_garbage_weights_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.pt"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="latentbridge train mnist") as info:
        load_digit_cnn(path)
    assert str(path) in str(info.value)


def test_wrong_model_weights(tmp_path: Path) -> None:
    path = tmp_path / "cnn.pt"
    torch.save(DigitCNN().state_dict(), path)
    with pytest.raises(WeightsError, match="do not fit DCGANGenerator"):
        load_dcgan(path)
    torch.save({"a": [1, 2]}, path)
    with pytest.raises(WeightsError, match="state dict"):
        load_dcgan(path)
    torch.save(DCGANGenerator(channels=64).state_dict(), path)
    with pytest.raises(WeightsError, match="shapes"):
        load_dcgan(path)


def test_float16_weights_load_as_float32(tmp_path: Path) -> None:
    model = DigitCNN()
    path = tmp_path / "half.pt"
    torch.save({k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}, path)
    loaded = load_digit_cnn(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
