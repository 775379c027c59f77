"""The restricted unpickler: NVIDIA-format snapshots load, anything outside the allow-list is refused unrun."""

from __future__ import annotations

import io
import os
import pickle
import struct
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import latentbridge
import numpy as np
import pytest
import torch
from latentbridge.errors import LatentBridgeError, UnsafeFileError, WeightsError

from latentbridge_stylegan2 import SnapshotLayoutError, StyleGAN2Generator, UnsafePickleError, load_file
from latentbridge_stylegan2._safe_pickle import EasyDict, PersistentRecord, safe_load
from sg2_support import TINY_COND_KWARGS, TINY_KWARGS, Call, fake_nvidia_modules, make_net
from sg2_support import _EasyDict as NvidiaEasyDict


@pytest.mark.parametrize("name", ["malicious.pkl", "malicious_src.pkl"])
def test_malicious_fixtures_are_refused_and_never_run(fixtures_dir: Path, no_markers: list[Path], name: str) -> None:
    with pytest.raises(LatentBridgeError) as info:
        latentbridge.load_generator("stylegan2", path=fixtures_dir / name)
    msg = str(info.value)
    if name == "malicious.pkl":
        assert isinstance(info.value, UnsafePickleError)
        assert isinstance(info.value, pickle.UnpicklingError)
        assert "os.system" in msg
        assert "allow-list" in msg
    else:  # allow-listed global, but its module_src is never executed and the record is no Generator
        assert isinstance(info.value, SnapshotLayoutError)
        assert "constructor arguments" in msg
    assert not any(p.exists() for p in no_markers)


def test_malicious_src_is_read_as_data_only(fixtures_dir: Path, no_markers: list[Path]) -> None:
    with open(fixtures_dir / "malicious_src.pkl", "rb") as f:
        obj = safe_load(f)
    rec = obj["G_ema"]
    assert isinstance(rec, PersistentRecord)
    assert rec.class_name == "Generator"
    assert rec.module_src_chars > 0
    assert not hasattr(rec, "module_src")
    assert not any(p.exists() for p in no_markers)


@pytest.mark.parametrize("protocol", [3, 4, 5])
@pytest.mark.parametrize("kwargs", [TINY_KWARGS, TINY_COND_KWARGS], ids=["skip", "resnet-cond"])
def test_synthetic_snapshot_roundtrip(
    tmp_path: Path, snapshot_writer: Callable[..., Path], kwargs: dict[str, Any], protocol: int
) -> None:
    marker = tmp_path / "src_ran"
    net = make_net(kwargs, seed=protocol)
    src = f"open({str(marker)!r}, 'w').write('ran')\n"
    path = snapshot_writer(tmp_path / "snap.pkl", net, protocol=protocol, module_src=src)
    loaded = load_file(path)
    assert loaded.format == "nvidia-pickle"
    assert loaded.network == "G_ema"
    assert loaded.init_kwargs == net.init_kwargs
    sd_a, sd_b = net.state_dict(), loaded.net.state_dict()
    assert sd_a.keys() == sd_b.keys()
    assert all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)
    c = torch.eye(kwargs["c_dim"])[[0, 1]] if kwargs["c_dim"] else None
    z = torch.randn(2, kwargs["z_dim"])
    with torch.inference_mode():
        assert torch.equal(net(z, c, truncation_psi=0.5), loaded.net(z, c, truncation_psi=0.5))
    assert not marker.exists()


def test_numpy_core_scalar_path_is_accepted(tmp_path: Path, snapshot_writer: Callable[..., Path]) -> None:
    # Official 2021 snapshots (numpy 1.x) name numpy.core.multiarray.scalar; protocol 3 spells globals as text.
    net = make_net(TINY_KWARGS)
    path = snapshot_writer(tmp_path / "snap.pkl", net, protocol=3)
    data = path.read_bytes()
    assert b"cnumpy._core.multiarray\nscalar\n" in data
    path.write_bytes(data.replace(b"cnumpy._core.multiarray\nscalar\n", b"cnumpy.core.multiarray\nscalar\n"))
    assert torch.equal(load_file(path).net.mapping.fc0.weight, net.mapping.fc0.weight)


@pytest.mark.parametrize("protocol", [3, 4])
@pytest.mark.parametrize("where", ["top", "deep"])
def test_forbidden_global_in_snapshot_is_refused(
    tmp_path: Path,
    snapshot_writer: Callable[..., Path],
    forbidden_global: Any,
    no_markers: list[Path],
    protocol: int,
    where: str,
) -> None:
    marker = tmp_path / "payload_ran"
    payload = forbidden_global(os.system, (f"echo pwned > {marker}",))
    extra = {"evil": payload}
    path = snapshot_writer(
        tmp_path / "evil.pkl",
        make_net(TINY_KWARGS),
        protocol=protocol,
        top_extra=extra if where == "top" else None,
        g_ema_extra=extra if where == "deep" else None,
    )
    with pytest.raises(UnsafePickleError, match=r"refusing to load global (posix|os)\.system"):
        StyleGAN2Generator.load(path)
    assert not marker.exists()
    assert not any(p.exists() for p in no_markers)


@pytest.mark.parametrize(
    "func",
    [eval, exec, getattr, __import__, torch.load, pickle.loads, io.open],
    ids=lambda f: getattr(f, "__name__", str(f)),
)
def test_other_dangerous_globals_are_refused(tmp_path: Path, forbidden_global: Any, func: Any) -> None:
    data = pickle.dumps({"G_ema": forbidden_global(func, ("1",))}, protocol=2)
    with pytest.raises(UnsafePickleError, match="not on the allow-list"):
        safe_load(io.BytesIO(data))


def test_build_on_non_dtype_is_refused(forbidden_global: Any) -> None:
    class WithState:
        def __reduce__(self) -> Any:
            return (OrderedDict, (), {"__class__": "x"})

    data = pickle.dumps({"G_ema": WithState()}, protocol=4)
    with pytest.raises(UnsafePickleError, match="BUILD"):
        safe_load(io.BytesIO(data))


def test_protocol2_bytes_need_a_forbidden_global() -> None:
    # Python 3 writes bytes in protocol 2 as _codecs.encode(...): not on the list (snapshots use protocol >= 3).
    with pytest.raises(UnsafePickleError, match=r"_codecs\.encode"):
        safe_load(io.BytesIO(pickle.dumps({"G_ema": b"abc"}, protocol=2)))


def test_persistent_ids_are_refused() -> None:
    class P(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            return "pid" if isinstance(obj, str) and obj == "x" else None

    buf = io.BytesIO()
    P(buf, protocol=4).dump({"G_ema": "x"})
    with pytest.raises(UnsafePickleError, match="persistent id"):
        safe_load(io.BytesIO(buf.getvalue()))


def test_tensor_with_hooks_is_refused(forbidden_global: Any) -> None:
    from latentbridge_stylegan2._safe_pickle import _rebuild_parameter

    with pytest.raises(UnsafePickleError, match="hooks"):
        _rebuild_parameter(torch.zeros(2), True, OrderedDict(a=1))


def test_unknown_layouts_are_clear_errors(tmp_path: Path, snapshot_writer: Callable[..., Path]) -> None:
    p = tmp_path / "list.pkl"
    p.write_bytes(pickle.dumps([1, 2, 3], protocol=4))
    with pytest.raises(SnapshotLayoutError, match=r"unknown pickle layout: found a list.*G_ema"):
        load_file(p)
    p.write_bytes(pickle.dumps({"generator": None, "foo": 1}, protocol=4))
    with pytest.raises(SnapshotLayoutError, match=r"no 'G_ema' entry; found keys generator, foo"):
        load_file(p)
    p.write_bytes(pickle.dumps({"G_ema": {"a": 1}}, protocol=4))
    with pytest.raises(SnapshotLayoutError, match=r"'G_ema' is 'dict', expected a persistent 'Generator'"):
        load_file(p)
    p.write_bytes(b"(lp0\n.")  # protocol 0
    with pytest.raises(SnapshotLayoutError, match="not a pickle of protocol 2 or later"):
        load_file(p)
    t = tmp_path / "model.pkl"
    torch.save({"a": torch.zeros(1)}, t)
    with pytest.raises(SnapshotLayoutError, match="zip archive"):
        load_file(t)
    p.write_bytes(pickle.dumps({"G_ema": None}, protocol=4)[:-5])
    with pytest.raises(SnapshotLayoutError, match="cannot read the pickle"):
        load_file(p)
    assert issubclass(SnapshotLayoutError, WeightsError)


def test_foreign_class_layout_is_refused(tmp_path: Path, snapshot_writer: Callable[..., Path]) -> None:
    net = make_net(TINY_KWARGS)
    path = snapshot_writer(tmp_path / "snap.pkl", net)
    data = path.read_bytes().replace(b"\x8c\x0eMappingNetwork", b"\x8c\x0eMappingNetwerk")
    path.write_bytes(data)
    with pytest.raises(
        SnapshotLayoutError, match=r"mapping: snapshot has class 'MappingNetwerk', expected 'MappingNetwork'"
    ):
        load_file(path)


# ---------------------------------------------------------------- numpy dtypes, constructors, embedded storages
def _load(obj: Any, protocol: int = 4) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return safe_load(io.BytesIO(pickle.dumps(obj, protocol=protocol)))


@pytest.mark.parametrize("spec", ["O", "V8", "U4", "S4", "M8", "m8[s]", "f8,i4", "(2,)f8", "f" * 9])
def test_only_plain_numeric_dtypes_are_rebuilt(spec: str) -> None:
    with pytest.raises(UnsafePickleError, match=r"numpy\.dtype: only plain numeric"):
        _load(Call(np.dtype, spec, False, True))


@pytest.mark.parametrize(
    "state",
    [
        (3, "<", None, None, None, -1, -1, 63),  # NPY_ITEM_HASOBJECT & co: raw bytes read as object pointers
        (3, "<", None, None, None, 16, -1, 0),  # element size
        (3, "<", None, ("a",), None, -1, -1, 0),  # field names
        (3, "<", None, None, None, -1, 64, 0),  # alignment
        (3, "!", None, None, None, -1, -1, 0),  # byte order
        (3, "|", None, None, None, -1, -1, 0),  # '|' is for one-byte types only
        (4, "<", None, None, None, -1, -1, 0, None),
    ],
)
def test_dtype_state_must_be_that_of_a_plain_numeric_dtype(state: tuple[Any, ...]) -> None:
    with pytest.raises(UnsafePickleError, match="not that of a plain numeric dtype"):
        _load(Call(np.dtype, "f8", False, True, state=state))


def test_numeric_scalars_of_either_byte_order_load() -> None:
    values = [np.float64(1.5), np.array(2.5, dtype=">f8")[()], np.int32(-3), np.bool_(True), np.complex64(1 + 2j)]
    got = _load(values)
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]


@pytest.mark.parametrize("func", ["EasyDict", "OrderedDict", "set"])
def test_allowed_constructors_take_plain_data_only(func: str) -> None:
    # dict(tensor), set(tensor), OrderedDict(tensor) would iterate over a tensor and build one object per row.
    with warnings.catch_warnings(), fake_nvidia_modules():
        warnings.simplefilter("ignore")
        cls = {"EasyDict": NvidiaEasyDict, "OrderedDict": OrderedDict, "set": set}[func]
        data = pickle.dumps(Call(cls, torch.zeros(1000, 2)), protocol=4)
    with pytest.raises(UnsafePickleError, match=f"{func}: .*(called with arguments|expected a list)"):
        safe_load(io.BytesIO(data))
    assert EasyDict is not NvidiaEasyDict


def test_embedded_storage_declaring_more_than_its_bytes_is_refused() -> None:
    buf = io.BytesIO()
    torch.save(torch.arange(6.0)._typed_storage(), buf, _use_new_zipfile_serialization=False)
    blob = buf.getvalue()
    forged = blob.replace(b"K\x06Ntq", b"\x8a\x06" + (10**12).to_bytes(6, "little") + b"Ntq")
    forged = forged[:-32] + struct.pack("<q", 10**12) + forged[-24:]
    with pytest.raises(UnsafeFileError, match=r"declares 4000000000000 bytes but only 24 remain"):
        _load({"G_ema": Call(torch.storage._load_from_bytes, forged)})
    assert torch.equal(_load({"t": torch.arange(6.0)})["t"], torch.arange(6.0))
