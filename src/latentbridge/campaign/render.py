"""Rendering for reports: numbers, p-values, slugs, and table cells escaped for Markdown, HTML and CSV.

Every name in a report comes from a suite, a data folder or a store, so none is trusted: Markdown cells get
HTML-significant characters as entities and Markdown punctuation backslash-escaped (no raw HTML, links,
emphasis or table breaks), HTML cells are entity-escaped, and CSV text that a spreadsheet would run as a
formula gets a ``'`` prefix.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["csv_cell", "fixed", "html_table", "md_table", "md_text", "number", "pvalue", "slug"]

#: Characters backslash-escaped in Markdown text.
MD_SPECIAL = frozenset("\\`*_{}[]()#+!|~")
#: How a spreadsheet formula starts (CSV cells starting so are neutralised).
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


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
    out = html.escape(" ".join(str(text).split()), quote=False)
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
    head = "".join(f"<th class='{'l' if i in left else ''}'>{html.escape(h)}</th>" for i, h in enumerate(headers))

    def cell(i: int, c: str) -> str:
        swatch = ""
        if colors is not None and i == 1 and c in colors:
            swatch = f"<span class='sw' style='color:{html.escape(colors[c])}'>■</span> "
        return f"<td class='{'l' if i in left else ''}'>{swatch}{html.escape(c)}</td>"

    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with ``= + - @``, a tab or CR gets a ``'`` prefix.

    Anything that is not text (numbers included) is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
