"""Every Python snippet of the README runs as written, on its own, in seconds (each in a fresh interpreter).

A block preceded by an HTML comment ``<!-- no-run: reason -->`` is only compiled (used for snippets that
need weights latentbridge does not ship); every other ``python`` block is executed in a subprocess whose
working directory is an empty temporary folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"(?:<!--\s*no-run:(?P<why>[^>]*)-->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def _section(text: str, end: int) -> str:
    """The last Markdown heading before ``end``, outside code fences."""
    heading, fenced = "top", False
    for line in text[:end].splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            heading = line.lstrip("#").strip()
    return heading


def _blocks() -> list[tuple[str, str, str | None]]:
    text = README.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start("code"))
        out.append((f"L{line}:{_section(text, m.start())[:40]}", m.group("code"), m.group("why")))
    return out


BLOCKS = _blocks()


def test_readme_has_snippets() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize(("where", "code", "why"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_snippet_runs_on_its_own(where: str, code: str, why: str | None, tmp_path: Path) -> None:
    compile(code, where, "exec")
    if why is not None:
        pytest.skip(f"README block {where} is compile-checked only: {why.strip()}")
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:latentbridge", "MPLBACKEND": "Agg"}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, f"README snippet {where} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
