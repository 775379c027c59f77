"""The leaderboard's figures and the data behind them (matplotlib, Agg backend, drawn on demand).

- anytime data: :func:`best_so_far` (a run's best-so-far on an evaluation grid) and
  :func:`ecdf_curves` (runtime ECDFs over the budget fraction; :data:`ECDF_TARGETS` targets per
  instance, spread linearly from the median first recorded score to the best final score any
  optimizer reached, plus the suite's ``success`` threshold when it sets one, as in COCO);
- :func:`convergence_figure`, :func:`ecdf_figure`, :func:`grid_figure` (each optimizer's best
  solution next to the target or the originals' mean image), and the seed 000 figures
  :func:`run_curves_figure` (Fig. 5) and :func:`heatmap_figure` (Fig. 7);
- :func:`optimizer_color` / :func:`optimizer_colors`: one colour per optimizer name in every plot
  and table; :func:`figure_html`: a figure as a self-contained ``<figure>`` (base64 PNG).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..campaign.render import html_text, plot_text
from ..campaign.render import number as _fmt
from .leaderboard import Instance, Leaderboard
from .store import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ECDF_CAPTION",
    "ECDF_TARGETS",
    "GRID_CAPTION",
    "PLOT_SIZE",
    "best_so_far",
    "convergence_caption",
    "convergence_figure",
    "ecdf_curves",
    "ecdf_figure",
    "figure_html",
    "grid_figure",
    "heatmap_figure",
    "optimizer_color",
    "optimizer_colors",
    "run_curves_figure",
]

#: Targets per instance in the ECDF.
ECDF_TARGETS = 10


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


def optimizer_colors(names: Sequence[str]) -> dict[str, str]:
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


ECDF_CAPTION = (
    f"Runtime ECDF over all instances: per optimizer, the fraction of (instance, target, run) triples "
    f"solved against the fraction of the budget used ({ECDF_TARGETS} targets per instance)."
)


def convergence_caption(inst: Instance) -> str:
    n = max((len(r) for r in inst.runs.values()), default=0)
    return (
        f"Convergence on {inst.label}: best-so-far {inst.metric} against evaluations, median (line) and "
        f"interquartile range (band) over {n} seed{'s' if n != 1 else ''}."
    )


def figure_html(fig_id: str, fig: Figure, alt: str) -> str:
    return (
        f"<figure id='{html_text(fig_id)}'><img alt='{html_text(alt)}' "
        f"src='data:image/png;base64,{_png(fig)}'><figcaption>{html_text(alt)}</figcaption></figure>"
    )
