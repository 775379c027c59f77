"""The comparison tables: each arm against none, random GAN samples and affine jitter; under shift; generators."""

from __future__ import annotations

import csv
import io
import math

import pytest

from latentbridge.augment.report_tables import (
    BASELINES,
    best_arm_verdict,
    compare_shifts,
    compare_with_baselines,
    comparisons_csv,
    generator_quality_rows,
    run_arms,
    shift_results_csv,
    shift_rows,
    shift_verdicts,
)
from latentbridge.augment.store import ShiftRow

from .fake_store import EFFECTS, SHIFT_EFFECTS, results, shifted

ARMS = list(EFFECTS)


def _shift_rows() -> list[ShiftRow]:
    return [s for rows in shifted(results(EFFECTS), SHIFT_EFFECTS).values() for s in rows]


def test_each_arm_against_each_baseline_once_with_holm_over_the_table() -> None:
    comps = compare_with_baselines(results(EFFECTS), ARMS)
    pairs = [(c.arm, c.baseline) for c in comps]
    assert pairs == [
        ("random", "none"),
        ("affine", "none"),
        ("affine", "random"),  # affine vs random once, not random vs affine again
        ("coverage", "none"),
        ("coverage", "random"),
        ("coverage", "affine"),
        ("coverage+affine", "none"),
        ("coverage+affine", "random"),
        ("coverage+affine", "affine"),
    ]
    assert all(c.n == 25 and c.split == "test" and c.metric == "accuracy" for c in comps)
    ps = sorted(c.p_wilcoxon for c in comps)
    assert min(c.p_holm for c in comps) == pytest.approx(min(1.0, len(comps) * ps[0]))
    assert all(c.p_holm >= c.p_wilcoxon for c in comps)
    for c in comps:
        assert c.diff == pytest.approx(c.mean - c.baseline_mean)


def test_a_clearly_better_arm_beats_every_baseline() -> None:
    comps = {(c.arm, c.baseline): c for c in compare_with_baselines(results(EFFECTS), ARMS)}
    for base in (b for b in BASELINES if b in EFFECTS):  # baselines the run holds
        c = comps[("coverage+affine", base)]
        assert c.p_holm < 1e-3
        assert c.a12 > 0.95
        assert c.significant
        assert c.diff == pytest.approx(EFFECTS["coverage+affine"] - EFFECTS[base], abs=0.005)
    same = comps[("random", "none")]  # no effect: not significant, A12 near 1/2
    assert not same.significant
    assert 0.3 < same.a12 < 0.7
    worse = comps[("coverage", "affine")]
    assert worse.diff < 0
    assert worse.a12 < 0.5
    assert worse.significant


def test_baselines_the_run_does_not_hold_are_left_out() -> None:
    effects = {"none": 0.8, "uncertain": 0.85, "bald": 0.8}
    comps = compare_with_baselines(results(effects), list(effects))
    assert [(c.arm, c.baseline) for c in comps] == [("uncertain", "none"), ("bald", "none")]
    verdict = best_arm_verdict(results(effects), list(effects), comps)
    assert verdict.startswith("Best arm: uncertain has the highest mean accuracy")
    assert "affine jitter was not run" in verdict


def test_best_arm_verdict_says_whether_it_beats_affine_jitter() -> None:
    rows = results(EFFECTS)
    verdict = best_arm_verdict(rows, ARMS, compare_with_baselines(rows, ARMS))
    assert verdict.startswith("Best arm: coverage+affine has the highest mean accuracy (0.8")
    assert "+7.0" in verdict  # points against affine jitter
    assert "beats affine jitter significantly (Holm p" in verdict
    close = {**EFFECTS, "coverage+affine": 0.831}  # best by a hair: not significantly
    rows = results(close, noise=0.01)
    verdict = best_arm_verdict(rows, list(close), compare_with_baselines(rows, list(close)))
    assert "beats affine jitter not significantly" in verdict
    jitter_best = {**EFFECTS, "coverage+affine": 0.7}
    rows = results(jitter_best)
    verdict = best_arm_verdict(rows, list(jitter_best), compare_with_baselines(rows, list(jitter_best)))
    assert "affine jitter itself has the highest mean accuracy" in verdict
    assert best_arm_verdict(results({"none": 0.8}), ["none"], []).startswith("Best arm: none to compare")


def test_shift_comparisons_and_table() -> None:
    rows, srows = results(EFFECTS), _shift_rows()
    comps = compare_shifts(srows, ARMS)
    assert {c.split for c in comps} == {"thin", "translate"}
    assert {c.baseline for c in comps} == {"none", "affine"}
    assert len(comps) == 2 * (1 + 1 + 1 + 2 + 2)  # random, affine vs none; coverage and coverage+affine vs both
    by = {(c.split, c.arm, c.baseline): c for c in comps}
    thin = by[("thin", "coverage", "affine")]
    assert thin.diff == pytest.approx(0.10, abs=0.005)
    assert thin.p_holm < 1e-3
    assert thin.a12 > 0.95
    assert not by[("translate", "random", "none")].significant
    headers, table = shift_rows(srows, rows, comps, ARMS)
    assert headers[:5] == ["shift", "arm", "n", "accuracy", "clean accuracy"]
    assert [r[:2] for r in table][:5] == [["thin", a] for a in ARMS]  # thin before translate: SHIFTS order
    cov = next(r for r in table if r[:2] == ["thin", "coverage"])
    assert cov[2] == "25"
    assert float(cov[3]) == pytest.approx(0.72, abs=0.005)
    assert float(cov[8]) == pytest.approx(10.0, abs=0.5)  # diff vs affine in points
    none_row = next(r for r in table if r[:2] == ["thin", "none"])
    assert none_row[5:] == ["–"] * 6
    lines = shift_verdicts(srows, ARMS, comps)
    assert lines[0].startswith("thin: coverage has the highest mean accuracy (0.7")
    assert "beats affine jitter significantly" in lines[0]


def test_generator_quality_per_class_and_mean() -> None:
    gens = {
        0: {"kind": "cdcgan", "info": {"quality": {"agreement": 0.9, "frechet": 10.0, "n": 200}}},
        1: {"kind": "cdcgan", "info": {"quality": {"agreement": 0.7, "frechet": 12.0, "n": 200}}},
        2: {"kind": "cdcgan", "info": {"quality": {"agreement": "high", "frechet": math.inf, "n": None}}},
    }
    headers, rows = generator_quality_rows(gens, ["a", "b", "c"]) or ([], [])
    assert headers == ["class", "generator", "samples", "class agreement", "Fréchet distance"]
    assert rows[0] == ["a", "cdcgan", "200", "0.900", "10.000"]
    assert rows[2] == ["c", "cdcgan", "–", "–", "–"]  # a forged value is shown as missing, not trusted
    assert rows[3] == ["mean (3 classes)", "cdcgan", "", "0.800", "11.000"]
    assert generator_quality_rows({0: {"kind": "dcgan", "info": {"steps": 8}}}, ["a"]) is None
    assert generator_quality_rows({0: {"kind": "dcgan", "info": "not a dict"}}, ["a"]) is None


def test_run_arms_iterates_what_the_run_holds() -> None:
    rows = results({"none": 0.8, "plugin-arm": 0.8, "aaa": 0.8})
    assert run_arms(["none", "plugin-arm", "", 3], rows) == ["none", "plugin-arm", "aaa"]


def test_csv_files() -> None:
    rows = results(EFFECTS)
    comps = compare_with_baselines(rows, ARMS) + compare_shifts(_shift_rows(), ARMS)
    table = list(csv.DictReader(io.StringIO(comparisons_csv(comps))))
    assert len(table) == 9 + 14
    assert table[0]["split"] == "test"
    assert table[0]["baseline"] == "none"
    assert float(table[0]["p_holm"]) >= float(table[0]["p_wilcoxon"])
    shifts = list(csv.DictReader(io.StringIO(shift_results_csv(_shift_rows()))))
    assert len(shifts) == 25 * 5 * 2
    assert set(shifts[0]) == {"arm", "seed", "fold", "shift", "accuracy", "f1"}
    evil = comparisons_csv(compare_with_baselines(results({"none": 0.8, "=cmd()": 0.9}), ["none", "=cmd()"]))
    assert ",'=cmd()," in evil


def test_a_baseline_that_wins_is_compared_with_affine_jitter_too() -> None:
    effects = {"none": 0.80, "duplicate": 0.95, "random": 0.85, "affine": 0.86}
    rows = results(effects)
    verdict = best_arm_verdict(rows, list(effects), compare_with_baselines(rows, list(effects)))
    assert verdict.startswith("Best arm: duplicate has the highest mean accuracy (0.9")
    assert "+9.0" in verdict  # duplicate against affine jitter, from affine's comparison with duplicate
    assert "beats affine jitter significantly" in verdict
    assert "was not run" not in verdict
