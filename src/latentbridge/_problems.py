"""Batched latent-space problems: target similarity (seed 000), set and centroid diversity (seed 002)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from ._chunks import forward, grad_cost, value_and_grad
from ._latent import LatentSpace
from ._protocols import LatentGenerator, Scorer, SupportsSimilarity, describe
from ._tracking import Evaluation, EvaluationListener
from ._validation import as_image, check_latents, check_positive_int
from .errors import ImageShapeError, InputError
from .precision import Precision, apply_precision, check_precision, emulation_reported, precision_of

__all__ = ["CentroidDiversity", "LatentProblem", "SetDiversity", "TargetSimilarity"]


class LatentProblem(ABC):
    """A minimisation problem over flattened latent vectors, evaluated in batches.

    A *solution* is ``k`` latents of the generator, flattened to ``dim = k *
    latent.dim`` floats. :meth:`evaluate` maps ``(n, dim)`` solutions to ``(n,)``
    fitness values (``(n, n_obj)`` when ``n_obj > 1``), lower is better, running one
    batched generator+scorer forward per chunk of ``batch_size`` *images* under
    ``torch.inference_mode()``. Peak memory therefore depends on ``batch_size``, not
    on ``n``.

    Subclasses implement :meth:`_fitness` on a chunk of generated images.

    Non-finite fitness (NaN or ±inf, e.g. from a generator that diverges) is a *failed
    evaluation*: the row is returned as ``+inf`` in every objective (the worst value,
    so any optimizer moves away from it) and counted in :attr:`n_failed`. Listeners
    registered with :meth:`observe` see every evaluated batch.

    :meth:`evaluate_grad` also returns the gradient of every objective with respect to
    the flattened latents (same chunks, same path, counted in :attr:`n_grad_evals`).

    Problems pickle and deep-copy (listeners and the counters' lock are not copied).

    Attributes:
        generator: The :class:`~latentbridge.LatentGenerator`.
        scorers: The :class:`~latentbridge.Scorer` s (one per objective family).
        k: Latents per solution.
        batch_size: Images per forward pass.
        n_evals: Solutions evaluated so far (thread-safe counter).
        n_grad_evals: Solutions evaluated with their gradient so far (not in ``n_evals``).
        n_failed: Of both, how many had a non-finite fitness (or gradient).
        grad_cost: Forward-equivalents of one gradient evaluation (measured per model; settable).
    """

    #: Registry name of the problem class (``"target-similarity"``, ...).
    kind: str = "problem"
    _grad_checked: bool = False
    _grad_cost: float | None = None
    #: Whether at least one scorer is required (a problem scored by measures, such as
    #: :class:`latentbridge.qd.QualityDiversity`, sets it to False).
    _requires_scorer: bool = True

    def __init__(
        self,
        generator: LatentGenerator,
        scorers: Scorer | Sequence[Scorer],
        *,
        k: int = 1,
        batch_size: int = 128,
        precision: Precision | None = None,
    ) -> None:
        if not isinstance(generator, LatentGenerator):
            raise InputError(
                "generator must implement latentbridge.LatentGenerator (latent, image_shape, device, generate); "
                f"got {type(generator).__name__}. Use latentbridge.load_generator(name) or TorchGenerator(module, ...)"
            )
        scorer_list = [scorers] if not isinstance(scorers, Sequence) else list(scorers)
        if not scorer_list and self._requires_scorer:
            raise InputError("at least one scorer is required")
        for s in scorer_list:
            if not isinstance(s, Scorer):
                raise InputError(
                    "scorer must implement latentbridge.Scorer (device, embed, distance); "
                    f"got {type(s).__name__}. Use latentbridge.load_scorer(name)"
                )
        if precision is not None:  # problem-wide: every model forward in this precision (copies; inputs untouched)
            precision = check_precision(precision, generator.device, owner=f"{type(self).__name__}(precision=...)")
            with emulation_reported():  # warned once just above, not again for each component
                generator = apply_precision(generator, precision, "generator")
                scorer_list = [apply_precision(s, precision, "scorer") for s in scorer_list]
        self.generator = generator
        self.scorers: list[Scorer] = scorer_list
        used = {precision_of(c) for c in (generator, *scorer_list)} - {"fp32"}
        #: The reduced precision its models compute in ("fp32" if none; "mixed" if they differ).
        self.precision: str = precision or (used.pop() if len(used) == 1 else "mixed" if used else "fp32")
        self.k = check_positive_int(k, "k")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self._lock = threading.Lock()
        self._n_evals = 0
        self._n_grad_evals = 0
        self._n_failed = 0
        self._listeners: list[EvaluationListener] = []

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_listeners"] = []
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- description ---------------------------------------------------------------------------
    @property
    def latent(self) -> LatentSpace:
        """The generator's latent space (one of the ``k`` latents of a solution)."""
        return self.generator.latent

    @property
    def dim(self) -> int:
        """Length of a flattened solution: ``k * latent.dim``."""
        return self.k * self.latent.dim

    @property
    @abstractmethod
    def n_obj(self) -> int:
        """Number of objectives (columns of the fitness)."""

    @property
    def n_evals(self) -> int:
        """Solutions evaluated so far."""
        return self._n_evals

    @property
    def n_grad_evals(self) -> int:
        """Solutions evaluated with their gradient (:meth:`evaluate_grad`) so far."""
        return self._n_grad_evals

    @property
    def grad_cost(self) -> float:
        """Forward-equivalents one gradient evaluation costs (measured per model; set it to override)."""
        return grad_cost(self) if self._grad_cost is None else self._grad_cost

    @grad_cost.setter
    def grad_cost(self, value: float) -> None:
        cost = float(value)
        if not np.isfinite(cost) or cost < 1.0:
            raise InputError(f"grad_cost must be a finite number >= 1 (forward passes), got {value!r}")
        self._grad_cost = cost

    @property
    def n_failed(self) -> int:
        """Evaluations so far whose fitness was non-finite (returned as ``+inf``)."""
        return self._n_failed

    def reset_counter(self) -> None:
        """Set :attr:`n_evals`, :attr:`n_grad_evals` and :attr:`n_failed` back to zero."""
        with self._lock:
            self._n_evals = 0
            self._n_grad_evals = 0
            self._n_failed = 0

    @contextmanager
    def observe(self, listener: EvaluationListener) -> Iterator[EvaluationListener]:
        """Call ``listener`` with an :class:`~latentbridge.Evaluation` for every batch evaluated inside the block.

        This is the one observation point of latentbridge: drivers and the bench pass a
        :class:`~latentbridge.Tracker` to keep best, trace, front and failure counts::

            with problem.observe(Tracker(problem.n_obj, budget=1000)) as tracker:
                ...  # any optimizer calling problem.evaluate
            tracker.best_x

        Listeners nest and are removed on exit, even on error. Each is called in the
        evaluating thread, after the batch's fitness is final and counted.
        """
        with self._lock:
            self._listeners = [*self._listeners, listener]
        try:
            yield listener
        finally:
            with self._lock:
                self._listeners = [x for x in self._listeners if x is not listener]

    @property
    def name(self) -> str:
        """A short, stable, human-readable name: kind plus a hash of :meth:`config`."""
        return f"{self.kind}-{self.config_hash()[:8]}"

    def config(self) -> dict[str, Any]:
        """JSON-serialisable description of the instance (for the bench store)."""
        return {
            "kind": self.kind,
            "generator": describe(self.generator),
            "scorers": [describe(s) for s in self.scorers],
            "k": self.k,
            "dim": self.dim,
            "n_obj": self.n_obj,
            **({"precision": self.precision} if self.precision != "fp32" else {}),
            **self._extra_config(),
        }

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`config` (batch_size and device excluded)."""
        blob = json.dumps(self.config(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def bounds(self, width: float = 4.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Box bounds ``(lower, upper)``, each ``(dim,)``: prior mean ± ``width`` std, tiled over ``k``."""
        lo, hi = self.latent.bounds(width)
        return np.tile(lo, self.k), np.tile(hi, self.k)

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> NDArray[np.float64]:
        """``n`` random solutions ``(n, dim)`` drawn from the latent prior."""
        return self.latent.sample(n * self.k, seed).reshape(n, self.dim)

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, Z: ArrayLike) -> NDArray[np.float64]:
        """Fitness of solutions ``Z`` (lower is better).

        Args:
            Z: ``(n, dim)`` floats (a single ``(dim,)`` solution is accepted too). Not
                modified.

        Returns:
            ``(n,)`` float64 if ``n_obj == 1`` else ``(n, n_obj)``; failed (non-finite)
            evaluations are ``+inf``.

        Raises:
            LatentShapeError: wrong shape or dtype, NaN or inf.
        """
        return self._run(Z, None)[0]

    def evaluate_with(
        self, Z: ArrayLike, describe: Callable[[torch.Tensor], torch.Tensor | NDArray[Any]]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fitness plus per-solution descriptors computed from the *same* generated images.

        Quality-diversity methods (MAP-Elites) need behaviour descriptors of each
        solution's images; this generates every image once.

        Args:
            Z: ``(n, dim)`` solutions.
            describe: Maps a chunk of images ``(m, k, C, H, W)`` to descriptors ``(m, n_desc)``.

        Returns:
            ``(fitness, descriptors)``: fitness as from :meth:`evaluate`, descriptors
            ``(n, n_desc)`` float64. Counted in :attr:`n_evals` like :meth:`evaluate`.
        """
        F, D = self._run(Z, describe)
        assert D is not None
        return F, D

    def evaluate_grad(self, Z: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Fitness of solutions ``Z`` and its gradient with respect to each flattened solution.

        One generator+scorer forward and backward per chunk of ``batch_size`` images (sets
        stay whole), through the same evaluation path as :meth:`evaluate`: counted in
        :attr:`n_grad_evals` (not :attr:`n_evals`), reported to listeners as an
        :class:`~latentbridge.Evaluation` with ``gradient=True``. A row whose fitness or
        gradient is non-finite is a failed evaluation: fitness ``+inf``, gradient 0.

        Args:
            Z: ``(n, dim)`` floats (or one ``(dim,)`` solution). Not modified.

        Returns:
            ``(F, G)``: ``F`` ``(n, n_obj)`` float64 and ``G`` ``(n, n_obj, dim)`` float64,
            ``G[i, j]`` the gradient of objective ``j`` at solution ``i`` (always 2-D / 3-D).

        Raises:
            LatentShapeError: wrong shape or dtype, NaN or inf.
            NotDifferentiableError: the generator or a scorer blocks autograd (named).
        """
        F, G = self._run(Z, None, grad=True)
        assert G is not None
        return F.reshape(-1, self.n_obj), G

    def _run(
        self,
        Z: ArrayLike,
        describe: Callable[[torch.Tensor], torch.Tensor | NDArray[Any]] | None,
        *,
        grad: bool = False,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """The one method that evaluates: fitness, plus descriptors (``describe``) or gradients (``grad``)."""
        Zf = check_latents(Z, self.dim)
        n = Zf.shape[0]
        out = np.empty((n, self.n_obj), dtype=np.float64)
        desc: NDArray[np.float64] | None = None
        t0 = time.perf_counter()
        if grad:
            desc = np.zeros((n, self.n_obj, self.dim), dtype=np.float64)
            value_and_grad(self, Zf, out, desc)
        else:
            desc = forward(self, Zf, out, describe)
        seconds = time.perf_counter() - t0
        failed = ~np.all(np.isfinite(out), axis=1)
        if grad:
            assert desc is not None
            failed |= ~np.all(np.isfinite(desc.reshape(n, -1)), axis=1)
            desc[failed] = 0.0
        n_failed = int(np.count_nonzero(failed))
        if n_failed:
            out[failed] = np.inf
        with self._lock:
            first = self._n_evals + self._n_grad_evals
            if grad:
                self._n_grad_evals += n
            else:
                self._n_evals += n
            self._n_failed += n_failed
            listeners = self._listeners
        if listeners and n:
            X = np.asarray(Z, dtype=np.float64).reshape(n, self.dim)
            extra: dict[str, Any] = {"gradient": True, "G": desc, "cost": self.grad_cost} if grad else {"D": desc}
            event = Evaluation(X=X, F=out, failed=failed, first=first, seconds=seconds, **extra)
            for listener in listeners:
                listener(event)
        if describe is not None and desc is None:  # n == 0
            desc = np.empty((0, 0), dtype=np.float64)
        return (out[:, 0] if self.n_obj == 1 else out), desc

    __call__ = evaluate

    def _solutions_per_chunk(self) -> int:
        return max(1, self.batch_size // self.k)

    def _latents_to_tensor(self, Zc: NDArray[np.float32]) -> torch.Tensor:
        # torch.tensor copies: generators may work in place without touching the caller's array
        z = torch.tensor(Zc, device=self.generator.device)
        return z.reshape(Zc.shape[0] * self.k, *self.latent.shape)

    def _generate_chunks(self, Zf: NDArray[np.float32]) -> Iterator[tuple[int, int, torch.Tensor]]:
        """Yield ``(start, stop, images)`` with images ``(stop - start, k, C, H, W)``."""
        step = self._solutions_per_chunk()
        c, h, w = self.generator.image_shape
        for start in range(0, Zf.shape[0], step):
            stop = min(start + step, Zf.shape[0])
            imgs = self.generator.generate(self._latents_to_tensor(Zf[start:stop]))
            if tuple(imgs.shape[1:]) != (c, h, w):
                raise ImageShapeError(
                    f"generator returned images of shape {tuple(imgs.shape[1:])}, but its image_shape says {(c, h, w)}"
                )
            yield start, stop, imgs.reshape(stop - start, self.k, c, h, w)

    @abstractmethod
    def _fitness(self, images: torch.Tensor) -> torch.Tensor:
        """Fitness ``(m, n_obj)`` of a chunk of images ``(m, k, C, H, W)``."""

    def _solution_fitness(self, z: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Fitness ``(m, n_obj)`` of solutions ``z`` ``(m, dim)`` with their images; wrappers add latent terms."""
        return self._fitness(images)

    # -- inspection ----------------------------------------------------------------------------
    def render(self, z: ArrayLike) -> torch.Tensor:
        """Images of one solution: ``(k, C, H, W)`` float32 on the CPU, values in [-1, 1]."""
        Zf = check_latents(z, self.dim, name="z")
        if Zf.shape[0] != 1:
            raise InputError(f"render takes one solution of shape ({self.dim},), got {Zf.shape[0]} rows")
        with torch.inference_mode():
            imgs = self.generator.generate(self._latents_to_tensor(Zf))
        return imgs.detach().to("cpu", torch.float32).clone()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, k={self.k}, n_obj={self.n_obj}, batch_size={self.batch_size})"


def _similarity(scorer: Scorer, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Similarity under ``scorer``: its own ``similarity`` if it has one, else ``-distance``."""
    if isinstance(scorer, SupportsSimilarity):
        return scorer.similarity(a, b)
    return -scorer.distance(a, b)


class TargetSimilarity(LatentProblem):
    """Seed 000: make the generator produce images whose features match a target's.

    Fitness is ``scorer.distance(embed(G(z)), embed(target))`` (for FaceNet: the L2
    distance between embeddings), to be minimised. With several targets and/or
    scorers there is one objective per (scorer, target) pair, scorer-major, unless
    ``aggregate="mean"`` averages them into one.

    Args:
        generator: The generator.
        scorer: One scorer or a sequence of scorers.
        target: One image ``(C, H, W)`` (or ``(H, W)`` / ``(H, W, C)``, float in
            [-1, 1] or uint8) or a sequence of such images, all shaped like the
            generator's output.
        batch_size: Images per forward pass.
        aggregate: ``"none"`` (one objective per pair) or ``"mean"``.
        precision: Run every model forward in ``"fp32"``, ``"bf16"`` or ``"fp16"`` (None: as
            the generator and scorers are configured). Recorded in :meth:`config`.
        target_recipe: How the targets were made, as JSON-able data (e.g. ``{"generated": {"seed": 7}}``
            for a target the generator itself drew). When given, :meth:`config` identifies the targets
            by this recipe (with the generator's own identity beside it) instead of a hash of their
            pixels, whose last bits depend on the CPU and thread count that computed them.

    Example:
        >>> problem = TargetSimilarity(gen, scorer, target)   # doctest: +SKIP
        >>> problem.evaluate(problem.sample(8, seed=0)).shape  # doctest: +SKIP
        (8,)
    """

    kind = "target-similarity"

    def __init__(
        self,
        generator: LatentGenerator,
        scorer: Scorer | Sequence[Scorer],
        target: Any,
        *,
        batch_size: int = 128,
        aggregate: Literal["none", "mean"] = "none",
        precision: Precision | None = None,
        target_recipe: Any = None,
    ) -> None:
        super().__init__(generator, scorer, k=1, batch_size=batch_size, precision=precision)
        if aggregate not in ("none", "mean"):
            raise InputError(f"aggregate must be 'none' or 'mean', got {aggregate!r}")
        self.aggregate = aggregate
        try:
            self.target_recipe: Any = None if target_recipe is None else json.loads(json.dumps(target_recipe))
        except (TypeError, ValueError) as exc:
            raise InputError(f"target_recipe must be JSON-able data (numbers, strings, lists, dicts): {exc}") from None
        targets = self._target_list(target)
        shape = generator.image_shape
        self.targets = torch.stack([as_image(t, shape, name=f"target[{i}]") for i, t in enumerate(targets)])
        with torch.no_grad():  # not inference_mode: evaluate_grad's backward reads these features
            self._target_feats = [s.embed(self.targets.to(generator.device)) for s in self.scorers]

    @staticmethod
    def _target_list(target: Any) -> list[Any]:
        if isinstance(target, (list, tuple)):
            if not target:
                raise InputError("target must be an image or a non-empty sequence of images")
            return list(target)
        return [target]

    @property
    def n_targets(self) -> int:
        """Number of target images."""
        return int(self.targets.shape[0])

    @property
    def n_obj(self) -> int:
        """``len(scorers) * n_targets``, or 1 with ``aggregate="mean"``."""
        return 1 if self.aggregate == "mean" else len(self.scorers) * self.n_targets

    def _extra_config(self) -> dict[str, Any]:
        if self.target_recipe is not None:
            ident: dict[str, Any] = {"targets_recipe": self.target_recipe}
        else:
            ident = {"targets_sha256": hashlib.sha256(self.targets.numpy().tobytes()).hexdigest()}
        return {**ident, "n_targets": self.n_targets, "aggregate": self.aggregate}

    def _fitness(self, images: torch.Tensor) -> torch.Tensor:
        flat = images[:, 0]
        cols = [s.distance(s.embed(flat), tf) for s, tf in zip(self.scorers, self._target_feats, strict=True)]
        d = torch.cat(cols, dim=1)  # (m, n_scorers * n_targets)
        return d.mean(dim=1, keepdim=True) if self.aggregate == "mean" else d


class _SingleScorerProblem(LatentProblem):
    """A single-objective problem measured by one scorer (the seed-002 set problems)."""

    @property
    def scorer(self) -> Scorer:
        """The scorer."""
        return self.scorers[0]

    @property
    def n_obj(self) -> int:
        """Always 1."""
        return 1


class SetDiversity(_SingleScorerProblem):
    """Seed 002: a solution is a *set* of ``k`` latents; minimise how alike their images are.

    Fitness is the mean pairwise similarity of the ``k`` images over the
    ``k (k - 1) / 2`` unordered pairs, exactly as seed 002 defines it. For NCC the
    similarity is NCC itself (in [-1, 1]); for distance scorers such as RMSE it is
    ``-distance`` (minimising it maximises the mean pairwise RMSE). Use
    :meth:`diversity` for the positive mean pairwise distance.

    Args:
        generator: The generator.
        scorer: The similarity measure (``load_scorer("rmse")``, ``"ncc"``, or any scorer).
        k: Images per set, ``>= 2``.
        batch_size: Images per forward pass (a chunk holds ``batch_size // k`` sets).
        precision: Model precision (see :class:`TargetSimilarity`).
    """

    kind = "set-diversity"

    def __init__(
        self,
        generator: LatentGenerator,
        scorer: Scorer,
        *,
        k: int = 5,
        batch_size: int = 128,
        precision: Precision | None = None,
    ) -> None:
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k < 2:
            raise InputError(f"SetDiversity needs k >= 2 latents per set (pairs of images), got k={k}")
        super().__init__(generator, scorer, k=k, batch_size=batch_size, precision=precision)
        self._iu = torch.triu_indices(self.k, self.k, offset=1)

    def _pair_values(self, images: torch.Tensor, *, similarity: bool) -> torch.Tensor:
        m, k = images.shape[:2]
        feats = self.scorer.embed(images.reshape(m * k, *images.shape[2:]))
        feats = feats.reshape(m, k, -1)
        mat = _similarity(self.scorer, feats, feats) if similarity else self.scorer.distance(feats, feats)
        iu = self._iu.to(mat.device)
        return mat[:, iu[0], iu[1]]  # (m, k(k-1)/2)

    def _fitness(self, images: torch.Tensor) -> torch.Tensor:
        return self._pair_values(images, similarity=True).mean(dim=1, keepdim=True)

    def diversity(self, Z: ArrayLike) -> NDArray[np.float64]:
        """Mean pairwise *distance* of each set ``(n,)`` (higher is more diverse); not counted in n_evals."""
        Zf = check_latents(Z, self.dim)
        out = np.empty(Zf.shape[0], dtype=np.float64)
        with torch.inference_mode():
            for start, stop, imgs in self._generate_chunks(Zf):
                vals = self._pair_values(imgs, similarity=False).mean(dim=1)
                out[start:stop] = vals.to("cpu", torch.float64).numpy()
        return out


class CentroidDiversity(_SingleScorerProblem):
    """Seed 002's supervisor: pick ``k`` generated images far from the class centroid.

    For a solution of ``k`` latents, the centroid is the pixel-wise mean image of the
    ``originals`` together with the ``k`` generated images; fitness is the mean
    similarity between each generated image and that centroid (NCC in the seed;
    ``-distance`` for distance scorers), to be minimised.

    Args:
        generator: The generator (e.g. trained on one class).
        scorer: The similarity measure (``"ncc"`` as in the seed).
        originals: The original set: ``(N, C, H, W)`` (or ``(N, H, W)`` single-channel)
            float in [-1, 1] or uint8, shaped like the generator's images.
        k: Generated images per solution, ``>= 1``.
        batch_size: Images per forward pass.
        precision: Model precision (see :class:`TargetSimilarity`).
    """

    kind = "centroid-diversity"

    def __init__(
        self,
        generator: LatentGenerator,
        scorer: Scorer,
        originals: Any,
        *,
        k: int = 10,
        batch_size: int = 128,
        precision: Precision | None = None,
    ) -> None:
        super().__init__(generator, scorer, k=k, batch_size=batch_size, precision=precision)
        if isinstance(originals, torch.Tensor):
            originals = originals.detach().cpu().numpy()
        arr = np.asarray(originals)
        if arr.ndim not in (3, 4) or arr.shape[0] < 1:
            raise ImageShapeError(
                f"originals must be a stack of images (N, C, H, W) or (N, H, W) with N >= 1, got shape {arr.shape}"
            )
        shape = generator.image_shape
        imgs = torch.stack([as_image(a, shape, name=f"originals[{i}]") for i, a in enumerate(arr)])
        self.n_originals = int(imgs.shape[0])
        self._orig_sum = imgs.to(torch.float64).sum(dim=0).to(generator.device)
        self._orig_digest = hashlib.sha256(imgs.numpy().tobytes()).hexdigest()

    def _extra_config(self) -> dict[str, Any]:
        return {"originals_sha256": self._orig_digest, "n_originals": self.n_originals}

    def _fitness(self, images: torch.Tensor) -> torch.Tensor:
        m, k = images.shape[:2]
        total = self._orig_sum.unsqueeze(0) + images.to(torch.float64).sum(dim=1)  # (m, C, H, W)
        centroid = (total / (self.n_originals + k)).to(images.dtype)
        gen_f = self.scorer.embed(images.reshape(m * k, *images.shape[2:])).reshape(m, k, -1)
        cen_f = self.scorer.embed(centroid).reshape(m, 1, -1)
        sim = _similarity(self.scorer, gen_f, cen_f)  # (m, k, 1)
        return sim.mean(dim=(1, 2)).unsqueeze(1)
