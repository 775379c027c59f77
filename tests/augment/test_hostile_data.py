"""Hostile ``augment`` data (issue 26 item 14): odd names, markup, memory bombs, damaged archives.

Every payload is generated here. Memory-heavy cases run in a subprocess under ``RLIMIT_AS`` (its address space
at start plus 1 GiB), so a reader that allocates first and checks later fails the test, not the machine.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from latentbridge.augment import AugmentStore
from latentbridge.augment.data import AugmentDataError, load_data
from latentbridge.augment.report import write_reports
from latentbridge.cli import app

from .old_store import write_old_augment_store

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="byte file names and RLIMIT_AS as on Linux")


def _png(size: tuple[int, int] = (8, 8), value: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, format="PNG")
    return buf.getvalue()


def _folder(root: Path, classes: dict[bytes, int], size: tuple[int, int] = (8, 8)) -> Path:
    """``root/<class>/<i>.png`` for raw byte names (not necessarily UTF-8)."""
    data = _png(size)
    for name, count in classes.items():
        cdir = os.path.join(os.fsencode(root), name)
        os.makedirs(cdir, exist_ok=True)
        for i in range(count):
            with open(os.path.join(cdir, b"img%d\xfe.png" % i), "wb") as fh:
                fh.write(data)
    return root


def _augment(data: Path, out: Path) -> object:
    cmd = ["augment", str(data), "--out", str(out), "--no-progress", "--executor", "serial", "--seeds", "1"]
    return CliRunner().invoke(app, [*cmd, "--folds", "2", "--train-per-class", "3", "--arms", "none"])


def test_non_utf8_names_are_read_and_shown_as_escapes(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", {b"caf\xe9": 5, b"ok": 5})
    split = load_data(root, train_per_class=3, folds=2)
    assert split.classes == ("caf\\xe9", "ok")
    "".join(split.classes).encode("utf-8")  # printable and writable as UTF-8
    bad = _folder(tmp_path / "e", {b"x\xff": 5, b"y": 5})
    (Path(os.fsdecode(os.path.join(os.fsencode(bad), b"x\xff"))) / "broken\udcfe.png").write_bytes(b"not a png")
    with pytest.raises(AugmentDataError, match=r"x\\xff/broken\\xfe\.png cannot be read"):
        load_data(bad, train_per_class=3, folds=2)
    res = _augment(bad, tmp_path / "o")
    assert res.exit_code == 2, res.output  # type: ignore[attr-defined]
    assert "broken\\xfe.pngcannotberead" in "".join(res.output.split())  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["d[/x]", "[red]evil", "\x1b[2Jclear", "<b>x</b>"])
def test_class_names_print_literally(tmp_path: Path, name: str) -> None:
    labels = np.array([name] + ["ok"] * 5)  # a label is any text, "/" included (a folder name cannot be)
    path = _npz(tmp_path / "d.npz", {"images.npy": _npy(np.zeros((6, 8, 8), np.uint8)), "labels.npy": _npy(labels)})
    res = _augment(path, tmp_path / "o")
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 2, out  # type: ignore[attr-defined]
    assert "Traceback" not in out
    assert "\x1b" not in out  # no escape sequence reaches the terminal
    shown = name.replace("\x1b", "\\\\x1b")  # visible, then quoted with repr in the message
    assert f"class '{shown}' has 1 images" in " ".join(out.split())


def _limited(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with its address space capped at what it has after imports plus 1 GiB."""
    prelude = textwrap.dedent(
        """
        import resource, sys
        import numpy as np
        from latentbridge.augment.data import AugmentDataError, load_data
        size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (size + (1 << 30), resource.RLIM_INFINITY))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args], capture_output=True, text=True, timeout=120
    )


def test_a_folder_too_large_for_memory_is_refused_from_headers(tmp_path: Path) -> None:
    root = tmp_path / "d"
    data = _png((512, 512))  # ~1 KB on disk, 256 Ki values decoded
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(750):
            (root / c / f"{i}.png").write_bytes(data)
    proc = _limited(
        """
        try:
            load_data(sys.argv[1], train_per_class=3, folds=2)
        except AugmentDataError as exc:
            print("REFUSED", exc)
        """,
        str(root),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "REFUSED" in proc.stdout
    assert "more than 268,435,456 pixel values" in proc.stdout


def _npz(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _forged_header(shape: tuple[int, ...], descr: str) -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    body = text + " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode()


def test_labels_declaring_a_huge_item_size_are_refused_before_reading(tmp_path: Path) -> None:
    images = _npy(np.zeros((20, 8, 8), dtype=np.uint8))
    path = _npz(tmp_path / "bomb.npz", {"images.npy": images, "labels.npy": _forged_header((20,), "<U30000000")})
    proc = _limited(
        """
        try:
            load_data(sys.argv[1], train_per_class=3, folds=2)
        except AugmentDataError as exc:
            print("REFUSED", exc)
        """,
        str(path),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "labels must be ints or strings of at most 256 bytes each" in proc.stdout


@pytest.mark.parametrize("damage", ["truncated", "corrupt deflate", "declares more than it holds", "negative dim"])
def test_damaged_npz_members_are_one_clear_error(tmp_path: Path, damage: str) -> None:
    images = _npy(np.random.default_rng(0).integers(0, 255, (20, 8, 8), dtype=np.uint8))
    labels = _npy(np.repeat(np.arange(2), 10))
    compression = zipfile.ZIP_STORED
    if damage == "truncated":
        images = images[: len(images) // 2]
    elif damage == "declares more than it holds":
        images = _forged_header((20_000, 8, 8), "|u1") + images[128:]
    elif damage == "negative dim":
        images = _forged_header((-20, 8, 8), "|u1") + images[128:]
    path = _npz(tmp_path / "d.npz", {"images.npy": images, "labels.npy": labels}, compression)
    if damage == "corrupt deflate":
        path = _npz(tmp_path / "d.npz", {"images.npy": images, "labels.npy": labels}, zipfile.ZIP_DEFLATED)
        raw = bytearray(path.read_bytes())
        start = raw.index(b"images.npy") + len(b"images.npy") + 40
        raw[start : start + 200] = bytes(200)  # zeroed deflate data: a broken stream, not a truncated file
        path.write_bytes(bytes(raw))
    with pytest.raises(AugmentDataError, match=r"d\.npz"):
        load_data(path, train_per_class=3, folds=2)
    res = _augment(path, tmp_path / "o")
    assert res.exit_code == 2, res.output  # type: ignore[attr-defined]
    assert "Traceback" not in res.output  # type: ignore[attr-defined]


def test_class_names_reach_reports_escaped(tmp_path: Path) -> None:
    db = write_old_augment_store(tmp_path / "run" / "augment.sqlite")
    hostile = ["<img src=x onerror=alert(1)>", "line\n# heading", '=HYPERLINK("x")', "\x1b[2J\udcff"]
    with sqlite3.connect(db) as conn:
        data = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'data'").fetchone()[0])
        data["classes"] = hostile[:3]
        data["name"] = hostile[3]
        conn.execute("UPDATE meta SET value = ? WHERE key = 'data'", (json.dumps(data),))
        conn.execute("UPDATE results SET arm = ? WHERE arm = 'random'", ("+1+1",))
        cfg = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        cfg["arms"] = ["none", "+1+1", "supervisor"]
        conn.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(cfg),))
    conn.close()
    out = db.parent
    with AugmentStore(db, readonly=True) as store:
        write_reports(store, out)
    md = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    for text in (md, html):
        assert "<img src=x" not in text
        assert "\x1b" not in text
    assert "\n# heading" not in md
    assert "\\x1b\\[2J\\\\xff" in md or "\\x1b\\[2J\\xff" in md
    assert "\n'+1+1," in (out / "results.csv").read_text(encoding="utf-8")
