"""write_reports on a store filled by hand: the baseline, shift and generator-quality sections and CSV files."""

from __future__ import annotations

import csv
from pathlib import Path

from latentbridge.augment import AugmentStore
from latentbridge.augment.report import write_reports

from .fake_store import EFFECTS, fake_store


def _write(tmp_path: Path, **kwargs: object) -> tuple[Path, str, str]:
    out = tmp_path / "run"
    db = fake_store(out / "augment.sqlite", **kwargs)  # type: ignore[arg-type]
    with AugmentStore(db, readonly=True) as store:
        written = write_reports(store, out)
    assert {p.name for p in written} >= {"results.csv", "shift_results.csv", "comparisons.csv", "report.md"}
    return out, (out / "report.md").read_text(encoding="utf-8"), (out / "report.html").read_text(encoding="utf-8")


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_compares_every_arm_with_each_baseline_and_under_shift(tmp_path: Path) -> None:
    out, md, html = _write(tmp_path)
    assert "## Each arm against the baselines (none, duplicated originals, random GAN samples, affine jitter)" in md
    assert "against no augmentation, random GAN samples, affine jitter" in md
    row = next(line for line in md.splitlines() if line.startswith("| coverage\\+affine | affine jitter |"))
    cells = [c.strip().replace("\\", "") for c in row.strip("|").split("|")]
    assert cells[2] == "25"
    assert float(cells[5]) > 6  # +7 points
    assert cells[7] == "&lt;1e-4"  # Holm p
    assert float(cells[8]) > 0.95  # A12
    assert "**Verdict (accuracy):** Best arm: coverage\\+affine has the highest mean accuracy" in md
    assert "beats affine jitter significantly" in md
    assert "## Under distribution shift" in md
    assert "- thin: coverage has the highest mean accuracy" in md
    assert "<h2>Under distribution shift</h2>" in html
    comps = _csv(out / "comparisons.csv")
    assert len(comps) == 4 * 9 + 2 * 14  # 9 comparisons per test metric, 14 per shift metric
    assert {c["split"] for c in comps} == {"test", "thin", "translate"}
    assert {c["metric"] for c in comps} == {"accuracy", "precision", "recall", "f1"}
    shifts = _csv(out / "shift_results.csv")
    assert len(shifts) == len(EFFECTS) * 25 * 2
    assert len(_csv(out / "results.csv")) == len(EFFECTS) * 25


def test_generator_quality_section(tmp_path: Path) -> None:
    _, md, html = _write(tmp_path)
    assert "## Generator quality" in md
    assert "| face | cdcgan | 200 | 0.900 | 10.000 |" in md
    assert "| non-face | cdcgan | 200 | 0.800 | 11.000 |" in md
    assert "| mean \\(2 classes\\) | cdcgan |  | 0.850 | 10.500 |" in md
    assert "<h2>Generator quality</h2>" in html


def test_no_shift_rows_no_quality_no_sections(tmp_path: Path) -> None:
    out, md, html = _write(tmp_path, shift_effects=None, quality=False)
    assert "distribution shift" not in md
    assert "Generator quality" not in md
    assert "Under distribution shift" not in html
    assert _csv(out / "shift_results.csv") == []
    assert {c["split"] for c in _csv(out / "comparisons.csv")} == {"test"}


def test_arm_names_from_the_store_are_escaped(tmp_path: Path) -> None:
    effects = {"none": 0.8, "affine": 0.82, "<script>x|y": 0.9, "=HYPERLINK(1)": 0.81}
    out, md, html = _write(tmp_path, effects=effects, shift_effects=None, classes=("a<b>", "c|d"))
    assert "<script>" not in md
    assert "<script>" not in html
    assert "&lt;script&gt;x\\|y" in md
    assert "&lt;script&gt;x|y" in html
    tables: list[list[str]] = [[]]
    for line in md.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    assert sum(any("&lt;script&gt;" in line for line in t) for t in tables) >= 3
    for t in tables:  # the name cannot break a table's columns
        assert len({line.replace("\\|", "").count("|") for line in t}) <= 1
    assert "Best arm: &lt;script&gt;x\\|y has the highest mean accuracy" in md
    rows = (out / "comparisons.csv").read_text(encoding="utf-8")
    assert ",'=HYPERLINK(1)," in rows
    assert ",=HYPERLINK" not in rows
