"""Extension points of latentbridge: one ``latentbridge_register_<thing>`` hook each.

A plugin is a module (or object) with functions marked ``@latentbridge.hookimpl``,
exposed through the entry-point group ``latentbridge`` in its distribution's
``pyproject.toml``::

    [project.entry-points.latentbridge]
    mything = "latentbridge_mything"

Each hook receives a ``register`` callable::

    register(name: str, factory: Callable[..., T], *, description: str = "") -> None

``factory(**options)`` builds the object when a user calls, e.g.,
``latentbridge.load_generator(name, **options)``. Registering a name twice (in any
plugin) raises :class:`latentbridge.errors.RegistryConflictError`.

Specs only ever grow by new keyword arguments; names are never changed.
"""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

__all__ = [
    "PROJECT",
    "Register",
    "hookimpl",
    "hookspec",
    "latentbridge_register_arms",
    "latentbridge_register_generators",
    "latentbridge_register_measures",
    "latentbridge_register_optimizers",
    "latentbridge_register_problems",
    "latentbridge_register_scorers",
]

PROJECT = "latentbridge"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The ``register`` callback handed to every registration hook."""

    def __call__(self, name: str, factory: Any, *, description: str = "") -> None: ...


@hookspec
def latentbridge_register_generators(register: Register) -> None:
    """Register latent generators.

    ``factory(**options)`` must return an object satisfying
    :class:`latentbridge.LatentGenerator`; common options are ``device`` and a
    weights ``path``.
    """


@hookspec
def latentbridge_register_scorers(register: Register) -> None:
    """Register scorers.

    ``factory(**options)`` must return an object satisfying :class:`latentbridge.Scorer`.
    """


@hookspec
def latentbridge_register_problems(register: Register) -> None:
    """Register problem classes.

    ``factory(generator, scorer, **options)`` must return a
    :class:`latentbridge.LatentProblem` (usually the class itself).
    """


@hookspec
def latentbridge_register_optimizers(register: Register) -> None:
    """Register optimizers for ``latentbridge bench``.

    ``factory(**params)`` must return an object with
    ``solve(problem, budget: int, seed: int) -> latentbridge.OptimizeResult``.
    """


@hookspec
def latentbridge_register_measures(register: Register) -> None:
    """Register measures (behaviour descriptors and objectives of quality-diversity searches).

    ``factory(**options)`` must return an object satisfying :class:`latentbridge.Measure`:
    ``names``, ``differentiable``, ``bounds(image_shape)`` and ``measure(images)``
    mapping ``(n, C, H, W)`` images in [-1, 1] to ``(n,)`` or ``(n, m)`` values.
    """


@hookspec
def latentbridge_register_arms(register: Register) -> None:
    """Register augmentation arms for ``latentbridge augment`` (``--arms none,NAME``).

    ``factory()`` must return an object with ``needs_generator: bool`` (whether it uses the class
    generators; ``needs_feedback: bool``, optional, whether it uses the feedback and checker classifiers)
    and ``build(ctx: latentbridge.augment.ArmContext) -> latentbridge.augment.ArmSet`` returning ``ctx.k``
    images of class ``ctx.label`` in [-1, 1]. It runs in worker processes too, so it must be importable
    there (an installed distribution) and deterministic under ``ctx.run_seed``.
    """
