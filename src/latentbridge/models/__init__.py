"""Embedded models shipped with latentbridge (MNIST DCGAN generator and digit embedder)."""

from __future__ import annotations

from .mnist import DCGANGenerator, DigitCNN, load_dcgan, load_digit_cnn

__all__ = ["DCGANGenerator", "DigitCNN", "load_dcgan", "load_digit_cnn"]
