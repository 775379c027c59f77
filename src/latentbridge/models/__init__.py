"""Embedded models shipped with latentbridge (MNIST DCGAN generator and digit embedder).

:mod:`latentbridge.models.dcgan` holds the DCGAN pieces they are built and trained with (for any image shape);
:mod:`latentbridge.models.train` trains the shipped weights.
"""

from __future__ import annotations

from .mnist import DCGANGenerator, DigitCNN, load_dcgan, load_digit_cnn

__all__ = ["DCGANGenerator", "DigitCNN", "load_dcgan", "load_digit_cnn"]
