"""Leaderboard reports: a rich console table, Markdown, CSV and a self-contained HTML page with plots.

The HTML page embeds every figure as a base64 PNG (:mod:`~latentbridge.bench.figures`):

- ``convergence-<instance>``: best-so-far over evaluations, median and IQR band per optimizer;
- ``ecdf``: per optimizer, the fraction of (instance, target, run) triples solved after a
  number of evaluations. Each instance has 10 targets spread linearly from the median
  first recorded score to the best final score any optimizer reached on it (plus its
  ``success`` threshold when the suite sets one), as in COCO's runtime ECDFs;
- ``grid-<instance>``: each optimizer's best solution (over seeds), rendered with
  ``problem.render(best_x)`` after rebuilding the problem from the stored spec, next to
  the target (target similarity) or the originals' mean image (centroid diversity).

The seeds' tables that follow the leaderboard come from :mod:`~latentbridge.bench.seed_report`.
The figure and seed-table functions are importable from here too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..campaign.render import csv_cell as _csv_text
from ..campaign.render import html_table as _html_table
from ..campaign.render import html_text as _html_text
from ..campaign.render import md_table as _md_table
from ..campaign.render import md_text as _md
from ..campaign.render import number as _fmt
from ..campaign.render import pvalue as _p
from ..campaign.render import slug as _slug
from .explain import what_fitness_measures
from .figures import (
    ECDF_CAPTION,
    ECDF_TARGETS,
    GRID_CAPTION,
    PLOT_SIZE,
    best_so_far,
    convergence_caption,
    convergence_figure,
    ecdf_curves,
    ecdf_figure,
    figure_html,
    grid_figure,
    heatmap_figure,
    optimizer_color,
    optimizer_colors,
    run_curves_figure,
)
from .leaderboard import Group, Instance, Leaderboard
from .qd_report import build_qd_board, print_qd, qd_html, qd_markdown, write_qd_csv
from .realism import REALISM_CSV_COLUMNS, REALISM_MEASURES, cost_cells, cost_headers, realism_cells, realism_headers
from .seed_report import (
    DELTA_FORMULA,
    SEED_CSV_COLUMNS,
    seed_csv_rows,
    seed_html,
    seed_markdown,
    write_seed_csv,
    written_beside,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

__all__ = [
    "CSV_COLUMNS",
    "DELTA_FORMULA",
    "ECDF_CAPTION",
    "ECDF_TARGETS",
    "GRID_CAPTION",
    "PLOT_SIZE",
    "SEED_CSV_COLUMNS",
    "best_so_far",
    "convergence_figure",
    "ecdf_curves",
    "ecdf_figure",
    "grid_figure",
    "heatmap_figure",
    "optimizer_color",
    "print_leaderboard",
    "run_curves_figure",
    "seed_csv_rows",
    "seed_html",
    "seed_markdown",
    "to_csv",
    "to_html",
    "to_markdown",
    "write_seed_csv",
    "written_beside",
]


def _instance_header(inst: Instance) -> str:
    arrow = "↑" if inst.higher_is_better else "↓"
    return (
        f"{inst.label} — {inst.kind}, {inst.metric} {arrow}, budget {inst.budget:,} evaluations, "
        f"success: {'≥' if inst.higher_is_better else '≤'} {_fmt(inst.success_display)} ({inst.success_source})"
    )


_ROW_HEADERS = ("rank", "optimizer", "runs", "median", "mean ± std", "IQR", "best", "success", "evals", "time/run")


def _headers(board: Leaderboard | None, inst: Instance, base: Sequence[str] = _ROW_HEADERS) -> list[str]:
    """``base`` with the gradient-cost columns before ``time/run`` and the realism columns last, where present."""
    cost = cost_headers(inst)
    if cost and "evals" not in base:  # the console shows evaluations beside gradient evaluations
        cost = ["evals", *cost]
    head = [h for h in base if h != "time/run"] + cost + ["time/run"]
    return head + (realism_headers(board, inst) if board is not None else [])


def _row_cells(inst: Instance, board: Leaderboard | None = None) -> list[list[str]]:
    """Cells of :func:`_headers` ``(board, inst)`` per optimizer."""
    out = []
    for row in inst.rows:
        s = row.summary
        extra = realism_cells(board, inst, row.optimizer) if board is not None else []
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
                *cost_cells(inst, row.optimizer),
                f"{row.mean_wall:.2f} s",
                *extra,
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
        heads, shown = _headers(board, inst), _headers(board, inst, _CONSOLE_HEADERS)
        for h in shown:
            table.add_column(
                h, justify="left" if h == "optimizer" else "right", no_wrap=h == "optimizer", min_width=len(h)
            )
        for cells in _row_cells(inst, board):
            table.add_row(*(escape(cells[heads.index(h)]) for h in shown))
        console.print(table)
        console.print(escape(f"  {what_fitness_measures(inst, realism_headers(board, inst))}"), highlight=False)
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
    print_qd(build_qd_board(board.runs), console)


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
            :func:`latentbridge.bench.problems.rebuild_problem`); used for image grids.
    """
    fig_dir = Path(path).with_name(Path(path).stem + "-images") if path is not None else None
    colors = optimizer_colors(sorted({n for inst in board.instances for n in inst.runs}))

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
            from .problems import rebuild_problem

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
        parts += [
            f"## {_md(_instance_header(inst))}",
            "",
            _md(what_fitness_measures(inst, realism_headers(board, inst))),
            "",
        ]
        parts += [_md_table(_headers(board, inst), _row_cells(inst, board)), ""]
        if inst.pairwise:
            parts += ["Pairwise Mann–Whitney U over seeds (Holm-adjusted within the instance):", ""]
            parts += [_md_table(_PAIR_HEADERS, _pairwise_rows(inst.pairwise)), ""]
        if fig_dir is None:
            continue
        parts += figure(f"convergence-{slug}", convergence_figure(inst, colors), convergence_caption(inst))
        if images and rebuild is not None:
            try:
                grid = grid_figure(inst, rebuild, colors)
            except Exception as exc:  # a missing generator must not lose the rest of the report
                parts += [_md(f"Image grid unavailable: {type(exc).__name__}: {exc}"), ""]
            else:
                caption = f"Best solution per optimizer on {inst.label}. {GRID_CAPTION}"
                parts += figure(f"grid-{slug}", grid, caption)
    parts += seed_markdown(board)
    parts += qd_markdown(build_qd_board(board.runs), fig_dir, rebuild if images else None)
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
    "mean_grad_evals",
    "mean_forward_equivalents",
    *REALISM_CSV_COLUMNS,
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
                    "mean_grad_evals": row.mean_grad_evals,
                    "mean_forward_equivalents": row.mean_forward_equivalents,
                    **{
                        f"realism_{m}": board.realism.get((inst.label, row.optimizer), {}).get(m, "")
                        for m in REALISM_MEASURES
                    },
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
        write_qd_csv(build_qd_board(board.runs), path)
    return text


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
            :func:`latentbridge.bench.problems.rebuild_problem`); used for image grids.
        images: Draw image grids (needs the generators that made the runs).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    if rebuild is None:
        from .problems import rebuild_problem

        rebuild = rebuild_problem
    names = sorted({n for inst in board.instances for n in inst.runs})
    colors = optimizer_colors(names)
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
        out.append(figure_html("ecdf", ecdf_figure(board, colors), ECDF_CAPTION))
    for inst in board.instances:
        slug = _slug(inst.label)
        out.append(f"<h2 id='instance-{_html_text(slug)}'>{_html_text(_instance_header(inst))}</h2>")
        out.append(f"<p class='measures'>{_html_text(what_fitness_measures(inst, realism_headers(board, inst)))}</p>")
        out.append(_html_table(_headers(board, inst), _row_cells(inst, board), colors=colors))
        if inst.pairwise:
            out.append("<details><summary>pairwise Mann–Whitney U tests over seeds</summary>")
            out.append(_html_table(_PAIR_HEADERS, _pairwise_rows(inst.pairwise), left=(0, 1)))
            out.append("</details>")
        out.append(figure_html(f"convergence-{slug}", convergence_figure(inst, colors), convergence_caption(inst)))
        if images:
            try:
                fig = grid_figure(inst, rebuild, colors)
            except Exception as exc:  # a missing generator must not lose the rest of the report
                out.append(
                    f"<p class='note' id='grid-{_html_text(slug)}-missing'>image grid unavailable: "
                    f"{_html_text(f'{type(exc).__name__}: {exc}')}</p>"
                )
            else:
                out.append(
                    figure_html(f"grid-{slug}", fig, f"Best solution per optimizer on {inst.label}. {GRID_CAPTION}")
                )
    out += seed_html(board, rebuild if images else None)
    out += qd_html(build_qd_board(board.runs), rebuild, images=images)
    out.append("</body></html>")
    text = "\n".join(out)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
