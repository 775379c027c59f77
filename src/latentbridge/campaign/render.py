"""Rendering for reports: numbers, p-values, slugs, and table cells escaped for Markdown, HTML and CSV.

Every name in a report comes from a suite, a data folder or a store, so none is trusted, and every output
format escapes every such string here, the same way:

- first :func:`visible`: control characters (``ESC``, ``BEL``, C1 codes, ...) and undecodable bytes of file
  names (lone surrogates) become visible ``\\xNN`` escapes, so no escape sequence reaches a terminal and no
  file write fails on them;
- Markdown (:func:`md_text`): HTML-significant characters as entities, Markdown punctuation backslash-escaped
  (no raw HTML, links, emphasis, headings or table breaks), one line;
- HTML (:func:`html_text`): entity-escaped;
- CSV (:func:`csv_cell`): text that a spreadsheet would run as a formula (``= + - @``, after any leading
  whitespace, or a leading tab, CR or LF) gets a ``'`` prefix;
- the terminal (:func:`console_text`): visible, and rich markup (``[red]``, ``[/x]``) escaped so it prints
  literally;
- figures (:func:`plot_text`): visible, no mathtext.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "console_text",
    "csv_cell",
    "fixed",
    "html_table",
    "html_text",
    "md_table",
    "md_text",
    "number",
    "plot_text",
    "pvalue",
    "slug",
    "visible",
]

#: Characters backslash-escaped in Markdown text.
MD_SPECIAL = frozenset("\\`*_{}[]()#+!|~")
#: How a spreadsheet formula starts (CSV cells starting so are neutralised).
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n")
#: Control characters (C0 but tab, LF and CR; DEL; C1), lone surrogates and bidi overrides: never written raw.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def visible(text: Any) -> str:
    """``str(text)`` with every control character, lone surrogate and bidi override as a visible escape.

    ``"\\x1b[2J"`` stays the six characters ``\\x1b[2J`` (it no longer clears a screen); a file name byte that
    is not UTF-8 (``os.listdir`` gives it as a lone surrogate) becomes ``\\xff``, so the text can be
    printed and written as UTF-8. Tabs, newlines and carriage returns are kept (each format decides about
    them).
    """
    return _INVISIBLE.sub(_escape_char, str(text))


def _escape_char(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # an undecodable byte under surrogateescape
        return f"\\x{c - 0xDC00:02x}"
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def console_text(text: Any, *, markup: bool = True) -> str:
    """Text safe to print on a terminal: :func:`visible`, and (``markup``) rich markup escaped.

    Use it for every stored or user-given string that a rich console prints, so ``[red]x`` prints literally,
    ``d[/x]`` does not raise ``MarkupError`` and ``\\x1b[2J`` does not clear the screen.
    """
    out = visible(text).replace("\t", " ").replace("\r", "\\x0d")  # a CR would let a name overwrite its line
    if markup:
        from rich.markup import escape

        out = escape(out)
    return out


def plot_text(text: Any) -> str:
    """Text for a matplotlib title, legend or label: :func:`visible`, ``$`` literal (no mathtext), shown even
    when it starts with ``_`` (which a legend would hide)."""
    out = visible(text).replace("\t", " ").replace("\r", " ").replace("$", "\\$")
    return "\u200b" + out if out.startswith("_") else out


def html_text(text: Any) -> str:
    """Text safe inside HTML (element content and quoted attributes)."""
    return html.escape(visible(text))


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number(x: float | None, digits: int = 4) -> str:
    """``digits`` significant digits; scientific below 1e-3 or from 1e4 on; ``–`` for None/NaN; ``0`` for 0."""
    if x is None or _missing(x):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fixed(x: float | None, digits: int = 4) -> str:
    """``digits`` decimals (for scores in [0, 1] such as accuracies); ``–`` for None/NaN."""
    if x is None or _missing(x):
        return "–"
    return f"{x:.{digits}f}"


def pvalue(p: float) -> str:
    """A p-value: four decimals, ``<1e-4`` below that, ``–`` for NaN."""
    if math.isnan(p):
        return "–"
    return "<1e-4" if p < 1e-4 else f"{p:.4f}"


def slug(text: str, fallback: str = "item") -> str:
    """``text`` as an HTML id or file name: every character but letters, digits, ``-`` and ``_`` becomes ``-``.

    No ``/``, ``.`` or space survives, so a slug never leaves the folder it names a file in; an empty result
    becomes ``fallback``.
    """
    out = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(text))
    return out or fallback


def md_text(text: Any) -> str:
    """Text safe inside Markdown (a table cell, a heading, a caption): one line, no markup.

    HTML-significant characters become entities and Markdown punctuation is backslash-escaped, so a suite or
    store cannot inject raw HTML (``<script>``, ``<img onerror>``), links, emphasis or cell breaks.
    """
    out = html.escape(" ".join(visible(text).split()), quote=False)
    return "".join("\\" + c if c in MD_SPECIAL else c for c in out)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; every header and cell goes through :func:`md_text`."""
    lines = ["| " + " | ".join(map(md_text, headers)) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    left: Sequence[int] = (1,),
    colors: dict[str, str] | None = None,
) -> str:
    """An HTML table, every header and cell escaped.

    Args:
        headers: Column headers.
        rows: Cells (text).
        left: Columns given class ``l`` (left-aligned by the page's CSS).
        colors: With it, a cell of column 1 named in it gets a swatch of that (escaped) colour.
    """
    head = "".join(f"<th class='{'l' if i in left else ''}'>{html_text(h)}</th>" for i, h in enumerate(headers))

    def cell(i: int, c: str) -> str:
        swatch = ""
        if colors is not None and i == 1 and c in colors:
            swatch = f"<span class='sw' style='color:{html_text(colors[c])}'>■</span> "
        return f"<td class='{'l' if i in left else ''}'>{swatch}{html_text(c)}</td>"

    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run, for every text written to a CSV file.

    Text is made :func:`visible`; text starting with ``= + - @`` (after any leading whitespace) or with a
    tab, CR or LF gets a ``'`` prefix (``=HYPERLINK(...)``, ``+1+1``, ``"\\t=1+2"``). Anything that is not
    text (numbers included) is returned unchanged.
    """
    if not isinstance(value, str):
        return value
    text = visible(value)
    if text.startswith(FORMULA_START) or text.lstrip(" \t\r\n").startswith(FORMULA_START):
        return "'" + text
    return text
