"""The command line as a new user meets it: version, help at 80 columns, suggestions, --show, written paths."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import latentbridge
from latentbridge.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args), env={"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"})
    return res.exit_code, res.output


def test_version() -> None:
    code, out = _run("--version")
    assert code == 0
    assert out.strip() == f"latentbridge {latentbridge.__version__}"


@pytest.mark.parametrize("command", ["bench", "leaderboard", "plugins", "train"])
def test_help_has_no_placeholders_and_fits_80_columns(command: str) -> None:
    code, out = _run(command, "--help")
    assert code == 0
    assert "<bool>" not in out  # flags take no value
    assert not re.search(r"\{\w+\}", out)  # usage says DB, not {db}
    assert max(len(line) for line in out.splitlines()) <= 80


def test_leaderboard_usage_names_the_argument() -> None:
    _, out = _run("leaderboard", "--help")
    assert "Usage: latentbridge leaderboard [OPTIONS] DB" in out


def test_unknown_suite_suggests_close_name() -> None:
    code, out = _run("bench", "--suite", "quik")
    assert code == 2
    assert "Did you mean 'quick'?" in " ".join(out.split())


def test_show_prints_the_builtin_suite() -> None:
    from latentbridge.bench.suite import BUILTIN_SUITES, parse_suite

    code, out = _run("bench", "--suite", "quick", "--show")
    assert code == 0
    assert out.strip() == BUILTIN_SUITES["quick"].strip()
    assert parse_suite(out).name == "quick"  # what --show prints is a suite you can save and run


def test_plugins_table_never_cuts_names() -> None:
    code, out = _run("plugins")
    assert code == 0
    assert "…" not in out
    for name in ("centroid-diversity", "target-similarity", "mnist-dcgan", "map-elites"):
        assert name in out  # whole, on one line, where a user can copy it
