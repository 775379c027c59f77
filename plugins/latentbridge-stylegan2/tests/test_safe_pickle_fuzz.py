"""Fuzzing the snapshot reader: random opcode streams, random tensor records, mutated snapshots.

The cases run in a subprocess (``fuzz_worker.py``) whose address space is capped at what it uses
after warming up plus 768 MiB and whose cases each have a 2 s timer (5 s for the nesting and amplification
cases of up to 1 MB of pickle, read by a pure-Python unpickler): a case that tries to allocate
what a forged size declares, hangs, crashes the interpreter or fails with anything but a
``LatentBridgeError`` is a failure. Tensors that load must still sit on storages of exactly the bytes
the file carried (torch grows a too-small storage with uninitialised memory when the extent is not
checked). A second run feeds deep nesting of every container kind, memory amplification through the
pickle memo and archive-layer faults.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def _run(*args: int) -> dict[str, Any]:
    if not Path("/proc/self/status").is_file():
        pytest.skip("the fuzz worker reads its address space from /proc (Linux only)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_worker.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"the worker died with {proc.returncode} (a crash?): {proc.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["n_failures"] == 0, json.dumps(report["failures"][:3], indent=1)
    return report


@pytest.mark.parametrize("seed", [20260412])
def test_random_pickles_are_loaded_or_refused_within_bounds(seed: int) -> None:
    report = _run(seed, 300, 250, 80)
    counts = report["counts"]
    assert counts["stream"] == 300
    assert counts["tensor"] == 250
    assert counts["mutation"] == 80
    assert counts["ok"] > 0  # some random tensor records are valid and load
    assert counts["refused"] > 0
    assert report["slowest_s"] < 2.0


@pytest.mark.parametrize("seed", [20260520])
def test_deep_nesting_amplification_and_archive_faults_are_refused_within_bounds(seed: int) -> None:
    # Nesting up to 120k levels of every container kind (as values and as dict keys), objects multiplied
    # through the memo, zip faults in .pt / .npz: refused (nest > 64 levels, amplification, encrypted or
    # unknown-method entries always), never a crash, a MemoryError under the cap, or a raw exception.
    report = _run(seed, 0, 0, 0, 30, 12, 24)  # nest: each of 10 kinds alone, then mixes; amplify: 6 kinds twice
    counts = report["counts"]
    assert (counts["nest"], counts["amplify"], counts["archive"]) == (30, 12, 24)
    assert counts["refused"] >= 12 + 15  # every amplification, and at least the nests beyond 64 levels
    assert report["slowest_by_kind"]["archive"] < 2.0
    assert max(report["slowest_by_kind"]["nest"], report["slowest_by_kind"]["amplify"]) < 5.0
