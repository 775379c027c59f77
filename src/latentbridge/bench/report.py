"""Leaderboard reports: a rich console table, Markdown, CSV and a self-contained HTML page with plots.

The HTML page embeds every figure as a base64 PNG (matplotlib, Agg backend):

- ``convergence-<instance>``: best-so-far over evaluations, median and IQR band per optimizer;
- ``ecdf``: per optimizer, the fraction of (instance, target, run) triples solved after a
  number of evaluations. Each instance has 10 targets spread linearly from the median
  first recorded score to the best final score any optimizer reached on it (plus its
  ``success`` threshold when the suite sets one), as in COCO's runtime ECDFs;
- ``grid-<instance>``: each optimizer's best solution (over seeds), rendered with
  ``problem.render(best_x)`` after rebuilding the problem from the stored spec, next to
  the target (target similarity) or the originals' mean image (centroid diversity).
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..campaign.render import csv_cell as _csv_text
from ..campaign.render import html_table as _html_table
from ..campaign.render import html_text as _html_text
from ..campaign.render import md_table as _md_table
from ..campaign.render import md_text as _md
from ..campaign.render import number as _fmt
from ..campaign.render import plot_text
from ..campaign.render import pvalue as _p
from ..campaign.render import slug as _slug
from .explain import what_fitness_measures
from .leaderboard import Group, Instance, Leaderboard
from .store import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

__all__ = [
    "ECDF_TARGETS",
    "best_so_far",
    "optimizer_color",
    "ecdf_curves",
    "print_leaderboard",
    "to_csv",
    "to_html",
    "to_markdown",
]

#: Targets per instance in the ECDF.
ECDF_TARGETS = 10


def _instance_header(inst: Instance) -> str:
    arrow = "↑" if inst.higher_is_better else "↓"
    return (
        f"{inst.label} — {inst.kind}, {inst.metric} {arrow}, budget {inst.budget:,} evaluations, "
        f"success: {'≥' if inst.higher_is_better else '≤'} {_fmt(inst.success_display)} ({inst.success_source})"
    )


_ROW_HEADERS = ("rank", "optimizer", "runs", "median", "mean ± std", "IQR", "best", "success", "evals", "time/run")


def _row_cells(inst: Instance) -> list[list[str]]:
    out = []
    for row in inst.rows:
        s = row.summary
        out.append(
            [
                _fmt(row.rank, 3),
                row.optimizer,
                str(s.n),
                _fmt(s.median),
                f"{_fmt(s.mean)} ± {_fmt(s.std, 2)}",
                _fmt(s.iqr, 3),
                _fmt(s.best),
                f"{100 * s.success_rate:.0f} %",
                f"{row.mean_evals:,.0f}" + (f" ({row.failed_evals:,} failed)" if row.failed_evals else ""),
                f"{row.mean_wall:.2f} s",
            ]
        )
    return out


_CONSOLE_HEADERS = ("rank", "optimizer", "runs", "median", "mean ± std", "IQR", "success", "time/run")
_GROUP_HEADERS = ("mean rank", "optimizer")


def _group_lines(group: Group) -> list[str]:
    f = group.friedman
    if f.n_instances < 2:
        return [
            f"{f.n_instances} instance: the across-instance tests (Friedman, Wilcoxon on medians) need at least "
            "two instances; see the per-instance table above for this instance's tests"
        ]
    lines = [
        f"Friedman χ² = {_fmt(f.statistic)}, p = {_p(f.pvalue)} ({f.n_instances} instances × {f.n_optimizers} "
        f"optimizers){'; ' + f.note if f.note else ''}"
    ]
    sig = [c for c in group.pairwise if c.significant()]
    if sig:
        for c in sig:
            lines.append(
                f"{c.winner} better than {c.b if c.winner == c.a else c.a}: Wilcoxon p_Holm = {_p(c.p_holm)}, "
                f"A12 = {_fmt(max(c.a12, 1 - c.a12), 3)}"
            )
    else:
        lines.append("no pairwise difference significant at α = 0.05 after Holm correction (Wilcoxon on medians)")
    return lines


def print_leaderboard(board: Leaderboard, console: Console | None = None) -> None:
    """Print per-instance tables and across-instance rankings with rich."""
    from rich.console import Console
    from rich.table import Table

    from ..campaign.render import console_text as escape

    # every name comes from a suite or a store: printed as text, never as rich markup or escape sequences
    console = console or Console()
    if not board.instances:
        console.print("[yellow]no finished runs[/yellow]")
        return
    for inst in board.instances:
        table = Table(title=escape(_instance_header(inst)), title_justify="left")
        for h in _CONSOLE_HEADERS:
            table.add_column(
                h, justify="left" if h == "optimizer" else "right", no_wrap=h == "optimizer", min_width=len(h)
            )
        for cells in _row_cells(inst):
            table.add_row(*(escape(cells[_ROW_HEADERS.index(h)]) for h in _CONSOLE_HEADERS))
        console.print(table)
        console.print(escape(f"  {what_fitness_measures(inst)}"), highlight=False)
        sig = [c for c in inst.pairwise if c.significant()]
        if sig:
            console.print(
                escape(
                    "  significant (Mann–Whitney, Holm): "
                    + "; ".join(
                        f"{c.winner} beats {c.b if c.winner == c.a else c.a} (A12 {_fmt(max(c.a12, 1 - c.a12), 2)})"
                        for c in sig
                    )
                )
            )
    for group in board.groups:
        table = Table(title=escape(f"Across instances — {group.name}"), title_justify="left")
        table.add_column("mean rank", justify="right")
        table.add_column("optimizer", no_wrap=True)  # a name a user types: never cut or wrapped
        for name, rank in group.ranking():
            table.add_row(_fmt(rank, 3), escape(name))
        console.print(table)
        for line in _group_lines(group):
            console.print(escape(f"  {line}"))


# --------------------------------------------------------------------------------------------
# Markdown and CSV
# --------------------------------------------------------------------------------------------
def _pairwise_rows(comparisons: Sequence[Any]) -> list[list[str]]:
    return [
        [c.a, c.b, _fmt(c.statistic), _p(c.pvalue), _p(c.p_holm), _fmt(c.a12, 3), "yes" if c.significant() else ""]
        for c in comparisons
    ]


_PAIR_HEADERS = ("A", "B", "statistic", "p", "p (Holm)", "A12 = P(A beats B)", "significant")


def to_markdown(
    board: Leaderboard,
    path: str | Path | None = None,
    *,
    images: bool = True,
    rebuild: Callable[[dict[str, Any]], Any] | None = None,
) -> str:
    """The leaderboard as Markdown: the across-instance rankings first, then per-instance tables.

    Args:
        board: The leaderboard.
        path: Where to write it (also returned). With a path, the figures of the HTML report
            (runtime ECDF, convergence per instance, and with ``images`` the best solutions'
            image grids) are written as PNG files into ``<stem>-images/`` beside it and linked
            by relative paths, so the folder and the ``.md`` file travel together.
        images: Draw image grids (needs the generators that made the runs; a grid that cannot
            be drawn is replaced by a note).
        rebuild: Builds a problem from a stored spec (default
            :func:`latentbridge.bench.runner.rebuild_problem`); used for image grids.
    """
    fig_dir = Path(path).with_name(Path(path).stem + "-images") if path is not None else None
    colors = _colors(sorted({n for inst in board.instances for n in inst.runs}))

    def figure(name: str, fig: Figure, caption: str) -> list[str]:
        from urllib.parse import quote

        assert fig_dir is not None
        fig_dir.mkdir(parents=True, exist_ok=True)
        fig.savefig(fig_dir / f"{name}.png", format="png")
        return [f"![{_md(caption)}]({quote(fig_dir.name)}/{quote(name)}.png)", "", f"*{_md(caption)}*", ""]

    if fig_dir is not None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        if rebuild is None:
            from .runner import rebuild_problem

            rebuild = rebuild_problem
    parts = ["# Leaderboard", ""]
    if board.groups:
        parts += ["Summary: each group ranks the optimizers that ran on all of its instances by their mean rank.", ""]
    for group in board.groups:
        parts += [f"## Across instances — {_md(group.name)}", ""]
        parts += [_md_table(_GROUP_HEADERS, [[_fmt(r, 3), n] for n, r in group.ranking()]), ""]
        parts += [f"- {_md(line)}" for line in _group_lines(group)] + [""]
        parts += ["Pairwise Wilcoxon signed-rank on per-instance medians (Holm-adjusted; A12 averaged):", ""]
        parts += [_md_table(_PAIR_HEADERS, _pairwise_rows(group.pairwise)), ""]
    if board.instances and fig_dir is not None:
        parts += ["## Anytime performance", ""]
        parts += figure("ecdf", ecdf_figure(board, colors), ECDF_CAPTION)
    for inst in board.instances:
        slug = _slug(inst.label)
        parts += [f"## {_md(_instance_header(inst))}", "", _md(what_fitness_measures(inst)), ""]
        parts += [_md_table(_ROW_HEADERS, _row_cells(inst)), ""]
        if inst.pairwise:
            parts += ["Pairwise Mann–Whitney U over seeds (Holm-adjusted within the instance):", ""]
            parts += [_md_table(_PAIR_HEADERS, _pairwise_rows(inst.pairwise)), ""]
        if fig_dir is None:
            continue
        parts += figure(f"convergence-{slug}", convergence_figure(inst, colors), _convergence_caption(inst))
        if images and rebuild is not None:
            try:
                grid = grid_figure(inst, rebuild, colors)
            except Exception as exc:  # a missing generator must not lose the rest of the report
                parts += [_md(f"Image grid unavailable: {type(exc).__name__}: {exc}"), ""]
            else:
                caption = f"Best solution per optimizer on {inst.label}. {GRID_CAPTION}"
                parts += figure(f"grid-{slug}", grid, caption)
    parts += seed_markdown(board)
    text = "\n".join(parts)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


CSV_COLUMNS = (
    "level",
    "instance",
    "problem",
    "kind",
    "n_obj",
    "metric",
    "budget",
    "optimizer",
    "runs",
    "rank",
    "median",
    "mean",
    "std",
    "q25",
    "q75",
    "iqr",
    "best",
    "success_rate",
    "success_threshold",
    "mean_evals",
    "failed_evals",
    "mean_wall_time",
    "group",
    "group_mean_rank",
    "group_instances",
)


def _csv_rows(board: Leaderboard) -> list[dict[str, Any]]:
    """``level = "instance"`` rows (one per instance and optimizer), then ``level = "group"`` rows
    (one per across-instances group and optimizer, in ranking order).

    An instance row's ``group``/``group_mean_rank`` are those of the first group (in report order)
    that holds both its instance and its optimizer, so every optimizer that is ranked anywhere
    (e.g. ``set-ga`` and ``map-elites``, ranked only on the set problems) has one.
    """
    ranks = [(g, dict(g.ranking())) for g in board.groups]
    rows: list[dict[str, Any]] = []
    for inst in board.instances:
        for row in inst.rows:
            s = row.summary
            home = next(((g, r) for g, r in ranks if inst.label in g.instances and row.optimizer in r), None)
            rows.append(
                {
                    "level": "instance",
                    "instance": inst.label,
                    "problem": inst.problem_id,
                    "kind": inst.kind,
                    "n_obj": inst.n_obj,
                    "metric": inst.metric,
                    "budget": inst.budget,
                    "optimizer": row.optimizer,
                    "runs": s.n,
                    "rank": row.rank,
                    "median": s.median,
                    "mean": s.mean,
                    "std": s.std,
                    "q25": s.q25,
                    "q75": s.q75,
                    "iqr": s.iqr,
                    "best": s.best,
                    "success_rate": s.success_rate,
                    "success_threshold": inst.success_display,
                    "mean_evals": row.mean_evals,
                    "failed_evals": row.failed_evals,
                    "mean_wall_time": row.mean_wall,
                    "group": home[0].name if home else "",
                    "group_mean_rank": home[1][row.optimizer] if home else "",
                    "group_instances": ";".join(home[0].instances) if home else "",
                }
            )
    for group, rank in ranks:
        for name, r in rank.items():
            rows.append(
                {
                    **dict.fromkeys(CSV_COLUMNS, ""),
                    "level": "group",
                    "optimizer": name,
                    "rank": r,
                    "group": group.name,
                    "group_mean_rank": r,
                    "group_instances": ";".join(group.instances),
                }
            )
    return rows


def to_csv(board: Leaderboard, path: str | Path | None = None) -> str:
    """The leaderboard as CSV; written to ``path`` if given, always returned.

    Columns :data:`CSV_COLUMNS`. ``level = "instance"`` rows: one per (instance, optimizer) with
    its statistics; ``level = "group"`` rows: one per (across-instances group, optimizer) with the
    optimizer's mean rank in that group (``rank`` and ``group_mean_rank``) and the group's instances
    (``group_instances``, ``;``-separated), so every group's ranking is in the file.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _csv_rows(board):
        writer.writerow({k: (repr(v) if isinstance(v, float) else _csv_text(v)) for k, v in row.items()})
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
        write_seed_csv(board, path)
    return text


# --------------------------------------------------------------------------------------------
# anytime data
# --------------------------------------------------------------------------------------------
def best_so_far(run: RunRecord, grid: NDArray[np.float64]) -> NDArray[np.float64]:
    """The run's best-so-far score at each evaluation count of ``grid`` (NaN before its first record)."""
    e, b = run.trace_evals, run.trace_best
    out = np.full(grid.shape, np.nan)
    if e.size == 0:
        return out
    idx = np.searchsorted(e, grid, side="right") - 1
    ok = idx >= 0
    out[ok] = b[idx[ok]]
    return out


def _grid(budget: int, n: int = 60) -> NDArray[np.float64]:
    return np.unique(np.round(np.geomspace(1, max(2, budget), n)))


def _targets(inst: Instance) -> NDArray[np.float64]:
    runs = [r for rs in inst.runs.values() for r in rs]
    firsts = [r.trace_best[0] for r in runs if r.trace_best.size]
    best = min(r.best for r in runs)
    start = float(np.median(firsts)) if firsts else best
    targets = start + (best - start) * np.linspace(0.1, 1.0, ECDF_TARGETS)
    if inst.success_source == "suite":
        targets = np.append(targets, inst.success_score)
    return np.asarray(targets, dtype=np.float64)


def ecdf_curves(board: Leaderboard) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Runtime ECDFs over the *relative* budget fraction ``[0, 1]`` (instances may differ in budget).

    Returns:
        ``(fractions, {optimizer: proportion of (instance, target, run) triples solved})``.
    """
    frac = np.unique(np.concatenate([np.geomspace(1e-3, 1.0, 80), [1.0]]))
    hits: dict[str, list[NDArray[np.float64]]] = {}
    for inst in board.instances:
        targets = _targets(inst)
        grid = np.maximum(1.0, np.round(frac * inst.budget))
        for name, runs in inst.runs.items():
            for run in runs:
                curve = best_so_far(run, grid)
                solved = np.nan_to_num(curve, nan=np.inf)[None, :] <= targets[:, None]
                hits.setdefault(name, []).append(solved.astype(np.float64))
    return frac, {k: np.mean(np.concatenate(v, axis=0), axis=0) for k, v in sorted(hits.items())}


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


#: Optimizers with a reserved palette slot (the suites' usual line-up), so their colour never changes.
_KNOWN_COLORS = (
    "random",
    "paper-ga",
    "ng:CMA",
    "ng:TwoPointsDE",
    "pymoo:DE",
    "set-ga",
    "map-elites",
    "pymoo:NSGA2",
    "ng:NGOpt",
    "pymoo:GA",
)


def _palette() -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    tab10, tab20 = colormaps["tab10"], colormaps["tab20"]
    return [tab10(i) for i in range(10)] + [tab20(2 * i + 1) for i in range(10)]


def optimizer_color(name: str) -> str:
    """The optimizer's colour (a hex string), the same in every plot and every report.

    Well-known optimizers (``random``, ``paper-ga``, ``ng:CMA``, ...) have a reserved slot; any
    other name gets the slot its CRC-32 picks among the rest (a report that holds two names with
    the same slot moves the second one, by name, to the next free slot).
    """
    import zlib

    from matplotlib.colors import to_hex

    palette = _palette()
    if name in _KNOWN_COLORS:
        return str(to_hex(palette[_KNOWN_COLORS.index(name)]))
    start = len(_KNOWN_COLORS) + zlib.crc32(name.encode("utf-8")) % (len(palette) - len(_KNOWN_COLORS))
    return str(to_hex(palette[start]))


def _colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per optimizer, fixed by its name (:func:`optimizer_color`); distinct within ``names``."""
    from matplotlib.colors import to_hex

    palette = [str(to_hex(c)) for c in _palette()]
    out: dict[str, str] = {}
    used: set[str] = set()
    for n in sorted(names, key=lambda n: (n not in _KNOWN_COLORS, n)):
        c = optimizer_color(n)
        if c in used:  # two unknown names share a slot: the later one (by name) takes the next free slot
            free = [p for p in palette[len(_KNOWN_COLORS) :] + palette if p not in used]
            c = free[0] if free else c
        used.add(c)
        out[n] = c
    return out


#: Plot size in inches at 100 dpi: the HTML page's width (1100 px less margins).
PLOT_SIZE = (10.5, 4.4)


def _plain_log_x(ax: Any) -> None:
    """A log x axis labelled with plain numbers (``50, 100, 200``; ``0.001, 0.01``), not ``2×10²``."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.12g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _plain_y(ax: Any) -> None:
    """Plain y tick labels: no offset (``+1e3``) or scientific multiplier above the axis."""
    from matplotlib.ticker import ScalarFormatter

    fmt = ScalarFormatter(useOffset=False)
    fmt.set_scientific(False)
    ax.yaxis.set_major_formatter(fmt)


def convergence_figure(inst: Instance, colors: dict[str, Any]) -> Figure:
    """Median best-so-far with IQR band per optimizer on one instance."""
    fig = _figure(*PLOT_SIZE)
    ax = fig.add_subplot()
    grid = _grid(inst.budget)
    for name in _in_rank_order(inst):  # the legend reads in the tables' order
        curves = np.asarray([best_so_far(r, grid) for r in inst.runs[name]])
        curves = np.asarray([[inst.display(v) for v in c] for c in curves])
        with np.errstate(all="ignore"):
            valid = np.sum(~np.isnan(curves), axis=0) > 0
            if not np.any(valid):
                continue
            q = np.nanpercentile(curves[:, valid], [25, 50, 75], axis=0)
        ax.plot(grid[valid], q[1], label=plot_text(name), color=colors[name], drawstyle="steps-post")
        ax.fill_between(grid[valid], q[0], q[2], color=colors[name], alpha=0.2, step="post")
    _plain_log_x(ax)
    _plain_y(ax)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(inst.metric + (" (higher is better)" if inst.higher_is_better else " (lower is better)"))
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def _in_rank_order(inst: Instance) -> list[str]:
    """The instance's optimizers as its table lists them (best rank first), then any without a row."""
    ranked = [row.optimizer for row in inst.rows]
    return ranked + sorted(set(inst.runs) - set(ranked))


def ecdf_figure(board: Leaderboard, colors: dict[str, Any]) -> Figure:
    """Runtime ECDF of (instance, target) pairs solved, per optimizer (legend in the first ranking's order)."""
    fig = _figure(*PLOT_SIZE)
    ax = fig.add_subplot()
    frac, curves = ecdf_curves(board)
    ranked = [n for n, _ in board.groups[0].ranking()] if board.groups else []
    order = [n for n in ranked if n in curves] + sorted(set(curves) - set(ranked))
    for name in order:
        y = curves[name]
        ax.plot(frac, y, label=plot_text(name), color=colors[name], drawstyle="steps-post")
    _plain_log_x(ax)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("evaluations / budget")
    ax.set_ylabel("fraction solved")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def _to_display(img: Any) -> NDArray[np.float64]:
    arr = np.asarray(img, dtype=np.float64)  # (C, H, W) in [-1, 1]
    arr = np.clip((arr + 1.0) / 2.0, 0.0, 1.0)
    return arr[0] if arr.shape[0] == 1 else np.transpose(arr[:3], (1, 2, 0))


GRID_CAPTION = (
    "Optimizers in the instance's rank order (by the median over seeds, as in the table), after the "
    "reference image; each shows the solution of its best run, labelled with the best run's value "
    "and the median."
)


def grid_figure(
    inst: Instance, rebuild: Callable[[dict[str, Any]], Any], colors: dict[str, Any] | None = None
) -> Figure:
    """Each optimizer's best solution (over seeds) next to the target, as one image grid.

    Rows follow the instance's ranking (median over seeds); each is labelled
    ``"<rank>. <optimizer>: best <value of the best run> (median <median>)"``.
    """
    from .problems import target_images

    first = next(iter(inst.runs.values()))[0]
    problem = rebuild(first.problem_spec)
    reference = target_images(problem)
    panels: list[tuple[str, list[Any], Any]] = []
    if reference is not None:
        title = "target" if getattr(problem, "targets", None) is not None else "originals' mean"
        panels.append((title, list(reference), "black"))
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a few tiny forwards: extra threads only contend for busy cores
    try:
        for row in inst.rows:
            name = row.optimizer
            best = min(inst.runs[name], key=lambda r: r.best)
            if best.best_x is None:
                continue
            images = problem.render(best.best_x.astype(np.float32))
            label = (
                f"{_fmt(row.rank, 3)}. {name}: best {_fmt(inst.display(best.best))} (median {_fmt(row.summary.median)})"
            )
            panels.append((label, list(images), (colors or {}).get(name, "black")))
    finally:
        torch.set_num_threads(threads)
    ncol = max(len(p[1]) for p in panels)
    if ncol == 1:  # one image per solution: a single row, titles on top
        fig = _figure(1.9 * len(panels) + 0.4, 2.8)
        axes_row = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (title, imgs, color) in zip(axes_row, panels, strict=True):
            disp = _to_display(imgs[0])
            ax.imshow(disp, cmap="gray" if disp.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            title = plot_text(title).replace(": ", "\n", 1).replace(" (", "\n(")
            ax.set_title(title, fontsize="small", color=color)
        return fig
    fig = _figure(max(6.0, 1.3 * ncol + 0.4), 1.6 * len(panels))
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    h, w = _to_display(panels[0][1][0]).shape[:2]
    pad = 2
    full = ncol * w + (ncol - 1) * pad
    for ax, (title, imgs, color) in zip(axes, panels, strict=True):
        mosaic = _mosaic([_to_display(im) for im in imgs], len(imgs), pad)  # one image per row: fast to draw
        ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0, vmax=1, aspect="equal")
        ax.set_xlim(-0.5, full - 0.5)  # a row of fewer images (the target) keeps the scale, left-aligned
        ax.set_ylim(h - 0.5, -0.5)
        ax.axis("off")
        ax.set_title(plot_text(title), loc="left", fontsize="medium", color=color)
    return fig


def _mosaic(images: Sequence[NDArray[np.float64]], ncol: int, pad: int = 2) -> NDArray[np.float64]:
    """Images side by side with ``pad`` white pixels between them, padded to ``ncol`` slots."""
    h, w = images[0].shape[:2]
    shape = (h, ncol * w + (ncol - 1) * pad, *images[0].shape[2:])
    out = np.ones(shape, dtype=np.float64)
    for i, im in enumerate(images[:ncol]):
        out[:, i * (w + pad) : i * (w + pad) + w] = im
    return out


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td.l,th.l{text-align:left}th{background:#f3f3f3}figure{margin:1em 0}img{max-width:100%;height:auto}
figcaption{color:#444;font-size:.95em;margin-top:.3em}
.note{color:#666;font-size:.9em}.sig{font-weight:bold}
"""


ECDF_CAPTION = (
    f"Runtime ECDF over all instances: per optimizer, the fraction of (instance, target, run) triples "
    f"solved against the fraction of the budget used ({ECDF_TARGETS} targets per instance)."
)


def _convergence_caption(inst: Instance) -> str:
    n = max((len(r) for r in inst.runs.values()), default=0)
    return (
        f"Convergence on {inst.label}: best-so-far {inst.metric} against evaluations, median (line) and "
        f"interquartile range (band) over {n} seed{'s' if n != 1 else ''}."
    )


def _img(fig_id: str, fig: Figure, alt: str) -> str:
    return (
        f"<figure id='{_html_text(fig_id)}'><img alt='{_html_text(alt)}' "
        f"src='data:image/png;base64,{_png(fig)}'><figcaption>{_html_text(alt)}</figcaption></figure>"
    )


def to_html(
    board: Leaderboard,
    path: str | Path | None = None,
    *,
    title: str = "latentbridge leaderboard",
    rebuild: Callable[[dict[str, Any]], Any] | None = None,
    images: bool = True,
) -> str:
    """A self-contained HTML report (tables, convergence curves, ECDF, image grids as base64 PNG).

    Args:
        board: The leaderboard.
        path: Where to write it (also returned).
        title: Page title.
        rebuild: Builds a problem from a stored spec (default
            :func:`latentbridge.bench.runner.rebuild_problem`); used for image grids.
        images: Draw image grids (needs the generators that made the runs).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    if rebuild is None:
        from .runner import rebuild_problem

        rebuild = rebuild_problem
    names = sorted({n for inst in board.instances for n in inst.runs})
    colors = _colors(names)
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_html_text(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_html_text(title)}</h1>",
    ]
    if board.runs:
        versions = board.runs[0].versions
        hosts = sorted({r.host for r in board.runs})
        out.append(
            "<p class='note'>"
            + _html_text(
                f"{len(board.runs)} runs; suites: {', '.join(sorted({r.suite for r in board.runs}))}; hosts: "
                f"{', '.join(hosts)}; versions: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}"
            )
            + "</p>"
        )
    for group in board.groups:
        out.append(f"<h2>Across instances — {_html_text(group.name)}</h2>")
        out.append(_html_table(_GROUP_HEADERS, [[_fmt(r, 3), n] for n, r in group.ranking()], colors=colors))
        out += [f"<p>{_html_text(line)}</p>" for line in _group_lines(group)]
        out.append("<details><summary>pairwise Wilcoxon tests</summary>")
        out.append(_html_table(_PAIR_HEADERS, _pairwise_rows(group.pairwise), left=(0, 1)))
        out.append("</details>")
    if board.instances:
        out.append("<h2>Anytime performance</h2>")
        out.append(_img("ecdf", ecdf_figure(board, colors), ECDF_CAPTION))
    for inst in board.instances:
        slug = _slug(inst.label)
        out.append(f"<h2 id='instance-{_html_text(slug)}'>{_html_text(_instance_header(inst))}</h2>")
        out.append(f"<p class='measures'>{_html_text(what_fitness_measures(inst))}</p>")
        out.append(_html_table(_ROW_HEADERS, _row_cells(inst), colors=colors))
        if inst.pairwise:
            out.append("<details><summary>pairwise Mann–Whitney U tests over seeds</summary>")
            out.append(_html_table(_PAIR_HEADERS, _pairwise_rows(inst.pairwise), left=(0, 1)))
            out.append("</details>")
        out.append(_img(f"convergence-{slug}", convergence_figure(inst, colors), _convergence_caption(inst)))
        if images:
            try:
                fig = grid_figure(inst, rebuild, colors)
            except Exception as exc:  # a missing generator must not lose the rest of the report
                out.append(
                    f"<p class='note' id='grid-{_html_text(slug)}-missing'>image grid unavailable: "
                    f"{_html_text(f'{type(exc).__name__}: {exc}')}</p>"
                )
            else:
                out.append(_img(f"grid-{slug}", fig, f"Best solution per optimizer on {inst.label}. {GRID_CAPTION}"))
    out += seed_html(board, rebuild if images else None)
    out.append("</body></html>")
    text = "\n".join(out)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


# --------------------------------------------------------------------------------------------
# the seeds' tables (latentbridge.bench.tables): Table I-III, Fig. 5 and 7, seed 002's sets
# --------------------------------------------------------------------------------------------
DELTA_FORMULA = "Δ = (d(target, baseline) − d(target, best)) / d(target, baseline)"

_T1_HEADERS = (
    "instance",
    "type",
    "optimizer",
    "runs",
    "distance min",
    "distance mean ± std",
    "time min",
    "time mean ± std",
)
_T2_HEADERS = ("instance", "optimizer", "target vs. best generated", "target vs. baseline", "Δ", "baseline image")
_T3_HEADERS = ("instance", "optimizer", "solutions", "min", "max", "mean ± std")
_SET_HEADERS = (
    "instance",
    "metric",
    "k",
    "budget",
    "optimizer",
    "runs",
    "fitness mean ± std",
    "diversity mean ± std",
    "diversity best",
    "distinct classes",
)


def _seed_default_rebuild() -> Callable[[dict[str, Any]], Any]:
    from .runner import rebuild_problem

    return rebuild_problem


def _seed_compute(board: Leaderboard, rebuild: Callable[[dict[str, Any]], Any] | None) -> Any:
    from . import tables

    if rebuild is None:  # no problem rebuilding: the tables that need no images only
        out = tables.SeedTables(table_one=tables.table_one(board.instances), curves=tables.run_curves(board.instances))
        return out
    return tables.seed_tables(board.instances, rebuild)


def _pm(mean: float, std: float, digits: int = 3) -> str:
    return f"{_fmt(mean, digits)} ± {_fmt(std, 2)}"


def _seed_rows(tabs: Any) -> dict[str, tuple[Sequence[str], list[list[str]]]]:
    out: dict[str, tuple[Sequence[str], list[list[str]]]] = {}
    if tabs.table_one:
        out["t1"] = (
            _T1_HEADERS,
            [
                [
                    r.instance,
                    r.type,
                    r.optimizer,
                    str(r.runs),
                    _fmt(r.best_min, 3),
                    _pm(r.best_mean, r.best_std),
                    f"{r.time_min:.2f} s",
                    f"{r.time_mean:.2f} ± {r.time_std:.2f} s",
                ]
                for r in tabs.table_one
            ],
        )
    if tabs.table_two:
        out["t2"] = (
            _T2_HEADERS,
            [
                [
                    r.instance,
                    r.optimizer,
                    _fmt(r.fake, 3),
                    _fmt(r.baseline, 3),
                    f"{100 * r.delta:.1f} %",
                    r.baseline_source,
                ]
                for r in tabs.table_two
            ],
        )
    if tabs.table_three:
        out["t3"] = (
            _T3_HEADERS,
            [
                [r.instance, r.optimizer, str(r.solutions), _fmt(r.min, 3), _fmt(r.max, 3), _pm(r.mean, r.std)]
                for r in tabs.table_three
            ],
        )
    if tabs.set_diversity:
        out["set"] = (
            _SET_HEADERS,
            [
                [
                    r.instance,
                    r.metric,
                    str(r.k),
                    f"{r.budget:,}",
                    r.optimizer,
                    str(r.runs),
                    _pm(r.fitness_mean, r.fitness_std, 4),
                    _pm(r.diversity_mean, r.diversity_std, 4),
                    _fmt(r.diversity_best, 4),
                    "–" if math.isnan(r.classes_mean) else f"{100 * r.classes_mean:.0f} ± {100 * r.classes_std:.0f} %",
                ]
                for r in tabs.set_diversity
            ],
        )
    return out


_SEED_TEXT = {
    "t1": (
        "Seed 000, Table I: best distance and time per run",
        "Per target-similarity instance and optimizer, over the independent runs: the best distance "
        "(lower is better) and the wall time of one run. Type G: the target is an image of the generator "
        "itself; W: a real image.",
    ),
    "t2": (
        "Seed 000, Table II: deceiving the scorer",
        "Distance between the target and the best generated image (over all runs) next to the distance between "
        f"the target and another real image of the same identity/class (the problem's baseline); {DELTA_FORMULA}, "
        "positive when the generated image is closer than the real one.",
    ),
    "t3": (
        "Seed 000, Table III: diversity of the solutions",
        "Scorer distances between the best solutions of the independent runs (the first "
        "ten runs by replicate), over all pairs.",
    ),
    "set": (
        "Seed 002: diversity of sets",
        "Best set of each run. Fitness: the stored mean pairwise similarity (NCC, or −RMSE); "
        "diversity: the mean pairwise distance (RMSE, or 1 − NCC); distinct classes: the fraction of "
        "distinct digit classes among the set's k images, as labelled by the embedded digit CNN "
        "(a classifier's label; only for the mnist-dcgan generator). Image grids of the best sets are "
        "in the instance sections.",
    ),
}


def _split_set_rows(rows: list[list[str]]) -> list[tuple[str, list[list[str]]]]:
    groups: dict[str, list[list[str]]] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    return list(groups.items())


def _set_caption(rows: list[list[str]]) -> str:
    inst, metric, k, budget = rows[0][:4]
    return f"{inst}: {metric}, sets of k = {k} images, {budget} evaluated sets per run"


def seed_markdown(board: Leaderboard) -> list[str]:
    """Markdown lines of the seed tables (none when no instance carries what they need)."""
    tabs = _seed_compute(board, _seed_default_rebuild())
    parts: list[str] = []
    for key, (headers, rows) in _seed_rows(tabs).items():
        title, note = _SEED_TEXT[key]
        parts += [f"## {title}", "", note, ""]
        if key == "set":  # one table per metric (set problem)
            for _inst, part in _split_set_rows(rows):
                parts += [f"### {_md(_set_caption(part))}", "", _md_table(headers, part), ""]
        else:
            parts += [_md_table(headers, rows), ""]
    if tabs.notes:
        parts += ["Seed tables not computed:", ""] + [f"- {_md(n)}" for n in tabs.notes] + [""]
    return parts


def seed_csv_rows(board: Leaderboard, rebuild: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
    """The seed tables in long form: one row per (table, instance, optimizer, statistic)."""
    tabs = _seed_compute(board, rebuild if rebuild is not None else _seed_default_rebuild())
    rows: list[dict[str, Any]] = []

    def add(table: str, rec: Any, stats_: Sequence[str]) -> None:
        for st in stats_:
            rows.append(
                {
                    "table": table,
                    "instance": rec.instance,
                    "optimizer": rec.optimizer,
                    "statistic": st,
                    "value": getattr(rec, st),
                }
            )

    for r in tabs.table_one:
        add("table1", r, ("runs", "best_min", "best_mean", "best_std", "time_min", "time_mean", "time_std"))
    for r in tabs.table_two:
        add("table2", r, ("fake", "baseline", "delta"))
    for r in tabs.table_three:
        add("table3", r, ("solutions", "min", "max", "mean", "std"))
    for r in tabs.set_diversity:
        add(
            "set-diversity",
            r,
            (
                "k",
                "budget",
                "runs",
                "fitness_mean",
                "fitness_std",
                "diversity_mean",
                "diversity_std",
                "diversity_best",
                "classes_mean",
                "classes_std",
            ),
        )
    return rows


SEED_CSV_COLUMNS = ("table", "instance", "optimizer", "statistic", "value")


def written_beside(board: Leaderboard, *, md: str | Path | None = None, csv: str | Path | None = None) -> list[Path]:
    """What :func:`to_markdown` (``md``) and :func:`to_csv` (``csv``) write beside the files they are given:
    the figures folder ``<stem>-images/`` and the seed tables ``<stem>.seed-tables.csv`` (when the board has any)."""
    out = []
    if md is not None:
        out.append(Path(md).with_name(Path(md).stem + "-images"))
    if csv is not None and seed_csv_rows(board):
        out.append(Path(csv).with_suffix(".seed-tables.csv"))
    return out


def write_seed_csv(board: Leaderboard, path: str | Path) -> Path | None:
    """Write the seed tables next to a leaderboard CSV (``x.csv`` → ``x.seed-tables.csv``), if any."""
    rows = seed_csv_rows(board)
    if not rows:
        return None
    target = Path(path).with_suffix(".seed-tables.csv")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SEED_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else _csv_text(v)) for k, v in row.items()})
    target.write_text(buf.getvalue(), encoding="utf-8")
    return target


def heatmap_figure(row: Any) -> Figure:
    """Fig. 7: the pairwise distance matrix of one (instance, optimizer)'s best solutions."""
    fig = _figure(4.6, 3.9)
    ax = fig.add_subplot()
    n = row.matrix.shape[0]
    im = ax.imshow(row.matrix, cmap="viridis")
    ax.set_xticks(range(n), [str(i + 1) for i in range(n)])
    ax.set_yticks(range(n), [str(i + 1) for i in range(n)])
    ax.set_xlabel("solution (run)")
    ax.set_ylabel("solution (run)")
    fig.colorbar(im, ax=ax, label="scorer distance")
    return fig


def run_curves_figure(curves: Any) -> Figure:
    """Fig. 5: best distance against generations for up to ten runs of one optimizer."""
    fig = _figure(*PLOT_SIZE)
    ax = fig.add_subplot()
    for i, (x, y) in enumerate(curves.curves):
        ax.plot(x, y, drawstyle="steps-post", label=f"run {i + 1}", linewidth=1)
    ax.set_xlabel(curves.unit)
    ax.set_ylabel("best distance so far")
    _plain_y(ax)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize="small")
    return fig


def seed_html(board: Leaderboard, rebuild: Callable[[dict[str, Any]], Any] | None) -> list[str]:
    """HTML of the seed tables and figures (empty when no instance carries what they need)."""
    tabs = _seed_compute(board, rebuild)
    out: list[str] = []
    rows = _seed_rows(tabs)
    if not rows and not tabs.notes:
        return out
    out.append("<h2 id='seed-tables'>The seeds' tables</h2>")
    for key, (headers, cells) in rows.items():
        title, note = _SEED_TEXT[key]
        out.append(f"<h3 id='seed-{key}'>{_html_text(title)}</h3><p class='note'>{_html_text(note)}</p>")
        if key == "set":  # one table per metric (set problem)
            for inst, part in _split_set_rows(cells):
                out.append(f"<h4 id='seed-set-{_html_text(_slug(inst))}'>{_html_text(_set_caption(part))}</h4>")
                out.append(_html_table(headers, part, left=(0, 1, 4)))
            continue
        out.append(_html_table(headers, cells, left=(0, 1, 2)))
        if key == "t1" and tabs.curves:
            for c in tabs.curves:
                out.append(
                    _img(
                        f"runs-{_slug(c.instance)}",
                        run_curves_figure(c),
                        f"Best distance so far of {len(c.curves)} runs of {c.optimizer} on {c.instance} (Fig. 5).",
                    )
                )
        if key == "t3":
            seen: set[str] = set()
            for r in tabs.table_three:  # the leading optimizer of each instance (rows are in rank order)
                if r.instance in seen:
                    continue
                seen.add(r.instance)
                out.append(
                    _img(
                        f"heatmap-{_slug(r.instance)}",
                        heatmap_figure(r),
                        f"Pairwise scorer distances between the best solutions of {r.optimizer}'s runs on "
                        f"{r.instance} (Fig. 7).",
                    )
                )
    if tabs.notes:
        out.append("<p class='note'>" + "<br>".join(_html_text(n) for n in tabs.notes) + "</p>")
    return out
