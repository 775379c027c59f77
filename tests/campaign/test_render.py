"""Rendering: numbers, p-values, slugs and escaped cells; the leaderboard of a stored campaign, byte for byte."""

from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import pytest

from latentbridge.campaign.render import csv_cell, fixed, html_table, md_table, md_text, number, pvalue, slug

from .fakes import GOLDEN, render_bench, write_bench_store


def test_number() -> None:
    assert number(None) == number(math.nan) == "–"
    assert number(0.0) == "0"
    assert number(0.123456) == "0.1235"
    assert number(123.456) == "123.5"
    assert number(2.5e-5) == "2.500e-05"
    assert number(-12345.0) == "-1.234e+04"
    assert number(1.0 / 3, 3) == "0.333"


def test_fixed_and_pvalue() -> None:
    assert fixed(0.95) == "0.9500"
    assert fixed(0.5, 1) == "0.5"
    assert fixed(None) == fixed(math.nan) == "–"
    assert pvalue(0.031234) == "0.0312"
    assert pvalue(5e-5) == "<1e-4"
    assert pvalue(math.nan) == "–"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("target_3", "target_3"), ("set [k=3]", "set--k-3-"), ("../etc/passwd", "---etc-passwd"), ("", "x")],
)
def test_slug_keeps_names_inside_their_folder(text: str, expected: str) -> None:
    assert slug(text, fallback="x") == expected


def test_markdown_cells_cannot_inject_markup() -> None:
    evil = "<script>alert(1)</script> [link](http://x) *em* a|b\nnext"
    cell = md_text(evil)
    assert "<" not in cell
    assert "\n" not in cell
    assert "\\[link\\]\\(http://x\\)" in cell
    assert "\\*em\\*" in cell
    assert "a\\|b" in cell
    table = md_table(["a|b", "c"], [[evil, "1"]])
    lines = table.splitlines()
    assert len(lines) == 3
    assert all(line.replace("\\|", "").count("|") == 3 for line in lines)  # no extra column, whatever the text


def test_html_table_escapes_cells_and_colours() -> None:
    out = html_table(["h<1>", "opt"], [["<b>", "x"]], left=(0,), colors={"x": "red'><script>"})
    assert "&lt;b&gt;" in out
    assert "h&lt;1&gt;" in out
    assert "<script>" not in out
    assert "<td class='l'>&lt;b&gt;</td>" in out


def test_csv_cells_never_run_as_formulas() -> None:
    for text in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("ng:CMA") == "ng:CMA"
    assert csv_cell(-2.5) == -2.5
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_cell('=HYPERLINK("x")')])
    assert buf.getvalue().startswith("\"'=")


def test_leaderboard_of_a_stored_campaign_is_unchanged(tmp_path: Path) -> None:
    """The console table, Markdown, CSV and HTML of a fixed store are byte for byte those of the code before the
    campaign kernel (``golden/``, rendered by commit 75bafca; figures' PNG bytes elided)."""
    rendered = render_bench(write_bench_store(tmp_path / "bench.sqlite"))
    for name, text in rendered.items():
        assert text == (GOLDEN / name).read_text(encoding="utf-8"), name


@pytest.mark.parametrize("mode", ["read", "write"])
def test_a_store_the_pre_kernel_code_wrote_opens_and_renders_the_same(tmp_path: Path, mode: str) -> None:
    """``golden/bench-75bafca.sqlite.gz``: the same fake runs, stored by the bench of commit 75bafca."""
    from latentbridge.bench import Store

    db = tmp_path / "bench.sqlite"
    db.write_bytes(gzip.decompress((GOLDEN / "bench-75bafca.sqlite.gz").read_bytes()))
    if mode == "write":  # a bench resuming into it opens it for writing first (schema and migrations run again)
        with Store(db) as store:
            assert store.count() == 55
    for name, text in render_bench(db).items():
        assert text == (GOLDEN / name).read_text(encoding="utf-8"), name
