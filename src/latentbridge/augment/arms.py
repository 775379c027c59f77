"""The compared arms: how each builds one class's augmentation set, and the hook through which packages add arms.

Built-in arms (:data:`ARMS`, in report order):

- ``none``: the originals only (the reference every other arm is compared with).
- ``duplicate``: the class's originals again, unchanged (cycled to ``k``): the control for a larger training set
  and more minibatch updates without any new image.
- ``random``: ``k`` random samples of the class's generator (latents from its prior).
- ``supervisor``: seed 002's supervisor (set GA minimising NCC to the centroid of originals ∪ set).
- ``affine``: a non-GAN control, each original jittered once (rotation ±10°, scale 0.9–1.1, shift ±1/14 of
  the side), cycling through the originals until there are ``k``.
- ``supervisor-cc``: the supervisor with a class-consistency penalty from a classifier trained on the
  training originals only (seed 002's future work).
- ``uncertain``, ``margin``, ``bald``, ``coverage``: classifier-feedback selection
  (:mod:`latentbridge.augment.selection`): sets whose images the feedback classifier finds uncertain (entropy
  or margin), on which its MC-dropout ensemble disagrees (BALD), or that cover the originals in its embedding;
  each kept in its class by an independent checker.
- ``A+B`` (e.g. ``random+affine``, ``coverage+affine``): the parts' sets joined, each part contributing an
  equal share of the ``k`` images (the first parts take the remainder), so every arm adds the same number of
  images.

A third-party package adds an arm with the ``latentbridge_register_arms`` hook
(:mod:`latentbridge.hookspecs`): ``register("my-arm", factory)``, where ``factory()`` returns an object with
``needs_generator: bool`` (``needs_feedback`` and ``searches``, whether it runs a set search whose budget and
optimizer matter, optional) and ``build(ctx: ArmContext) -> ArmSet``.
``latentbridge augment DATA --arms none,my-arm`` then runs it like a built-in (in any worker process, where
the plugin is found again by its entry point).

Every task is a picklable :class:`ArmContext` run by :func:`build_set` in any process; it returns plain arrays.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from numpy.typing import NDArray

from ..campaign.seeds import derive_seed
from ..errors import InputError, UnknownNameError

__all__ = [
    "ARMS",
    "ARM_NOTES",
    "DEFAULT_ARMS",
    "Arm",
    "ArmContext",
    "ArmSet",
    "SetOutcome",
    "build_set",
    "get_arm",
    "make_generator",
    "needs_feedback",
    "needs_generator",
    "searches",
]

#: Built-in arms, in report order ("none" first: the others are compared with it).
ARMS: tuple[str, ...] = (
    "none",
    "duplicate",
    "random",
    "supervisor",
    "affine",
    "supervisor-cc",
    "uncertain",
    "margin",
    "bald",
    "coverage",
)
#: One line per built-in arm (``latentbridge plugins`` and the reports show them).
ARM_NOTES: dict[str, str] = {
    "none": "the originals only (the reference)",
    "duplicate": "the originals again, unchanged: more updates and a larger set without a new image (a control)",
    "random": "k prior samples of the class's generator",
    "supervisor": "seed 002's supervisor: set GA, images far (NCC) from the class centroid",
    "affine": "each original jittered once (rotation, scale, shift): a non-GAN control",
    "supervisor-cc": "the supervisor plus a class-consistency penalty (seed 002's future work)",
    "uncertain": "set search: images the feedback CNN finds uncertain (entropy), kept in class by a checker CNN",
    "margin": "set search: images with a small top-two margin under the feedback CNN, kept in class",
    "bald": "set search: images an MC-dropout ensemble disagrees on (BALD), kept in class",
    "coverage": "set search: facility-location coverage of the originals in the feedback CNN's embedding",
}
#: The arms of a default run (sized for 15 minutes on 2 cores; the others are chosen with ``arms=``).
DEFAULT_ARMS: tuple[str, ...] = ("none", "random", "supervisor", "affine", "supervisor-cc")
#: MC-dropout passes of ``bald``.
BALD_PASSES = 10


@dataclass
class ArmContext:
    """Everything an arm may use to build the augmentation set of one class for one evolutionary seed.

    Attributes:
        arm: The arm's name.
        seed: Index of the evolutionary seed (0..seeds-1).
        label: Class index.
        run_seed: The derived seed this set uses.
        originals: The class's training originals ``(n, C, H, W)`` in [-1, 1].
        k: Images in the set.
        n_classes: Number of classes.
        generator: Spec of the class's generator (:func:`make_generator`); empty for arms without one.
        budget: Evaluations of a set search.
        pop_size: Population of the set GA (and other pymoo algorithms).
        optimizer: The set search's optimizer (any name :func:`latentbridge.optimizers.resolve` accepts).
        classifier: The seed's consistency classifier (the run's classifier kind, trained on the training
            originals only): ``supervisor-cc``'s penalty and the agreement of every set.
        feedback: The seed's feedback CNN (trained on the training originals only), for selection arms.
        checker: The seed's independent checker CNN (another initialisation and order), for selection arms.
        cc_weight: Weight of the class-consistency penalties.
        threads: torch threads.
    """

    arm: str
    seed: int
    label: int
    run_seed: int
    originals: NDArray[np.float32]
    k: int
    n_classes: int = 0
    generator: dict[str, Any] = field(default_factory=dict)
    budget: int = 0
    pop_size: int = 20
    optimizer: str = "set-ga"
    classifier: Any = None
    feedback: Any = None
    checker: Any = None
    cc_weight: float = 1.0
    threads: int = 1

    @property
    def key(self) -> tuple[str, int, int]:
        """``(arm, seed, class)``."""
        return self.arm, self.seed, self.label

    def make_generator(self) -> Any:
        """The class's generator (a :class:`latentbridge.LatentGenerator`)."""
        if not self.generator:
            raise InputError(f"arm {self.arm!r} needs a generator, but the run has none for class {self.label}")
        return make_generator(self.generator, self.label)

    def models(self, *names: str) -> list[Any]:
        """The named models (``"classifier"``, ``"feedback"``, ``"checker"``), each checked to be present."""
        out = []
        for name in names:
            model = getattr(self, name)
            if model is None:
                raise InputError(f"arm {self.arm!r} needs the {name} classifier, which this run did not train")
            out.append(model)
        return out


@dataclass
class ArmSet:
    """What an arm built: ``images`` ``(k, C, H, W)`` in [-1, 1] and, for searches, what the search found.

    Attributes:
        images: The set.
        latents: ``(k, latent_dim)`` latents of generated images (None for other images).
        fitness: The search's best fitness (None without a search).
        first_images: The best set of the search's first batch (seed 002's Fig. 11).
        first_fitness: Its fitness.
        n_evals: Sets evaluated.
        trace: ``[evals, best]`` pairs of the search.
    """

    images: NDArray[np.float32]
    latents: NDArray[np.float64] | None = None
    fitness: float | None = None
    first_images: NDArray[np.float32] | None = None
    first_fitness: float | None = None
    n_evals: int = 0
    trace: list[list[float]] = field(default_factory=list)


@runtime_checkable
class Arm(Protocol):
    """An augmentation arm: builds one class's set from an :class:`ArmContext`."""

    needs_generator: bool

    def build(self, ctx: ArmContext) -> ArmSet:
        """The set of ``ctx.k`` images of class ``ctx.label``."""
        ...


@dataclass
class SetOutcome:
    """A built set with its bookkeeping; see :class:`~latentbridge.augment.store.SetRow`."""

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
    """The class's generator from a generator spec (``{"kind": "dcgan" | "cdcgan" | "registry", ...}``)."""
    from .generators import as_generator, load_class_dcgan

    if spec.get("kind") == "dcgan":
        module = load_class_dcgan(
            spec["path"], tuple(spec["image_shape"]), latent_dim=spec["latent_dim"], channels=spec["channels"]
        )
        if module is None:
            raise InputError(f"the cached generator {spec['path']} is missing or unreadable; rerun with --resume")
        return as_generator(module)
    if spec.get("kind") == "cdcgan":
        from .conditional import class_generator, load_conditional_dcgan

        model = load_conditional_dcgan(
            spec["path"],
            tuple(spec["image_shape"]),
            spec["n_classes"],
            latent_dim=spec["latent_dim"],
            channels=spec["channels"],
        )
        if model is None:
            raise InputError(f"the cached generator {spec['path']} is missing or unreadable; rerun with --resume")
        return class_generator(model, label)
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


# ------------------------------------------------------------------------------------------ built-ins
class DuplicateArm:
    """``duplicate``: the class's originals again, unchanged, cycled to ``k`` images."""

    needs_generator = False
    needs_feedback = False

    def build(self, ctx: ArmContext) -> ArmSet:
        """Repeat the originals."""
        idx = np.arange(ctx.k) % len(ctx.originals)
        return ArmSet(np.ascontiguousarray(ctx.originals[idx], dtype=np.float32))


class AffineArm:
    """``affine``: the class's originals, each jittered once, cycled to ``k`` images."""

    needs_generator = False
    needs_feedback = False

    def build(self, ctx: ArmContext) -> ArmSet:
        """Jitter the originals."""
        return ArmSet(jitter(ctx.originals, ctx.k, ctx.run_seed))


class RandomArm:
    """``random``: ``k`` samples of the class's generator, latents drawn from its prior."""

    needs_generator = True
    needs_feedback = False

    def build(self, ctx: ArmContext) -> ArmSet:
        """Sample the generator."""
        gen = ctx.make_generator()
        z = gen.latent.sample(ctx.k, ctx.run_seed)
        with torch.inference_mode():
            imgs = gen.generate(
                torch.as_tensor(z, dtype=torch.float32, device=gen.device).reshape(ctx.k, *gen.latent.shape)
            )
        return ArmSet(imgs.detach().to("cpu", torch.float32).numpy(), latents=np.asarray(z, np.float64))


def _searched(problem: Any, ctx: ArmContext) -> ArmSet:
    from .supervise import run_supervisor

    run = run_supervisor(problem, budget=ctx.budget, seed=ctx.run_seed, pop_size=ctx.pop_size, optimizer=ctx.optimizer)
    return ArmSet(
        run.images,
        latents=run.latents,
        fitness=run.fitness,
        first_images=run.first_images,
        first_fitness=run.first_fitness,
        n_evals=run.n_evals,
        trace=run.trace,
    )


class SupervisorArm:
    """``supervisor`` (seed 002) and ``supervisor-cc`` (with the class-consistency penalty)."""

    needs_generator = True
    needs_feedback = False
    searches = True

    def __init__(self, consistent: bool = False) -> None:
        self.consistent = consistent

    def build(self, ctx: ArmContext) -> ArmSet:
        """Search a set far (by NCC) from the centroid of originals ∪ set."""
        from .._scorers import NCCScorer
        from .supervise import SupervisorProblem

        clf = ctx.models("classifier")[0] if self.consistent else None
        problem = SupervisorProblem(
            ctx.make_generator(),
            NCCScorer(),
            ctx.originals,
            k=ctx.k,
            proba=clf.predict_proba if clf is not None else None,
            label=ctx.label,
            weight=ctx.cc_weight,
        )
        return _searched(problem, ctx)


class FeedbackArm:
    """``uncertain``, ``margin``, ``bald`` and ``coverage``: a set search on a classifier-feedback objective.

    Args:
        objective: ``"entropy"``, ``"margin"``, ``"bald"`` or ``"coverage"``
            (see :mod:`latentbridge.augment.selection`).
    """

    needs_generator = True
    needs_feedback = True
    searches = True

    def __init__(self, objective: Literal["entropy", "margin", "bald", "coverage"]) -> None:
        if objective not in ("entropy", "margin", "bald", "coverage"):
            raise InputError(f"objective must be entropy, margin, bald or coverage, found {objective!r}")
        self.objective = objective

    def make_objective(self, ctx: ArmContext) -> Any:
        """The set fitness for ``ctx``'s class."""
        from .selection import Coverage, Disagreement, Uncertainty

        feedback, checker = ctx.models("feedback", "checker")
        if self.objective == "entropy" or self.objective == "margin":
            return Uncertainty(
                feedback.predict_proba, checker.predict_proba, ctx.label, weight=ctx.cc_weight, measure=self.objective
            )
        if self.objective == "bald":
            mask_seed = derive_seed(ctx.run_seed, "mc-dropout")

            def mc(x: NDArray[np.float32]) -> NDArray[np.float64]:
                out: NDArray[np.float64] = feedback.predict_proba_mc(x, passes=BALD_PASSES, seed=mask_seed)
                return out

            return Disagreement(mc, checker.predict_proba, ctx.label, weight=ctx.cc_weight)
        return Coverage(feedback.embed, ctx.originals, checker.predict_proba, ctx.label, weight=ctx.cc_weight)

    def build(self, ctx: ArmContext) -> ArmSet:
        """Search the set."""
        from .selection import SelectionProblem

        problem = SelectionProblem(ctx.make_generator(), self.make_objective(ctx), k=ctx.k, name=self.objective)
        return _searched(problem, ctx)


class CombinedArm:
    """``A+B+...``: each part builds its share of the ``k`` images (the first parts take the remainder).

    Each part runs with its own seed, derived from the set's seed and the part's name.
    """

    def __init__(self, parts: list[tuple[str, Any]]) -> None:
        self.parts = parts
        self.needs_generator = any(bool(getattr(a, "needs_generator", False)) for _, a in parts)
        self.needs_feedback = any(bool(getattr(a, "needs_feedback", False)) for _, a in parts)
        self.searches = any(bool(getattr(a, "searches", False)) for _, a in parts)

    def build(self, ctx: ArmContext) -> ArmSet:
        """Build every part and join the images."""
        n = len(self.parts)
        if ctx.k < n:
            raise InputError(f"arm {ctx.arm!r} joins {n} arms, so it needs k >= {n} images, found k={ctx.k}")
        shares = [ctx.k // n + (i < ctx.k % n) for i in range(n)]
        images, evals = [], 0
        for (name, arm), share in zip(self.parts, shares, strict=True):
            sub = replace(ctx, arm=name, k=share, run_seed=derive_seed(ctx.run_seed, name))
            part = _checked_set(arm.build(sub), sub)
            images.append(part.images)
            evals += part.n_evals
        return ArmSet(np.concatenate(images).astype(np.float32), n_evals=evals)


_BUILTIN: dict[str, Any] = {
    "duplicate": DuplicateArm,
    "random": RandomArm,
    "affine": AffineArm,
    "supervisor": SupervisorArm,
    "supervisor-cc": lambda: SupervisorArm(consistent=True),
    "uncertain": lambda: FeedbackArm("entropy"),
    "margin": lambda: FeedbackArm("margin"),
    "bald": lambda: FeedbackArm("bald"),
    "coverage": lambda: FeedbackArm("coverage"),
}


def _plugin_arms() -> Any:
    from .._plugins import registry

    return registry("arm")


def known_arms() -> list[str]:
    """Every arm name: the built-ins, then the plugins' (``A+B`` combinations of them are accepted too)."""
    return [*ARMS, *(n for n in _plugin_arms().names() if n not in ARMS)]


def get_arm(name: str) -> Any:
    """The arm called ``name``: a built-in, a plugin's (``latentbridge_register_arms``), or ``A+B`` of them.

    Raises:
        UnknownNameError: no arm of that name (close matches listed).
        InputError: a combination with ``none`` or a repeated part, or a plugin arm without ``build``.
    """
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"arm names are non-empty strings, found {name!r}")
    if "+" in name:
        parts = [p.strip() for p in name.split("+")]
        if "none" in parts or "" in parts or len(set(parts)) != len(parts):
            raise InputError(f"arm {name!r}: a combination joins distinct arms other than 'none' with '+'")
        return CombinedArm([(p, get_arm(p)) for p in parts])
    if name == "none":
        raise InputError("'none' adds no images: it has no set to build")
    if name in _BUILTIN:
        return _BUILTIN[name]()
    reg = _plugin_arms()
    if name not in reg:
        close = difflib.get_close_matches(name, known_arms(), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownNameError(
            f"unknown arm {name!r}.{hint} Arms: {', '.join(known_arms())}; join arms with '+' (e.g. random+affine)."
        )
    entry = reg.get(name)
    arm = entry.factory()
    if not callable(getattr(arm, "build", None)) or not hasattr(arm, "needs_generator"):
        raise InputError(
            f"arm {name!r} ({entry.distribution}): its factory returned a {type(arm).__name__}, which lacks "
            "build(ctx) and needs_generator; see latentbridge.augment.arms.Arm"
        )
    return arm


def needs_generator(name: str) -> bool:
    """Whether the arm ``name`` uses the class generators (``none``: no)."""
    return name != "none" and bool(getattr(get_arm(name), "needs_generator", False))


def needs_feedback(name: str) -> bool:
    """Whether the arm ``name`` uses the feedback and checker classifiers."""
    return name != "none" and bool(getattr(get_arm(name), "needs_feedback", False))


def searches(name: str) -> bool:
    """Whether the arm ``name`` runs a set search (its budget, population and optimizer matter)."""
    return name != "none" and bool(getattr(get_arm(name), "searches", False))


def _checked_set(out: Any, ctx: ArmContext) -> ArmSet:
    """An arm's result, checked: an :class:`ArmSet` of ``ctx.k`` finite images of the class's shape in [-1, 1]."""
    if not isinstance(out, ArmSet):
        raise InputError(f"arm {ctx.arm!r} returned a {type(out).__name__}, not an ArmSet")
    imgs = np.asarray(out.images)
    shape = tuple(ctx.originals.shape[1:])
    if imgs.shape != (ctx.k, *shape):
        raise InputError(f"arm {ctx.arm!r} returned images of shape {imgs.shape}, expected {(ctx.k, *shape)}")
    if not np.all(np.isfinite(imgs)) or imgs.min(initial=0.0) < -1.0 - 1e-4 or imgs.max(initial=0.0) > 1.0 + 1e-4:
        raise InputError(f"arm {ctx.arm!r} returned images outside [-1, 1] (or not finite)")
    out.images = np.clip(imgs, -1.0, 1.0).astype(np.float32)
    return out


def build_set(task: ArmContext) -> SetOutcome:
    """Build one class's set with the arm ``task.arm`` (in any process) and measure its class agreement."""
    t0, c0 = time.perf_counter(), time.process_time()
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, task.threads))
    try:
        built = _checked_set(get_arm(task.arm).build(task), task)
    finally:
        torch.set_num_threads(before)
    out = SetOutcome(
        task.key,
        task.run_seed,
        built.images,
        latents=built.latents,
        fitness=built.fitness,
        first_images=built.first_images,
        first_fitness=built.first_fitness,
        n_evals=built.n_evals,
        trace=built.trace,
    )
    if task.classifier is not None and len(out.images):
        pred = np.asarray(task.classifier.predict_proba(out.images)).argmax(axis=1)
        out.agreement = float(np.mean(pred == task.label))
    out.wall_s = time.perf_counter() - t0
    out.cpu_s = time.process_time() - c0
    return out
