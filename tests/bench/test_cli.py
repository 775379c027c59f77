"""The bench and leaderboard commands through typer's runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from latentbridge.cli import app

pytestmark = pytest.mark.usefixtures("prior_optimizer")


def test_bench_then_leaderboard(tmp_path: Path, write_suite: Callable[..., Path]) -> None:
    suite = write_suite()
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["bench", "--suite", str(suite), "--out", str(out), "--seeds", "2", "--no-progress", "--executor", "serial"],
    )
    assert res.exit_code == 0, res.output
    assert "bench machinery" in res.output
    for name in ("bench.sqlite", "report.html", "report.md", "leaderboard.csv"):
        assert (out / name).is_file()
    wrote = [line.removeprefix("wrote ") for line in res.output.splitlines() if line.startswith("wrote ")]
    assert wrote == [str((out / n).resolve()) for n in ("bench.sqlite", "report.html", "report.md", "leaderboard.csv")]
    again = runner.invoke(app, ["bench", "--suite", str(suite), "--out", str(out), "--no-progress"])
    assert again.exit_code == 2
    assert "--resume" in again.output
    resumed = runner.invoke(
        app, ["bench", "--suite", str(suite), "--out", str(out), "--resume", "--no-report", "--executor", "serial"]
    )
    assert resumed.exit_code == 0, resumed.output
    assert "0 runs finished (0 failed), 4 already stored" in resumed.output

    shown = runner.invoke(app, ["leaderboard", str(out / "bench.sqlite")])
    assert shown.exit_code == 0, shown.output
    assert "prior" in shown.output
    files = [tmp_path / "lb.html", tmp_path / "lb.md", tmp_path / "lb.csv"]
    written = runner.invoke(
        app,
        [
            "leaderboard",
            str(out / "bench.sqlite"),
            "--html",
            str(files[0]),
            "--md",
            str(files[1]),
            "--csv",
            str(files[2]),
        ],
    )
    assert written.exit_code == 0, written.output
    assert all(f.is_file() for f in files)
    other = runner.invoke(app, ["leaderboard", str(out / "bench.sqlite"), "--suite", "tinny"])
    assert other.exit_code == 2
    assert "no runs of suite 'tinny'" in other.output
    assert "Did you mean 'tiny'?" in other.output


def test_bad_suite_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[suite]\nname = "x"\nbudget = -5\n')
    res = CliRunner().invoke(app, ["bench", "--suite", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    # rich wraps long tmp paths inside its error box: compare without box borders and whitespace
    flat = "".join(ch for ch in res.output if ch not in "│╭╮╰╯─ \n")
    assert "bad.toml:3:suite.budget:expectedaninteger>=1,got-5" in flat


def test_leaderboard_missing_db(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "nope.sqlite")])
    assert res.exit_code != 0
