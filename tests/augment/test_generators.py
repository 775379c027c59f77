"""Per-class DCGANs: seeded training on one class's originals and the weights cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentbridge.augment.generators import (
    dcgan_cache_key,
    load_class_dcgan,
    save_state,
    train_class_dcgan,
)


def test_training_is_seeded_and_cache_round_trips(tmp_path: Path) -> None:
    x = np.random.default_rng(0).uniform(-1, 1, size=(6, 1, 8, 8)).astype(np.float32)
    g1, info = train_class_dcgan(x, seed=1, steps=3, channels=8, d_channels=4)
    g2, _ = train_class_dcgan(x, seed=1, steps=3, channels=8, d_channels=4)
    g3, _ = train_class_dcgan(x, seed=2, steps=3, channels=8, d_channels=4)
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(0))
    assert torch.equal(g1(z), g2(z))
    assert not torch.equal(g1(z), g3(z))
    assert info["steps"] == 3
    assert info["batch_size"] == 6
    path = tmp_path / "g.pt"
    save_state(g1, path)
    back = load_class_dcgan(path, (1, 8, 8), channels=8)
    assert back is not None
    assert torch.equal(back(z), g1(z))
    path.write_bytes(b"corrupt")
    assert load_class_dcgan(path, (1, 8, 8), channels=8) is None  # retrained, never trusted
    settings = {"steps": 3}
    assert dcgan_cache_key(x, 1, settings) == dcgan_cache_key(x.copy(), 1, settings)
    assert dcgan_cache_key(x, 1, settings) != dcgan_cache_key(x, 2, settings)
