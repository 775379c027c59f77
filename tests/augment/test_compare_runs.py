"""scripts/augment_compare_runs.py: the same arms of two runs, paired on (seed, fold)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "augment_compare_runs.py"


def _results(path: Path, shift: float) -> Path:
    path.mkdir()
    lines = ["arm,seed,fold,accuracy,f1"]
    for s in range(3):
        for f in range(5):
            base = 0.80 + 0.01 * s + 0.002 * f
            lines.append(f"none,{s},{f},{base:.4f},{base:.4f}")
            lines.append(f"random,{s},{f},{base + shift + 0.001 * f:.4f},{base:.4f}")
    (path / "results.csv").write_text("\n".join(lines) + "\n")
    return path


def _run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, check=False)


def test_a_better_run_b_is_found_and_identical_arms_are_not(tmp_path: Path) -> None:
    a, b = _results(tmp_path / "a", 0.0), _results(tmp_path / "b", 0.03)
    res = _run(a, b)
    assert res.returncode == 0, res.stderr
    rows = {line.split("|")[1].strip(): line for line in res.stdout.splitlines()[2:]}
    assert set(rows) == {"none", "random"}
    none = [c.strip() for c in rows["none"].split("|")]
    assert none[5] == "+0.00"
    assert none[6] == "1"
    random = [c.strip() for c in rows["random"].split("|")]
    assert random[2] == "15"
    assert random[5] == "+3.00"
    assert float(random[7]) < 0.01  # Holm-adjusted
    assert random[8] == "1.00"


def test_missing_files_and_columns_are_one_clear_error(tmp_path: Path) -> None:
    res = _run(tmp_path / "nope", tmp_path / "nope2")
    assert res.returncode != 0
    assert "does not exist" in res.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.csv").write_text("x,y\n1,2\n")
    res = _run(tmp_path / "bad", tmp_path / "bad")
    assert "lacks the columns" in res.stderr


def test_different_arms_of_the_two_runs_can_be_paired(tmp_path: Path) -> None:
    a, b = _results(tmp_path / "a", 0.0), _results(tmp_path / "b", 0.03)
    res = _run(a, b, "--arms", "none=random")
    assert res.returncode == 0, res.stderr
    row = [c.strip() for c in res.stdout.splitlines()[2].split("|")]
    assert row[1] == "none (A) vs random (B)"
    assert row[5] == "+3.20"  # B's random (base + 0.03 + 0.001 f, f = 0..4) against A's none (base)
