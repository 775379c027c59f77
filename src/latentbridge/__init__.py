"""latentbridge: searches in the latent space of generative models as batched optimization problems.

Problems (:class:`TargetSimilarity`, :class:`SetDiversity`, :class:`CentroidDiversity`)
take a generator and a scorer and expose a batched ``evaluate(Z)`` that any nevergrad
or pymoo optimizer can drive (see :mod:`latentbridge.pymoo` and
:mod:`latentbridge.nevergrad`). Generators and scorers are plugins found by name::

    import latentbridge as lb
    gen = lb.load_generator("mnist-dcgan")
    scorer = lb.load_scorer("mnist-embed")

Importing latentbridge never imports nevergrad or pymoo.
"""

from __future__ import annotations

from . import errors, images
from ._generators import TorchGenerator
from ._latent import LatentSpace
from ._plugins import (
    get_plugin_manager,
    list_plugins,
    load_generator,
    load_problem,
    load_scorer,
    registry,
    reset_plugins,
)
from ._problems import CentroidDiversity, LatentProblem, SetDiversity, TargetSimilarity
from ._protocols import LatentGenerator, Scorer, SupportsSimilarity
from ._result import OptimizeResult, Trace
from ._scorers import EmbeddingScorer, NCCScorer, RMSEScorer
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    # concepts
    "LatentGenerator",
    "LatentSpace",
    "Scorer",
    "SupportsSimilarity",
    # problems
    "CentroidDiversity",
    "LatentProblem",
    "SetDiversity",
    "TargetSimilarity",
    # results
    "OptimizeResult",
    "Trace",
    # building blocks
    "EmbeddingScorer",
    "NCCScorer",
    "RMSEScorer",
    "TorchGenerator",
    # plugins
    "get_plugin_manager",
    "hookimpl",
    "list_plugins",
    "load_generator",
    "load_problem",
    "load_scorer",
    "registry",
    "reset_plugins",
    # misc
    "__version__",
    "errors",
    "images",
]
