"""Reports of an augmentation run: ``results.csv``, ``shift_results.csv``, ``comparisons.csv``, ``report.md``,
``report.html``, image grids and PNGs.

Statistics come from :mod:`latentbridge.stats`: every arm is compared with ``none`` on the same
(seed, fold) pairs by a two-sided Wilcoxon signed-rank test (paired) and a Mann–Whitney U test (unpaired),
each Holm-adjusted over the arms, with Vargha–Delaney A12 = P(arm scores higher than none) + ½ P(tie); and
with each baseline (``none``, ``random``, ``affine``), on the test split and on its distribution-shifted
copies, by :mod:`latentbridge.augment.report_tables`. The arms are those of the run (its configuration, then
any other arm with results): none is listed here.
Tables and text are rendered by :mod:`latentbridge.campaign.render`: every name from the data or the store is
escaped in Markdown and HTML, and neutralised in CSV.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..campaign.render import csv_cell, fixed, html_table, html_text, md_table, md_text, pvalue, slug
from . import report_tables as tables
from .store import AugmentStore, ResultRow

__all__ = ["METRICS", "ArmComparison", "compare_arms", "write_reports"]

#: Test-split metrics, one column each in ``results.csv``.
METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1")
#: Metrics of the shift rows.
SHIFT_METRICS: tuple[str, ...] = ("accuracy", "f1")


@dataclass(frozen=True)
class ArmComparison:
    """One arm against ``none`` on one metric.

    Attributes:
        arm: The arm.
        metric: The metric.
        n: Paired (seed, fold) samples.
        mean: The arm's mean.
        std: Its standard deviation.
        diff: Mean paired difference arm − none.
        p_wilcoxon: Two-sided Wilcoxon signed-rank p-value (NaN without differences).
        p_wilcoxon_holm: Holm-adjusted over the arms.
        p_mannwhitney: Two-sided Mann–Whitney U p-value.
        p_mannwhitney_holm: Holm-adjusted over the arms.
        a12: P(arm > none) + ½ P(tie).
    """

    arm: str
    metric: str
    n: int
    mean: float
    std: float
    diff: float
    p_wilcoxon: float
    p_wilcoxon_holm: float
    p_mannwhitney: float
    p_mannwhitney_holm: float
    a12: float


def _by_arm(rows: Sequence[ResultRow], metric: str) -> dict[str, dict[tuple[int, int], float]]:
    out: dict[str, dict[tuple[int, int], float]] = {}
    for r in rows:
        out.setdefault(r.arm, {})[(r.seed, r.fold)] = float(getattr(r, metric))
    return out


def compare_arms(rows: Sequence[ResultRow], arms: Sequence[str], metric: str = "accuracy") -> list[ArmComparison]:
    """Every arm (``none`` included, with NaN tests) against ``none`` on ``metric``."""
    from scipy import stats

    from ..stats import a12, holm

    data = _by_arm(rows, metric)
    base = data.get("none", {})
    raw: list[tuple[str, int, float, float, float, float, float, float]] = []
    for arm in arms:
        vals = data.get(arm, {})
        keys = sorted(set(vals) & set(base))
        x = np.array([vals[k] for k in keys])
        y = np.array([base[k] for k in keys])
        allv = np.array(list(vals.values()))
        mean = float(allv.mean()) if allv.size else math.nan
        std = float(allv.std(ddof=1)) if allv.size > 1 else 0.0
        if arm == "none" or not keys:
            raw.append((arm, len(keys), mean, std, math.nan, math.nan, math.nan, math.nan))
            continue
        d = x - y
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pw = 1.0 if np.all(d == 0) else float(stats.wilcoxon(x, y, zero_method="wilcox").pvalue)
            pm = 1.0 if np.all(np.concatenate([x, y]) == x[0]) else float(stats.mannwhitneyu(x, y).pvalue)
        raw.append((arm, len(keys), mean, std, float(d.mean()), pw, pm, a12(x, y)))
    hw = holm([r[5] for r in raw])
    hm = holm([r[6] for r in raw])
    return [
        ArmComparison(a, metric, n, mean, std, diff, pw, float(hw[i]), pm, float(hm[i]), e)
        for i, (a, n, mean, std, diff, pw, pm, e) in enumerate(raw)
    ]


# ------------------------------------------------------------------------------------------- images
def _save_grid(images: NDArray[np.float32], path: Path, ncol: int, scale: int) -> Path:
    import torch

    from ..images import save_grid

    return save_grid(torch.from_numpy(np.ascontiguousarray(images)), path, ncol=ncol, scale=scale)


def _rows_grid(rows: list[tuple[str, NDArray[np.float32]]], path: Path, ncol: int, scale: int) -> Path:
    """Stack labelled rows of images (each cut to ``ncol``) into one grid (row order = ``rows``)."""
    c, h, w = rows[0][1].shape[1:]
    blocks = []
    for _, imgs in rows:
        block = np.ones((ncol, c, h, w), dtype=np.float32)  # white padding (1 = white in [-1, 1])
        block[: min(ncol, len(imgs))] = imgs[:ncol]
        blocks.append(block)
    return _save_grid(np.concatenate(blocks), path, ncol, scale)


def _scale(h: int) -> int:
    return max(1, 56 // max(1, h))


def _figures(store: AugmentStore, out: Path, classes: Sequence[str], arms: Sequence[str]) -> dict[str, Any]:
    """Per-class grids (seed 0, a row per arm), seed 002's Fig. 11 (first vs last generation of the supervisor,
    else of the first arm that stores one) and the PNGs of every searched set (one with a fitness)."""
    from ..images import save, to_uint8

    made: dict[str, Any] = {"grids": [], "fig11": None, "selected": 0}
    data_cfg = store.meta("config") or {}
    by_arm: dict[str, dict[int, Any]] = {}
    for row in store.sets(seed=0):
        by_arm.setdefault(row.arm, {})[row.label] = row
    from .data import load_data

    try:
        split = load_data(
            data_cfg["data"],
            train_per_class=data_cfg["train_per_class"],
            folds=data_cfg["folds"],
            seed=data_cfg["seed"],
        )
    except Exception:  # the data moved since the run: grids without originals
        split = None
    ncol = min(int(data_cfg.get("k", 10)), 10)
    for c, cname in enumerate(classes):
        rows: list[tuple[str, NDArray[np.float32]]] = []
        if split is not None:
            rows.append(("originals", split.originals(c)))
        rows += [
            (arm, by_arm[arm][c].images) for arm in arms if c in by_arm.get(arm, {}) and len(by_arm[arm][c].images)
        ]
        if not rows:
            continue
        path = out / "grids" / f"class-{slug(cname, 'class')}.png"
        _rows_grid(rows, path, ncol, _scale(rows[0][1].shape[2]))
        made["grids"].append((cname, [r[0] for r in rows], path))
    searched = [a for a in ("supervisor", *arms) if any(r.first_images is not None for r in by_arm.get(a, {}).values())]
    if searched:
        sup = by_arm[searched[0]]
        first = next(r for _, r in sorted(sup.items()) if r.first_images is not None)
        if first.first_images is not None:
            path = out / "fig11_first_vs_last.png"
            _rows_grid(
                [("first", first.first_images), ("last", first.images)], path, ncol, _scale(first.images.shape[2])
            )
            made["fig11"] = (searched[0], classes[first.label], first.first_fitness, first.fitness, path)
    for arm in arms:
        for row in store.sets(arm=arm):
            if row.fitness is None:  # not a searched set (random samples, jitter): no PNGs
                continue
            folder = out / "selected" / arm / slug(classes[row.label], "class")
            for i, img in enumerate(to_uint8(row.images)):
                save(img, folder / f"seed{row.seed}_{i:03d}.png")
                made["selected"] += 1
    return made


def _boxplot(rows: Sequence[ResultRow], arms: Sequence[str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    width = max(3.2, 0.38 * len(arms) + 1.0)  # room for every arm's label
    fig = Figure(figsize=(width * len(METRICS), 3.2 + 0.07 * max(len(a) for a in arms)), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(METRICS))
    for ax, metric in zip(axes, METRICS, strict=True):
        data = _by_arm(rows, metric)
        ax.boxplot([list(data.get(a, {}).values()) or [math.nan] for a in arms], tick_labels=list(arms))
        ax.set_title(f"test {metric}")
        for label in ax.get_xticklabels():
            label.set_rotation(60)
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _table(value: Any) -> dict[str, Any]:
    """A stored meta value that should be a JSON object (a forged store may hold anything else: read as empty)."""
    return value if isinstance(value, dict) else {}


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


# -------------------------------------------------------------------------------------------- main
def write_reports(store: AugmentStore, out: Path) -> list[Path]:
    """Write ``results.csv``, ``shift_results.csv``, ``comparisons.csv``, ``report.md``, ``report.html``,
    ``boxplots.png``, grids and selected PNGs to ``out``."""
    cfg, info, versions = (_table(store.meta(key)) for key in ("config", "data", "versions"))
    classes = [str(c) for c in info.get("classes", []) or []]
    rows = store.results()
    shift_results = store.shift_results()
    configured = cfg.get("arms")
    arms = tables.run_arms(configured if isinstance(configured, list) else [], rows)
    written: list[Path] = []

    csv_path = out / "results.csv"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["arm", "seed", "fold", *METRICS, "val_accuracy", "n_train", "run_seed", "wall_s", "cpu_s"])
    for r in rows:
        writer.writerow(
            [
                csv_cell(r.arm),
                r.seed,
                r.fold,
                *(f"{getattr(r, m):.6f}" for m in METRICS),
                f"{r.val_accuracy:.6f}",
                r.n_train,
                r.run_seed,
                f"{r.wall_s:.3f}",
                f"{r.cpu_s:.3f}",
            ]
        )
    csv_path.write_text(buf.getvalue(), encoding="utf-8")
    written.append(csv_path)

    comps = {m: compare_arms(rows, arms, m) for m in METRICS}
    vs_base = {m: tables.compare_with_baselines(rows, arms, m) for m in METRICS}
    vs_shift = {m: tables.compare_shifts(shift_results, arms, m) for m in SHIFT_METRICS}
    for name, text in (
        ("shift_results.csv", tables.shift_results_csv(shift_results)),
        ("comparisons.csv", tables.comparisons_csv([c for cs in (*vs_base.values(), *vs_shift.values()) for c in cs])),
    ):
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    sets = list(store.sets())
    agreement = {a: [s.agreement for s in sets if s.arm == a and s.agreement is not None] for a in arms}
    fitness = {a: [s.fitness for s in sets if s.arm == a and s.fitness is not None] for a in arms}
    q = store.conn.execute
    gan_s = q("SELECT COALESCE(SUM(wall_s), 0), COALESCE(SUM(cpu_s), 0) FROM generators").fetchone()
    phase = {
        a: q("SELECT COALESCE(SUM(wall_s), 0), COALESCE(SUM(cpu_s), 0) FROM sets WHERE arm = ?", (a,)).fetchone()
        for a in arms
    }
    clf_s = q("SELECT COALESCE(SUM(wall_s), 0), COALESCE(SUM(cpu_s), 0) FROM results").fetchone()

    table_rows = []
    for i, arm in enumerate(arms):
        cells = [arm, str(comps["accuracy"][i].n)]
        cells += [f"{fixed(comps[m][i].mean)} ± {fixed(comps[m][i].std)}" for m in METRICS]
        ag = agreement.get(arm, [])
        cells.append(fixed(float(np.mean(ag)), 3) if ag else "–")
        fi = fitness.get(arm, [])
        cells.append(fixed(float(np.mean(fi)), 4) if fi else "–")
        table_rows.append(cells)
    headers = ["arm", "n", *(f"{m} (mean ± std)" for m in METRICS), "class agreement", "set fitness"]
    test_rows = []
    for m in ("accuracy", "f1"):
        for c in comps[m]:
            if c.arm == "none":
                continue
            test_rows.append(
                [
                    m,
                    c.arm,
                    f"{c.diff:+.4f}",
                    pvalue(c.p_wilcoxon),
                    pvalue(c.p_wilcoxon_holm),
                    pvalue(c.p_mannwhitney),
                    pvalue(c.p_mannwhitney_holm),
                    fixed(c.a12, 3),
                ]
            )
    test_headers = ["metric", "arm", "mean diff vs none", "Wilcoxon p", "Holm", "Mann–Whitney p", "Holm", "A12"]
    time_rows = [["GAN training", f"{gan_s[0]:.1f}", f"{gan_s[1]:.1f}"]]
    time_rows += [[f"sets: {a}", f"{phase[a][0]:.1f}", f"{phase[a][1]:.1f}"] for a in arms if a != "none"]
    time_rows.append(["classifier training", f"{clf_s[0]:.1f}", f"{clf_s[1]:.1f}"])
    verdict = tables.best_arm_verdict(rows, arms, vs_base["accuracy"]) + " " + _verdict(comps["accuracy"])
    base_headers, base_rows = tables.baseline_rows(vs_base["accuracy"])
    present = [b for b in tables.BASELINES if any(c.baseline == b for c in vs_base["accuracy"])]
    base_names = ", ".join(tables.BASELINE_NAMES[b] for b in present) or "no baseline (none of them was run)"
    shift_headers, shift_table = tables.shift_rows(shift_results, rows, vs_shift["accuracy"], arms)
    shift_lines = tables.shift_verdicts(shift_results, arms, vs_shift["accuracy"])
    quality = tables.generator_quality_rows(store.generators(), classes)
    figs = _figures(store, out, classes, arms)
    box = _boxplot(rows, arms, out / "boxplots.png")
    written.append(box)

    cfg_line = ", ".join(f"{k}={v}" for k, v in sorted(cfg.items()) if k != "generator_options")
    data_line = (
        f"{info.get('name')}: {len(classes)} classes, images {tuple(info.get('image_shape', []))}, "
        f"{sum(info.get('train_per_class', []))} originals / {sum(info.get('test_per_class', []))} test images"
    )
    ver_line = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    md = [
        "# latentbridge augment",
        "",
        f"Data: {md_text(data_line)}.  ",
        f"Configuration: {md_text(cfg_line)}.  ",
        f"Versions: {md_text(ver_line)}.",
        "",
        "## Test-split scores per arm",
        "",
        f"Each arm: {cfg.get('seeds')} seeds × {cfg.get('folds')} folds; a classifier ({cfg.get('classifier')}) is "
        "trained on the originals of the other folds plus the arm's images and scored on the held-out test split. "
        "*class agreement*: fraction of the arm's added images that a classifier trained on the originals "
        "assigns to the intended class; *set fitness*: the mean over seeds and classes of the fitness the arm's "
        "search minimised (the supervisor: mean NCC to the centroid, lower = more diverse; each arm's own "
        "fitness otherwise).",
        "",
        md_table(headers, table_rows),
        "",
        "## Against no augmentation",
        "",
        "Paired two-sided Wilcoxon signed-rank and unpaired Mann–Whitney U tests on the (seed, fold) pairs, "
        "Holm-adjusted over the arms; A12 = P(arm > none) + ½ P(tie).",
        "",
        md_table(test_headers, test_rows),
        "",
        "## Each arm against the baselines (none, duplicated originals, random GAN samples, affine jitter)",
        "",
        f"Test accuracy, paired over the (seed, fold) pairs both have, against {md_text(base_names)}: two-sided "
        "Wilcoxon signed-rank p, Holm-adjusted over every comparison of this table; A12 = P(arm > baseline) "
        "+ ½ P(tie); differences in accuracy points. Every metric is in `comparisons.csv`.",
        "",
        md_table(base_headers, base_rows),
        "",
        f"**Verdict (accuracy):** {md_text(verdict)}",
        "",
        *_md_shift(shift_headers, shift_table, shift_lines),
        *_md_quality(quality),
        "## Time (seconds of work, summed over units; CPU time is what a quiet machine would need)",
        "",
        md_table(["phase", "wall s", "CPU s"], time_rows),
        "",
        "## Figures",
        "",
        "![box plots](boxplots.png)",
        "",
    ]
    if figs["fig11"] is not None:
        arm, cname, f0, f1, path = figs["fig11"]
        md += [
            f"First vs last generation of {md_text(arm)} (class {md_text(cname)}, seed 0; "
            f"fitness {fixed(f0)} → {fixed(f1)}): "
            "top row the best set of the initial random population, bottom row the selected set.",
            "",
            f"![first vs last]({path.relative_to(out).as_posix()})",
            "",
        ]
    for cname, labels, path in figs["grids"]:
        md += [
            f"Class {md_text(cname)} (rows: {md_text(', '.join(labels))}):",
            "",
            f"![class {md_text(cname)}]({path.relative_to(out).as_posix()})",
            "",
        ]
    md.append(f"Selected images: {figs['selected']} PNG files under `selected/<arm>/<class>/`.")
    md_path = out / "report.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    written.append(md_path)

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>latentbridge augment</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td.l,th.l{text-align:left}"
        "img{image-rendering:pixelated}</style>",
        "</head><body><h1>latentbridge augment</h1>",
        f"<p>Data: {html_text(data_line)}<br>Configuration: {html_text(cfg_line)}<br>"
        f"Versions: {html_text(ver_line)}</p>",
        "<h2>Test-split scores per arm</h2>",
        html_table(headers, table_rows, left=(0,)),
        "<h2>Against no augmentation</h2>",
        html_table(test_headers, test_rows, left=(0, 1)),
        "<h2>Each arm against the baselines (none, duplicated originals, random GAN samples, affine jitter)</h2>",
        f"<p>Test accuracy, paired over (seed, fold), against {html_text(base_names)}: Wilcoxon signed-rank p, "
        "Holm-adjusted over every comparison of this table; A12; differences in accuracy points. Every metric is "
        "in comparisons.csv.</p>",
        html_table(base_headers, base_rows, left=(0, 1)),
        f"<p><b>Verdict (accuracy):</b> {html_text(verdict)}</p>",
        *_html_shift(shift_headers, shift_table, shift_lines),
        *_html_quality(quality),
        "<h2>Time (seconds of work)</h2>",
        html_table(["phase", "wall s", "CPU s"], time_rows, left=(0,)),
        f"<h2>Box plots</h2><img alt='box plots' src='data:image/png;base64,{_b64(box)}'>",
    ]
    if figs["fig11"] is not None:
        arm, cname, f0, f1, path = figs["fig11"]
        parts.append(
            f"<h2>First vs last generation of {html_text(arm)} (class {html_text(cname)}, seed 0)</h2>"
            f"<p>fitness {fixed(f0)} → {fixed(f1)}; "
            "top: best initial set, bottom: selected set</p>"
            f"<img alt='first vs last' src='data:image/png;base64,{_b64(path)}'>"
        )
    parts.append("<h2>Per-class images (seed 0)</h2>")
    for cname, labels, path in figs["grids"]:
        parts.append(
            f"<h3>{html_text(cname)}</h3><p>rows: {html_text(', '.join(labels))}</p>"
            f"<img alt='class {html_text(cname)}' src='data:image/png;base64,{_b64(path)}'>"
        )
    parts.append("</body></html>")
    html_path = out / "report.html"
    html_path.write_text("\n".join(parts), encoding="utf-8")
    written.append(html_path)
    return written


_SHIFT_TEXT = (
    "The classifiers of every arm, seed and fold scored on distribution-shifted copies of the test split "
    "(thin / thick: eroded / dilated strokes; translate: moved by a tenth of the side; low-contrast: contrast "
    "halved). Mean accuracy, and the paired difference against none and affine jitter in accuracy points with "
    "the Wilcoxon p Holm-adjusted over every comparison of this table, and A12."
)
_QUALITY_TEXT = (
    "Per class, the generator's samples: *class agreement* is the fraction a classifier trained on the "
    "originals assigns to the class; *Fréchet distance* is between samples and the class's held-out test images "
    "in that classifier's embedding (lower is closer)."
)


def _md_shift(headers: list[str], rows: list[list[str]], lines: list[str]) -> list[str]:
    if not rows:
        return []
    verdicts = [f"- {md_text(line)}" for line in lines]
    return ["## Under distribution shift", "", _SHIFT_TEXT, "", md_table(headers, rows), "", *verdicts, ""]


def _html_shift(headers: list[str], rows: list[list[str]], lines: list[str]) -> list[str]:
    if not rows:
        return []
    items = "".join(f"<li>{html_text(line)}</li>" for line in lines)
    return [
        "<h2>Under distribution shift</h2>",
        f"<p>{html_text(_SHIFT_TEXT.replace('*', ''))}</p>",
        html_table(headers, rows, left=(0, 1)),
        f"<ul>{items}</ul>",
    ]


def _md_quality(quality: tuple[list[str], list[list[str]]] | None) -> list[str]:
    if quality is None:
        return []
    return ["## Generator quality", "", _QUALITY_TEXT, "", md_table(*quality), ""]


def _html_quality(quality: tuple[list[str], list[list[str]]] | None) -> list[str]:
    if quality is None:
        return []
    return [
        "<h2>Generator quality</h2>",
        f"<p>{html_text(_QUALITY_TEXT.replace('*', ''))}</p>",
        html_table(*quality, left=(0, 1)),
    ]


def _verdict(comps: Sequence[ArmComparison]) -> str:
    """One sentence per arm from the numbers (no claims beyond them)."""
    parts = []
    for c in comps:
        if c.arm == "none" or math.isnan(c.diff):
            continue
        sig = "significant" if c.p_wilcoxon_holm < 0.05 else "not significant"
        direction = "better" if c.diff > 0 else ("worse" if c.diff < 0 else "equal")
        parts.append(
            f"{c.arm} {direction} than none by {c.diff * 100:+.2f} points "
            f"({sig}, Holm p {pvalue(c.p_wilcoxon_holm)}, A12 {c.a12:.2f})"
        )
    return "; ".join(parts) + "." if parts else "no arm to compare."
