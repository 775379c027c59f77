"""The realism discriminator: shipped weights match their card, training is reproducible and leaves G alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from latentbridge.models.mnist import DISCRIMINATOR_WEIGHTS, default_weights_path, load_dcgan, load_discriminator
from latentbridge.models.train_disc import DISC_METADATA_FILE, evaluate_discriminator, main, train_discriminator


def test_shipped_weights_match_their_metadata() -> None:
    path = default_weights_path(DISCRIMINATOR_WEIGHTS)
    meta = json.loads((path.parent / DISC_METADATA_FILE).read_text())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["file"]["sha256"]
    assert path.stat().st_size <= 5 * 2**20
    assert meta["trained_against"] == {"generator": "mnist_dcgan.pt", "frozen": True}
    d = load_discriminator()
    assert not any(p.requires_grad for p in d.parameters())
    ev = evaluate_discriminator(d, load_dcgan())
    # the card's figures up to float rounding: CPUs with other vector kernels (AVX2 vs AVX-512) round differently
    assert ev == pytest.approx(meta["eval"], rel=1e-4, abs=1e-5)
    assert ev["auc"] > 0.75  # it tells held-out real digits from generated ones, without saturating
    assert ev["auc"] < 0.99


def test_training_is_reproducible_and_leaves_the_generator_alone(tmp_path: Path) -> None:
    g = load_dcgan()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    # same file name in two folders: torch.save records the file's stem inside the archive
    a = train_discriminator(tmp_path / "a" / "d.pt", epochs=1, batch_size=500, generator=g)
    b = train_discriminator(tmp_path / "b" / "d.pt", epochs=1, batch_size=500, generator=g)
    assert a["file"]["sha256"] == b["file"]["sha256"]
    assert all(torch.equal(v, g.state_dict()[k]) for k, v in before.items())
    c = train_discriminator(tmp_path / "c" / "d.pt", epochs=1, batch_size=500, generator=g, seed=1)
    assert c["file"]["sha256"] != a["file"]["sha256"]


def test_command_line_writes_weights_and_metadata(tmp_path: Path, capsys: object) -> None:
    assert main(["--out-dir", str(tmp_path), "--epochs", "1"]) == 0
    meta = json.loads((tmp_path / DISC_METADATA_FILE).read_text())
    assert (tmp_path / DISCRIMINATOR_WEIGHTS).is_file()
    assert meta["file"]["path"] == DISCRIMINATOR_WEIGHTS
    assert meta["epochs"] == 1
