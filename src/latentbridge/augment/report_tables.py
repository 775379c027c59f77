"""Comparison tables of an augmentation report: each arm against the baselines, under distribution shift, and
the generators' sample quality.

- :func:`compare_with_baselines`: every arm of a run against each baseline of :data:`BASELINES` that the run
  holds (``none``, ``random`` GAN samples, ``affine`` jitter), paired over the (seed, fold) pairs both have: a
  two-sided Wilcoxon signed-rank test, Holm-adjusted over every comparison of the table (all arms × baselines of
  one metric), Vargha–Delaney A12 = P(arm > baseline) + ½ P(tie) and the mean paired difference.
- :func:`compare_shifts`: the same on the distribution-shifted test splits
  (:mod:`latentbridge.augment.shift`), against ``none`` and ``affine``, Holm-adjusted over every comparison of
  the shift table (all shifts × arms × baselines of one metric).
- :func:`generator_quality_rows`: per class and mean, the ``quality`` dict a run stored in each generator's
  ``info`` (``agreement``, ``frechet``, ``n``).

Arms are never listed here: they come from the run's configuration and results (:func:`run_arms`), so an arm
added later (``uncertain``, ``coverage+affine``, a plugin's) is reported like the built-in ones. The table
functions return plain text cells; :mod:`latentbridge.augment.report` renders (and escapes) them.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..campaign.render import csv_cell, fixed, pvalue
from .store import ResultRow, ShiftRow

__all__ = [
    "BASELINES",
    "BASELINE_NAMES",
    "PairedComparison",
    "baseline_rows",
    "best_arm_verdict",
    "compare_shifts",
    "compare_with_baselines",
    "comparisons_csv",
    "holm_adjusted",
    "paired_comparison",
    "generator_quality_rows",
    "run_arms",
    "scores",
    "shift_names",
    "shift_results_csv",
    "shift_rows",
    "shift_verdicts",
]

#: The arms every other arm is compared with, when the run holds them (earlier ones are weaker controls).
BASELINES: tuple[str, ...] = ("none", "duplicate", "random", "affine")
#: How a baseline is named in report text.
BASELINE_NAMES: dict[str, str] = {
    "none": "no augmentation",
    "duplicate": "duplicated originals",
    "random": "random GAN samples",
    "affine": "affine jitter",
}
#: Significance level of the verdicts (on Holm-adjusted p-values).
ALPHA: float = 0.05

Scores = dict[str, dict[tuple[int, int], float]]


@dataclass(frozen=True)
class PairedComparison:
    """One arm against one baseline on one metric of one test split, paired over (seed, fold).

    Attributes:
        arm: The arm.
        baseline: The baseline arm.
        metric: ``accuracy``, ``f1``, ...
        split: ``"test"`` for the held-out test split, else the distribution shift's name.
        n: Paired (seed, fold) samples.
        mean: The arm's mean over them.
        baseline_mean: The baseline's mean over them.
        diff: Mean paired difference arm − baseline.
        p_wilcoxon: Two-sided Wilcoxon signed-rank p-value (1 when every difference is 0, NaN without pairs).
        p_holm: Holm-adjusted over every comparison of its table.
        a12: P(arm > baseline) + ½ P(tie) over the paired samples.
    """

    arm: str
    baseline: str
    metric: str
    split: str
    n: int
    mean: float
    baseline_mean: float
    diff: float
    p_wilcoxon: float
    p_holm: float
    a12: float

    @property
    def significant(self) -> bool:
        """Holm-adjusted p below :data:`ALPHA`."""
        return not math.isnan(self.p_holm) and self.p_holm < ALPHA


def run_arms(configured: Iterable[Any], rows: Iterable[ResultRow | ShiftRow] = ()) -> list[str]:
    """The run's arms: the configured ones in their order, then any other arm that has results (sorted)."""
    arms = [a for a in configured if isinstance(a, str) and a]
    seen = set(arms)
    return arms + sorted({r.arm for r in rows} - seen)


def scores(rows: Iterable[ResultRow | ShiftRow], metric: str, shift: str | None = None) -> Scores:
    """``arm → {(seed, fold): value}`` of ``metric`` (of the shift rows of ``shift`` when given)."""
    out: Scores = {}
    for r in rows:
        if shift is not None and getattr(r, "shift", None) != shift:
            continue
        out.setdefault(r.arm, {})[(r.seed, r.fold)] = float(getattr(r, metric))
    return out


def _pairs(arms: Sequence[str], baselines: Sequence[str], present: Iterable[str]) -> list[tuple[str, str]]:
    """(arm, baseline) pairs: every arm but the baseline itself; two baselines are compared once (later vs earlier)."""
    have = [b for b in baselines if b in set(present)]
    out = []
    for arm in arms:
        for base in have:
            if arm == base or (arm in have and have.index(arm) < have.index(base)):
                continue
            out.append((arm, base))
    return out


def paired_comparison(data: Scores, arm: str, base: str, metric: str, split: str) -> PairedComparison:
    """``arm`` against ``base`` over the (seed, fold) pairs both have in ``data``: Wilcoxon (``p_holm`` NaN), A12.

    ``data`` maps an arm to ``{(seed, fold): score}``.
    """
    from scipy import stats

    from ..stats import a12

    vals, ref = data.get(arm, {}), data.get(base, {})
    keys = sorted(set(vals) & set(ref))
    x = np.array([vals[k] for k in keys], dtype=np.float64)
    y = np.array([ref[k] for k in keys], dtype=np.float64)
    if not keys:
        nan = math.nan
        return PairedComparison(arm, base, metric, split, 0, nan, nan, nan, nan, nan, nan)
    d = x - y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = 1.0 if np.all(d == 0) else float(stats.wilcoxon(x, y, zero_method="wilcox").pvalue)
    return PairedComparison(
        arm, base, metric, split, len(keys), float(x.mean()), float(y.mean()), float(d.mean()), p, math.nan, a12(x, y)
    )


def holm_adjusted(comps: list[PairedComparison]) -> list[PairedComparison]:
    """``comps`` with ``p_holm`` set: their Wilcoxon p-values Holm-adjusted together."""
    from dataclasses import replace

    from ..stats import holm

    adjusted = holm([c.p_wilcoxon for c in comps]).tolist()
    return [replace(c, p_holm=float(p)) for c, p in zip(comps, adjusted, strict=True)]


def compare_with_baselines(
    rows: Sequence[ResultRow], arms: Sequence[str], metric: str = "accuracy", baselines: Sequence[str] = BASELINES
) -> list[PairedComparison]:
    """Every arm against each baseline the run holds on ``metric`` of the test split, Holm over the whole list.

    ``random`` against ``none``, ``affine`` against ``none`` and ``affine`` against ``random`` are included once
    each (not again with the sign flipped). Ordered by arm (as given), then baseline.
    """
    data = scores(rows, metric)
    pairs = _pairs(arms, baselines, data)
    return holm_adjusted([paired_comparison(data, arm, base, metric, "test") for arm, base in pairs])


def compare_shifts(
    shift_results: Sequence[ShiftRow],
    arms: Sequence[str],
    metric: str = "accuracy",
    baselines: Sequence[str] = ("none", "affine"),
) -> list[PairedComparison]:
    """Every arm against ``none`` and ``affine`` on each distribution-shifted test split, Holm over the whole list.

    Shifts come in :data:`~latentbridge.augment.shift.SHIFTS` order, then any other stored shift (sorted).
    """
    out = []
    for shift in shift_names(shift_results):
        data = scores(shift_results, metric, shift)
        out += [paired_comparison(data, arm, base, metric, shift) for arm, base in _pairs(arms, baselines, data)]
    return holm_adjusted(out)


def shift_names(shift_results: Iterable[ShiftRow]) -> list[str]:
    """The stored shifts, known ones in their order first."""
    from .shift import SHIFTS

    have = {r.shift for r in shift_results}
    return [s for s in SHIFTS if s in have] + sorted(have - set(SHIFTS))


# -------------------------------------------------------------------------------------------- tables
def _points(diff: float) -> str:
    return "–" if math.isnan(diff) else f"{diff * 100:+.2f}"


def baseline_rows(comps: Sequence[PairedComparison]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the "each arm against the baselines" table (one metric)."""
    headers = ["arm", "against", "n", "arm mean", "baseline mean", "diff (points)", "Wilcoxon p", "Holm p", "A12"]
    rows = [
        [
            c.arm,
            BASELINE_NAMES.get(c.baseline, c.baseline),
            str(c.n),
            fixed(c.mean),
            fixed(c.baseline_mean),
            _points(c.diff),
            pvalue(c.p_wilcoxon),
            pvalue(c.p_holm),
            fixed(c.a12, 3),
        ]
        for c in comps
    ]
    return headers, rows


def shift_rows(
    shift_results: Sequence[ShiftRow],
    results: Sequence[ResultRow],
    comps: Sequence[PairedComparison],
    arms: Sequence[str],
) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the distribution-shift table: per shift × arm, mean accuracy and the paired
    differences against ``none`` and ``affine`` (accuracy points, Holm p over the table, A12)."""
    by = {(c.split, c.arm, c.baseline): c for c in comps}
    clean = scores(results, "accuracy")
    headers = ["shift", "arm", "n", "accuracy", "clean accuracy"]
    headers += [f"{h} vs {b}" for b in ("none", "affine") for h in ("diff (points)", "Holm p", "A12")]
    rows = []
    for shift in shift_names(shift_results):
        data = scores(shift_results, "accuracy", shift)
        for arm in arms:
            vals = list(data.get(arm, {}).values())
            if not vals:
                continue
            ref = list(clean.get(arm, {}).values())
            cells = [
                shift,
                arm,
                str(len(vals)),
                fixed(float(np.mean(vals))),
                fixed(float(np.mean(ref))) if ref else "–",
            ]
            for base in ("none", "affine"):
                c = by.get((shift, arm, base))
                cells += ["–", "–", "–"] if c is None else [_points(c.diff), pvalue(c.p_holm), fixed(c.a12, 3)]
            rows.append(cells)
    return headers, rows


def _number(value: Any) -> float | None:
    """A stored number (a forged store may hold anything: anything else is read as missing)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def generator_quality_rows(
    generators: Mapping[int, Mapping[str, Any]], classes: Sequence[str]
) -> tuple[list[str], list[list[str]]] | None:
    """Headers and cells of the generator-quality table, or ``None`` when no generator stored a ``quality``.

    Each class's generator row may hold ``info["quality"] = {"agreement": float, "frechet": float, "n": int}``
    (class agreement of its samples, Fréchet distance to the originals in a classifier embedding, samples
    measured); one row per class, then the mean of each generator kind.
    """
    per_kind: dict[str, list[tuple[float | None, float | None]]] = {}
    rows = []
    for label in sorted(generators):
        gen = generators[label]
        info = gen.get("info")
        quality = info.get("quality") if isinstance(info, Mapping) else None
        if not isinstance(quality, Mapping):
            continue
        kind = str(gen.get("kind", "?"))
        agreement, frechet = _number(quality.get("agreement")), _number(quality.get("frechet"))
        n = _number(quality.get("n"))
        name = classes[label] if isinstance(label, int) and 0 <= label < len(classes) else str(label)
        rows.append([name, kind, "–" if n is None else str(int(n)), fixed(agreement, 3), fixed(frechet, 3)])
        per_kind.setdefault(kind, []).append((agreement, frechet))
    if not rows:
        return None
    for kind, vals in per_kind.items():
        ag = [a for a, _ in vals if a is not None]
        fr = [f for _, f in vals if f is not None]
        mean_ag = float(np.mean(ag)) if ag else None
        mean_fr = float(np.mean(fr)) if fr else None
        rows.append([f"mean ({len(vals)} classes)", kind, "", fixed(mean_ag, 3), fixed(mean_fr, 3)])
    return ["class", "generator", "samples", "class agreement", "Fréchet distance"], rows


# ------------------------------------------------------------------------------------------- verdicts
def _mean_of(data: Scores, arm: str) -> float:
    vals = list(data.get(arm, {}).values())
    return float(np.mean(vals)) if vals else math.nan


def _best(data: Scores, arms: Sequence[str]) -> str | None:
    """The arm (``none`` excluded) with the highest mean; the earlier arm on a tie."""
    cands = [(a, _mean_of(data, a)) for a in arms if a != "none" and not math.isnan(_mean_of(data, a))]
    return max(cands, key=lambda am: am[1])[0] if cands else None


def _against_affine(best: str, mean: float, comps: Sequence[PairedComparison], split: str) -> str:
    if best == "affine":
        return f"affine jitter itself has the highest mean accuracy ({mean:.4f}): no arm beats affine jitter"
    c = next((c for c in comps if c.split == split and c.arm == best and c.baseline == "affine"), None)
    if c is None:  # the best arm is itself a baseline: affine jitter was compared against it
        rev = next((c for c in comps if c.split == split and c.arm == "affine" and c.baseline == best), None)
        if rev is not None and rev.n:
            c = dataclasses.replace(
                rev,
                arm=best,
                baseline="affine",
                mean=rev.baseline_mean,
                baseline_mean=rev.mean,
                diff=-rev.diff,
                a12=1.0 - rev.a12,
            )
    if c is None or c.n == 0:
        return f"{best} has the highest mean accuracy ({mean:.4f}); affine jitter was not run, so no comparison with it"
    sig = "significantly" if c.significant and c.diff > 0 else "not significantly"
    return (
        f"{best} has the highest mean accuracy ({mean:.4f}), {_points(c.diff)} points against affine jitter: it beats "
        f"affine jitter {sig} (Holm p {pvalue(c.p_holm)}, A12 {c.a12:.2f})"
    )


def best_arm_verdict(rows: Sequence[ResultRow], arms: Sequence[str], comps: Sequence[PairedComparison]) -> str:
    """One sentence: the best arm by mean test accuracy and whether it beats affine jitter significantly.

    ``comps`` are :func:`compare_with_baselines` on accuracy.
    """
    data = scores(rows, "accuracy")
    best = _best(data, arms)
    if best is None:
        return "Best arm: none to compare (no arm but none has results)."
    return "Best arm: " + _against_affine(best, _mean_of(data, best), comps, "test") + "."


def shift_verdicts(
    shift_results: Sequence[ShiftRow], arms: Sequence[str], comps: Sequence[PairedComparison]
) -> list[str]:
    """Per shift, :func:`best_arm_verdict`'s sentence on that shifted test split (``comps``: :func:`compare_shifts`)."""
    out = []
    for shift in shift_names(shift_results):
        data = scores(shift_results, "accuracy", shift)
        best = _best(data, arms)
        if best is not None:
            out.append(f"{shift}: " + _against_affine(best, _mean_of(data, best), comps, shift) + ".")
    return out


# ----------------------------------------------------------------------------------------------- CSV
def comparisons_csv(comps: Iterable[PairedComparison]) -> str:
    """``comparisons.csv``: one row per split × metric × arm × baseline (Holm family: a split kind and metric)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["split", "metric", "arm", "baseline", "n", "mean", "baseline_mean", "diff", "p_wilcoxon", "p_holm", "a12"]
    )
    for c in comps:
        writer.writerow(
            [
                csv_cell(c.split),
                c.metric,
                csv_cell(c.arm),
                csv_cell(c.baseline),
                c.n,
                *(_csv_float(v) for v in (c.mean, c.baseline_mean, c.diff, c.p_wilcoxon, c.p_holm, c.a12)),
            ]
        )
    return buf.getvalue()


def _csv_float(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.6g}"


def shift_results_csv(shift_results: Iterable[ShiftRow]) -> str:
    """``shift_results.csv``: one row per arm × seed × fold × shift."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["arm", "seed", "fold", "shift", "accuracy", "f1"])
    for r in shift_results:
        writer.writerow([csv_cell(r.arm), r.seed, r.fold, csv_cell(r.shift), f"{r.accuracy:.6f}", f"{r.f1:.6f}"])
    return buf.getvalue()
