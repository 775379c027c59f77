"""The units of an augmentation run (GANs, sets, classifier fits) and its whole-run progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .arms import needs_generator

if TYPE_CHECKING:
    from .data import DataSplit
    from .runner import AugmentConfig
    from .store import AugmentStore

__all__ = ["PHASES", "Progress", "finished_fits", "fit_keys", "set_keys", "unit_counts", "with_overall"]

#: Called as ``progress(phase, done, total)``.
Progress = Callable[[str, int, int], None]

#: The phases of a run, in order; ``progress("overall", done, total)`` sums their units.
PHASES = ("generators", "sets", "classifiers")


def set_keys(cfg: AugmentConfig, split: DataSplit) -> list[tuple[str, int, int]]:
    """Every (arm, seed, class) set of the run, in order (``none`` adds no images)."""
    return [(a, s, c) for a in cfg.arms if a != "none" for s in range(cfg.seeds) for c in range(split.n_classes)]


def fit_keys(cfg: AugmentConfig) -> list[tuple[str, int, int]]:
    """Every (arm, seed, fold) classifier fit of the run, in order."""
    return [(a, s, f) for a in cfg.arms for s in range(cfg.seeds) for f in range(cfg.folds)]


def finished_fits(store: AugmentStore) -> set[tuple[str, int, int]]:
    """(arm, seed, fold) of stored fits that are finished: scored on the test split and on every shift.

    A fit stored before the distribution-shift scores existed counts as unfinished, so ``--resume`` refits it
    (the same seeds give the same result row) and adds its shift scores.
    """
    from .shift import SHIFTS

    shifted = store.shift_keys()
    return {k for k in store.result_keys() if all((*k, name) in shifted for name in SHIFTS)}


def unit_counts(cfg: AugmentConfig, split: DataSplit, store: AugmentStore) -> dict[str, list[int]]:
    """``phase -> [done, total]`` units of the whole run, known before the first unit runs (resumed ones done)."""
    gans = split.n_classes if cfg.generator in ("dcgan", "cdcgan") and any(needs_generator(a) for a in cfg.arms) else 0
    sets, fits = set_keys(cfg, split), fit_keys(cfg)
    have_sets, have_fits = store.set_keys(), finished_fits(store)
    return {
        "generators": [min(gans, len(store.generators())), gans],
        "sets": [sum(k in have_sets for k in sets), len(sets)],
        "classifiers": [sum(k in have_fits for k in fits), len(fits)],
    }


def with_overall(note: Progress, counts: dict[str, list[int]]) -> Progress:
    """``note`` that also reports ``("overall", done, total)``: every phase's units summed, from the start."""

    def overall() -> None:
        note("overall", sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()))

    def both(phase: str, done: int, total: int) -> None:
        if phase in counts:
            counts[phase] = [done, total]
        note(phase, done, total)
        overall()

    overall()
    return both
