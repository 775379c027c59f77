"""Run loaders on hostile files in this process, under a memory cap and a timer (started by test_safe_load.py).

Usage: ``python hostile_worker.py MANIFEST.json``. The manifest is a list of ``[name, path, loader]``
with ``loader`` a ``"module:function"`` called as ``function(path)``. The process warms up, caps its
own address space (RLIMIT_AS) at what it uses then plus ``HEADROOM`` and gives each case
``CASE_SECONDS``: a blow-up ends in ``MemoryError`` (a failure the test reports), a crash kills the
process (a non-zero exit the test reports), a hang trips the timer. Prints one JSON object mapping each
case name to ``{"error": type name, "message": ..., "latentbridge": bool, "seconds": ...}``.
"""

from __future__ import annotations

import importlib
import json
import resource
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

torch.set_num_threads(1)
warnings.simplefilter("ignore")

from latentbridge.errors import LatentBridgeError  # noqa: E402

CASE_SECONDS = 20.0
HEADROOM = 384 << 20  # what a case may add: ~10x the readers' cap for these files, far below any blow-up


class Timeout(Exception):
    """A case ran past CASE_SECONDS."""


def _alarm(signum: int, frame: Any) -> None:
    raise Timeout(f"ran past {CASE_SECONDS} s")


def _loader(spec: str) -> Any:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    loaders = {spec: _loader(spec) for _, _, spec in cases}
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + HEADROOM, vm + HEADROOM))
    signal.signal(signal.SIGALRM, _alarm)
    report: dict[str, Any] = {}
    for name, path, spec in cases:
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            loaders[spec](path)
            out: dict[str, Any] = {"error": None, "message": "", "latentbridge": False}
        except BaseException as exc:
            out = {
                "error": type(exc).__name__,
                "message": str(exc)[:600],
                "latentbridge": isinstance(exc, LatentBridgeError),
            }
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out["seconds"] = round(time.perf_counter() - t0, 3)
        report[name] = out
    print(json.dumps(report))


if __name__ == "__main__":
    main()
