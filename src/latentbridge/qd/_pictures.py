"""Pictures and checks of an archive: heatmap, elite images laid out by measure, share of realistic elites."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from ..errors import InputError, missing_extra
from ._archive import Archive
from ._problem import QualityDiversity

if TYPE_CHECKING:
    from ..measures import ClassProbability

__all__ = ["Realism", "elite_grid", "heatmap", "realism"]


def heatmap(
    archive: Archive,
    path: str | Path | None = None,
    *,
    values: ArrayLike | None = None,
    title: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    label: str = "objective",
) -> Any:
    """A heatmap of a 1-D or 2-D archive: each filled cell coloured by its elite's objective (or ``values``).

    Drawn with matplotlib's ``pcolormesh`` over the grid's cell boundaries, as pyribs'
    ``grid_archive_heatmap`` draws it (that function needs seaborn, which latentbridge does
    not install); empty cells stay blank. The first measure is the x axis.

    Args:
        archive: The archive.
        path: Write a PNG there (and close the figure); None returns the open figure.
        values: ``(len(archive),)`` other values to colour the cells by (e.g. :func:`realism`'s
            probabilities, as ``lsi_mnist`` rescored its archive with the discriminator).
        title: Figure title.
        vmin: Lower end of the colour scale.
        vmax: Upper end of the colour scale.
        label: Colour bar label.

    Returns:
        The written path, or the matplotlib figure.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise missing_extra("matplotlib", "qd", exc) from exc
    g = archive.grid
    if g.n_measures not in (1, 2):
        raise InputError(f"a heatmap needs a 1-D or 2-D grid, this one has {g.n_measures} measures")
    vals = archive.objective if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
    if vals.shape != (len(archive),):
        raise InputError(f"values must be one per elite ({len(archive)}), got shape {vals.shape}")
    nx, ny = g.dims[0], (g.dims[1] if g.n_measures == 2 else 1)
    img = np.full((ny, nx), np.nan)
    coords = archive.cell_coords()
    img[coords[:, 1] if g.n_measures == 2 else 0, coords[:, 0]] = vals
    xb = np.linspace(*g.ranges[0], nx + 1)
    yb = np.linspace(*g.ranges[1], ny + 1) if g.n_measures == 2 else np.array([0.0, 1.0])
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    mesh = ax.pcolormesh(xb, yb, np.ma.masked_invalid(img), cmap="magma", vmin=vmin, vmax=vmax, rasterized=True)
    fig.colorbar(mesh, ax=ax, label=label)
    ax.set_xlabel(g.names[0])
    ax.set_ylabel(g.names[1] if g.n_measures == 2 else "")
    m = archive.metrics()
    ax.set_title(title or f"{len(archive)} elites, coverage {m.coverage:.1%}, QD-score {m.qd_score:.4g}")
    if path is None:
        return fig
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _render(problem: QualityDiversity, Z: NDArray[np.float64]) -> torch.Tensor:
    """Images of latents ``Z`` through the generator, in chunks, not counted as evaluations."""
    out = []
    step = problem.batch_size
    with torch.inference_mode():
        for i in range(0, Z.shape[0], step):
            z = torch.tensor(Z[i : i + step], dtype=torch.float32, device=problem.generator.device)
            out.append(problem.generator.generate(z.reshape(-1, *problem.latent.shape)).to("cpu", torch.float32))
    return torch.cat(out) if out else torch.empty(0, *problem.generator.image_shape)


def elite_grid(
    archive: Archive,
    problem: QualityDiversity,
    path: str | Path,
    *,
    rows: int = 6,
    cols: int = 8,
    scale: int = 2,
    extent: Literal["filled", "grid"] = "filled",
) -> Path:
    """A PNG of elite images laid out by measure, as ``lsi_mnist``'s grid of digits.

    The cells (``extent="filled"``: the smallest box of cells holding every elite;
    ``"grid"``: the whole grid) are cut into ``rows × cols`` equal blocks (the first
    measure grows to the right, the second upwards); each tile shows the best elite of
    its block, rendered by the problem's generator (not counted as evaluations), or a
    blank (white) tile when the block is empty. A 1-D archive gives one row of ``cols`` tiles.

    Returns:
        The written path.
    """
    from .. import images

    g = archive.grid
    if g.n_measures not in (1, 2):
        raise InputError(f"an elite grid needs a 1-D or 2-D grid, this one has {g.n_measures} measures")
    if len(archive) == 0:
        raise InputError("the archive is empty: there is no elite to show")
    rows = 1 if g.n_measures == 1 else rows
    if rows < 1 or cols < 1:
        raise InputError(f"rows and cols must be >= 1, got {rows}, {cols}")
    if extent not in ("filled", "grid"):
        raise InputError(f"extent must be 'filled' or 'grid', got {extent!r}")
    coords = archive.cell_coords()
    lo = coords.min(axis=0) if extent == "filled" else np.zeros(g.n_measures, dtype=np.int64)
    span = (coords.max(axis=0) + 1 - lo) if extent == "filled" else np.asarray(g.dims, dtype=np.int64)
    bx = (coords[:, 0] - lo[0]) * cols // span[0]
    by = (coords[:, 1] - lo[1]) * rows // span[1] if g.n_measures == 2 else np.zeros(len(archive), dtype=np.int64)
    picks = np.full((rows, cols), -1, dtype=np.int64)
    for r in range(rows):
        for c in range(cols):
            members = np.flatnonzero((bx == c) & (by == r))
            if members.size:
                picks[r, c] = members[np.argmax(archive.objective[members])]
    order = picks[::-1].reshape(-1)  # the top row holds the highest second measure
    chosen = order[order >= 0]
    rendered = _render(problem, archive.solution[chosen])
    tiles = torch.ones(order.size, *problem.generator.image_shape)
    tiles[np.flatnonzero(order >= 0)] = rendered.clamp(-1, 1)
    return images.save_grid(tiles, path, ncol=cols, scale=scale)


@dataclass(frozen=True)
class Realism:
    """How many elites a classifier recognises as the intended class.

    Attributes:
        share: Share of elites whose probability is at least ``threshold`` (0 for an empty archive).
        passed: Their number.
        n: Elites checked.
        digit: The intended class.
        threshold: The confidence threshold.
        probabilities: ``(n,)`` the classifier's probability of ``digit`` for each elite, in
            the archive's row order (colour a :func:`heatmap` with it).
    """

    share: float
    passed: int
    n: int
    digit: int
    threshold: float
    probabilities: NDArray[np.float64]


def realism(
    archive: Archive,
    problem: QualityDiversity,
    digit: int,
    *,
    threshold: float = 0.5,
    classifier: ClassProbability | None = None,
) -> Realism:
    """The share of elites the embedded digit classifier gives at least ``threshold`` for ``digit``.

    ``lsi_mnist`` found large parts of its archive unrealistic when it rescored the elites
    with the GAN's discriminator; latentbridge ships no discriminator, so this check uses
    the embedded classifier's confidence in the intended class (``class-probability``).
    Elites are rendered again (not counted as evaluations).

    Args:
        archive: The archive.
        problem: Its problem (for the generator).
        digit: The intended class.
        threshold: Confidence needed to pass, in (0, 1].
        classifier: A :class:`~latentbridge.measures.ClassProbability` to use instead of the embedded one.
    """
    from ..measures import ClassProbability

    if not 0 < float(threshold) <= 1:
        raise InputError(f"threshold must be in (0, 1], got {threshold!r}")
    clf = classifier if classifier is not None else ClassProbability(digit)
    if clf.digit != digit:
        raise InputError(f"the classifier measures p({clf.digit}), not p({digit})")
    probs = np.empty(len(archive), dtype=np.float64)
    step = problem.batch_size
    for i in range(0, len(archive), step):
        imgs = _render(problem, archive.solution[i : i + step])
        with torch.inference_mode():
            probs[i : i + step] = clf.measure(imgs).to("cpu", torch.float64).numpy()
    passed = int(np.count_nonzero(probs >= threshold))
    return Realism(passed / len(archive) if len(archive) else 0.0, passed, len(archive), digit, float(threshold), probs)
