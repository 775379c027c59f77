"""Quality-diversity on latent problems: measures over a grid, pyribs' algorithms by name, QD metrics and pictures.

One module per job:

- ``_grid`` — :class:`Grid`: cells per measure, their ranges, the QD-score offset;
- ``_problem`` — :class:`QualityDiversity`: objective + measures of one latent's image from one
  batched forward (``evaluate_qd``), with gradients for gradient emitters (``evaluate_qd_grad``);
- ``_archive`` — :class:`Archive` (plain arrays), :class:`QDMetrics`, :class:`ArchiveRecorder`
  (any run's evaluations into an archive) and :func:`archive_from`;
- ``_algorithms`` — the named algorithms (``map-elites``, ``cma-me``, ``cma-mae``, ``cma-mega``,
  ``cma-maega``), each built from pyribs' archives, emitters and scheduler;
- ``_solve`` — :func:`solve` (ask/tell loop, budget in evaluations, resumable :class:`Journal`);
- ``_store`` — archives as bytes or ``.npz`` files without pickles, read back with bounds;
- ``_pictures`` — :func:`heatmap`, :func:`elite_grid`, :func:`realism`.

pyribs is imported only when an archive or a run needs it (the ``qd`` extra).
"""

from __future__ import annotations

from ._algorithms import ALGORITHMS, QDAlgorithm, algorithm, algorithm_names
from ._archive import Archive, ArchiveRecorder, QDMetrics, archive_from
from ._grid import Grid
from ._pictures import Realism, elite_grid, heatmap, realism
from ._problem import QualityDiversity
from ._solve import Journal, QDResult, QDTrace, solve
from ._store import archive_from_bytes, archive_to_bytes, load_archive, save_archive

__all__ = [
    "ALGORITHMS",
    "Archive",
    "ArchiveRecorder",
    "Grid",
    "Journal",
    "QDAlgorithm",
    "QDMetrics",
    "QDResult",
    "QDTrace",
    "QualityDiversity",
    "Realism",
    "algorithm",
    "algorithm_names",
    "archive_from",
    "archive_from_bytes",
    "archive_to_bytes",
    "elite_grid",
    "heatmap",
    "load_archive",
    "realism",
    "save_archive",
    "solve",
]
