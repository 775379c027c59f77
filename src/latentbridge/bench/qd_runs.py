"""QD metrics of any bench run on a quality-diversity problem: the archive its evaluations fill.

:func:`recorder_for` gives the run's second listener (next to its Tracker): a
:class:`latentbridge.qd.ArchiveRecorder` on the problem's grid limited to the budget, so the
seeds' GA, CMA-ES, random search and pyribs' emitters all fill the same kind of archive from
the evaluations they made. :func:`summarise` turns it into what the store keeps: the archive as
plain-array bytes (no pickle, :func:`latentbridge.qd.archive_to_bytes`) and a JSON dict of QD metrics
(``qd_score``, ``norm_qd_score``, ``coverage``, ``num_elites``, ``best``, ``mean``, ``cells``) with the
realism of the elites (:func:`realism_metrics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._problems import LatentProblem

__all__ = ["QD_METRICS", "REALISM_PERCENTILE", "realism_metrics", "recorder_for", "summarise"]

#: The QD metrics the leaderboard ranks (all higher = better), with their display names.
QD_METRICS: dict[str, str] = {
    "qd_score": "QD-score",
    "norm_qd_score": "normalised QD-score",
    "coverage": "coverage",
    "best": "best objective",
    "realism_digit": "share realistic (classifier)",
    "realism_discriminator": "share realistic (discriminator)",
}
#: An elite passes the discriminator check when it scores at least this fraction of held-out real digits.
REALISM_PERCENTILE = 0.05
#: An elite passes the classifier check when the intended digit's probability is at least this.
REALISM_CONFIDENCE = 0.5


def recorder_for(problem: LatentProblem, budget: int) -> Any:
    """An ArchiveRecorder of ``problem``'s grid counting the first ``budget`` evaluations (None: not a QD problem)."""
    from ..qd import ArchiveRecorder, QualityDiversity

    if not isinstance(problem, QualityDiversity):
        return None
    return ArchiveRecorder(problem, problem.grid(), budget=budget)


def _digit(problem: Any) -> int | None:
    """The intended digit of a ``class-probability`` objective (the lsi suite's p(8)), else None."""
    objective = problem.objective
    digit = getattr(objective, "digit", None)
    if isinstance(digit, (int, np.integer)) and not isinstance(digit, bool):
        return int(digit)
    return None


def realism_metrics(problem: Any, solutions: np.ndarray) -> dict[str, float | int | None]:
    """The share of elites that look real, by the checks ``latentbridge.realism`` has for the problem's generator.

    ``realism_digit``: the embedded digit classifier gives the intended digit (of a
    ``class-probability`` objective) at least :data:`REALISM_CONFIDENCE`; ``realism_discriminator``:
    the shipped discriminator (the embedded ``mnist-dcgan``'s) scores the elite at least as real as
    :data:`REALISM_PERCENTILE` of the held-out real digits. A check the problem has no model for is
    None. Elites are rendered again; the problem's evaluation counters do not change.
    """
    from .. import realism

    out: dict[str, float | int | None] = {"realism_digit": None, "realism_discriminator": None}
    n = int(solutions.shape[0])
    out["realism_n"] = n
    if n == 0:
        return out
    digit = _digit(problem)
    digit_ok = digit is not None and tuple(problem.generator.image_shape) == (1, 28, 28)
    disc = realism.discriminator_for(problem.generator)
    if disc is None and not digit_ok:
        return out
    values = realism.realism(problem, solutions, discriminator=disc, digit=digit if digit_ok else None)
    if "digit_confidence" in values:
        out["realism_digit"] = float(np.mean(values["digit_confidence"] >= REALISM_CONFIDENCE))
    if "discriminator_percentile" in values:
        out["realism_discriminator"] = float(np.mean(values["discriminator_percentile"] >= REALISM_PERCENTILE))
    return out


def summarise(problem: Any, recorder: Any) -> tuple[bytes, dict[str, Any]]:
    """The run's archive as bytes and its QD metrics with the elites' realism (JSON-able)."""
    from ..qd import archive_to_bytes

    archive = recorder.archive()
    metrics: dict[str, Any] = dict(archive.metrics().as_dict())
    metrics.update(realism_metrics(problem, np.asarray(archive.solution, dtype=np.float64)))
    metrics["grid"] = archive.grid.config()
    metrics["n_skipped"] = int(recorder.n_skipped)
    return archive_to_bytes(archive), metrics
