"""Fuzz worker (run in a subprocess by test_safe_pickle_fuzz.py): random pickles against the snapshot reader.

Usage: ``python fuzz_worker.py SEED N_STREAMS N_TENSORS N_MUTATIONS``. The process limits its own
address space (RLIMIT_AS) to what it uses after warming up plus ``HEADROOM``, arms a per-case timer,
and prints one JSON line: cases run per kind, failures (anything but success or a LatentBridgeError,
over time, over memory) with how to reproduce them.
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

from latentbridge.errors import LatentBridgeError  # noqa: E402

from latentbridge_stylegan2 import load_file  # noqa: E402
from latentbridge_stylegan2._safe_pickle import safe_load  # noqa: E402
from sg2_support import TINY_KWARGS, Call, make_net, write_snapshot  # noqa: E402

CASE_SECONDS = 2.0
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
    raise Timeout(f"case ran past {CASE_SECONDS} s")


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


def main() -> None:
    seed, n_streams, n_tensors, n_mut = (int(a) for a in sys.argv[1:5])
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp())
    snap = write_snapshot(tmp / "snap.pkl", make_net(TINY_KWARGS)).read_bytes()
    load_file(tmp / "snap.pkl")  # warm up every code path once before the address space is capped
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + HEADROOM, vm + HEADROOM))
    signal.signal(signal.SIGALRM, _alarm)
    counts = {"stream": 0, "tensor": 0, "mutation": 0, "ok": 0, "refused": 0}
    failures: list[dict[str, Any]] = []
    slowest = 0.0
    cases = [("stream", i) for i in range(n_streams)] + [("tensor", i) for i in range(n_tensors)]
    cases += [("mutation", i) for i in range(n_mut)]
    for kind, i in cases:
        nbytes = -1
        if kind == "stream":
            data = random_stream(rng)
        elif kind == "tensor":
            data, nbytes = random_tensor(rng)
        else:
            data = mutate(snap, rng)
        counts[kind] += 1
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            if kind == "mutation":
                (tmp / "case.pkl").write_bytes(data)
                load_file(tmp / "case.pkl")
            else:
                got = safe_load(io.BytesIO(data))
                for t in _tensors(got) if kind == "tensor" else []:
                    if t.untyped_storage().nbytes() != nbytes:  # torch grew the storage: uninitialised memory
                        raise AssertionError(f"storage of {nbytes} bytes now holds {t.untyped_storage().nbytes()}")
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
                    "data": data[:2000].hex(),
                }
            )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        slowest = max(slowest, time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "counts": counts,
                "failures": failures[:10],
                "n_failures": len(failures),
                "slowest_s": slowest,
                "peak_rss": peak,
            }
        )
    )


if __name__ == "__main__":
    main()
