"""Fuzzing the snapshot reader: random opcode streams, random tensor records, mutated snapshots.

The cases run in a subprocess (``fuzz_worker.py``) whose address space is capped at what it uses
after warming up plus 768 MiB and whose cases each have a 2 s timer: a case that tries to allocate
what a forged size declares, hangs, or fails with anything but a ``LatentBridgeError`` is a
failure. Tensors that load must still sit on storages of exactly the bytes the file carried
(torch grows a too-small storage with uninitialised memory when the extent is not checked).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("seed", [20260412])
def test_random_pickles_are_loaded_or_refused_within_bounds(seed: int) -> None:
    if not Path("/proc/self/status").is_file():
        pytest.skip("the fuzz worker reads its address space from /proc (Linux only)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_worker.py"), str(seed), "300", "250", "80"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["n_failures"] == 0, json.dumps(report["failures"][:3], indent=1)
    counts = report["counts"]
    assert counts["stream"] == 300
    assert counts["tensor"] == 250
    assert counts["mutation"] == 80
    assert counts["ok"] > 0  # some random tensor records are valid and load
    assert counts["refused"] > 0
    assert report["slowest_s"] < 2.0
