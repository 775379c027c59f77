"""The leaderboard's quality-diversity sections: QD metrics ranked over seeds, archive heatmaps and elite grids.

Runs on a ``kind = "quality-diversity"`` problem carry QD metrics (:mod:`~latentbridge.bench.qd_runs`):
:func:`build_qd_board` ranks the optimizers of each such instance by QD-score, normalised QD-score,
coverage, best objective and the share of realistic elites (higher is better for all of them):
mean ranks over the replicates with the Friedman test (replicates as blocks), and pairwise
Mann–Whitney U tests over seeds, Holm-adjusted, from :mod:`latentbridge.stats`. With two or more QD
instances the optimizers are also ranked across them (Friedman on the per-instance median QD-score).
The reports show them as console tables (:func:`print_qd`), Markdown (:func:`qd_markdown`), HTML
(:func:`qd_html`: heatmaps and elite grids as embedded PNGs) and CSV (:func:`qd_csv`).
"""

from __future__ import annotations

import base64
import csv
import functools
import html
import io
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .. import stats
from ..campaign.render import csv_cell, html_table, md_table, md_text, number, pvalue, slug
from .qd_runs import QD_METRICS
from .store import RunRecord

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "QD_CSV_COLUMNS",
    "QDBoard",
    "QDInstance",
    "build_qd_board",
    "print_qd",
    "qd_csv",
    "qd_html",
    "qd_markdown",
    "write_qd_csv",
]

#: The metric optimizers are ordered by in each QD instance (and ranked by across instances).
PRIMARY = "qd_score"


@dataclass
class QDInstance:
    """One quality-diversity instance (problem, budget) and its optimizers' QD metrics over seeds.

    Attributes:
        label: The instance's name (as in the leaderboard).
        problem_id: The suite's problem id.
        budget: Evaluations per run.
        grid: The archive grid's config (dims, ranges, offset, measure names).
        runs: Runs per optimizer, in replicate order.
        values: ``values[metric][optimizer]``: the metric per run (NaN where a run has none).
        ranks: ``ranks[metric][optimizer]``: mean rank over replicates (1 = best).
        friedman: Friedman test per metric (replicates as blocks; NaN with a note when not applicable).
        pairwise: Pairwise Mann–Whitney U tests per metric (Holm-adjusted; "beats" = higher).
    """

    label: str
    problem_id: str
    budget: int
    grid: dict[str, Any]
    runs: dict[str, list[RunRecord]]
    values: dict[str, dict[str, NDArray[np.float64]]] = field(default_factory=dict)
    ranks: dict[str, dict[str, float]] = field(default_factory=dict)
    friedman: dict[str, stats.FriedmanResult] = field(default_factory=dict)
    pairwise: dict[str, list[stats.Comparison]] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        """The metrics some run of this instance has (realism only where a check exists)."""
        return [m for m in QD_METRICS if any(np.isfinite(v).any() for v in self.values.get(m, {}).values())]

    def order(self) -> list[str]:
        """Optimizers, best mean rank on QD-score first."""
        r = self.ranks.get(PRIMARY, {})
        return sorted(self.runs, key=lambda o: (r.get(o, np.inf), o))

    def median_run(self, optimizer: str) -> RunRecord:
        """The optimizer's run whose QD-score is the median (the lower middle one for an even count)."""
        runs = self.runs[optimizer]
        vals = self.values[PRIMARY][optimizer]
        order = np.argsort(np.where(np.isfinite(vals), vals, -np.inf), kind="stable")
        return runs[int(order[(len(order) - 1) // 2])]


@dataclass
class QDBoard:
    """The QD instances and, with two or more of them, the optimizers' ranking across them."""

    instances: list[QDInstance]
    across: list[tuple[str, float]] = field(default_factory=list)
    across_friedman: stats.FriedmanResult | None = None


def _metric(r: RunRecord, key: str) -> float:
    v = (r.qd_metrics or {}).get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) else float("nan")


def build_qd_board(runs: Sequence[RunRecord]) -> QDBoard:
    """The QD sections' data from finished runs (runs without QD metrics are left out)."""
    qd_runs = [r for r in runs if r.status == "finished" and r.qd_metrics]
    qd_runs.sort(key=lambda r: (r.suite, r.problem_id, r.budget, r.optimizer, r.replicate))
    suites = {r.suite for r in qd_runs}
    by_key: dict[tuple[str, str, int], list[RunRecord]] = {}
    for r in qd_runs:
        by_key.setdefault((r.suite, r.problem_id, r.budget), []).append(r)
    budgets: dict[tuple[str, str], int] = {}
    for suite, pid, _ in by_key:
        budgets[(suite, pid)] = budgets.get((suite, pid), 0) + 1
    instances = []
    for (suite, pid, budget), recs in by_key.items():
        label = pid if len(suites) == 1 else f"{suite}/{pid}"
        if budgets[(suite, pid)] > 1:
            label = f"{label}@{budget}"
        per: dict[str, list[RunRecord]] = {}
        for r in recs:
            per.setdefault(r.optimizer, []).append(r)
        grid = (recs[0].qd_metrics or {}).get("grid") or {}
        inst = QDInstance(label, pid, budget, grid if isinstance(grid, dict) else {}, per)
        _fill(inst)
        instances.append(inst)
    board = QDBoard(instances)
    common = sorted(set.intersection(*(set(i.runs) for i in instances))) if instances else []
    if len(instances) >= 2 and len(common) >= 2:
        med = np.array([[-np.nanmedian(i.values[PRIMARY][o]) for o in common] for i in instances])
        ranks = stats.mean_ranks(np.nan_to_num(med, nan=np.inf))
        board.across = sorted(zip(common, (float(x) for x in ranks), strict=True), key=lambda t: (t[1], t[0]))
        board.across_friedman = stats.friedman(np.nan_to_num(med, nan=np.inf))
    return board


def _fill(inst: QDInstance) -> None:
    names = sorted(inst.runs)
    reps = max(len(v) for v in inst.runs.values())
    for key in QD_METRICS:
        inst.values[key] = {o: np.array([_metric(r, key) for r in inst.runs[o]]) for o in names}
        if not any(np.isfinite(v).any() for v in inst.values[key].values()):
            continue
        # blocks = replicates; a missing run ranks last; negated so that rank 1 is the highest value
        block = np.full((reps, len(names)), np.inf)
        for j, o in enumerate(names):
            v = inst.values[key][o]
            block[: v.size, j] = np.where(np.isfinite(v), -v, np.inf)
        inst.ranks[key] = dict(zip(names, (float(x) for x in stats.mean_ranks(block)), strict=True))
        inst.friedman[key] = stats.friedman(block)
        samples = {o: -v[np.isfinite(v)] for o, v in inst.values[key].items() if np.isfinite(v).any()}
        inst.pairwise[key] = stats.pairwise_mannwhitney(samples) if reps > 1 else []


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def _cell(values: NDArray[np.float64], key: str) -> str:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return "–"
    if key in ("coverage", "realism_digit", "realism_discriminator"):
        text = f"{100 * np.mean(v):.2f} %"
        return text if v.size == 1 else f"{text} ± {100 * np.std(v, ddof=1):.2f}"
    text = number(float(np.mean(v)))
    return text if v.size == 1 else f"{text} ± {number(float(np.std(v, ddof=1)), 2)}"


def _headers(inst: QDInstance) -> list[str]:
    return ["rank", "optimizer", "runs", *(QD_METRICS[m] for m in inst.metrics)]


def _rows(inst: QDInstance) -> list[list[str]]:
    ranks = inst.ranks.get(PRIMARY, {})
    return [
        [number(ranks.get(o), 3), o, str(len(inst.runs[o])), *(_cell(inst.values[m][o], m) for m in inst.metrics)]
        for o in inst.order()
    ]


def _header(inst: QDInstance) -> str:
    g = inst.grid
    raw_dims, raw_names = g.get("dims"), g.get("names")  # from the store: shown only when they are lists
    dims = " x ".join(str(d) for d in raw_dims[:8]) if isinstance(raw_dims, list) and raw_dims else "?"
    names = ", ".join(str(n) for n in raw_names[:8]) if isinstance(raw_names, list) else ""
    return f"{inst.label} — quality-diversity, {dims} grid over ({names}), budget {inst.budget:,} evaluations"


_NOTE = (
    "Every run's evaluations (the first `budget`) fill an elitist archive of the problem's grid, whatever the "
    "optimizer; higher is better for every column (mean ± std over seeds; rank: mean rank on QD-score over "
    "replicates). Realistic: the classifier gives the intended digit p >= 0.5; the shipped discriminator scores "
    "the elite at least as real as 5 % of held-out real digits."
)


def _test_lines(inst: QDInstance) -> list[str]:
    lines = []
    for key in inst.metrics:
        f = inst.friedman.get(key)
        if f is None or not np.isfinite(f.pvalue):
            continue
        head = f"{QD_METRICS[key]}: Friedman over replicates p = {pvalue(f.pvalue)}"
        sig = [c for c in inst.pairwise.get(key, []) if c.significant()]
        if sig:
            head += "; Mann–Whitney (Holm) significant: " + "; ".join(
                f"{c.winner} > {c.b if c.winner == c.a else c.a}" for c in sig
            )
        lines.append(head)
    if not lines and inst.metrics:
        lines.append("the Friedman test over replicates needs at least 2 seeds and 3 optimizers")
    return lines


def print_qd(board: QDBoard, console: Console | None = None) -> None:
    """Print each QD instance's table and tests with rich (nothing when there is no QD run)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    for inst in board.instances:
        table = Table(title=escape(_header(inst)), title_justify="left")
        for h in _headers(inst):
            table.add_column(h, justify="left" if h == "optimizer" else "right", no_wrap=h == "optimizer")
        for row in _rows(inst):
            table.add_row(*(escape(c) for c in row))
        console.print(table)
        for line in _test_lines(inst):
            console.print(escape(f"  {line}"), highlight=False)
    if board.across:
        console.print(escape("QD across instances (mean rank of the median QD-score): ") + escape(_across(board)))


def _across(board: QDBoard) -> str:
    f = board.across_friedman
    text = ", ".join(f"{o} {number(r, 3)}" for o, r in board.across)
    if f is not None:
        text += f"; Friedman p = {pvalue(f.pvalue)}" if np.isfinite(f.pvalue) else f"; Friedman: {f.note}"
    return text


# --------------------------------------------------------------------------------------------
# pictures
# --------------------------------------------------------------------------------------------
def _archive(run: RunRecord) -> Any:
    from ..qd import archive_from_bytes

    if run.qd_archive is None:
        raise ValueError(f"run {run.run_key} has no stored archive")
    return archive_from_bytes(run.qd_archive)


def _heatmap_png(run: RunRecord, title: str, vmin: float | None, vmax: float | None) -> bytes:
    from ..qd import heatmap

    with tempfile.TemporaryDirectory() as tmp:
        out = heatmap(_archive(run), Path(tmp) / "h.png", title=title, vmin=vmin, vmax=vmax)
        return Path(out).read_bytes()


def _elites_png(run: RunRecord, rebuild: Callable[[dict[str, Any]], Any]) -> bytes:
    from ..qd import elite_grid

    problem = rebuild(run.problem_spec)
    with tempfile.TemporaryDirectory() as tmp:
        out = elite_grid(_archive(run), problem, Path(tmp) / "e.png", rows=6, cols=8, scale=2)
        return Path(out).read_bytes()


def _pictures(
    inst: QDInstance, rebuild: Callable[[dict[str, Any]], Any] | None
) -> list[tuple[str, str, bytes | None, str]]:
    """``(name, caption, png or None, why not)`` per optimizer: its median run's heatmap and elite grid."""
    out: list[tuple[str, str, bytes | None, str]] = []
    # one colour scale for the instance: from the QD-score offset to the best objective any run found
    offset = inst.grid.get("qd_offset")
    vmin = float(offset) if isinstance(offset, (int, float)) and np.isfinite(offset) else None
    best = np.concatenate([v for v in inst.values["best"].values()]) if inst.values.get("best") else np.empty(0)
    vmax = float(np.max(best[np.isfinite(best)])) if np.isfinite(best).any() else None
    if vmin is not None and vmax is not None and not vmax > vmin:
        vmin = vmax = None
    for o in inst.order():
        run = inst.median_run(o)
        m = run.qd_metrics or {}
        what = f"{o} on {inst.label} (seed {run.seed}, the median QD-score of its runs)"
        pics: list[tuple[str, str, Callable[[], bytes]]] = [
            (
                f"qd-heatmap-{slug(inst.label)}-{slug(o)}",
                f"Archive of {what}: cells coloured by the objective (one scale for the instance); "
                f"QD-score {number(m.get('qd_score'))}.",
                functools.partial(_heatmap_png, run, f"{o}: {inst.label}", vmin, vmax),
            )
        ]
        if rebuild is not None:
            pics.append(
                (
                    f"qd-elites-{slug(inst.label)}-{slug(o)}",
                    f"Elites of {what}, laid out by measure (first measure to the right, second upwards).",
                    functools.partial(_elites_png, run, rebuild),
                )
            )
        for name, caption, draw in pics:
            try:
                out.append((name, caption, draw(), ""))
            except Exception as exc:  # a missing generator or a damaged archive must not lose the report
                out.append((name, caption, None, f"{type(exc).__name__}: {exc}"))
    return out


# --------------------------------------------------------------------------------------------
# Markdown, HTML, CSV
# --------------------------------------------------------------------------------------------
def qd_markdown(
    board: QDBoard, fig_dir: Path | None = None, rebuild: Callable[[dict[str, Any]], Any] | None = None
) -> list[str]:
    """Markdown lines of the QD sections; with ``fig_dir``, heatmaps and elite grids as PNG files there."""
    from urllib.parse import quote

    if not board.instances:
        return []
    parts = ["## Quality-diversity", "", md_text(_NOTE), ""]
    if board.across:
        parts += [md_text(f"Across QD instances: {_across(board)}"), ""]
    for inst in board.instances:
        parts += [f"### {md_text(_header(inst))}", "", md_table(_headers(inst), _rows(inst)), ""]
        parts += [f"- {md_text(line)}" for line in _test_lines(inst)] + [""]
        if fig_dir is None:
            continue
        for name, caption, png, why in _pictures(inst, rebuild):
            if png is None:
                parts += [md_text(f"{caption} Unavailable: {why}"), ""]
                continue
            fig_dir.mkdir(parents=True, exist_ok=True)
            (fig_dir / f"{name}.png").write_bytes(png)
            link = f"![{md_text(caption)}]({quote(fig_dir.name)}/{quote(name)}.png)"
            parts += [link, "", f"*{md_text(caption)}*", ""]
    return parts


def qd_html(
    board: QDBoard, rebuild: Callable[[dict[str, Any]], Any] | None = None, *, images: bool = True
) -> list[str]:
    """HTML fragments of the QD sections (heatmaps always; elite grids with ``images`` and ``rebuild``)."""
    if not board.instances:
        return []
    out = ["<h2 id='quality-diversity'>Quality-diversity</h2>", f"<p class='note'>{html.escape(_NOTE)}</p>"]
    if board.across:
        out.append(f"<p>{html.escape('Across QD instances: ' + _across(board))}</p>")
    for inst in board.instances:
        out.append(f"<h3 id='qd-{html.escape(slug(inst.label))}'>{html.escape(_header(inst))}</h3>")
        out.append(html_table(_headers(inst), _rows(inst), left=(1,)))
        out += [f"<p>{html.escape(line)}</p>" for line in _test_lines(inst)]
        for name, caption, png, why in _pictures(inst, rebuild if images else None):
            if png is None:
                text = html.escape(f"{caption} Unavailable: {why}")
                out.append(f"<p class='note' id='{html.escape(name)}-missing'>{text}</p>")
                continue
            data = base64.b64encode(png).decode("ascii")
            out.append(
                f"<figure id='{html.escape(name)}'><img alt='{html.escape(caption)}' "
                f"src='data:image/png;base64,{data}'>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    return out


#: Columns of the QD CSV: one row per (instance, optimizer, metric).
QD_CSV_COLUMNS = (
    "instance",
    "problem",
    "budget",
    "optimizer",
    "metric",
    "runs",
    "mean",
    "std",
    "median",
    "rank",
    "friedman_p",
)


def qd_csv(board: QDBoard) -> str:
    """The QD metrics as CSV (:data:`QD_CSV_COLUMNS`; ``rank``: mean rank over replicates, 1 = best)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(QD_CSV_COLUMNS)
    for inst in board.instances:
        for o in inst.order():
            for key in inst.metrics:
                v = inst.values[key][o]
                v = v[np.isfinite(v)]
                f = inst.friedman.get(key)
                writer.writerow(
                    [
                        csv_cell(inst.label),
                        csv_cell(inst.problem_id),
                        inst.budget,
                        csv_cell(o),
                        key,
                        int(v.size),
                        repr(float(np.mean(v))) if v.size else "",
                        repr(float(np.std(v, ddof=1))) if v.size > 1 else "",
                        repr(float(np.median(v))) if v.size else "",
                        repr(inst.ranks.get(key, {}).get(o, float("nan"))),
                        repr(f.pvalue) if f is not None else "",
                    ]
                )
    return buf.getvalue()


def write_qd_csv(board: QDBoard, path: str | Path) -> Path | None:
    """Write :func:`qd_csv` as ``<stem>-qd.csv`` beside the leaderboard's CSV ``path`` (None: no QD run)."""
    if not board.instances:
        return None
    out = Path(path).with_name(Path(path).stem + "-qd.csv")
    out.write_text(qd_csv(board), encoding="utf-8")
    return out
