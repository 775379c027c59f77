"""The seeds' tables in the reports: Tables I-III, Fig. 5 and 7 and seed 002's set diversity.

:mod:`~latentbridge.bench.tables` computes them from the stored runs; this module renders them
as Markdown (:func:`seed_markdown`), HTML with figures (:func:`seed_html`) and a long-form CSV
written beside the leaderboard's (:func:`write_seed_csv`, ``x.csv`` → ``x.seed-tables.csv``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..campaign.render import csv_cell as _csv_text
from ..campaign.render import html_table as _html_table
from ..campaign.render import html_text as _html_text
from ..campaign.render import md_table as _md_table
from ..campaign.render import md_text as _md
from ..campaign.render import number as _fmt
from ..campaign.render import slug as _slug
from .figures import figure_html, heatmap_figure, run_curves_figure
from .leaderboard import Leaderboard

__all__ = [
    "DELTA_FORMULA",
    "SEED_CSV_COLUMNS",
    "seed_csv_rows",
    "seed_html",
    "seed_markdown",
    "write_seed_csv",
    "written_beside",
]

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
    from .problems import rebuild_problem

    return rebuild_problem


def _seed_compute(board: Leaderboard, rebuild: Callable[[dict[str, Any]], Any] | None) -> Any:
    """The seeds' tables of ``board``, computed once per rebuild function (they rebuild problems and render)."""
    from . import tables

    if rebuild not in board._seed_tables:
        if rebuild is None:  # no problem rebuilding: the tables that need no images only
            board._seed_tables[None] = tables.SeedTables(
                table_one=tables.table_one(board.instances), curves=tables.run_curves(board.instances)
            )
        else:
            board._seed_tables[rebuild] = tables.seed_tables(board.instances, rebuild)
    return board._seed_tables[rebuild]


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
    if csv is not None and any(r.qd_metrics for r in board.runs):  # qd_report.write_qd_csv
        out.append(Path(csv).with_name(Path(csv).stem + "-qd.csv"))
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
                    figure_html(
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
                    figure_html(
                        f"heatmap-{_slug(r.instance)}",
                        heatmap_figure(r),
                        f"Pairwise scorer distances between the best solutions of {r.optimizer}'s runs on "
                        f"{r.instance} (Fig. 7).",
                    )
                )
    if tabs.notes:
        out.append("<p class='note'>" + "<br>".join(_html_text(n) for n in tabs.notes) + "</p>")
    return out
