"""Numeric equality with NVIDIA's stylegan2-ada-pytorch reference outputs (the reference fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentbridge_stylegan2 import StyleGAN2Generator, load_file
from latentbridge_stylegan2.networks import Generator

ATOL_IMG = 1e-4
ATOL_WS = 1e-5

CASES = [("tiny_G", "cases"), ("tiny_G_cond", "cases_cond")]


def _cases(fixtures_dir: Path, name: str) -> dict[str, torch.Tensor]:
    with np.load(fixtures_dir / f"{name}.npz") as d:
        return {k: torch.from_numpy(d[k]) for k in d.files}


def _load(fixtures_dir: Path, name: str, fmt: str) -> Generator:
    if fmt == "pkl":
        return load_file(fixtures_dir / f"{name}.pkl").net
    return load_file(fixtures_dir / f"{name}.npz", init_json=fixtures_dir / f"{name}.json").net


def _maxerr(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


@pytest.mark.parametrize("fmt", ["pkl", "npz"])
@pytest.mark.parametrize(("name", "cases"), CASES)
def test_mapping_matches_nvidia(fixtures_dir: Path, name: str, cases: str, fmt: str) -> None:
    net, d = _load(fixtures_dir, name, fmt), _cases(fixtures_dir, cases)
    c = d["c"] if d["c"].shape[1] else None
    with torch.no_grad():
        assert _maxerr(net.mapping(d["z"], c), d["ws_psi1"]) <= ATOL_WS
        assert _maxerr(net.mapping(d["z"], c, truncation_psi=0.7), d["ws_psi07"]) <= ATOL_WS
        assert _maxerr(net.mapping(d["z"], c, 0.7, truncation_cutoff=2), d["ws_psi07_cutoff2"]) <= ATOL_WS


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("fmt", ["pkl", "npz"])
@pytest.mark.parametrize(("name", "cases"), CASES)
def test_synthesis_and_full_forward_match_nvidia(
    fixtures_dir: Path, name: str, cases: str, fmt: str, fused: bool
) -> None:
    net, d = _load(fixtures_dir, name, fmt), _cases(fixtures_dir, cases)
    c = d["c"] if d["c"].shape[1] else None
    with torch.inference_mode():
        const = net.synthesis(d["ws_psi1"], noise_mode="const", fused=fused)
        none = net.synthesis(d["ws_psi1"], noise_mode="none", fused=fused)
        wplus = net.synthesis(d["ws_plus"], noise_mode="const", fused=fused)
        full = net(d["z"], c, truncation_psi=0.7, noise_mode="const", fused=fused)
    assert _maxerr(const, d["img_synth_psi1_const"]) <= ATOL_IMG
    assert _maxerr(none, d["img_synth_psi1_none"]) <= ATOL_IMG
    assert _maxerr(wplus, d["img_synth_wplus_const"]) <= ATOL_IMG
    assert _maxerr(full, d["img_G_psi07_const"]) <= ATOL_IMG
    assert float((const - none).abs().max()) > 1e-3  # noise really contributes


def test_generator_api_z_and_wplus_match_nvidia(fixtures_dir: Path) -> None:
    d = _cases(fixtures_dir, "cases")
    gen = StyleGAN2Generator.load(fixtures_dir / "tiny_G.pkl", truncation_psi=0.7, device="cpu")
    assert _maxerr(gen.generate(d["z"]), d["img_G_psi07_const"]) <= ATOL_IMG
    gplus = StyleGAN2Generator.load(fixtures_dir / "tiny_G.pkl", space="w+", device="cpu", w_stats_samples=500)
    assert _maxerr(gplus.generate(d["ws_plus"]), d["img_synth_wplus_const"]) <= ATOL_IMG
    gw = StyleGAN2Generator.load(fixtures_dir / "tiny_G.pkl", space="w", device="cpu", w_stats_samples=500)
    assert _maxerr(gw.generate(d["ws_psi1"][:, 0]), d["img_synth_psi1_const"]) <= ATOL_IMG


def test_generator_api_conditional_labels_match_nvidia(fixtures_dir: Path) -> None:
    d = _cases(fixtures_dir, "cases_cond")
    for i in range(4):
        c = d["c"][i]
        label: int | np.ndarray = int(c.argmax()) if i < 3 else c.numpy()
        if i < 3:
            assert torch.equal(c, torch.nn.functional.one_hot(torch.tensor(label), 4).float())
        gen = StyleGAN2Generator.load(fixtures_dir / "tiny_G_cond.pkl", truncation_psi=0.7, label=label, device="cpu")
        assert _maxerr(gen.generate(d["z"][i : i + 1]), d["img_G_psi07_const"][i : i + 1]) <= ATOL_IMG


def test_pickles_load_g_ema_not_g(fixtures_dir: Path) -> None:
    d = _cases(fixtures_dir, "cases")
    ema = load_file(fixtures_dir / "tiny_G.pkl")
    drift = load_file(fixtures_dir / "tiny_G.pkl", network="G")
    assert ema.network == "G_ema"
    with torch.inference_mode():
        img_ema = ema.net(d["z"], None, truncation_psi=0.7)
        img_g = drift.net(d["z"], None, truncation_psi=0.7)
    assert _maxerr(img_ema, d["img_G_psi07_const"]) <= ATOL_IMG
    assert _maxerr(img_g, d["img_G_psi07_const"]) > 1e-2  # 'G' carries the training drift


def test_pickle_and_state_dict_give_identical_weights(fixtures_dir: Path) -> None:
    for name in ("tiny_G", "tiny_G_cond"):
        a = load_file(fixtures_dir / f"{name}.pkl").net.state_dict()
        b = load_file(fixtures_dir / f"{name}.npz", init_json=fixtures_dir / f"{name}.json").net.state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
