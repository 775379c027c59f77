"""Fuzz worker (run in a subprocess by test_safe_pickle_fuzz.py): random pickles against the snapshot reader.

Usage: ``python fuzz_worker.py SEED N_STREAMS N_TENSORS N_MUTATIONS [N_NEST N_AMPLIFY N_ARCHIVE]``. The
process limits its own address space (RLIMIT_AS) to what it uses after warming up plus ``HEADROOM``, arms
a per-case timer, and prints one JSON line: cases run per kind, failures (anything but success or a
LatentBridgeError, over time, over memory) with how to reproduce them. A crash (deep recursion in C)
kills the process, which the test reports.

Kinds: random opcode streams, random tensor records, mutated snapshots (``load_file``); deep nesting
of random container kinds, as values and as dict keys (``nest``, always refused beyond 64 levels);
objects multiplied through the pickle memo or built from one-byte opcodes (``amplify``, always
refused); zip faults in ``.pt`` and ``.npz`` state dicts (``archive``: encrypted entries, unknown
compression methods always refused, corrupt bytes refused or loaded).
"""

from __future__ import annotations

import io
import json
import pickle
import random
import resource
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

torch.set_num_threads(1)
warnings.simplefilter("ignore")

import zipfile  # noqa: E402

import numpy as np  # noqa: E402
from latentbridge.errors import LatentBridgeError  # noqa: E402

from latentbridge_stylegan2 import load_file  # noqa: E402
from latentbridge_stylegan2._safe_pickle import safe_load  # noqa: E402
from sg2_support import TINY_KWARGS, Call, make_net, write_snapshot  # noqa: E402

CASE_SECONDS = 2.0
BIG_CASE_SECONDS = 5.0  # nest / amplify cases: up to ~1 MB of pickle each, read by a pure-Python unpickler
HEADROOM = 768 << 20  # bytes of address space a case may add: far below what any forged size asks for

GLOBALS = [
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch.storage", "_load_from_bytes"),
    ("collections", "OrderedDict"),
    ("dnnlib.util", "EasyDict"),
    ("torch_utils.persistence", "_reconstruct_persistent_obj"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("builtins", "set"),
    ("os", "system"),
    ("builtins", "eval"),
    ("torch", "FloatStorage"),
]
SIZES = [0, 1, 2, 3, 7, 64, 10**6, 2**31, 2**40, 2**62, -1]


class Timeout(Exception):
    """A case ran past CASE_SECONDS."""


def _alarm(signum: int, frame: Any) -> None:
    raise Timeout("case ran past its timer")


def _i32(v: int) -> int:
    return max(min(v, 2**31 - 1), -(2**31))


def _u(s: bytes) -> bytes:
    return b"\x8c" + bytes([len(s)]) + s


def random_stream(rng: random.Random) -> bytes:
    out = [b"\x80" + bytes([rng.choice([2, 3, 4, 5])])]
    for _ in range(rng.randint(1, 60)):
        k = rng.randrange(30)
        if k == 0:
            out.append(b"K" + bytes([rng.randrange(256)]))
        elif k == 1:
            out.append(b"J" + struct.pack("<i", _i32(rng.choice(SIZES))))
        elif k == 2:
            n = rng.choice([0, 1, 8, 65, 255])
            out.append(b"\x8a" + bytes([n]) + rng.randbytes(n))
        elif k == 3:
            out.append(b"\x8b" + struct.pack("<i", rng.choice([0, 8, 100, 2**20, 2**31 - 1])) + rng.randbytes(8))
        elif k == 4:
            out.append(_u(rng.choice([b"a", b"z_dim", b"_init_kwargs", b"G_ema", b"state", b"class_name"])))
        elif k == 5:
            n = rng.choice(SIZES[:-1])
            out.append(b"X" + struct.pack("<I", n & 0xFFFFFFFF) + rng.randbytes(rng.randrange(16)))
        elif k == 6:
            n = rng.choice(SIZES[:-1])
            out.append(
                rng.choice([b"B", b"\x8e"])
                + (struct.pack("<I", n & 0xFFFFFFFF) if rng.random() < 0.5 else struct.pack("<Q", n))
            )
        elif k == 7:
            out.append(rng.choice([b"]", b"}", b"\x8f", b")", b"(", b"N", b"\x88", b"\x89"]))
        elif k == 8:
            out.append(
                rng.choice([b"e", b"a", b"s", b"u", b"\x90", b"\x91", b"t", b"\x85", b"\x86", b"\x87", b"l", b"d"])
            )
        elif k == 9:
            out.append(rng.choice([b"\x94", b"2", b"0", b"1"]))
        elif k == 10:
            out.append(rng.choice([b"q", b"h"]) + bytes([rng.randrange(8)]))
        elif k == 11:
            out.append(b"j" + struct.pack("<I", rng.choice([0, 1, 2**32 - 1])))
        elif k == 12:
            m, n = rng.choice(GLOBALS)
            out.append(_u(m.encode()) + _u(n.encode()) + b"\x93")
        elif k == 13:
            m, n = rng.choice(GLOBALS)
            out.append(b"c" + m.encode() + b"\n" + n.encode() + b"\n")
        elif k == 14:
            out.append(
                rng.choice([b"R", b"b", b"\x81", b"\x92", b"Q", b"i", b"o", b"\x82\x01", b"\x96", b"\x97", b"\x98"])
            )
        elif k == 15:
            out.append(b"\x95" + struct.pack("<Q", rng.choice([0, 4, 100, 2**40])))
        elif k == 16:
            out.append(b"G" + struct.pack(">d", rng.choice([0.5, float("inf"), float("nan"), 1e308])))
        elif k == 17:
            out.append(b"I" + str(rng.choice(SIZES)).encode() + b"\n")
        elif k == 18:
            out.append(b"L" + b"9" * rng.choice([1, 300, 5000]) + b"L\n")
        elif k == 19:
            out.append(b"(" + _u(b"storage") + b"N" + _u(b"0") + _u(b"cpu") + b"K\x06tQ")
        else:
            out.append(rng.randbytes(rng.randrange(1, 4)))
    if rng.random() < 0.9:
        out.append(b".")
    return b"".join(out)


def _blob(rng: random.Random) -> tuple[bytes, int]:
    """A pickled float32 storage (sometimes forged) and the bytes of data it really carries."""
    numel = rng.randrange(0, 65)
    buf = io.BytesIO()
    torch.save(torch.zeros(numel)._typed_storage(), buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    r = rng.random()
    if r < 0.15:  # forged element count in the object pickle
        data = data.replace(
            b"K" + bytes([numel]) + b"Ntq", b"J" + struct.pack("<i", _i32(rng.choice(SIZES))) + b"Ntq", 1
        )
    elif r < 0.3:  # forged element count in the data record
        cut = len(data) - 4 * numel - 8
        data = data[:cut] + struct.pack("<q", rng.choice(SIZES[:-1])) + data[cut + 8 :]
    elif r < 0.4:
        data = data[: rng.randrange(len(data) + 1)]
    elif r < 0.5:
        i = rng.randrange(len(data))
        data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    return data, 4 * numel


def random_tensor(rng: random.Random) -> tuple[bytes, int]:
    ndim = rng.randrange(0, 5)
    size = tuple(rng.choice(SIZES) for _ in range(ndim))
    stride = tuple(rng.choice(SIZES) for _ in range(ndim if rng.random() < 0.9 else ndim + 1))
    offset = rng.choice(SIZES)
    blob, nbytes = _blob(rng)
    storage = Call(torch.storage._load_from_bytes, blob)
    t = Call(torch._utils._rebuild_tensor_v2, storage, offset, size, stride, rng.random() < 0.5, OrderedDict())
    if rng.random() < 0.3:
        t = Call(torch._utils._rebuild_parameter, t, True, OrderedDict())
    data = pickle.dumps({"G_ema": [t, t] if rng.random() < 0.2 else t}, protocol=rng.choice([2, 3, 4, 5]))
    return data, nbytes


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, list):
        return [t for v in obj for t in _tensors(v)]
    return []


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        i = rng.randrange(len(b))
        if r < 0.6:
            b[i] = rng.randrange(256)
        elif r < 0.8:
            b[i:i] = rng.randbytes(rng.randint(1, 8))
        elif r < 0.9:
            del b[i : i + rng.randint(1, 16)]
        else:
            del b[i:]
            break
    return bytes(b)


# ---------------------------------------------------------------- deep nesting of every container kind
_OD_GLOBAL = _u(b"collections") + _u(b"OrderedDict") + b"\x93\x94"  # memo 0
_EASY_GLOBAL = _u(b"dnnlib.util") + _u(b"EasyDict") + b"\x93\x94"  # memo 1
# (prefix, suffix) around the inner object X; "hashable" levels hash X (a tuple or frozenset of X is a key).
_LEVELS: dict[str, tuple[bytes, bytes]] = {
    "tuple": (b"", b"\x85"),
    "list": (b"]", b"a"),
    "dict": (b"}" + _u(b"k"), b"s"),
    "tuple-key": (b"}", b"\x85K\x01s"),
    "frozenset": (b"(", b"\x91"),
    "frozenset-key": (b"}(", b"\x91K\x01s"),
    "set": (b"\x8f(", b"\x90"),
    "ordereddict": (b"h\x00)R" + _u(b"k"), b"s"),
    "ordereddict-pairs": (b"h\x00]" + _u(b"k"), b"\x86a\x85R"),
    "easydict": (b"h\x01)\x81" + _u(b"k"), b"s"),
}
_NEEDS_HASHABLE = ("tuple-key", "frozenset", "frozenset-key", "set")


def nest_case(rng: random.Random, i: int) -> tuple[bytes, int]:
    """Case ``i``: a pickle nesting container kinds (one kind, every kind in turn, or a random mix) ``depth`` deep."""
    depth = rng.choice([65, 300, 5000, 20_000])
    if i % 2 == 0:  # one kind all the way; tuple keys 120k deep crashed the reader (C recursion)
        kind = list(_LEVELS)[(i // 2) % len(_LEVELS)]
        depth = 120_000 if kind in ("tuple", "tuple-key") and rng.random() < 0.7 else depth
        kinds = [kind] * depth
    else:  # a mix, from the leaf outwards; kinds that hash their inner object only where it is hashable
        kinds, hashable = [], True
        for _ in range(depth):
            k = rng.choice(list(_LEVELS))
            if k in _NEEDS_HASHABLE and not hashable:
                k = "list"
            kinds.append(k)
            hashable = k == "frozenset" or (k == "tuple" and hashable)
        kinds.reverse()  # kinds[i] wraps kinds[i + 1]
    body = b"".join(_LEVELS[k][0] for k in kinds) + b"K\x01" + b"".join(_LEVELS[k][1] for k in reversed(kinds))
    wrap = rng.random() < 0.5
    head = b"\x80\x04" + _OD_GLOBAL + _EASY_GLOBAL + b"00" + (b"}" + _u(b"G_ema") if wrap else b"")
    return head + body + (b"s" if wrap else b"") + b".", depth


# ---------------------------------------------------------------- memory amplification
def _blob_bytes(numel: int) -> bytes:
    buf = io.BytesIO()
    torch.save(torch.zeros(numel)._typed_storage(), buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def amplify_case(rng: random.Random, i: int) -> bytes:
    """Case ``i``: a pickle of at most ~1 MB that would build hundreds of MB to GBs if what it built were not counted."""
    kind = i % 6
    p4 = b"\x80\x04"
    if kind == 0:  # one-byte opcodes building big objects: empty sets / dicts / lists, open marks
        op = rng.choice([b"\x8f", b"}", b"]"])
        return p4 + b"(" + op * rng.randint(300_000, 500_000) + b"l."
    if kind == 1:
        return p4 + b"(" * rng.randint(380_000, 450_000) + b")."
    if kind == 2:  # OrderedDict(list of pairs) rebuilt from one memoised list under many keys
        width = rng.choice([500, 1000, 2000])
        pairs = b"](" + b"".join(_u(f"k{i}".encode()) + b"K\x00\x86" for i in range(width)) + b"e\x94"
        values = b"".join(_u(f"v{i}".encode()) + b"h\x00h\x01\x85R" for i in range(rng.randint(20_000, 60_000)))
        return p4 + _OD_GLOBAL + pairs + b"0}(" + values + b"u."
    if kind == 3:  # builtins.set(list of strings) rebuilt from one memoised list
        names = b"(" + b"".join(_u(f"b{i}".encode()) for i in range(1000)) + b"l\x94"
        g = _u(b"builtins") + _u(b"set") + b"\x93\x94"
        values = b"".join(_u(f"v{i}".encode()) + b"h\x00h\x01\x85R" for i in range(rng.randint(20_000, 60_000)))
        return p4 + g + names + b"0}(" + values + b"u."
    if kind == 4:  # one embedded storage blob parsed again for every key (a copy of its data each time)
        blob = _blob_bytes(rng.choice([65_536, 200_000]))
        g = _u(b"torch.storage") + _u(b"_load_from_bytes") + b"\x93\x94"
        n = rng.randint(300, 2000)
        values = b"".join(_u(f"s{i}".encode()) + b"h\x00h\x01\x85R" for i in range(n))
        return p4 + g + b"B" + struct.pack("<I", len(blob)) + blob + b"\x940}(" + values + b"u."
    # kind 5: one tensor reachable under many parameter names (code copying each entry multiplies it)
    t = Call(torch._utils._rebuild_tensor_v2, torch.zeros(100_000)._typed_storage(), 0, (100_000,), (1,), False, {})
    return pickle.dumps({"G_ema": {f"p{i}": t for i in range(rng.randint(100, 3000))}}, protocol=4)


# ---------------------------------------------------------------- archive-layer faults
def _zip_patch(data: bytes, name: bytes, flags: int | None, method: int | None) -> bytes:
    out = bytearray(data)
    for sig, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        pos = out.find(sig)
        while pos >= 0:
            if out[pos + name_at : pos + name_at + len(name)] == name:
                if flags is not None:
                    struct.pack_into("<H", out, pos + flag_at, flags)
                if method is not None:
                    struct.pack_into("<H", out, pos + flag_at + 2, method)
            pos = out.find(sig, pos + 4)
    return bytes(out)


def archive_case(rng: random.Random, pt: bytes, npz: bytes) -> tuple[bytes, str, bool]:
    """A state-dict archive with one fault; returns (data, suffix, must_be_refused)."""
    suffix, data = rng.choice([(".pt", pt), (".npz", npz)])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = [i.filename.encode() for i in z.infolist()]
    name = rng.choice(names)
    fault = rng.randrange(4)
    if fault == 0:
        return _zip_patch(data, name, rng.choice([1, 0x41, 0x21]), None), suffix, True
    if fault == 1:
        method = rng.choice([1, 6, 9, 12, 14, 19, 77, 93, 95, 99, 0xFFFF])
        return _zip_patch(data, name, None, method), suffix, True
    if fault == 2:  # corrupt bytes inside a member's data
        start = data.find(name) + len(name) + rng.randrange(1, 64)
        n = rng.randint(1, 32)
        return data[:start] + rng.randbytes(n) + data[start + n :], suffix, False
    cut = rng.randrange(len(data))  # truncated or cut central directory
    return data[:cut] + data[cut + rng.randint(1, 64) :], suffix, False


def _state_dict_archives(tmp: Path) -> tuple[bytes, bytes]:
    sd = make_net(TINY_KWARGS).state_dict()
    torch.save(sd, tmp / "sd.pt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in sd.items():
            member = io.BytesIO()
            np.save(member, v.numpy())
            z.writestr(k + ".npy", member.getvalue())
    return (tmp / "sd.pt").read_bytes(), buf.getvalue()


def main() -> None:
    seed, n_streams, n_tensors, n_mut = (int(a) for a in sys.argv[1:5])
    n_nest, n_amp, n_arch = (int(a) for a in (sys.argv[5:8] if len(sys.argv) > 5 else ("0", "0", "0")))
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp())
    snap = write_snapshot(tmp / "snap.pkl", make_net(TINY_KWARGS)).read_bytes()
    pt, npz = _state_dict_archives(tmp)
    load_file(tmp / "snap.pkl")  # warm up every code path once before the address space is capped
    (tmp / "sd.npz").write_bytes(npz)
    load_file(tmp / "sd.npz", init_kwargs=TINY_KWARGS)
    load_file(tmp / "sd.pt", init_kwargs=TINY_KWARGS)
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + HEADROOM, vm + HEADROOM))
    signal.signal(signal.SIGALRM, _alarm)
    counts = {k: 0 for k in ("stream", "tensor", "mutation", "nest", "amplify", "archive", "ok", "refused")}
    failures: list[dict[str, Any]] = []
    slowest = 0.0
    slowest_by_kind: dict[str, float] = {}
    cases = [("stream", i) for i in range(n_streams)] + [("tensor", i) for i in range(n_tensors)]
    cases += [("mutation", i) for i in range(n_mut)]
    cases += [("nest", i) for i in range(n_nest)] + [("amplify", i) for i in range(n_amp)]
    cases += [("archive", i) for i in range(n_arch)]
    for kind, i in cases:
        nbytes, depth, must_refuse, suffix = -1, 0, False, ".pkl"
        if kind == "stream":
            data = random_stream(rng)
        elif kind == "tensor":
            data, nbytes = random_tensor(rng)
        elif kind == "nest":
            data, depth = nest_case(rng, i)
            must_refuse = depth > 64
        elif kind == "amplify":
            data, must_refuse = amplify_case(rng, i), True
        elif kind == "archive":
            data, suffix, must_refuse = archive_case(rng, pt, npz)
        else:
            data = mutate(snap, rng)
        counts[kind] += 1
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, BIG_CASE_SECONDS if kind in ("nest", "amplify") else CASE_SECONDS)
        try:
            if kind == "mutation":
                (tmp / "case.pkl").write_bytes(data)
                load_file(tmp / "case.pkl")
            elif kind == "archive":
                (tmp / f"case{suffix}").write_bytes(data)
                load_file(tmp / f"case{suffix}", init_kwargs=TINY_KWARGS)
            else:
                got = safe_load(io.BytesIO(data))
                for t in _tensors(got) if kind == "tensor" else []:
                    if t.untyped_storage().nbytes() != nbytes:  # torch grew the storage: uninitialised memory
                        raise AssertionError(f"storage of {nbytes} bytes now holds {t.untyped_storage().nbytes()}")
            if must_refuse:
                raise AssertionError(f"a hostile {kind} case (depth {depth}) was loaded instead of refused")
            counts["ok"] += 1
        except LatentBridgeError:
            counts["refused"] += 1
        except BaseException as exc:
            failures.append(
                {
                    "kind": kind,
                    "case": i,
                    "error": f"{type(exc).__name__}: {str(exc)[:300]}",
                    "where": traceback.format_exc().splitlines()[-3:],
                    "depth": depth,
                    "data": data[:2000].hex(),
                }
            )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        slowest = max(slowest, time.perf_counter() - t0)
        slowest_by_kind[kind] = max(slowest_by_kind.get(kind, 0.0), round(time.perf_counter() - t0, 3))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "counts": counts,
                "failures": failures[:10],
                "n_failures": len(failures),
                "slowest_s": slowest,
                "slowest_by_kind": slowest_by_kind,
                "peak_rss": peak,
            }
        )
    )


if __name__ == "__main__":
    main()
