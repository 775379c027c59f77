"""One escaping for every output format (issue 26 item 5): stored names never become markup, formulas or
terminal escape sequences."""

from __future__ import annotations

import csv
import io

import pytest
from rich.console import Console

from latentbridge.campaign.render import console_text, csv_cell, html_table, html_text, md_table, md_text, visible

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "x\n# heading",
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "\t=1+2",
    " =1+2",
    "\x1b[2J\x1b]0;title\x07",
    "[red]evil d[/x]",
    "caf\udce9",
    "a\u202eb",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_every_format_neutralises_every_payload(text: str) -> None:
    md = md_table(["h"], [[text]])
    assert "<img" not in md
    assert "\n#" not in md
    assert md.count("\n") == 2  # header, rule, one row: no line break from the name
    html = html_table(["h"], [[text]]) + html_text(text)
    assert "<img" not in html
    cell = csv_cell(text)
    assert not cell.lstrip(" \t\r\n").startswith(("=", "+", "-", "@"))
    for out in (md, html, cell):
        assert "\x1b" not in out
        assert "\x07" not in out
        out.encode("utf-8")  # undecodable file-name bytes are escapes now: every output can be written
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, width=200, highlight=False).print(console_text(text))
    printed = buf.getvalue()
    assert "\x1b[2J" not in printed
    assert "\x07" not in printed
    if "[red]" in text:
        assert "[red]evil d[/x]" in printed


def test_visible_keeps_text_and_shows_what_it_replaces() -> None:
    assert visible("plain ünïcode 名前") == "plain ünïcode 名前"
    assert visible("\x1b[2J") == "\\x1b[2J"
    assert visible("caf\udce9") == "caf\\xe9"
    assert visible("a\u202eb") == "a\\u202eb"
    assert console_text("a\rb") == "a\\x0db"
    assert md_text("a\x00b") == "a\\\\x00b"


def test_csv_cells_with_leading_whitespace_or_tabs_are_quoted() -> None:
    for text in ("\t=1+2", " =1+2", "\n+1", " @x"):
        assert csv_cell(text).startswith("'")
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_cell("+1+1"), 2.5])
    assert buf.getvalue() == "'+1+1,2.5\r\n"
