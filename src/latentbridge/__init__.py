"""latentbridge: searches in the latent space of generative models as batched optimization problems.

Problems (:class:`TargetSimilarity`, :class:`SetDiversity`, :class:`CentroidDiversity`)
take a generator and a scorer and expose a batched ``evaluate(Z)`` that any nevergrad
or pymoo optimizer can drive (see :mod:`latentbridge.pymoo` and
:mod:`latentbridge.nevergrad`). Generators and scorers are plugins found by name::

    import latentbridge as lb
    gen = lb.load_generator("mnist-dcgan")
    scorer = lb.load_scorer("mnist-embed")

Importing latentbridge never imports nevergrad or pymoo, and imports torch only when a
torch-backed name (a problem, scorer, generator wrapper or ``images``) is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors
from ._latent import LatentSpace
from ._plugins import (
    get_plugin_manager,
    list_plugins,
    load_generator,
    load_measure,
    load_problem,
    load_scorer,
    registry,
    reset_plugins,
)
from ._protocols import LatentGenerator, Scorer, SupportsSimilarity
from ._result import OptimizeResult, Trace
from ._tracking import Evaluation, EvaluationListener, Tracker
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from . import images
    from ._generators import TorchGenerator
    from ._problems import CentroidDiversity, LatentProblem, SetDiversity, TargetSimilarity
    from ._scorers import EmbeddingScorer, NCCScorer, RMSEScorer
    from .measures import Measure
    from .precision import PRECISIONS, PrecisionWarning, precision_support

# Names whose modules import torch are loaded on first access (PEP 562), so that `import latentbridge`
# (and a plugin module that only needs `latentbridge.hookimpl`) does not pay torch's import time.
_LAZY: dict[str, str] = {
    "TorchGenerator": "._generators",
    "CentroidDiversity": "._problems",
    "LatentProblem": "._problems",
    "SetDiversity": "._problems",
    "TargetSimilarity": "._problems",
    "EmbeddingScorer": "._scorers",
    "NCCScorer": "._scorers",
    "RMSEScorer": "._scorers",
    "images": ".images",
    "Measure": ".measures",
    "PRECISIONS": ".precision",
    "PrecisionWarning": ".precision",
    "precision_support": ".precision",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'latentbridge' has no attribute {name!r}")
    module = importlib.import_module(target, __name__)
    value = module if name == "images" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    # concepts
    "LatentGenerator",
    "LatentSpace",
    "Measure",
    "Scorer",
    "SupportsSimilarity",
    # problems
    "CentroidDiversity",
    "LatentProblem",
    "SetDiversity",
    "TargetSimilarity",
    # results and observation
    "Evaluation",
    "EvaluationListener",
    "OptimizeResult",
    "Trace",
    "Tracker",
    # building blocks
    "EmbeddingScorer",
    "NCCScorer",
    "RMSEScorer",
    "TorchGenerator",
    # precision and speed
    "PRECISIONS",
    "PrecisionWarning",
    "precision_support",
    # plugins
    "get_plugin_manager",
    "hookimpl",
    "list_plugins",
    "load_generator",
    "load_measure",
    "load_problem",
    "load_scorer",
    "registry",
    "reset_plugins",
    # misc
    "__version__",
    "errors",
    "images",
]
