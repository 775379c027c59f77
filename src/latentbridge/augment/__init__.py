"""Seed 002's data-augmentation pipeline: per-class generators, supervisors, classifiers, statistics, reports.

``latentbridge.augment.augment(DATA, OUT)`` (and the command ``latentbridge augment DATA --out OUT``) trains
generators on a small labelled set (one DCGAN per class, or one class-conditional DCGAN), builds augmentation
sets by several arms (:mod:`~latentbridge.augment.arms`: random samples, seed 002's supervisor and its
class-consistent variant, classifier-feedback selection, affine jitter, duplicated originals, combinations,
plugin arms), trains classifiers with k-fold cross validation on each arm and compares their scores on the test
split and on distribution-shifted copies of it with no augmentation and with the other baselines.
"""

from __future__ import annotations

from .arms import ARMS, DEFAULT_ARMS, Arm, ArmContext, ArmSet, get_arm
from .data import BUILTIN_DATASETS, AugmentDataError, DataSplit, load_data
from .runner import DEFAULTS, AugmentConfig, AugmentSummary, augment
from .store import AugmentStore, AugmentStoreError

__all__ = [
    "ARMS",
    "DEFAULT_ARMS",
    "Arm",
    "ArmContext",
    "ArmSet",
    "BUILTIN_DATASETS",
    "DEFAULTS",
    "AugmentConfig",
    "AugmentDataError",
    "AugmentStore",
    "AugmentStoreError",
    "AugmentSummary",
    "DataSplit",
    "augment",
    "get_arm",
    "load_data",
]
