"""The generator phase of an augmentation run: per-class DCGANs, one class-conditional DCGAN, or a registered one.

- ``dcgan``: one DCGAN per class, trained on that class's originals only (:mod:`.generators`);
- ``cdcgan``: one class-conditional DCGAN trained on every class's originals at once (:mod:`.conditional`),
  searched one class at a time through a per-class view;
- any other name: a registered class-conditional generator, built with ``label=``.

Trained weights are cached in ``OUT/generators/`` under a key of their data, seed and settings. Every
generator's sample quality is measured when it is stored (``info["quality"]`` of each class's row): the
class agreement of 200 prior samples under a judge classifier trained on the originals, and the Fréchet
distance between the judge's embeddings of those samples and of the class's held-out test images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..campaign.executors import run_tasks
from ..campaign.seeds import derive_seed
from .arms import make_generator, needs_generator
from .conditional import (
    CGAN_DEFAULTS,
    ConditionalGenerator,
    class_generator,
    conditional_cache_key,
    load_conditional_dcgan,
    matched_schedule,
    save_conditional_dcgan,
    train_conditional_dcgan,
)
from .generators import (
    GAN_DEFAULTS,
    as_generator,
    dcgan_cache_key,
    load_class_dcgan,
    save_state,
    train_class_dcgan,
)
from .quality import generator_quality

if TYPE_CHECKING:
    from .data import DataSplit
    from .progress import Progress
    from .runner import AugmentConfig
    from .store import AugmentStore

__all__ = ["GENERATOR_KINDS", "QUALITY_SAMPLES", "GanTask", "build_generators", "train_gan"]

#: Generators trained by the run itself (other names are registered generators).
GENERATOR_KINDS: tuple[str, ...] = ("dcgan", "cdcgan")
#: Prior samples per class for the quality measures.
QUALITY_SAMPLES = 200


@dataclass
class GanTask:
    """Train one class's DCGAN (``label`` set) or the class-conditional DCGAN of all classes (``label`` None)."""

    label: int | None
    x: NDArray[np.float32]
    y: NDArray[np.int64] | None
    n_classes: int
    seed: int
    steps: int
    threads: int
    batch_size: int | None = None


def train_gan(task: GanTask) -> tuple[int | None, dict[str, Any], dict[str, Any]]:
    """Run a :class:`GanTask`; returns ``(label, state_dict, info)`` (label None: the conditional model)."""
    if task.label is None:
        assert task.y is not None
        g: Any
        g, info = train_conditional_dcgan(
            task.x,
            task.y,
            task.n_classes,
            seed=task.seed,
            steps=task.steps,
            threads=task.threads,
            batch_size=task.batch_size or CGAN_DEFAULTS["batch_size"],
        )
    else:
        g, info = train_class_dcgan(task.x, seed=task.seed, steps=task.steps, threads=task.threads)
    return task.label, {k: v.detach().cpu() for k, v in g.state_dict().items()}, info


def _quality(gen: Any, label: int, judge: Any, split: DataSplit, seed: int) -> dict[str, float] | None:
    """The class generator's sample quality (None when the judge cannot embed or the class has < 2 test images)."""
    if judge is None or not hasattr(judge, "embed"):
        return None
    ref = split.test_x[split.test_y == label]
    if len(ref) < 2:
        return None
    import torch

    if isinstance(gen, dict):  # a spec: the generator is built only when it is judged
        gen = make_generator(gen, label)
    z = gen.latent.sample(QUALITY_SAMPLES, derive_seed(seed, "quality", label))
    with torch.inference_mode():
        imgs = gen.generate(torch.as_tensor(z, dtype=torch.float32).reshape(QUALITY_SAMPLES, *gen.latent.shape))
    images = imgs.detach().to("cpu", torch.float32).numpy()
    return generator_quality({label: images}, judge, {label: ref})[label]


def build_generators(
    cfg: AugmentConfig,
    split: DataSplit,
    out: Path,
    store: AugmentStore,
    run: dict[str, Any],
    note: Progress,
    computed: dict[str, int],
    judge: Any,
) -> dict[int, dict[str, Any]]:
    """Per-class generator specs (what :func:`~latentbridge.augment.arms.make_generator` takes).

    Trains (in the executor) the generators that are not cached yet and stores one row per class, with its
    sample quality under ``judge``.
    """
    if not any(needs_generator(a) for a in cfg.arms):
        return {}
    n = split.n_classes
    stored = store.generators()

    def record(label: int, kind: str, gen: Any, path: Path | None, sha: str | None, info: dict[str, Any]) -> None:
        """Store the class's row; ``gen`` is its generator, or its spec when the generator is not at hand."""
        quality = _quality(gen, label, judge, split, cfg.seed)
        rel = str(path.relative_to(out)) if path is not None else None
        store.add_generator(label, kind, rel, sha, {**info, **({"quality": quality} if quality else {})})

    if cfg.generator not in GENERATOR_KINDS:
        registered: dict[int, dict[str, Any]] = {
            c: {"kind": "registry", "name": cfg.generator, "options": cfg.generator_options} for c in range(n)
        }
        for c in range(n):
            if c not in stored:
                record(c, "registry", registered[c], None, None, {"name": cfg.generator, "wall_s": 0.0})
        return registered
    if cfg.generator == "cdcgan":
        return _conditional(cfg, split, out, stored, run, note, computed, record)
    settings = {**GAN_DEFAULTS, "steps": cfg.gan_steps}
    specs: dict[int, dict[str, Any]] = {}
    todo: list[GanTask] = []
    for c in range(n):
        originals = split.originals(c)
        gseed = derive_seed(cfg.seed, "gan", c)
        path = out / "generators" / f"class{c}-{dcgan_cache_key(originals, gseed, settings)}.pt"
        specs[c] = {
            "kind": "dcgan",
            "path": path,
            "image_shape": split.image_shape,
            "latent_dim": settings["latent_dim"],
            "channels": settings["channels"],
        }
        cached = load_class_dcgan(path, split.image_shape, latent_dim=settings["latent_dim"])
        if cached is None:
            todo.append(GanTask(c, originals, None, n, gseed, cfg.gan_steps, run["threads"]))
        elif c not in stored:
            record(c, "dcgan", as_generator(cached), path, None, {"wall_s": 0.0, "cached": True})
    done = n - len(todo)
    note("generators", done, n)
    from ..models.dcgan import Generator

    for label, state, info in run_tasks(train_gan, todo, **run):
        assert label is not None
        module = Generator(split.image_shape, settings["latent_dim"], settings["channels"])
        module.load_state_dict(state)
        path = specs[label]["path"]
        sha = save_state(module, path)
        generator = as_generator(module.eval().requires_grad_(False))
        record(label, "dcgan", generator, path, sha, {**info, "seed": derive_seed(cfg.seed, "gan", label)})
        computed["generators"] += 1
        done += 1
        note("generators", done, n)
    return specs


def _conditional(
    cfg: AugmentConfig,
    split: DataSplit,
    out: Path,
    stored: dict[int, dict[str, Any]],
    run: dict[str, Any],
    note: Progress,
    computed: dict[str, int],
    record: Any,
) -> dict[int, dict[str, Any]]:
    """One class-conditional DCGAN on all originals; one spec (and store row) per class."""
    n = split.n_classes
    if cfg.cgan_steps is None:  # as many images as the per-class DCGANs see together
        sizes = [len(split.originals(c)) for c in range(n)]
        schedule = matched_schedule(sizes, per_class_steps=cfg.gan_steps)
    else:
        schedule = {"steps": cfg.cgan_steps, "batch_size": CGAN_DEFAULTS["batch_size"]}
    settings = {**CGAN_DEFAULTS, **schedule}
    gseed = derive_seed(cfg.seed, "cgan")
    path = out / "generators" / f"conditional-{conditional_cache_key(split.train_x, split.train_y, gseed, settings)}.pt"
    dims = {"latent_dim": settings["latent_dim"], "channels": settings["channels"]}
    specs = {
        c: {"kind": "cdcgan", "path": path, "image_shape": split.image_shape, "n_classes": n, "label": c, **dims}
        for c in range(n)
    }
    sha: str | None = None
    info: dict[str, Any] = {"wall_s": 0.0, "cached": True}
    model = load_conditional_dcgan(path, split.image_shape, n, **dims)
    if model is None:
        note("generators", 0, n)
        task = GanTask(
            None, split.train_x, split.train_y, n, gseed, settings["steps"], run["threads"], settings["batch_size"]
        )
        for _, state, trained in run_tasks(train_gan, [task], **run):
            module = ConditionalGenerator(split.image_shape, n, settings["latent_dim"], settings["channels"])
            module.load_state_dict(state)
            sha = save_conditional_dcgan(module, path)
            model = module.eval().requires_grad_(False)
            info = {**trained, "seed": gseed, "schedule": schedule}
            computed["generators"] += n
        stored = {}
    for c in range(n):
        if c not in stored:  # the shared model's time is counted once, on class 0
            shared = info if c == 0 else {**info, "wall_s": 0.0, "cpu_s": 0.0, "shared_with_class": 0}
            assert model is not None
            record(c, "cdcgan", class_generator(model, c), path, sha, shared)
    note("generators", n, n)
    return specs
