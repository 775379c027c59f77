"""An augment store filled by hand (no training): results with known effects, shift rows, generator quality."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from latentbridge.augment import AugmentStore
from latentbridge.augment.store import ResultRow, ShiftRow

#: Mean test accuracy per arm: ``coverage+affine`` clearly best, ``coverage`` between none and affine jitter.
EFFECTS: dict[str, float] = {"none": 0.80, "random": 0.80, "affine": 0.83, "coverage": 0.815, "coverage+affine": 0.90}
#: Mean accuracy per shift and arm: under ``thin``, ``coverage`` clearly beats affine jitter.
SHIFT_EFFECTS: dict[str, dict[str, float]] = {
    "thin": {"none": 0.60, "random": 0.60, "affine": 0.62, "coverage": 0.72, "coverage+affine": 0.70},
    "translate": {"none": 0.40, "random": 0.40, "affine": 0.55, "coverage": 0.41, "coverage+affine": 0.56},
}


def results(effects: Mapping[str, float], seeds: int = 5, folds: int = 5, noise: float = 0.004) -> list[ResultRow]:
    """One row per arm × seed × fold: a shared (seed, fold) level plus the arm's effect plus small noise."""
    rng = np.random.default_rng(0)
    level = rng.normal(0.0, 0.02, size=(seeds, folds))
    out = []
    for arm, mean in effects.items():
        for s in range(seeds):
            for f in range(folds):
                acc = float(np.clip(mean + level[s, f] + rng.normal(0.0, noise), 0.0, 1.0))
                out.append(ResultRow(arm, s, f, 100 * s + f, acc, acc, acc, acc - 0.01, 0.5, 80, 0.1, 0.1))
    return out


def shifted(rows: Sequence[ResultRow], effects: Mapping[str, Mapping[str, float]]) -> dict[tuple[str, int, int], list]:
    """Shift rows for each result: the shift's arm effect plus the result's own deviation from its arm's mean."""
    out: dict[tuple[str, int, int], list[ShiftRow]] = {}
    for r in rows:
        dev = r.accuracy - EFFECTS.get(r.arm, r.accuracy)
        out[(r.arm, r.seed, r.fold)] = [
            ShiftRow(r.arm, r.seed, r.fold, shift, float(np.clip(e[r.arm] + dev, 0, 1)), float(np.clip(e[r.arm], 0, 1)))
            for shift, e in effects.items()
            if r.arm in e
        ]
    return out


def fake_store(
    path: Path,
    effects: Mapping[str, float] = EFFECTS,
    shift_effects: Mapping[str, Mapping[str, float]] | None = SHIFT_EFFECTS,
    quality: bool = True,
    classes: Sequence[str] = ("face", "non-face"),
) -> Path:
    """``path`` (an ``augment.sqlite``) holding a run's meta, results, shift rows and generators."""
    rows = results(effects)
    shifts = shifted(rows, shift_effects) if shift_effects else {}
    with AugmentStore(path) as store:
        store.set_meta(
            config={"arms": list(effects), "seeds": 5, "folds": 5, "classifier": "cnn", "k": 4},
            data={
                "name": "fake",
                "classes": list(classes),
                "image_shape": [1, 8, 8],
                "train_per_class": [40] * len(classes),
                "test_per_class": [60] * len(classes),
            },
            versions={"latentbridge": "test"},
        )
        for r in rows:
            store.add_result(r, shifts.get((r.arm, r.seed, r.fold), ()))
        for c in range(len(classes)):
            info: dict[str, object] = {"steps": 8, "wall_s": 1.0}
            if quality:
                info["quality"] = {"agreement": 0.9 - 0.1 * c, "frechet": 10.0 + c, "n": 200}
            store.add_generator(c, "cdcgan", f"generators/class{c}.pt", "ab" * 32, info)
    return path
