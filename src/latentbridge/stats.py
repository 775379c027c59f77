"""Statistics for comparing optimizers or arms over seeds, on top of :mod:`scipy.stats` (lower is better throughout).

The bench's leaderboard and the augmentation report both use them; they take plain arrays, so any user can.

- :func:`describe`: median, mean ± std, IQR and success rate of one optimizer's runs.
- :func:`rank_matrix`, :func:`mean_ranks`: per-instance ranks (``scipy.stats.rankdata``,
  ties averaged) and their mean over instances.
- :func:`friedman`: Friedman test across instances (``scipy.stats.friedmanchisquare``).
- :func:`holm`: Holm's step-down adjustment of p-values.
- :func:`a12`: Vargha–Delaney A12 from the Mann–Whitney U statistic.
- :func:`pairwise_mannwhitney`: per-instance pairwise tests over seeds, Holm-adjusted.
- :func:`pairwise_wilcoxon`: across-instance pairwise Wilcoxon signed-rank tests on
  per-instance medians, Holm-adjusted (the post-hoc for :func:`friedman`).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "Comparison",
    "FriedmanResult",
    "Summary",
    "a12",
    "describe",
    "friedman",
    "holm",
    "mean_ranks",
    "pairwise_mannwhitney",
    "pairwise_wilcoxon",
    "rank_matrix",
]


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one sample of best fitness values.

    Attributes:
        n: Sample size.
        median: Median.
        mean: Mean.
        std: Sample standard deviation (``ddof=1``; 0 for one value).
        q25: First quartile (linear interpolation).
        q75: Third quartile.
        iqr: ``q75 - q25``.
        best: Minimum.
        success_rate: Fraction of values ``<= target`` (NaN without a target).
    """

    n: int
    median: float
    mean: float
    std: float
    q25: float
    q75: float
    iqr: float
    best: float
    success_rate: float


def describe(values: ArrayLike, target: float | None = None) -> Summary:
    """Median, mean, std, quartiles, minimum and success rate (``value <= target``) of ``values``."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan, nan, nan, nan)
    q25, med, q75 = (float(v) for v in np.percentile(x, [25, 50, 75]))
    std = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    rate = float("nan") if target is None else float(np.mean(x <= target))
    return Summary(int(x.size), med, float(np.mean(x)), std, q25, q75, q75 - q25, float(np.min(x)), rate)


def rank_matrix(scores: ArrayLike) -> NDArray[np.float64]:
    """Ranks within each row of ``scores`` ``(instances, optimizers)``: 1 = lowest, ties averaged."""
    m = np.asarray(scores, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"scores must be 2-D (instances, optimizers), got shape {m.shape}")
    return np.asarray(stats.rankdata(m, axis=1), dtype=np.float64)


def mean_ranks(scores: ArrayLike) -> NDArray[np.float64]:
    """Mean rank of each column of ``scores`` ``(instances, optimizers)`` over the rows."""
    return np.asarray(rank_matrix(scores).mean(axis=0), dtype=np.float64)


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman test across instances: statistic and p-value (NaN with a ``note`` when not applicable)."""

    statistic: float
    pvalue: float
    n_instances: int
    n_optimizers: int
    note: str = ""


def friedman(scores: ArrayLike) -> FriedmanResult:
    """Friedman test of ``scores`` ``(instances, optimizers)``: do the optimizers' ranks differ?

    Needs at least 2 instances and 3 optimizers; otherwise returns NaNs with a note.
    """
    m = np.asarray(scores, dtype=np.float64)
    n, k = m.shape
    if k < 3 or n < 2:
        return FriedmanResult(float("nan"), float("nan"), n, k, "needs >= 3 optimizers on >= 2 instances")
    if np.all(rank_matrix(m) == (k + 1) / 2):
        return FriedmanResult(0.0, 1.0, n, k, "all optimizers tie on every instance")
    res = stats.friedmanchisquare(*m.T)
    return FriedmanResult(float(res.statistic), float(res.pvalue), n, k)


def holm(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values (same order as ``pvalues``; NaNs stay NaN and are not counted).

    With the ``m`` valid p-values sorted ascending, ``p_adj(i) = max_{j <= i} min(1, (m - j + 1) p(j))``.
    """
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for j, idx in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[idx]))
        out[idx] = running
    return out


def a12(x: ArrayLike, y: ArrayLike) -> float:
    """Vargha–Delaney A12 = P(X > Y) + ½ P(X = Y), computed as U / (n·m) from the Mann–Whitney U of ``x``.

    For minimisation, ``a12(y, x)`` is the probability that a run of ``x`` beats a run of ``y``.
    """
    xa = np.asarray(x, dtype=np.float64).reshape(-1)
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    if xa.size == 0 or ya.size == 0:
        return float("nan")
    u = stats.mannwhitneyu(xa, ya, alternative="two-sided").statistic
    return float(u) / (xa.size * ya.size)


@dataclass(frozen=True)
class Comparison:
    """One pairwise test between optimizers ``a`` and ``b``.

    Attributes:
        a: First optimizer.
        b: Second optimizer.
        statistic: Test statistic (U or W).
        pvalue: Raw two-sided p-value.
        p_holm: Holm-adjusted p-value over the family of comparisons it was computed with.
        a12: Probability that a run of ``a`` beats (is lower than) one of ``b``, ties ½
            (averaged over instances for across-instance comparisons).
    """

    a: str
    b: str
    statistic: float
    pvalue: float
    p_holm: float
    a12: float

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the Holm-adjusted p-value is below ``alpha``."""
        return bool(self.p_holm < alpha)

    @property
    def winner(self) -> str | None:
        """``a`` or ``b``, whichever tends to be lower (None on an exact tie of A12)."""
        if math.isnan(self.a12) or self.a12 == 0.5:
            return None
        return self.a if self.a12 > 0.5 else self.b


def pairwise_mannwhitney(samples: Mapping[str, ArrayLike]) -> list[Comparison]:
    """Two-sided Mann–Whitney U tests between every pair of samples (one instance, runs over seeds), Holm-adjusted."""
    names = list(samples)
    data = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in samples.items()}
    raw: list[tuple[str, str, float, float, float]] = []
    for a, b in itertools.combinations(names, 2):
        x, y = data[a], data[b]
        if x.size == 0 or y.size == 0:
            continue
        if np.all(x == x[0]) and np.all(y == x[0]):
            raw.append((a, b, x.size * y.size / 2, 1.0, 0.5))
            continue
        res = stats.mannwhitneyu(x, y, alternative="two-sided")
        better = 1.0 - float(res.statistic) / (x.size * y.size)  # P(x < y) + ½ P(x = y)
        raw.append((a, b, float(res.statistic), float(res.pvalue), better))
    adj = holm([r[3] for r in raw])
    return [Comparison(a, b, s, p, float(q), e) for (a, b, s, p, e), q in zip(raw, adj, strict=True)]


def pairwise_wilcoxon(scores: ArrayLike, names: Sequence[str], effect: ArrayLike | None = None) -> list[Comparison]:
    """Wilcoxon signed-rank tests between every pair of columns of ``scores`` ``(instances, optimizers)``.

    Args:
        scores: Per-instance summary (median best fitness), one column per optimizer.
        names: Column names.
        effect: Optional ``(instances, optimizers, optimizers)`` per-instance A12 values
            (``effect[i, a, b]`` = P(a beats b) on instance ``i``), averaged into the result.

    Returns:
        Comparisons, Holm-adjusted over all pairs. Pairs whose differences are all zero get p = 1.
    """
    m = np.asarray(scores, dtype=np.float64)
    eff = None if effect is None else np.asarray(effect, dtype=np.float64)
    raw: list[tuple[str, str, float, float, float]] = []
    for i, j in itertools.combinations(range(m.shape[1]), 2):
        d = m[:, i] - m[:, j]
        if m.shape[0] < 1 or np.all(d == 0):
            stat, p = 0.0, 1.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # tiny samples: scipy warns about the normal approx.
                res = stats.wilcoxon(m[:, i], m[:, j], zero_method="wilcox")
            stat, p = float(res.statistic), float(res.pvalue)
        e = float(np.nanmean(eff[:, i, j])) if eff is not None else float("nan")
        raw.append((names[i], names[j], stat, p, e))
    adj = holm([r[3] for r in raw])
    return [Comparison(a, b, s, p, float(q), e) for (a, b, s, p, e), q in zip(raw, adj, strict=True)]
