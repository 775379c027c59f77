"""loading.py on hostile snapshots and state dicts: declared network sizes checked before anything is built."""

from __future__ import annotations

import copy
import io
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from latentbridge.errors import UnsafeFileError, UnsafePickleError

from latentbridge_stylegan2 import SnapshotLayoutError, SnapshotLimitError, StyleGAN2Generator, load_file, loading
from sg2_support import TINY_KWARGS, Call, forged_tensor, laughs, make_net


def _with(path: str, value: Any) -> dict[str, Any]:
    kw = copy.deepcopy(TINY_KWARGS)
    *head, last = path.split(".")
    d = kw
    for h in head:
        d = d.setdefault(h, {})
    d[last] = value
    return kw


def _deep(levels: int) -> Any:
    node: Any = 1
    for _ in range(levels):
        node = {"x": node}
    return node


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("z_dim", 10**9, r"_init_kwargs\.z_dim = 1000000000: expected an int in \[0, 16384\]"),
        ("w_dim", 2**40, r"_init_kwargs\.w_dim = 1099511627776: expected an int in \[1, 16384\]"),
        ("c_dim", -1, r"_init_kwargs\.c_dim = -1"),
        ("z_dim", True, r"_init_kwargs\.z_dim = True: expected an int"),
        ("img_resolution", 1000, r"_init_kwargs\.img_resolution = 1000: expected a power of two in \[4, 16384\]"),
        ("img_resolution", 2**20, r"_init_kwargs\.img_resolution = 1048576"),
        ("img_channels", 10**6, r"_init_kwargs\.img_channels = 1000000"),
        ("mapping_kwargs.num_layers", 10**6, r"_init_kwargs\.mapping_kwargs\.num_layers = 1000000"),
        ("mapping_kwargs.lr_multiplier", float("inf"), r"_init_kwargs\.mapping_kwargs\.lr_multiplier is inf"),
        ("synthesis_kwargs.channel_base", 2**40, r"_init_kwargs\.synthesis_kwargs\.channel_base = 1099511627776"),
        ("synthesis_kwargs.channel_max", 10**7, r"_init_kwargs\.synthesis_kwargs\.channel_max = 10000000"),
        ("synthesis_kwargs.resample_filter", [1.0] * 20, r"resample_filter = a list of 20 items: expected 1..16"),
        ("synthesis_kwargs.architecture", "x" * 100, r"architecture = 'x{10}"),
        ("mapping_kwargs.extra", _deep(10), r"nested deeper than 6 levels"),
        ("mapping_kwargs.extra", laughs(3), r"more than 256 values \(at .*_init_kwargs\.mapping_kwargs\.extra\["),
    ],
)
def test_absurd_network_sizes_are_refused_naming_the_field(
    tmp_path: Path,
    snapshot_writer: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    value: Any,
    match: str,
) -> None:
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a generator was allocated for refused arguments")

    monkeypatch.setattr(loading, "new_generator", never)
    path = snapshot_writer(tmp_path / "s.pkl", make_net(TINY_KWARGS), g_ema_extra={"_init_kwargs": _with(field, value)})
    with pytest.raises(SnapshotLimitError, match=match) as info:
        load_file(path)
    assert isinstance(info.value, UnsafeFileError)
    assert isinstance(info.value, SnapshotLayoutError)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("w_dim", 4096, r"w_dim=4096 but the last mapping layer has 12 outputs"),
        ("z_dim", 4096, r"z_dim=4096 but mapping\.fc0\.weight has 8 inputs"),
        ("mapping_kwargs.num_layers", 7, r"num_layers=7 but the weights have 2 mapping layers"),
    ],
)
def test_declared_dimensions_must_match_the_tensors_present_before_allocating(
    tmp_path: Path,
    snapshot_writer: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    value: Any,
    match: str,
) -> None:
    net = make_net(TINY_KWARGS)
    path = snapshot_writer(tmp_path / "s.pkl", net, g_ema_extra={"_init_kwargs": _with(field, value)})
    sd = tmp_path / "G.pt"
    torch.save(net.state_dict(), sd)

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a generator was allocated before the shapes were checked")

    monkeypatch.setattr(loading, "new_generator", never)
    if field != "mapping_kwargs.num_layers":  # the snapshot's module tree already disagrees for num_layers
        with pytest.raises(SnapshotLayoutError, match=match):
            load_file(path)
    with pytest.raises(SnapshotLayoutError, match=match):
        load_file(sd, init_kwargs=_with(field, value))


def test_tensor_beyond_its_storage_is_refused_in_snapshots(
    tmp_path: Path, snapshot_writer: Callable[..., Path]
) -> None:
    forged = forged_tensor(6, 0, (1000, 1000), (1000, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = snapshot_writer(tmp_path / "s.pkl", make_net(TINY_KWARGS), g_ema_extra={"w_avg_ref": forged})
    with pytest.raises(SnapshotLimitError, match=r"needs 1000000 elements but its torch.float32 storage holds 6"):
        load_file(path)


def test_billion_laughs_in_init_kwargs_is_refused(tmp_path: Path, snapshot_writer: Callable[..., Path]) -> None:
    path = snapshot_writer(
        tmp_path / "s.pkl", make_net(TINY_KWARGS), g_ema_extra={"_init_kwargs": _with("mapping_kwargs.x", laughs(9))}
    )
    with pytest.raises(SnapshotLimitError, match="billion laughs"):
        load_file(path)


def test_forged_state_dict_files_are_refused(tmp_path: Path) -> None:
    net = make_net(TINY_KWARGS)
    pt = tmp_path / "G.pt"
    torch.save({k: v for k, v in net.state_dict().items()} | {"evil": Call(print, "x")}, pt)
    with pytest.raises(UnsafePickleError, match=r"(__builtin__|builtins)\.print.*path=\.\.\. alone"):
        load_file(pt, init_kwargs=TINY_KWARGS)
    ints = tmp_path / "I.pt"
    torch.save({k: v.to(torch.int32) for k, v in net.state_dict().items()}, ints)
    with pytest.raises(SnapshotLayoutError, match="floating-point"):
        load_file(ints, init_kwargs=TINY_KWARGS)


def _npz_bytes(arrays: dict[str, np.ndarray], compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.save(member, arr)
            z.writestr(name + ".npy", member.getvalue())
    return buf.getvalue()


def test_forged_npz_members_are_refused(tmp_path: Path) -> None:
    sd = {k: v.numpy() for k, v in make_net(TINY_KWARGS).state_dict().items()}
    good = tmp_path / "G.npz"
    good.write_bytes(_npz_bytes(sd))
    assert isinstance(StyleGAN2Generator.load(good, init_kwargs=TINY_KWARGS, device="cpu"), StyleGAN2Generator)
    data = _npz_bytes({"w": np.zeros(4, np.float32)})
    forged = data.replace(b"'shape': (4,)", b"'shape': (9999999999,)".ljust(len(b"'shape': (4,)")))
    bad = tmp_path / "F.npz"
    bad.write_bytes(forged)
    with pytest.raises(SnapshotLimitError):
        load_file(bad, init_kwargs=TINY_KWARGS)
    bomb = tmp_path / "B.npz"
    bomb.write_bytes(_npz_bytes({"w": np.zeros(2**21, np.float32)}, zipfile.ZIP_DEFLATED))
    with pytest.raises(SnapshotLimitError, match="zip bomb"):
        load_file(bomb, init_kwargs=TINY_KWARGS)
    obj = tmp_path / "O.npz"
    obj.write_bytes(_npz_bytes({"w": np.array([1, "a"], dtype=object)}))
    with pytest.raises(SnapshotLimitError, match="dtype object refused"):
        load_file(obj, init_kwargs=TINY_KWARGS)
