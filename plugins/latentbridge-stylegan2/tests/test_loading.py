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


# ---------------------------------------------------------------- second round: raw errors from the layout checks
def test_mixed_int_and_str_keys_are_a_layout_error(tmp_path: Path, snapshot_writer: Callable[..., Path]) -> None:
    # sorted() of a state holding both ints and strs raised TypeError while composing the message.
    path = snapshot_writer(tmp_path / "s.pkl", make_net(TINY_KWARGS), g_ema_extra={7: "x", "_init_kwargs": None})
    with pytest.raises(SnapshotLayoutError, match=r"no recorded constructor arguments .*found keys .*7"):
        load_file(path)
    pt = tmp_path / "mixed.pt"
    torch.save({**make_net(TINY_KWARGS).state_dict(), 3: torch.zeros(1)}, pt)
    with pytest.raises(SnapshotLayoutError, match="parameter names must be strings, found 3"):
        load_file(pt, init_kwargs=TINY_KWARGS)


@pytest.mark.parametrize("name", ["mapping.fc{}.weight", "synthesis.b{}.conv0.weight"])
def test_parameter_names_with_thousands_of_digits_are_a_layout_error(tmp_path: Path, name: str) -> None:
    # int() of a 5000-digit name raised "Exceeds the limit (4300 digits) for integer string conversion".
    sd = make_net(TINY_KWARGS).state_dict()
    sd[name.format("1" * 5000)] = torch.zeros(1)
    pt = tmp_path / "digits.pt"
    torch.save(sd, pt)
    with pytest.raises(SnapshotLayoutError, match=r"unexpected tensors: .*1{50}\.\.\. \(50\d\d characters\)") as info:
        load_file(pt, init_kwargs=TINY_KWARGS)
    assert len(str(info.value)) < 2000


def _zip_patch(data: bytes, name: bytes, *, flags: int | None = None, method: int | None = None) -> bytes:
    out = bytearray(data)
    for sig, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        pos = out.find(sig)
        while pos >= 0:
            if out[pos + name_at : pos + name_at + len(name)] == name:
                if flags is not None:
                    out[pos + flag_at : pos + flag_at + 2] = flags.to_bytes(2, "little")
                if method is not None:
                    out[pos + flag_at + 2 : pos + flag_at + 4] = method.to_bytes(2, "little")
            pos = out.find(sig, pos + 4)
    return bytes(out)


def test_archive_faults_in_state_dicts_are_one_clear_error(tmp_path: Path) -> None:
    sd = {k: v.numpy() for k, v in make_net(TINY_KWARGS).state_dict().items()}
    stored, deflated = _npz_bytes(sd), _npz_bytes(sd, zipfile.ZIP_DEFLATED)
    member = b"mapping.fc0.weight.npy"
    start = deflated.index(member) + len(member) + 40
    corrupt = deflated[:start] + bytes(b ^ 0x5A for b in deflated[start : start + 64]) + deflated[start + 64 :]
    pt = tmp_path / "G.pt"
    torch.save(make_net(TINY_KWARGS).state_dict(), pt)
    cases = {
        "enc.npz": (_zip_patch(stored, member, flags=1), SnapshotLimitError, "encrypted"),
        "method.npz": (_zip_patch(stored, member, method=99), SnapshotLimitError, "compression method 99"),
        "deflate.npz": (corrupt, SnapshotLimitError, "cannot read the zip archive"),
        "enc.pt": (_zip_patch(pt.read_bytes(), b"G/data.pkl", flags=1), UnsafeFileError, "encrypted"),
        "method.pt": (_zip_patch(pt.read_bytes(), b"G/data/0", method=77), UnsafeFileError, "compression method 77"),
    }
    for name, (data, error, match) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(error, match=match) as info:
            load_file(path, init_kwargs=TINY_KWARGS)
        assert str(path) in str(info.value)


def test_huge_text_integer_in_a_snapshot_is_refused_at_once(tmp_path: Path) -> None:
    frame = b"L0x" + b"f" * 600_000 + b"L\n."  # 0.6 MB: one text integer inside a protocol-4 frame
    path = tmp_path / "int.pkl"
    path.write_bytes(b"\x80\x04\x95" + len(frame).to_bytes(8, "little") + frame)
    with pytest.raises(SnapshotLimitError, match="line exceeds 256 bytes"):
        load_file(path)
