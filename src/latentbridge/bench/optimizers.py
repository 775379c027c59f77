"""Compatibility home of the bench's optimizer names: the adapters live in :mod:`latentbridge.optimizers`.

Everything here is re-exported from :mod:`latentbridge.optimizers`; new code should import
from there.
"""

from __future__ import annotations

from ..optimizers import (
    BUILTIN_OPTIMIZERS,
    MULTI_OBJECTIVE_PYMOO,
    BaselineOptimizer,
    NevergradOptimizer,
    PymooOptimizer,
    Solver,
    applies,
    builtin_optimizer,
    resolve,
    validate_optimizer,
)

__all__ = [
    "BUILTIN_OPTIMIZERS",
    "MULTI_OBJECTIVE_PYMOO",
    "BaselineOptimizer",
    "NevergradOptimizer",
    "PymooOptimizer",
    "Solver",
    "applies",
    "builtin_optimizer",
    "resolve",
    "validate_optimizer",
]
