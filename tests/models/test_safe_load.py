"""The safe weights reader: torch.save files read without torch.load, every hostile construct refused.

Every payload is built here (nothing hostile is shipped): forged tensor records, forged lengths,
"billion laughs" object graphs, cycles, forbidden globals and container operations.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import time
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import torch

from latentbridge.errors import LatentBridgeError, UnsafeFileError, UnsafePickleError, WeightsError
from latentbridge.models import load_dcgan
from latentbridge.models.safe_load import (
    Budget,
    Limits,
    load_torch_file,
    read_legacy_storage,
    read_npz,
    read_state_dict,
)


# ------------------------------------------------------------------------------ payload builders
class Store:
    """A storage the pickler below writes as torch's ``('storage', type, key, 'cpu', numel)`` id."""

    def __init__(self, key: str, numel: int, stype: Any = torch.FloatStorage) -> None:
        self.key, self.numel, self.stype = key, numel, stype


class Tensor:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""

    def __init__(self, store: Store, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.args = (store, offset, size, stride, False, OrderedDict())

    def __reduce__(self) -> Any:
        return (torch._utils._rebuild_tensor_v2, self.args)


class Call:
    """Pickles as a call of ``func(*args)`` (``func`` is written by reference, never run here)."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> Any:
        return (self.func, self.args)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Store):
            return ("storage", obj.stype, obj.key, "cpu", obj.numel)
        return None


def torch_zip(
    path: Path, obj: Any, records: dict[str, bytes] | None = None, *, data_pkl: bytes | None = None, protocol: int = 2
) -> Path:
    """A zip-format torch.save file holding ``obj`` (or raw ``data_pkl``) and raw storage ``records``."""
    if data_pkl is None:
        buf = io.BytesIO()
        _Pickler(buf, protocol=protocol).dump(obj)
        data_pkl = buf.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", "little")
        for key, data in (records or {}).items():
            z.writestr(f"archive/data/{key}", data)
    return path


def floats(n: int) -> bytes:
    return struct.pack(f"<{n}f", *range(n))


def laughs(levels: int, width: int = 10) -> Any:
    """``levels`` lists of ``width`` references to the previous one: tiny as a pickle, width**levels as a tree."""
    node: Any = ["lol"]
    for _ in range(levels):
        node = [node] * width
    return node


# ------------------------------------------------------------------------------ what must work
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_save_files_round_trip(tmp_path: Path, zip_format: bool) -> None:
    base = torch.arange(12.0).view(3, 4)
    sd: dict[str, Any] = {
        "w": base,
        "t": base.t(),  # a non-contiguous view: saved with its base storage
        "row": base[1],  # a view with an offset
        "i64": torch.arange(5),
        "half": torch.ones(3, dtype=torch.float16),
        "flag": torch.tensor([True, False]),
        "empty": torch.zeros(0, 7),
        "scalar": torch.tensor(2.5),
        "param": torch.nn.Parameter(torch.ones(2)),
        "lin": torch.nn.Linear(3, 2).state_dict(),
        "meta": {"epochs": 3, "name": "x", "loss": [0.5, 0.25], "pair": (1, None)},
    }
    path = tmp_path / "w.pt"
    torch.save(sd, path, _use_new_zipfile_serialization=zip_format)
    got = load_torch_file(path)
    ref = torch.load(path, weights_only=True)
    assert got.keys() == ref.keys()
    for k in ("w", "t", "row", "i64", "half", "flag", "empty", "scalar", "param"):
        assert got[k].dtype == ref[k].dtype, k
        assert torch.equal(got[k], ref[k]), k
        assert got[k].stride() == ref[k].stride()
    assert isinstance(got["param"], torch.nn.Parameter)
    assert got["t"].untyped_storage().data_ptr() == got["w"].untyped_storage().data_ptr()  # shared, not copied
    assert all(torch.equal(got["lin"][k], ref["lin"][k]) for k in ref["lin"])
    assert got["meta"] == {"epochs": 3, "name": "x", "loss": [0.5, 0.25], "pair": (1, None)}
    assert read_state_dict(tmp_path / "w.pt", keys=("lin",)).keys() == ref["lin"].keys()


def test_shipped_models_still_load() -> None:
    assert load_dcgan().latent_dim == 100


# ------------------------------------------------------------------------------ tensors vs storages
@pytest.mark.parametrize(
    ("offset", "size", "stride", "match"),
    [
        (0, (1000, 1000), (1000, 1), r"size \(1000, 1000\), stride \(1000, 1\) .* needs 1000000 elements .* holds 6"),
        (0, (2, 4), (4, 1), r"needs 8 elements but its torch.float32 storage holds 6"),
        (3, (4,), (1,), r"storage offset 3 needs 7 elements"),
        (0, (3,), (3,), r"needs 7 elements"),
        (0, (3,), (-1,), "negative sizes and strides"),
        (-1, (3,), (1,), "offset must be an int >= 0"),
        (7, (0,), (1,), "needs 7 elements"),
        (0, (2, 3), (3,), "same length"),
    ],
)
def test_tensor_larger_than_its_storage_is_refused(
    tmp_path: Path, offset: int, size: tuple[int, ...], stride: tuple[int, ...], match: str
) -> None:
    # torch.load would grow the storage and hand back uninitialised memory for the missing part.
    path = torch_zip(tmp_path / "w.pt", {"w": Tensor(Store("0", 6), offset, size, stride)}, {"0": floats(6)})
    with pytest.raises(UnsafeFileError, match=match):
        load_torch_file(path)


def test_zero_size_tensors_and_exact_fits_are_accepted(tmp_path: Path) -> None:
    store = Store("0", 6)
    obj = {
        "e": Tensor(store, 6, (0, 10**9), (1, 1)),
        "t": Tensor(store, 0, (3, 2), (1, 3)),
        "last": Tensor(store, 5, (1,), (1,)),
    }
    got = load_torch_file(torch_zip(tmp_path / "w.pt", obj, {"0": floats(6)}))
    assert got["e"].shape == (0, 10**9)
    assert got["t"].tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert got["last"].tolist() == [5.0]


def test_overlapping_views_cannot_multiply_memory(tmp_path: Path) -> None:
    # stride 0: one stored float viewed as 10**12 elements; copying it (.float(), .to()) would need 4 TB.
    path = torch_zip(tmp_path / "w.pt", {"w": Tensor(Store("0", 1), 0, (10**12,), (0,))}, {"0": floats(1)})
    with pytest.raises(UnsafeFileError, match=r"view 1000000000000 elements but its storages hold only 1"):
        load_torch_file(path)


def test_storage_record_must_match_its_declared_size(tmp_path: Path) -> None:
    path = torch_zip(tmp_path / "w.pt", {"w": Tensor(Store("0", 10**12), 0, (1,), (1,))}, {"0": floats(6)})
    with pytest.raises(
        UnsafeFileError, match=r"declared with 1000000000000 torch.float32 elements .* record is 24 bytes"
    ):
        load_torch_file(path)
    path = torch_zip(tmp_path / "m.pt", {"w": Tensor(Store("9", 6), 0, (6,), (1,))}, {"0": floats(6)})
    with pytest.raises(UnsafeFileError, match="record is missing"):
        load_torch_file(path)


def test_legacy_storage_declaring_more_than_its_bytes_allocates_nothing() -> None:
    buf = io.BytesIO()
    torch.save(torch.arange(6.0)._typed_storage(), buf, _use_new_zipfile_serialization=False)
    blob = buf.getvalue()
    storage = read_legacy_storage(blob, "blob", Budget())
    assert torch.empty(0).set_(storage._untyped_storage).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    huge = 10**13  # 40 TB of float32: torch.load allocates the declared size before reading
    forged = blob.replace(b"K\x06Ntq", b"\x8a\x06" + huge.to_bytes(6, "little") + b"Ntq")
    forged = forged[:-32] + struct.pack("<q", huge) + forged[-24:]
    t0 = time.perf_counter()
    with pytest.raises(UnsafeFileError, match=r"declares 40000000000000 bytes but only 24 remain"):
        read_legacy_storage(forged, "blob", Budget())
    assert time.perf_counter() - t0 < 1.0
    mismatch = blob[:-32] + struct.pack("<q", 5) + blob[-24:]
    with pytest.raises(UnsafeFileError, match="declared with 6 elements but its data record says 5"):
        read_legacy_storage(mismatch, "blob", Budget())


# ------------------------------------------------------------------------------ code execution
@pytest.mark.parametrize("func", [os.system, eval, exec, getattr, __import__, torch.load, pickle.loads, io.open])
def test_forbidden_globals_are_refused_unrun(tmp_path: Path, func: Any) -> None:
    marker = tmp_path / "ran"
    path = torch_zip(tmp_path / "w.pt", {"x": Call(func, f"echo x > {marker}")})
    with pytest.raises(UnsafePickleError, match="not on the allow-list"):
        load_torch_file(path)
    assert not marker.exists()


def _raw(*ops: bytes) -> bytes:
    return b"\x80\x02" + b"".join(ops) + b"."


_TENSOR_OP = b"ctorch._utils\n_rebuild_tensor_v2\n"


@pytest.mark.parametrize(
    ("ops", "match"),
    [
        # APPENDS / SETITEM / ADDITEMS on an object that is not a plain container (the stock unpickler
        # calls its .extend / __setitem__ / .add: Tensor.add broadcasting could allocate M×N).
        ((b"ccollections\nOrderedDict\n)R", b"(K\x01e"), "APPENDS on a OrderedDict"),
        ((b"N", b"K\x01K\x02s"), "SETITEM on None"),
        ((b"(K\x01\x91", b"(K\x02\x90"), "ADDITEMS on a frozenset"),
        ((b"]", b"}X\x01\x00\x00\x00aK\x01sb"), "refusing to set the state"),
        ((b"ccollections\nOrderedDict\n", b"K\x01\x85\x81"), "NEWOBJ"),
        ((b"K\x01", b")R"), r"refusing to call"),
        ((b"(c__builtin__\nlist\no",), "refusing to load global"),
        ((b"\x82\x01",), "EXT"),
        ((b"P1\n",), "persistent id"),
        ((b"\x8b\x00\x00\x00\x01",), "integer of 16777216 bytes"),
        ((b"B\xff\xff\xff\x7f",), "declares 2147483647 bytes but only 1 remain"),
        ((b"c" + b"a" * 1000 + b"\nb\n",), "line exceeds 256 bytes"),
        ((b"ccollections\nOrderedDict\n", b"]K\x01a\x85R"), "expected a list of \\(key, value\\) pairs"),
        ((_TENSOR_OP + b"(K\x01K\x00K\x01\x85K\x01\x85tR",), "must view a tensor storage"),
        ((b"\xff",), "malformed pickle"),
        ((b"h\x07",), "malformed pickle"),
    ],
)
def test_pickle_operations_outside_plain_data_are_refused(tmp_path: Path, ops: tuple[bytes, ...], match: str) -> None:
    path = torch_zip(tmp_path / "w.pt", None, data_pkl=_raw(*ops))
    with pytest.raises(UnsafeFileError, match=match):
        load_torch_file(path)


# ------------------------------------------------------------------------------ bounded object graphs
def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    path = torch_zip(tmp_path / "w.pt", {"kwargs": laughs(10)})  # 10**10 nodes as a tree
    assert path.stat().st_size < 2000
    t0 = time.perf_counter()
    with pytest.raises(UnsafeFileError, match="billion laughs"):
        load_torch_file(path)
    assert time.perf_counter() - t0 < 5.0
    assert load_torch_file(torch_zip(tmp_path / "ok.pt", {"k": laughs(3)}))["k"][9][9][9] == ["lol"]


def test_cycles_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(UnsafeFileError, match="reference cycle"):
        load_torch_file(torch_zip(tmp_path / "c.pt", {"x": loop}))
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    with pytest.raises(UnsafeFileError, match="nested deeper than 64"):
        load_torch_file(torch_zip(tmp_path / "d.pt", {"x": deep}))


def test_opcode_and_memo_caps(tmp_path: Path) -> None:
    path = torch_zip(tmp_path / "w.pt", {"x": list(range(200))})
    with pytest.raises(UnsafeFileError, match="more than 100 pickle opcodes"):
        load_torch_file(path, limits=Limits(max_ops=100))
    with pytest.raises(UnsafeFileError, match="more than 5 pickle memo entries"):
        load_torch_file(torch_zip(tmp_path / "m.pt", {f"k{i}": f"v{i}" for i in range(20)}), limits=Limits(max_memo=5))


# ------------------------------------------------------------------------------ malformed files
def test_malformed_files_are_latentbridge_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    torch.save({"w": torch.arange(4.0)}, good, _use_new_zipfile_serialization=False)
    data = good.read_bytes()
    for n in (0, 1, 10, len(data) // 2, len(data) - 1):
        (tmp_path / "cut.pt").write_bytes(data[:n])
        with pytest.raises(UnsafeFileError):
            load_torch_file(tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("not a weights file\n")
    with pytest.raises(UnsafeFileError):
        load_torch_file(tmp_path / "text.pt")
    with pytest.raises(WeightsError, match="cannot open"):
        load_torch_file(tmp_path / "missing.pt")
    with pytest.raises(UnsafeFileError, match="expected a state dict"):
        read_state_dict(torch_zip(tmp_path / "list.pt", [1, 2]))


def test_compressed_or_oversized_zip_records_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    torch_zip(path, {"w": Tensor(Store("0", 6), 0, (6,), (1,))}, {"0": floats(6)})
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "c.pt", "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(UnsafeFileError, match="compressed"):
        load_torch_file(tmp_path / "c.pt")


def test_mnist_loader_refuses_a_forged_file(tmp_path: Path) -> None:
    path = torch_zip(
        tmp_path / "g.pt", {"project.0.weight": Tensor(Store("0", 6), 0, (6272, 100), (100, 1))}, {"0": floats(6)}
    )
    with pytest.raises(UnsafeFileError, match="needs 627200 elements"):
        load_dcgan(path)
    evil = torch_zip(tmp_path / "e.pt", {"x": Call(os.system, "true")})
    with pytest.raises(UnsafePickleError):
        load_dcgan(evil)
    assert issubclass(UnsafeFileError, LatentBridgeError)


def test_hash_flooding_keys_are_capped(tmp_path: Path) -> None:
    # ints k·(2**61 − 1) all hash to 0: a dict of n of them costs n²/2 comparisons to build.
    colliding = {k * (2**61 - 1): 0 for k in range(1, 2001)}
    t0 = time.perf_counter()
    with pytest.raises(UnsafeFileError, match="more than 1024 dict keys / set items that are not strings"):
        load_torch_file(torch_zip(tmp_path / "d.pt", {"x": colliding}))
    assert time.perf_counter() - t0 < 5.0
    with pytest.raises(UnsafeFileError, match="not strings"):
        load_torch_file(torch_zip(tmp_path / "s.pt", {"x": frozenset(colliding)}, protocol=4))
    with pytest.raises(UnsafeFileError, match="PUT index 99999999999999999999 out of range"):
        load_torch_file(torch_zip(tmp_path / "p.pt", None, data_pkl=b"(lp99999999999999999999\n."))
    assert len(load_torch_file(torch_zip(tmp_path / "ok.pt", {str(k): k for k in range(10_000)}))) == 10_000


# ------------------------------------------------------------------------------ second round: hostile files
# Each payload below is built by the test and loaded in a subprocess (hostile_worker.py) whose address
# space is capped and whose cases each have a timer: before the fixes, these crashed the interpreter
# (SIGSEGV), allocated gigabytes or ended in raw errors.
_WORKER = Path(__file__).resolve().parent / "hostile_worker.py"
_OD = b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93"


def _u(s: str) -> bytes:
    data = s.encode()
    return b"\x8c" + bytes([len(data)]) + data


def nested_pickle(kind: str, depth: int) -> bytes:
    """A protocol-4 pickle nesting ``kind`` containers ``depth`` deep (as a value, or as a dict key)."""
    if kind == "tuple":
        body = b"K\x01" + b"\x85" * depth
    elif kind == "tuple-key":
        body = b"}" + b"K\x01" + b"\x85" * depth + b"K\x01s"
    elif kind == "list":
        body = b"]" * depth + b"K\x01" + b"a" * depth
    elif kind == "dict":
        body = (b"}" + _u("a")) * depth + b"K\x01" + b"s" * depth
    elif kind == "frozenset":
        body = b"(" * depth + b"K\x01" + b"\x91" * depth
    elif kind == "frozenset-key":
        body = b"}" + b"(" * depth + b"K\x01" + b"\x91" * depth + b"K\x01s"
    elif kind == "set":  # a set holding nested frozensets, inside nested lists
        body = b"]" * depth + b"\x8f(" + b"(" * depth + b"K\x01" + b"\x91" * depth + b"\x90" + b"a" * depth
    elif kind == "ordereddict":  # OrderedDict() filled with SETITEM, nested as values
        body = _OD + b"\x94" + (b"h\x00)R" + _u("a")) * depth + b"K\x01" + b"s" * depth
    elif kind == "ordereddict-pairs":  # OrderedDict([("a", OrderedDict([("a", ...)]))]) built by REDUCE
        body = _OD + b"\x94" + (b"h\x00]" + _u("a")) * depth + b"h\x00)R" + b"\x86a\x85R" * depth
    else:
        raise ValueError(kind)
    return b"\x80\x04" + body + b"."


def legacy_file(path: Path, obj_pickle: bytes) -> Path:
    """A legacy-format torch.save file whose object pickle is ``obj_pickle`` (and that holds no storages)."""
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    head = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, info))
    path.write_bytes(head + obj_pickle + pickle.dumps([], protocol=2))
    return path


def _run_worker(tmp_path: Path, cases: list[tuple[str, Path, str]]) -> dict[str, Any]:
    manifest = tmp_path / "cases.json"
    manifest.write_text(json.dumps([[n, str(p), loader] for n, p, loader in cases]))
    proc = subprocess.run(
        [sys.executable, str(_WORKER), str(manifest)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"worker died with {proc.returncode} (a crash?): {proc.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


_LOAD = "latentbridge.models.safe_load:load_torch_file"
_MNIST = "latentbridge.models:load_dcgan"
# Tuple keys are hashed in C, recursively: they crashed the process at ~100k levels. Other containers were
# refused after the fact; 10k levels of them show that the limit now holds as they are built.
_NEST_DEPTHS = {
    "tuple": 150_000,
    "tuple-key": 150_000,
    "frozenset": 10_000,
    "frozenset-key": 10_000,
    "list": 10_000,
    "dict": 10_000,
    "set": 10_000,
    "ordereddict": 10_000,
    "ordereddict-pairs": 10_000,
}


def _memo_ordered_dicts(entries: int, width: int) -> bytes:
    """A dict of ``entries`` keys, each an ``OrderedDict`` rebuilt from one memoised list of ``width`` pairs."""
    pairs = b"](" + b"".join(_u(f"k{i}") + b"K\x00\x86" for i in range(width)) + b"e\x94"  # memo 1
    values = b"".join(_u(f"v{i}") + b"h\x00h\x01\x85R" for i in range(entries))
    return b"\x80\x04" + _OD + b"\x94" + pairs + b"0}(" + values + b"u."


def _memo_tensor(path: Path, copies: int, numel: int) -> Path:
    """One float16 tensor of ``numel`` elements, stored once, reachable under ``copies`` keys (memo GETs)."""
    t = Tensor(Store("0", numel, torch.HalfStorage), 0, (numel,), (1,))
    return torch_zip(path, {f"w{i}": t for i in range(copies)}, {"0": bytes(2 * numel)})


def _hostile_cases(tmp: Path) -> tuple[list[tuple[str, Path, str]], dict[str, str]]:
    cases, expect = [], {}
    for kind, depth in _NEST_DEPTHS.items():
        data = nested_pickle(kind, depth)
        zp = torch_zip(tmp / f"{kind}.pt", None, data_pkl=data)
        cases.append((f"nest-{kind}", zp, _LOAD))
        if kind.endswith("-key"):  # the legacy layout and the MNIST loader, with the payloads that crashed them
            cases.append((f"nest-{kind}-legacy", legacy_file(tmp / f"{kind}-legacy.pt", data), _LOAD))
            cases.append((f"nest-{kind}-mnist", zp, _MNIST))
    expect.update({name: "nested deeper than 64 levels" for name, _, _ in cases})
    sets = b"\x80\x04(" + b"\x8f" * 1_000_000 + b"l."  # 1 MB: a million empty sets (216 bytes each)
    odicts = _memo_ordered_dicts(40_000, 1000)  # 0.6 MB: 40k copies of a 1000-entry OrderedDict (~4 GB)
    marks = b"\x80\x04" + b"(" * 1_000_000 + b"."  # 1 MB: a million open marks, an empty list each
    built = r"would build more than \d+ bytes of objects \(16× its \d+ bytes \+ 16 MiB\)"
    repeated = "counted once per place they appear in"
    for name, path, loader, match in [
        ("memory-empty-sets", torch_zip(tmp / "sets.pt", None, data_pkl=sets), _LOAD, built),
        ("memory-empty-sets-legacy", legacy_file(tmp / "sets-legacy.pt", sets), _LOAD, built),
        ("memory-marks", torch_zip(tmp / "marks.pt", None, data_pkl=marks), _LOAD, built),
        ("memory-memo-odicts", torch_zip(tmp / "od.pt", None, data_pkl=odicts), _LOAD, built),
        ("memory-memo-odicts-mnist", torch_zip(tmp / "od-m.pt", None, data_pkl=odicts), _MNIST, built),
        ("memory-memo-tensor", _memo_tensor(tmp / "t.pt", 4000, 100_000), _LOAD, repeated),
        ("memory-memo-tensor-mnist", _memo_tensor(tmp / "tm.pt", 4000, 100_000), _MNIST, repeated),
    ]:
        cases.append((name, path, loader))
        expect[name] = match
    return cases, expect


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], str]]:
    """Every deep-nesting and memory payload, loaded once in the capped worker: name -> (result, expected)."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("the worker reads its address space from /proc (Linux only)")
    tmp = tmp_path_factory.mktemp("hostile")
    cases, expect = _hostile_cases(tmp)
    report = _run_worker(tmp, cases)
    return {name: (report[name], expect[name]) for name, _, _ in cases}


def _assert_refused(results: dict[str, tuple[dict[str, Any], str]]) -> None:
    bad = {
        name: r
        for name, (r, match) in results.items()
        if not r["latentbridge"] or not re.search(match, r["message"]) or "'" not in r["message"]
    }
    assert not bad, json.dumps(bad, indent=1)


def test_deep_nesting_of_every_container_kind_is_refused_before_recursing(
    hostile: dict[str, tuple[dict[str, Any], str]], tmp_path: Path
) -> None:
    nest = {k: v for k, v in hostile.items() if k.startswith("nest-")}
    assert len(nest) == len(_NEST_DEPTHS) + 4
    _assert_refused(nest)
    for kind in _NEST_DEPTHS:  # shallow, the same shapes load
        assert load_torch_file(torch_zip(tmp_path / "ok.pt", None, data_pkl=nested_pickle(kind, 15))) is not None


def test_what_the_reader_builds_is_bounded_by_the_file_size(
    hostile: dict[str, tuple[dict[str, Any], str]], tmp_path: Path
) -> None:
    memory = {k: v for k, v in hostile.items() if k.startswith("memory-")}
    assert len(memory) == 7
    _assert_refused(memory)
    assert len(load_torch_file(_memo_tensor(tmp_path / "two.pt", 2, 100_000))) == 2  # tied weights are fine
    small = load_torch_file(torch_zip(tmp_path / "small.pt", None, data_pkl=_memo_ordered_dicts(10, 100)))
    assert len(small) == 10
    assert small["v3"] == OrderedDict((f"k{i}", 0) for i in range(100))


def _zip_patch(data: bytes, name: str, *, flags: int | None = None, method: int | None = None) -> bytes:
    """Set the general-purpose flags / compression method of entry ``name`` in its local and central headers."""
    out = bytearray(data)
    raw = name.encode()
    for sig, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        pos = out.find(sig)
        while pos >= 0:
            if out[pos + name_at : pos + name_at + len(raw)] == raw:
                if flags is not None:
                    struct.pack_into("<H", out, pos + flag_at, flags)
                if method is not None:
                    struct.pack_into("<H", out, pos + flag_at + 2, method)
            pos = out.find(sig, pos + 4)
    return bytes(out)


def _npz(arrays: dict[str, Any], compression: int = zipfile.ZIP_STORED) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for key, arr in arrays.items():
            member = io.BytesIO()
            np.save(member, arr)
            z.writestr(f"{key}.npy", member.getvalue())
    return buf.getvalue()


def test_archive_layer_faults_are_one_clear_error(tmp_path: Path) -> None:
    import numpy as np

    good_pt = torch_zip(tmp_path / "g.pt", {"w": Tensor(Store("0", 6), 0, (6,), (1,))}, {"0": floats(6)}).read_bytes()
    weights = {"w": np.arange(4096, dtype=np.float32)}
    deflated = _npz(weights, zipfile.ZIP_DEFLATED)
    start = deflated.index(b"w.npy") + len(b"w.npy") + 40  # inside the compressed data
    corrupt = deflated[:start] + bytes(b ^ 0x5A for b in deflated[start : start + 64]) + deflated[start + 64 :]
    files = {
        "encrypted.pt": (_zip_patch(good_pt, "archive/data.pkl", flags=1), "encrypted"),
        "method.pt": (_zip_patch(good_pt, "archive/data/0", method=77), "compression method 77"),
        "crc.pt": (good_pt.replace(floats(6), floats(5) + b"\x00" * 4), "Bad CRC-32"),
        "encrypted.npz": (_zip_patch(_npz(weights), "w.npy", flags=1), "encrypted"),
        "method.npz": (_zip_patch(_npz(weights), "w.npy", method=99), "compression method 99"),
        "bzip2.npz": (_zip_patch(_npz(weights), "w.npy", method=zipfile.ZIP_BZIP2), "compression method 12"),
        "deflate.npz": (corrupt, r"cannot read the zip archive .*(error|CRC)"),
    }
    for name, (data, match) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        reader = load_torch_file if name.endswith(".pt") else read_npz
        with pytest.raises(UnsafeFileError, match=match) as info:
            reader(path)
        assert repr(str(path)) in str(info.value)
    path = tmp_path / "ok.npz"
    path.write_bytes(deflated)
    assert torch.equal(read_npz(path)["w"], torch.arange(4096, dtype=torch.float32))
    with pytest.raises(WeightsError, match="cannot open"):
        read_npz(tmp_path / "missing.npz")


def test_text_lines_and_integers_are_capped_before_conversion(tmp_path: Path) -> None:
    # A protocol-4 frame holding one 600 kB text integer: read whole and converted before this fix.
    for op in (b"L", b"I", b"F"):
        line = op + b"0x" + b"f" * 600_000 + b"\n" if op != b"F" else op + b"9" * 600_000 + b"\n"
        frame = line + b"."
        data = b"\x80\x04\x95" + struct.pack("<Q", len(frame)) + frame
        with pytest.raises(UnsafeFileError, match="line exceeds 256 bytes"):
            load_torch_file(torch_zip(tmp_path / "int.pt", None, data_pkl=data))
    ok = b"\x80\x04\x95" + struct.pack("<Q", 8) + b"I12345\n."
    assert load_torch_file(torch_zip(tmp_path / "ok.pt", None, data_pkl=ok)) == 12345
    with pytest.raises(UnsafeFileError, match="integer of 65 bytes"):
        load_torch_file(torch_zip(tmp_path / "long.pt", None, data_pkl=b"\x80\x04\x8a\x41" + b"\x01" * 65 + b"."))


def test_cycles_are_refused_as_they_are_made(tmp_path: Path) -> None:
    # A list placed inside another and appended to afterwards: a cycle (or a depth the reader could not see).
    data = b"\x80\x04]\x94]\x94h\x00a0h\x01a."  # a = []; b = []; b.append(a); a.append(b)
    with pytest.raises(UnsafeFileError, match=r"already inside another object .*reference cycle"):
        load_torch_file(torch_zip(tmp_path / "c.pt", None, data_pkl=data))
