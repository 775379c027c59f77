"""Argument checks for plugin authors: the same checks (and error messages) latentbridge uses itself.

A generator or scorer plugin should reject bad input with a
:class:`~latentbridge.errors.LatentBridgeError` that says what was wrong, not crash deep
inside torch. These helpers do that and are a stable, public API:

- :func:`as_device` — a device argument (``None`` → CPU) as a ``torch.device``;
  :class:`~latentbridge.errors.InputError` for a bad name.
- :func:`check_positive_int` — an int ``>= minimum`` (bools refused).
- :func:`check_latents` — a batch of flattened solutions as a float32 ``(n, dim)`` array
  (finite, never a writable view of the caller's data).
- :func:`check_images` — a float image batch ``(n, C, H, W)``, as a scorer's ``embed`` receives.
- :func:`as_image` — one image (numpy/tensor, CHW/HW/HWC, float in [-1, 1] or uint8) as a
  float32 ``(C, H, W)`` tensor in [-1, 1].

Example:
    >>> import torch
    >>> from latentbridge.validation import as_device, check_images, check_positive_int
    >>> as_device(None)
    device(type='cpu')
    >>> check_positive_int(3, "k")
    3
    >>> check_images(torch.zeros(2, 1, 8, 8))  # returns None when the batch is fine
"""

from __future__ import annotations

from ._scorers import as_device
from ._validation import as_image, check_images, check_latents, check_positive_int

__all__ = ["as_device", "as_image", "check_images", "check_latents", "check_positive_int"]
