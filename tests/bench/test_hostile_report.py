"""Names written into a store by someone else reach no output raw (issue 26 item 5).

The console, report.md, report.html, leaderboard.csv and leaderboard.seed-tables.csv all escape every stored
string the same way (``latentbridge.campaign.render``): no HTML, no Markdown structure, no spreadsheet formula,
no terminal escape sequence, no matplotlib mathtext.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from latentbridge.bench import Store, load_suite, run_suite
from latentbridge.cli import app

from .conftest import TINY_GEN

SUITE = """
[suite]
name = "tiny"
budget = 30
seeds = 2

[[problems]]
id = "target"
kind = "target-similarity"
generator = "{gen}"
scorer = "rmse"
target = {{ npy = "{target}" }}

[[optimizers]]
name = "random"

[[optimizers]]
name = "prior"
"""

OPTIMIZER_A = '=HYPERLINK("http://evil","x")<img src=x onerror=alert(1)>\x1b[2J$x^$'
OPTIMIZER_B = "\t=1+2\n# heading [red]x[/red]"
PROBLEM = "+1+1<script>alert(1)</script>\x1b]0;title\x07"
SUITE_NAME = "@SUM(A1)\r\x1b[31m"


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory, target_npy: Path) -> Path:
    from latentbridge.testing import registered

    from .conftest import PriorSampler

    suite = tmp_path_factory.mktemp("s") / "tiny.toml"
    suite.write_text(SUITE.format(gen=TINY_GEN, target=target_npy), encoding="utf-8")
    db = tmp_path_factory.mktemp("store") / "bench.sqlite"
    with registered("optimizer", "prior", PriorSampler), Store(db) as store:
        run_suite(load_suite(suite), store, progress=False)
    with sqlite3.connect(db) as conn:  # what someone else's writer could have stored
        conn.execute("UPDATE runs SET optimizer = ? WHERE optimizer = 'random'", (OPTIMIZER_A,))
        conn.execute("UPDATE runs SET optimizer = ? WHERE optimizer = 'prior'", (OPTIMIZER_B,))
        conn.execute("UPDATE runs SET problem_id = ?, suite = ?", (PROBLEM, SUITE_NAME))
    conn.close()
    return db


def test_console_shows_names_as_text(hostile_store: Path) -> None:
    res = CliRunner().invoke(app, ["leaderboard", str(hostile_store)])
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output
    assert "\x07" not in res.output
    assert "\r" not in res.output
    flat = "".join(res.output.split())
    assert "\\x1b[2J" in flat
    assert "[red]x[/red]" in flat


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [c for row in csv.reader(fh) for c in row]


def test_reports_escape_every_stored_name(hostile_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "bench.sqlite"
    shutil.copy(hostile_store, db)
    md, html, lb = tmp_path / "report.md", tmp_path / "report.html", tmp_path / "leaderboard.csv"
    res = CliRunner().invoke(app, ["leaderboard", str(db), "--md", str(md), "--html", str(html), "--csv", str(lb)])
    assert res.exit_code == 0, res.output
    md_text, html_text = md.read_text(encoding="utf-8"), html.read_text(encoding="utf-8")
    for text in (md_text, html_text):
        assert "<img src=x" not in text
        assert "<script>" not in text
        assert "\x1b" not in text
        assert "\x07" not in text
    assert [line for line in md_text.splitlines() if line.startswith("# ")] == ["# Leaderboard"]
    assert "&lt;script&gt;" in md_text
    seed_csv = tmp_path / "leaderboard.seed-tables.csv"
    assert seed_csv.is_file()
    for table in (lb, seed_csv):
        cells = _cells(table)
        assert any("HYPERLINK" in c for c in cells)
        assert any("+1+1" in c for c in cells)
        for cell in cells:
            assert not cell.lstrip(" \t\r\n").startswith(("=", "+", "@")), (table.name, cell)
            assert not cell.startswith(("-", "\t", "\r", "\n")) or _is_number(cell), (table.name, cell)
            assert "\x1b" not in cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
