"""Helpers for testing latentbridge and its plugins: tiny models and conformance checks.

``check_generator(gen)`` and ``check_scorer(scorer)`` assert everything the problems
rely on, so a plugin's test suite gets the contract in one line::

    from latentbridge.testing import check_generator
    def test_conforms():
        check_generator(latentbridge.load_generator("mything"))

``tiny_generator()`` is a seeded random MLP, fast enough for unit tests;
``registered(kind, name, factory)`` temporarily registers something by name.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from ._generators import TorchGenerator
from ._latent import LatentSpace
from ._plugins import Entry, Kind, registry
from ._protocols import LatentGenerator, Scorer

__all__ = ["check_generator", "check_scorer", "expect_emulation_warning", "registered", "tiny_generator"]


def tiny_generator(
    latent_dim: int = 8,
    image_shape: tuple[int, int, int] = (1, 8, 8),
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> TorchGenerator:
    """A seeded random MLP generator ``(n, latent_dim) -> (n, *image_shape)`` with tanh output.

    It is a fixture for tests (milliseconds per batch), not a model of anything.
    """
    c, h, w = image_shape
    g = torch.Generator().manual_seed(seed)
    lin1 = torch.nn.Linear(latent_dim, 32)
    lin2 = torch.nn.Linear(32, c * h * w)
    with torch.no_grad():
        for p in (*lin1.parameters(), *lin2.parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * (1.0 / max(1, p.shape[-1]) ** 0.5))
    net = torch.nn.Sequential(lin1, torch.nn.Tanh(), lin2, torch.nn.Tanh(), torch.nn.Unflatten(1, (c, h, w)))
    return TorchGenerator(
        net,
        LatentSpace((latent_dim,)),
        image_shape,
        device=device,
        name="tiny",
        extra_config={"seed": seed},
    )


@contextlib.contextmanager
def registered(kind: Kind, name: str, factory: Callable[..., Any], *, description: str = "") -> Iterator[None]:
    """Register ``factory`` under ``name`` for the duration of a ``with`` block."""
    reg = registry(kind)
    reg.add(Entry(name, factory, kind, "latentbridge.testing", "latentbridge.testing", "0", description))
    try:
        yield
    finally:
        reg._entries.pop(name, None)


def check_generator(gen: Any, *, n: int = 3, seed: int = 0) -> None:
    """Assert that ``gen`` honours the :class:`~latentbridge.LatentGenerator` contract.

    Checks the protocol's attributes, output shape/dtype/device, finiteness,
    determinism of two identical calls, and independence of batch rows.
    """
    assert isinstance(gen, LatentGenerator), f"{type(gen).__name__} does not implement LatentGenerator"
    space = gen.latent
    assert isinstance(space, LatentSpace), "generator.latent must be a latentbridge.LatentSpace"
    c, h, w = gen.image_shape
    z = torch.from_numpy(space.sample(n, seed).astype(np.float32)).reshape(n, *space.shape).to(gen.device)
    with torch.inference_mode():
        a = gen.generate(z)
        b = gen.generate(z)
        one = gen.generate(z[:1])
    assert isinstance(a, torch.Tensor), "generate must return a torch.Tensor"
    assert tuple(a.shape) == (n, c, h, w), f"generate returned {tuple(a.shape)}, expected {(n, c, h, w)}"
    assert a.dtype == torch.float32, f"generate must return float32, got {a.dtype}"
    assert torch.isfinite(a).all(), "generate returned NaN or inf"
    torch.testing.assert_close(a, b, msg="generate is not deterministic for identical inputs")
    torch.testing.assert_close(a[:1], one, rtol=1e-4, atol=1e-4, msg="a row's image depends on the other rows")


def check_scorer(scorer: Any, image_shape: tuple[int, int, int] = (1, 8, 8), *, n: int = 4, seed: int = 0) -> None:
    """Assert that ``scorer`` honours the :class:`~latentbridge.Scorer` contract on random images."""
    assert isinstance(scorer, Scorer), f"{type(scorer).__name__} does not implement Scorer"
    g = torch.Generator().manual_seed(seed)
    imgs = torch.rand((n, *image_shape), generator=g) * 2 - 1
    with torch.inference_mode():
        f = scorer.embed(imgs)
        d = scorer.distance(f, f)
        db = scorer.distance(f.unsqueeze(0), f.unsqueeze(0))
    assert f.ndim == 2, f"embed must return (n, F), got {tuple(f.shape)}"
    assert f.shape[0] == n, f"embed must return one row per image, got {f.shape[0]} for {n}"
    assert tuple(d.shape) == (n, n), f"distance must return (n, m), got {tuple(d.shape)}"
    assert tuple(db.shape) == (1, n, n), "distance must broadcast leading batch axes"
    assert torch.isfinite(d).all(), "distance returned NaN or inf"
    torch.testing.assert_close(d.diagonal(), torch.zeros(n, dtype=d.dtype), atol=1e-4, rtol=0)
    torch.testing.assert_close(d, d.T, atol=1e-5, rtol=1e-5, msg="distance must be symmetric")
    assert (d >= -1e-6).all(), "distances must be non-negative"


@contextlib.contextmanager
def expect_emulation_warning(precision: str, device: str | torch.device = "cpu") -> Iterator[None]:
    """Run a block that asks for ``precision`` on ``device``, on any CPU.

    Where ``precision`` is emulated (bf16 on a CPU without AVX-512 BF16/AMX), the block must warn
    :class:`~latentbridge.PrecisionWarning` "... is emulated ..." at least once, and those warnings
    are consumed; where it is native, the block must not warn so. Every other warning is passed on
    unchanged. So one test checks the behaviour that holds everywhere and the warning where it applies::

        with expect_emulation_warning("bf16"):
            gen = latentbridge.load_generator("mnist-dcgan", precision="bf16")

    Raises:
        AssertionError: the emulation warning was missing where due, or given where not.
    """
    from .precision import PrecisionWarning, emulated

    due = emulated(precision, device)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        yield
    hits = [w for w in seen if issubclass(w.category, PrecisionWarning) and "is emulated" in str(w.message)]
    for w in seen:
        if w not in hits:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    if due and not hits:
        raise AssertionError(f"precision={precision!r} is emulated on {device}, but no PrecisionWarning said so")
    if not due and hits:
        raise AssertionError(
            f"precision={precision!r} is native on {device}, yet it was reported emulated: {hits[0].message}"
        )
