"""Statistics against hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentbridge import stats


def test_describe_by_hand() -> None:
    s = stats.describe([4.0, 1.0, 3.0, 2.0], target=2.0)
    assert s.n == 4
    assert s.median == 2.5
    assert s.mean == 2.5
    assert s.std == pytest.approx(math.sqrt(5 / 3))  # sum of squared deviations 5, ddof=1
    assert (s.q25, s.q75, s.iqr) == (1.75, 3.25, 1.5)  # linear interpolation
    assert s.best == 1.0
    assert s.success_rate == 0.5  # 1 and 2 are <= 2


def test_a12_by_hand() -> None:
    # x > y pairs: (3,2) -> 1; ties: (2,2), (3,3) -> 2 halves; 9 pairs: (1 + 1) / 9
    assert stats.a12([1, 2, 3], [2, 3, 4]) == pytest.approx(2 / 9)
    assert stats.a12([2, 3, 4], [1, 2, 3]) == pytest.approx(1 - 2 / 9)
    assert stats.a12([5, 6], [1, 2]) == 1.0
    assert stats.a12([1, 1], [1, 1]) == 0.5


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3*0.01=0.03, 2*0.03=0.06, max(0.06, 1*0.04)=0.06
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])
    out = stats.holm([0.02, float("nan"), 0.01])
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.02])


def test_ranks_and_friedman_by_hand() -> None:
    scores = np.array(
        [
            [1.0, 2.0, 3.0],
            [1.0, 3.0, 2.0],
            [1.0, 2.0, 3.0],
            [2.0, 1.0, 3.0],
        ]
    )
    ranks = stats.rank_matrix(scores)
    np.testing.assert_array_equal(ranks, scores)  # the values are already ranks
    np.testing.assert_allclose(stats.mean_ranks(scores), [5 / 4, 8 / 4, 11 / 4])
    # chi2 = 12 / (n k (k+1)) * sum R_j^2 - 3 n (k+1), rank sums 5, 8, 11, n=4, k=3
    chi2 = 12 / (4 * 3 * 4) * (5**2 + 8**2 + 11**2) - 3 * 4 * 4
    res = stats.friedman(scores)
    assert res.statistic == pytest.approx(chi2)  # 4.5
    assert res.pvalue == pytest.approx(math.exp(-chi2 / 2))  # chi-square with 2 dof
    tied = stats.rank_matrix([[1.0, 1.0, 2.0]])
    np.testing.assert_array_equal(tied, [[1.5, 1.5, 3.0]])


def test_friedman_not_applicable() -> None:
    assert math.isnan(stats.friedman(np.ones((5, 2))).pvalue)
    assert math.isnan(stats.friedman(np.ones((1, 4))).pvalue)
    assert stats.friedman(np.ones((3, 3))).pvalue == 1.0


def test_pairwise_mannwhitney_effect_and_holm() -> None:
    good, bad, mid = [1.0, 2.0, 3.0, 4.0, 5.0], [11.0, 12.0, 13.0, 14.0, 15.0], [1.5, 2.5, 3.5, 4.5, 5.5]
    comps = stats.pairwise_mannwhitney({"good": good, "bad": bad, "mid": mid})
    by = {(c.a, c.b): c for c in comps}
    gb = by[("good", "bad")]
    assert gb.a12 == 1.0  # every good run beats every bad one
    assert gb.winner == "good"
    assert gb.pvalue == pytest.approx(2 / 252)  # exact: 2 of C(10, 5) orderings are as extreme
    assert by[("good", "mid")].a12 == pytest.approx(15 / 25)  # 15 of 25 pairs good < mid
    np.testing.assert_allclose([c.p_holm for c in comps], stats.holm([c.pvalue for c in comps]))


def test_pairwise_wilcoxon_on_medians() -> None:
    m = np.array([[1.0, 2.0], [2.0, 3.5], [0.5, 0.7], [3.0, 3.1], [1.0, 4.0], [2.0, 2.5]])
    (c,) = stats.pairwise_wilcoxon(m, ["a", "b"])
    assert c.pvalue == pytest.approx(2 / 64)  # all 6 differences negative: exact two-sided 2 * (1/2)^6
    assert c.statistic == 0.0
    (same,) = stats.pairwise_wilcoxon(np.ones((4, 2)), ["a", "b"])
    assert same.pvalue == 1.0
