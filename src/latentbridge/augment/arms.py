"""The compared arms and the tasks that build their augmentation sets.

- ``none``: the originals only.
- ``random``: ``k`` random samples of the class's generator (latents from its prior).
- ``supervisor``: seed 002's supervisor (set GA minimising NCC to the centroid of originals ∪ set).
- ``affine``: a non-GAN control, each original jittered once (rotation ±10°, scale 0.9–1.1, shift ±1/14 of
  the side), cycling through the originals until there are ``k``.
- ``supervisor-cc``: the supervisor with a class-consistency penalty from a classifier trained on the
  training originals only (seed 002's future work).

Every task is a picklable dataclass run by :func:`build_set` in any process; it returns plain arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ..errors import InputError

__all__ = ["ARMS", "GAN_ARMS", "SetTask", "SetOutcome", "build_set", "make_generator"]

#: Every arm, in report order ("none" first: the others are compared with it).
ARMS: tuple[str, ...] = ("none", "random", "supervisor", "affine", "supervisor-cc")
#: Arms that need a generator.
GAN_ARMS: tuple[str, ...] = ("random", "supervisor", "supervisor-cc")


@dataclass
class SetTask:
    """Build the augmentation set of one arm for one class and one evolutionary seed.

    Attributes:
        arm: One of :data:`ARMS` other than ``none``.
        seed: Index of the evolutionary seed (0..seeds-1).
        label: Class index.
        run_seed: The derived seed this task uses.
        originals: The class's training originals ``(n, C, H, W)``.
        k: Images in the set.
        generator: ``{"kind": "dcgan", "path", "image_shape", "latent_dim", "channels"}`` or
            ``{"kind": "registry", "name", "options"}``.
        budget: Supervisor evaluations.
        pop_size: Supervisor GA population.
        classifier: The seed's consistency classifier (trained on the training split), for
            ``supervisor-cc`` and for the agreement measure of every set.
        cc_weight: Penalty weight of ``supervisor-cc``.
        threads: torch threads.
    """

    arm: str
    seed: int
    label: int
    run_seed: int
    originals: NDArray[np.float32]
    k: int
    generator: dict[str, Any] = field(default_factory=dict)
    budget: int = 0
    pop_size: int = 20
    classifier: Any = None
    cc_weight: float = 1.0
    threads: int = 1

    @property
    def key(self) -> tuple[str, int, int]:
        """``(arm, seed, class)``."""
        return self.arm, self.seed, self.label


@dataclass
class SetOutcome:
    """A built set; see :class:`~latentbridge.augment.store.SetRow`."""

    task_key: tuple[str, int, int]
    run_seed: int
    images: NDArray[np.float32]
    latents: NDArray[np.float64] | None = None
    fitness: float | None = None
    first_images: NDArray[np.float32] | None = None
    first_fitness: float | None = None
    agreement: float | None = None
    n_evals: int = 0
    trace: list[list[float]] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0


def make_generator(spec: dict[str, Any], label: int) -> Any:
    """The class's generator from a task's generator spec."""
    if spec.get("kind") == "dcgan":
        from .generators import as_generator, load_class_dcgan

        module = load_class_dcgan(
            spec["path"], tuple(spec["image_shape"]), latent_dim=spec["latent_dim"], channels=spec["channels"]
        )
        if module is None:
            raise InputError(f"the cached generator {spec['path']} is missing or unreadable; rerun with --resume")
        return as_generator(module)
    if spec.get("kind") == "registry":
        from .._plugins import load_generator

        return load_generator(spec["name"], label=label, **spec.get("options", {}))
    raise InputError(f"unknown generator spec {spec!r}")


def jitter(images: NDArray[np.float32], k: int, seed: int) -> NDArray[np.float32]:
    """``k`` copies of ``images`` (cycled) under :func:`latentbridge.models.dcgan.affine_jitter`, clamped to [-1, 1]."""
    from ..models.dcgan import affine_jitter

    idx = np.arange(k) % len(images)
    x = torch.from_numpy(np.ascontiguousarray(images[idx], dtype=np.float32))
    with torch.no_grad():
        out = affine_jitter(x, torch.Generator().manual_seed(seed)).clamp(-1.0, 1.0)
    return out.numpy().astype(np.float32)


def build_set(task: SetTask) -> SetOutcome:
    """Run one :class:`SetTask` (in any process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, task.threads))
    try:
        out = _build(task)
    finally:
        torch.set_num_threads(before)
    if task.classifier is not None and len(out.images):
        pred = np.asarray(task.classifier.predict_proba(out.images)).argmax(axis=1)
        out.agreement = float(np.mean(pred == task.label))
    out.wall_s = time.perf_counter() - t0
    out.cpu_s = time.process_time() - c0
    return out


def _build(task: SetTask) -> SetOutcome:
    if task.arm == "affine":
        return SetOutcome(task.key, task.run_seed, jitter(task.originals, task.k, task.run_seed))
    if task.arm not in GAN_ARMS:
        raise InputError(f"arm must be one of {', '.join(ARMS[1:])}, found {task.arm!r}")
    gen = make_generator(task.generator, task.label)
    if task.arm == "random":
        z = gen.latent.sample(task.k, task.run_seed)
        with torch.inference_mode():
            imgs = gen.generate(
                torch.as_tensor(z, dtype=torch.float32, device=gen.device).reshape(task.k, *gen.latent.shape)
            )
        return SetOutcome(
            task.key, task.run_seed, imgs.detach().to("cpu", torch.float32).numpy(), latents=np.asarray(z, np.float64)
        )
    from .._scorers import NCCScorer
    from .supervise import SupervisorProblem, run_supervisor

    cc = task.arm == "supervisor-cc"
    if cc and task.classifier is None:
        raise InputError("supervisor-cc needs the consistency classifier")
    problem = SupervisorProblem(
        gen,
        NCCScorer(),
        task.originals,
        k=task.k,
        proba=task.classifier.predict_proba if cc else None,
        label=task.label,
        weight=task.cc_weight,
    )
    run = run_supervisor(problem, budget=task.budget, seed=task.run_seed, pop_size=task.pop_size)
    return SetOutcome(
        task.key,
        task.run_seed,
        run.images,
        latents=run.latents,
        fitness=run.fitness,
        first_images=run.first_images,
        first_fitness=run.first_fitness,
        n_evals=run.n_evals,
        trace=run.trace,
    )
