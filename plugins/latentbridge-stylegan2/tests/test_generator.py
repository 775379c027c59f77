"""The ``stylegan2`` latent generator: registry, spaces, options, ops and clear errors for bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import latentbridge
import numpy as np
import pytest
import torch
from latentbridge.errors import InputError, LatentShapeError, WeightsError

from latentbridge_stylegan2 import SnapshotLayoutError, StyleGAN2Generator, load_file
from latentbridge_stylegan2._ops import upfirdn2d, upfirdn2d_ref
from latentbridge_stylegan2.networks import Generator
from sg2_support import TINY_COND_KWARGS, TINY_KWARGS, make_net


@pytest.fixture
def snap(tmp_path: Path, snapshot_writer: Callable[..., Path]) -> Path:
    return snapshot_writer(tmp_path / "G.pkl", make_net(TINY_KWARGS))


@pytest.fixture
def snap_cond(tmp_path: Path, snapshot_writer: Callable[..., Path]) -> Path:
    return snapshot_writer(tmp_path / "Gc.pkl", make_net(TINY_COND_KWARGS))


def test_registered_through_entry_point(snap: Path) -> None:
    entry = latentbridge.registry("generator").get("stylegan2")
    assert entry.distribution == "latentbridge-stylegan2"
    assert "StyleGAN2" in entry.description
    gen = latentbridge.load_generator("stylegan2", path=snap, device="cpu")
    assert isinstance(gen, latentbridge.LatentGenerator)
    assert isinstance(gen, StyleGAN2Generator)


def test_load_generator_on_nvidia_fixture(fixtures_dir: Path) -> None:
    gen = latentbridge.load_generator("stylegan2", path=str(fixtures_dir / "tiny_G.pkl"), device="cpu")
    assert gen.image_shape == (3, 32, 32)
    assert gen.latent.shape == (32,)
    img = gen.generate(torch.randn(2, 32))
    assert img.shape == (2, 3, 32, 32)
    assert img.dtype == torch.float32


def test_spaces_shapes_and_priors(snap: Path) -> None:
    z = StyleGAN2Generator.load(snap, device="cpu")
    w = StyleGAN2Generator.load(snap, space="w", device="cpu", w_stats_samples=2000)
    wp = StyleGAN2Generator.load(snap, space="w+", device="cpu", w_stats_samples=2000)
    num_ws = z.num_ws
    assert num_ws == 2 * 4 - 2  # 16x16: 2*log2(R) - 2
    assert (z.latent.shape, z.latent.name) == ((8,), "z")
    assert float(np.asarray(z.latent.loc)) == 0.0
    assert float(np.asarray(z.latent.scale)) == 1.0
    assert (w.latent.shape, w.latent.name) == ((12,), "w")
    assert (wp.latent.shape, wp.latent.name) == ((num_ws, 12), "w+")
    w_avg = z.net.mapping.w_avg.double().numpy()
    np.testing.assert_allclose(w.latent.mean, w_avg)
    np.testing.assert_allclose(wp.latent.mean.reshape(num_ws, 12), np.broadcast_to(w_avg, (num_ws, 12)))
    # the prior's scale is the empirical std of mapped samples
    ws = z.map(torch.randn(4000, 8, generator=torch.Generator().manual_seed(5))).double()
    np.testing.assert_allclose(w.latent.std, ws.std(0).numpy(), rtol=0.1)
    np.testing.assert_allclose(wp.latent.std.reshape(num_ws, 12)[3], w.latent.std)
    for gen in (z, w, wp):
        lat = torch.as_tensor(gen.latent.sample(3, seed=1), dtype=torch.float32).reshape(3, *gen.latent.shape)
        img = gen.generate(lat)
        assert img.shape == (3, *gen.image_shape) == (3, 3, 16, 16)
        assert img.dtype == torch.float32
        assert bool(torch.isfinite(img).all())


@pytest.mark.parametrize("psi", [1.0, 0.6])
@pytest.mark.parametrize("cutoff", [None, 2])
def test_w_space_of_mapped_z_equals_z_space(snap_cond: Path, psi: float, cutoff: int | None) -> None:
    opts: dict[str, Any] = {"truncation_psi": psi, "truncation_cutoff": cutoff, "label": 2, "device": "cpu"}
    gz = StyleGAN2Generator.load(snap_cond, **opts)
    gw = StyleGAN2Generator.load(snap_cond, space="w", w_stats_samples=100, **opts)
    gwp = StyleGAN2Generator.load(snap_cond, space="w+", w_stats_samples=100, **opts)
    z = torch.randn(5, 6)
    c = torch.eye(3)[[2] * 5]
    with torch.inference_mode():
        ref = gz.net(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
    w = gz.map(z)
    torch.testing.assert_close(gz.generate(z), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gw.generate(w), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gwp.generate(w.unsqueeze(1).repeat(1, gz.num_ws, 1)), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gw.ws(w), gz.ws(z), atol=1e-6, rtol=1e-6)


def test_noise_modes(snap: Path) -> None:
    z = torch.randn(2, 8)
    const = StyleGAN2Generator.load(snap, device="cpu")
    none = StyleGAN2Generator.load(snap, noise_mode="none", device="cpu")
    rnd = StyleGAN2Generator.load(snap, noise_mode="random", device="cpu")
    assert torch.equal(const.generate(z), const.generate(z))
    assert float((const.generate(z) - none.generate(z)).abs().max()) > 1e-4
    assert not torch.equal(rnd.generate(z), rnd.generate(z))


def test_resize_and_config(snap: Path) -> None:
    gen = StyleGAN2Generator.load(snap, resize=(8, 12), truncation_psi=0.8, device="cpu", resolution=16)
    assert gen.image_shape == (3, 8, 12)
    assert gen.generate(torch.randn(2, 8)).shape == (2, 3, 8, 12)
    assert StyleGAN2Generator.load(snap, resize=32, device="cpu").generate(torch.randn(1, 8)).shape == (1, 3, 32, 32)
    cfg = gen.config()
    json.dumps(cfg)
    assert cfg["path"] == str(snap)
    assert len(cfg["sha256"]) == 64
    assert cfg["format"] == "nvidia-pickle"
    assert (cfg["space"], cfg["truncation_psi"], cfg["noise_mode"], cfg["resolution"]) == ("z", 0.8, "const", 16)
    assert cfg["resize"] == [8, 12]
    assert cfg["network"] == "G_ema"
    wcfg = StyleGAN2Generator.load(snap, space="w+", device="cpu", w_stats_samples=50).config()
    json.dumps(wcfg)
    assert wcfg["latent"]["shape"] == [6, 12]


def test_state_dict_files(tmp_path: Path) -> None:
    net = make_net(TINY_COND_KWARGS)
    pt, npz, js = tmp_path / "G.pt", tmp_path / "G.npz", tmp_path / "G.json"
    torch.save(net.state_dict(), pt)
    np.savez(npz, **{k: v.numpy() for k, v in net.state_dict().items()})
    js.write_text(json.dumps({"G_constructor_kwargs": TINY_COND_KWARGS}))
    z = torch.randn(3, 6)
    with torch.inference_mode():
        ref = net(z, torch.eye(3)[[1] * 3])
    for kw in ({"path": pt, "init_kwargs": TINY_COND_KWARGS}, {"path": npz, "init_json": js}):
        gen = latentbridge.load_generator("stylegan2", label=1, device="cpu", **kw)
        torch.testing.assert_close(gen.generate(z), ref, atol=1e-6, rtol=1e-6)
    nested = tmp_path / "nested.pt"
    torch.save({"G_ema": net.state_dict()}, nested)
    assert load_file(nested, init_kwargs=TINY_COND_KWARGS).format == "torch"


@pytest.mark.parametrize("arch", ["orig", "skip", "resnet"])
def test_architectures_build_and_run(arch: str) -> None:
    kw = {**TINY_KWARGS, "synthesis_kwargs": {**TINY_KWARGS["synthesis_kwargs"], "architecture": arch}}
    net = Generator(**kw).eval()
    keys = net.state_dict().keys()
    assert ("synthesis.b8.torgb.weight" in keys) == (arch == "skip")
    assert ("synthesis.b8.skip.weight" in keys) == (arch == "resnet")
    assert "synthesis.b16.torgb.weight" in keys
    assert net.num_ws == 6
    gen = StyleGAN2Generator(net, device="cpu")
    assert gen.generate(torch.randn(2, 8)).shape == (2, 3, 16, 16)


@pytest.mark.parametrize(("up", "pad"), [(1, [1, 1, 1, 1]), (2, [2, 1, 2, 1]), (2, [1, 1, 1, 1]), (1, [2, 1, 0, 3])])
def test_upfirdn_fast_path_matches_reference(up: int, pad: list[int]) -> None:
    x = torch.randn(2, 3, 7, 5)
    f = torch.rand(4, 4)
    torch.testing.assert_close(upfirdn2d(x, f, up=up, padding=pad, gain=3.0), upfirdn2d_ref(x, f, up, 1, pad, 3.0))


def test_gradients_flow_outside_inference_mode(snap: Path) -> None:
    net = load_file(snap).net
    z = torch.randn(2, 8, requires_grad=True)
    net(z, None).square().mean().backward()
    assert z.grad is not None
    assert bool(torch.isfinite(z.grad).all())


# ---------------------------------------------------------------- bad input
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        WeightsError, match=r"not found: .*nope\.pkl.*does not exist.*Expected an NVIDIA network snapshot"
    ):
        latentbridge.load_generator("stylegan2", path=tmp_path / "nope.pkl")
    with pytest.raises(FileNotFoundError):
        StyleGAN2Generator.load(tmp_path / "nope.npz", init_kwargs=TINY_KWARGS)
    with pytest.raises(InputError, match="needs path"):
        latentbridge.load_generator("stylegan2")


@pytest.mark.parametrize(
    ("space", "shape", "expected"),
    [("z", (2, 9), "(n, 8)"), ("z", (8,), "(n, 8)"), ("w", (2, 8), "(n, 12)"), ("w+", (2, 12), "(n, 6, 12)")],
)
def test_wrong_latent_size(snap: Path, space: str, shape: tuple[int, ...], expected: str) -> None:
    gen = StyleGAN2Generator.load(snap, space=space, device="cpu", w_stats_samples=50)
    msg = (
        re.escape(f"wrong latent size for space '{space}': expected shape {expected}")
        + ".*"
        + re.escape(f"got {shape}")
    )
    with pytest.raises(LatentShapeError, match=msg):
        gen.generate(torch.zeros(shape))
    with pytest.raises(LatentShapeError, match="floating point"):
        gen.generate(torch.zeros((2, *gen.latent.shape), dtype=torch.int64))
    with pytest.raises(LatentShapeError, match=r"torch\.Tensor"):
        gen.generate(np.zeros((2, *gen.latent.shape)))  # type: ignore[arg-type]


def test_resolution_mismatch(tmp_path: Path, snap: Path) -> None:
    with pytest.raises(InputError, match=r"resolution mismatch: the model generates 16×16 images, but resolution=64"):
        StyleGAN2Generator.load(snap, resolution=64)
    npz = tmp_path / "G.npz"
    np.savez(npz, **{k: v.numpy() for k, v in make_net(TINY_KWARGS).state_dict().items()})
    with pytest.raises(SnapshotLayoutError, match=r"resolution mismatch: .*up to b16 .*img_resolution=32"):
        StyleGAN2Generator.load(npz, init_kwargs={**TINY_KWARGS, "img_resolution": 32})


def test_state_dict_mismatches(tmp_path: Path) -> None:
    npz = tmp_path / "G.npz"
    np.savez(npz, **{k: v.numpy() for k, v in make_net(TINY_KWARGS).state_dict().items()})
    with pytest.raises(
        SnapshotLayoutError, match=r"wrong shapes: mapping\.fc0\.weight \(12, 8\) \(expected \(12, 9\)\)"
    ):
        StyleGAN2Generator.load(npz, init_kwargs={**TINY_KWARGS, "z_dim": 9})
    with pytest.raises(SnapshotLayoutError, match=r"missing tensors: mapping\.fc2\.weight"):
        StyleGAN2Generator.load(npz, init_kwargs={**TINY_KWARGS, "mapping_kwargs": {"num_layers": 3}})
    with pytest.raises(SnapshotLayoutError, match=r"unsupported \['bogus'\]"):
        StyleGAN2Generator.load(npz, init_kwargs={**TINY_KWARGS, "bogus": 1})
    with pytest.raises(InputError, match="is a state dict: pass the generator's constructor arguments"):
        StyleGAN2Generator.load(npz)
    bad = tmp_path / "bad.pt"
    torch.save([1, 2], bad)
    with pytest.raises(SnapshotLayoutError, match="unknown layout: found list"):
        StyleGAN2Generator.load(bad, init_kwargs=TINY_KWARGS)


def test_label_errors(snap: Path, snap_cond: Path) -> None:
    with pytest.raises(InputError, match=r"conditional \(c_dim=3\): pass label=<class index 0..2>"):
        StyleGAN2Generator.load(snap_cond)
    with pytest.raises(InputError, match=r"class index in \[0, 2\], got 3"):
        StyleGAN2Generator.load(snap_cond, label=3)
    with pytest.raises(InputError, match=r"shape \(3,\)"):
        StyleGAN2Generator.load(snap_cond, label=[1.0, 0.0])
    with pytest.raises(InputError, match="unconditional"):
        StyleGAN2Generator.load(snap, label=1)
    gen = StyleGAN2Generator.load(snap_cond, label=[0.2, 0.3, 0.5], device="cpu")
    assert gen.config()["label"] == [0.2, 0.3, 0.5]


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"space": "x"}, "space must be one of"),
        ({"noise_mode": "fixed"}, "noise_mode must be one of"),
        ({"truncation_cutoff": 99}, "truncation_cutoff"),
        ({"fp16": True, "device": "cpu"}, "needs a CUDA device"),
        ({"resize": (1, 2, 3)}, "resize must be"),
        ({"network": "D"}, r"no 'D' entry|'D' is"),
    ],
)
def test_bad_options(snap: Path, opts: dict[str, Any], match: str) -> None:
    with pytest.raises((InputError, SnapshotLayoutError), match=match):
        StyleGAN2Generator.load(snap, **opts)


def test_half_precision_and_channels_last_paths() -> None:
    # fp16=True is CUDA-only in StyleGAN2Generator; the network-level path it uses also runs on CPU.
    kw = {**TINY_KWARGS, "synthesis_kwargs": {**TINY_KWARGS["synthesis_kwargs"], "num_fp16_res": 2, "conv_clamp": 256}}
    net = make_net(kw)
    assert net.synthesis.fp16_resolution == 8
    with torch.inference_mode():
        ws = net.mapping(torch.randn(2, 8), None)
        ref = net.synthesis(ws)
        for fused in (True, False):
            half = net.synthesis(ws, fp16_min_res=8, fused=fused, channels_last=True)
            assert half.dtype == torch.float32
            assert float((half - ref).abs().max()) < 5e-2
    gen = StyleGAN2Generator(make_net(TINY_KWARGS), channels_last=True, device="cpu")
    plain = StyleGAN2Generator(make_net(TINY_KWARGS), device="cpu")
    z = torch.randn(3, 8)
    torch.testing.assert_close(gen.generate(z), plain.generate(z), atol=1e-5, rtol=1e-5)


def test_conforms_to_the_generator_contract(snap: Path) -> None:
    """latentbridge.testing.check_generator on the registered plugin (tiny random network)."""
    from latentbridge.testing import check_generator

    check_generator(latentbridge.load_generator("stylegan2", path=snap, device="cpu"))
