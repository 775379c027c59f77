"""Hostile suite files (issue 26 items 10, 11): plans that cannot finish and values that raise raw errors.

Every suite is generated here; each is refused with one SuiteError naming the file and key, quickly and
without building the plan (the grid case runs under an address-space cap, so expanding it fails the test).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from latentbridge.bench import limits, load_suite
from latentbridge.bench.suite import SuiteError, parse_suite
from latentbridge.cli import app

HEAD = """
[suite]
name = "h"
budget = 10
{suite_extra}

[[problems]]
id = "p"
kind = "set-diversity"
generator = "mnist-dcgan"
scorer = "ncc"
{problem_extra}

[[optimizers]]
name = "random"
{optimizer_extra}
"""


def _suite(suite_extra: str = "", problem_extra: str = "", optimizer_extra: str = "") -> str:
    return HEAD.format(suite_extra=suite_extra, problem_extra=problem_extra, optimizer_extra=optimizer_extra)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (_suite("seeds = 1_000_000_000_000"), r"suite\.seeds: 1,000,000,000,000 is more than the 10,000"),
        (_suite("seeds = 1e12"), r"suite\.seeds: expected an integer >= 1, got 1000000000000\.0"),
        (_suite("seeds = 5").replace("budget = 10", "budget = 10_000_000_000"), r"suite\.budget: .* more than"),
        (_suite("run_timeout = 1e18"), r"suite\.run_timeout: 1e\+18 seconds is more than the 2,592,000"),
        (_suite("run_timeout = inf"), r"suite\.run_timeout: inf seconds is more than"),
        (_suite("run_timeout = nan"), r"suite\.run_timeout: expected a positive number of seconds, got nan"),
        (_suite("run_timeout = -inf"), r"suite\.run_timeout: expected a positive number"),
        (_suite("seed = " + "9" * 5000), "invalid TOML: Exceeds the limit"),
        (_suite(optimizer_extra="params = { a = " + "[" * 100_000 + "]" * 100_000 + " }"), "nest too deeply"),
        (_suite(optimizer_extra="params = { a = " + "{b = " * 2000 + "1" + "}" * 2000 + " }"), "nest too deeply"),
        (_suite(optimizer_extra="params = { a = " + "[" * 40 + "]" * 40 + " }"), r"optimizers\.\[0\]\.params.*32"),
        (
            _suite("seeds = 100", optimizer_extra="grid = { a = " + str(list(range(100))) + ", b = [1, 2] }")
            + "".join(
                f'\n[[problems]]\nid = "p{i}"\nkind = "set-diversity"\ngenerator = "g"\nscorer = "s"\n'
                for i in range(6)
            ),
            r"suite\.seeds: the suite plans up to 140,000 runs",
        ),
    ],
    ids=[
        "seeds 1e12 int",
        "seeds 1e12 float",
        "budget",
        "run_timeout 1e18",
        "run_timeout inf",
        "run_timeout nan",
        "run_timeout -inf",
        "5000-digit int",
        "100k nested arrays",
        "2k nested tables",
        "40 levels",
        "too many runs",
    ],
)
def test_refused_with_the_key_named(text: str, match: str) -> None:
    with pytest.raises(SuiteError, match=match):
        parse_suite(text, origin="h.toml")


GRID = textwrap.dedent(
    """
    import resource, sys
    from latentbridge.bench.suite import SuiteError, parse_suite
    size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + (512 << 20), resource.RLIM_INFINITY))
    try:
        parse_suite(open(sys.argv[1]).read(), origin=sys.argv[1])
    except SuiteError as exc:
        print("REFUSED", exc)
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc as on Linux")
def test_a_grid_of_a_billion_combinations_is_counted_not_expanded(tmp_path: Path) -> None:
    grid = ", ".join(f"p{k} = {list(range(10))}" for k in range(9))
    path = tmp_path / "grid.toml"
    path.write_text(_suite(optimizer_extra=f"grid = {{ {grid} }}"))
    proc = subprocess.run([sys.executable, "-c", GRID, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "optimizers[0].grid: expands to 1,000,000,000 combinations, more than 10,000" in proc.stdout


def test_command_line_overrides_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(_suite("seeds = 2"))
    suite = load_suite(path)
    for kwargs, match in (
        ({"seeds": 10**12}, "--seeds must be 1..10,000"),
        ({"run_timeout": float("inf")}, "--run-timeout must be .* at most 2,592,000 .* got inf"),
        ({"run_timeout": 1e18}, "--run-timeout must be .* got 1e\\+18"),
        ({"budget": 10**15}, "--budget must be 1..1,000,000,000"),
    ):
        with pytest.raises(SuiteError, match=match):
            suite.with_overrides(**kwargs)  # type: ignore[arg-type]
    for flag, value in (("--run-timeout", "inf"), ("--seeds", str(10**12)), ("--run-timeout", "1e18")):
        res = CliRunner().invoke(app, ["bench", "--suite", str(path), "--out", str(tmp_path / "o"), flag, value])
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output
        assert res.output.startswith("error:")
        assert not (tmp_path / "o").exists()  # refused before a store exists


def test_a_huge_suite_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text(_suite() + "#" * (limits.MAX_SUITE_BYTES + 1))
    with pytest.raises(SuiteError, match="more than the 1,048,576 read"):
        load_suite(path)
