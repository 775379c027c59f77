"""Classifier-feedback selection: set fitnesses that look at what a classifier needs, not at pixel distances.

Each objective scores a *set* of ``k`` generated images of one class (lower is better) and is searched, like
seed 002's supervisor, over the ``k`` latents of the class's generator by the set GA or any optimizer by name
(:class:`SelectionProblem`). Every objective is built from two classifiers trained on the training originals
only (never on test data):

- the **feedback** classifier, whose uncertainty, disagreement or embedding the objective reads, and
- an independent **checker** (another CNN: its own initialisation and minibatch order) that keeps the images in
  their class: each objective adds ``weight ×`` the fraction of the set's images that the checker assigns to
  another class. The uncertainty and disagreement terms lie in [0, 1] per image and are averaged over the set,
  so with ``weight >= 1`` an off-class image never pays for itself (a constraint, checked by a model the
  objective does not read), while among in-class images the objective alone decides. A soft penalty
  ``1 − p_checker(class)`` would instead reward the checker's confidence, which pulls against uncertainty and
  disagreement.

Objectives (per image values are averaged over the set):

- :class:`Uncertainty` (``"entropy"``): the feedback classifier's normalised predictive entropy
  ``H(p) / log C`` is maximised: images near its decision boundaries (after Askari-Hemmat et al., 2024,
  classifier-feedback guided sampling). ``"margin"``: ``1 − (p₁ − p₂)`` of its two most probable classes.
- :class:`Disagreement`: BALD's mutual information ``H(E_t p_t) − E_t H(p_t)`` under MC dropout
  (Houlsby et al., 2011; used to select generated samples by Tran et al., ICML 2019), normalised by
  ``log C``, is maximised: images on which the model's plausible weights disagree.
- :class:`Coverage`: facility-location coverage of the class's originals in the feedback classifier's
  embedding: the mean, over originals, of the distance to the nearest image of the set (divided by the
  originals' median pairwise distance) is minimised, so the set spreads over the region the originals
  occupy in the space the classifier uses, rather than away from a pixel centroid.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from .._problems import LatentProblem
from .._protocols import LatentGenerator
from ..errors import InputError

__all__ = [
    "Coverage",
    "Disagreement",
    "RecordsFirstBatch",
    "SelectionProblem",
    "SetObjective",
    "Uncertainty",
    "class_penalty",
]

#: ``images (m, k, C, H, W) → (m,)`` set fitness, lower is better.
SetObjective = Callable[[NDArray[np.float32]], NDArray[np.float64]]
ProbaFn = Callable[[NDArray[np.float32]], NDArray[np.float64]]


def _flat(images: NDArray[np.float32]) -> NDArray[np.float32]:
    m, k = images.shape[:2]
    return np.ascontiguousarray(images.reshape(m * k, *images.shape[2:]), dtype=np.float32)


def _entropy(p: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    q = np.clip(p, 1e-12, 1.0)
    out: NDArray[np.float64] = -(q * np.log(q)).sum(axis=axis)
    return out


def class_penalty(checker: ProbaFn, images: NDArray[np.float32], label: int) -> NDArray[np.float64]:
    """``(m,)``: the fraction of each set's images ``(m, k, C, H, W)`` that the checker assigns to another class."""
    m, k = images.shape[:2]
    p = np.asarray(checker(_flat(images)), dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != m * k or not 0 <= label < p.shape[1]:
        raise InputError(f"the checker returned probabilities of shape {p.shape} for {m * k} images of class {label}")
    out: NDArray[np.float64] = (p.argmax(axis=1) != label).reshape(m, k).mean(axis=1).astype(np.float64)
    return out


class _Checked(ABC):
    """An objective plus the checker's class check (``weight ×`` the fraction of off-class images)."""

    def __init__(self, checker: ProbaFn, label: int, weight: float) -> None:
        if not float(weight) >= 0.0:
            raise InputError(f"weight must be >= 0, found {weight!r}")
        self.checker = checker
        self.label = int(label)
        self.weight = float(weight)

    @abstractmethod
    def _term(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(m,)``: the objective's own term for ``(m, k, C, H, W)`` image sets."""

    def __call__(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(m,)`` fitness of ``(m, k, C, H, W)`` image sets."""
        value = self._term(images)
        if self.weight:
            value = value + self.weight * class_penalty(self.checker, images, self.label)
        return value


class Uncertainty(_Checked):
    """Maximise the feedback classifier's uncertainty (``"entropy"`` or ``"margin"``), checked for class.

    Args:
        proba: The feedback classifier's ``predict_proba``.
        checker: The independent checker's ``predict_proba``.
        label: The intended class.
        weight: Weight of the class check.
        measure: ``"entropy"`` (normalised by ``log C``) or ``"margin"`` (``1 − (p₁ − p₂)``).
    """

    def __init__(
        self,
        proba: ProbaFn,
        checker: ProbaFn,
        label: int,
        *,
        weight: float = 1.0,
        measure: Literal["entropy", "margin"] = "entropy",
    ) -> None:
        super().__init__(checker, label, weight)
        if measure not in ("entropy", "margin"):
            raise InputError(f"measure must be 'entropy' or 'margin', found {measure!r}")
        self.proba = proba
        self.measure = measure

    def uncertainty(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(m, k)`` per-image uncertainty in [0, 1]."""
        m, k = images.shape[:2]
        p = np.asarray(self.proba(_flat(images)), dtype=np.float64)
        if self.measure == "entropy":
            u = _entropy(p) / np.log(max(2, p.shape[1]))
        else:
            top = np.sort(p, axis=1)[:, -2:]
            u = 1.0 - (top[:, 1] - top[:, 0])
        return np.asarray(u, dtype=np.float64).reshape(m, k)

    def _term(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = -self.uncertainty(images).mean(axis=1)
        return out


class Disagreement(_Checked):
    """Maximise BALD's mutual information under MC dropout, checked for class.

    Args:
        mc_proba: ``images → (passes, n, C)`` probabilities with dropout on (e.g.
            :meth:`CNNClassifier.predict_proba_mc <latentbridge.augment.classifiers.CNNClassifier.predict_proba_mc>`
            with fixed ``passes`` and ``seed``, so that the objective is a deterministic function of the images).
        checker: The independent checker's ``predict_proba``.
        label: The intended class.
        weight: Weight of the class check.
    """

    def __init__(
        self,
        mc_proba: Callable[[NDArray[np.float32]], NDArray[np.float64]],
        checker: ProbaFn,
        label: int,
        *,
        weight: float = 1.0,
    ) -> None:
        super().__init__(checker, label, weight)
        self.mc_proba = mc_proba

    def bald(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(m, k)`` per-image mutual information, normalised by ``log C`` (in [0, 1])."""
        m, k = images.shape[:2]
        p = np.asarray(self.mc_proba(_flat(images)), dtype=np.float64)
        if p.ndim != 3 or p.shape[1] != m * k:
            raise InputError(f"mc_proba must return (passes, {m * k}, classes) probabilities, found {p.shape}")
        mi = _entropy(p.mean(axis=0)) - _entropy(p).mean(axis=0)
        out: NDArray[np.float64] = np.clip(mi / np.log(max(2, p.shape[2])), 0.0, 1.0).reshape(m, k)
        return out

    def _term(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = -self.bald(images).mean(axis=1)
        return out


class Coverage(_Checked):
    """Minimise the originals' mean distance to their nearest set member in a classifier embedding.

    Args:
        embed: ``images → (n, d)`` features (the feedback classifier's ``embed``).
        originals: The class's originals ``(N, C, H, W)``.
        checker: The independent checker's ``predict_proba``.
        label: The intended class.
        weight: Weight of the class check.
    """

    def __init__(
        self,
        embed: Callable[[NDArray[np.float32]], NDArray[np.float64]],
        originals: NDArray[np.float32],
        checker: ProbaFn,
        label: int,
        *,
        weight: float = 1.0,
    ) -> None:
        super().__init__(checker, label, weight)
        if len(originals) < 2:
            raise InputError(f"coverage needs at least 2 originals of the class, found {len(originals)}")
        self.embed = embed
        self.anchors = np.asarray(embed(np.ascontiguousarray(originals, dtype=np.float32)), dtype=np.float64)
        d = np.linalg.norm(self.anchors[:, None] - self.anchors[None], axis=-1)
        iu = np.triu_indices(len(self.anchors), 1)
        #: The originals' median pairwise distance (the unit of the fitness).
        self.scale = float(np.median(d[iu])) or 1.0

    def coverage(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        """``(m,)``: mean over originals of the distance to the nearest image of each set, in units of :attr:`scale`."""
        m, k = images.shape[:2]
        feats = np.asarray(self.embed(_flat(images)), dtype=np.float64).reshape(m, k, -1)
        d = np.linalg.norm(self.anchors[None, :, None, :] - feats[:, None, :, :], axis=-1)  # (m, N, k)
        out: NDArray[np.float64] = d.min(axis=2).mean(axis=1) / self.scale
        return out

    def _term(self, images: NDArray[np.float32]) -> NDArray[np.float64]:
        return self.coverage(images)


class RecordsFirstBatch(LatentProblem):
    """A problem that keeps its first evaluated batch ``(Z, F)`` in :attr:`first_batch` (mixed in before the
    problem class: its best set is the "first generation" that the reports show beside the search's result)."""

    first_batch: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None

    def evaluate(self, Z: ArrayLike) -> NDArray[np.float64]:
        """As the problem's ``evaluate``; the first call's ``(Z, F)`` is kept in :attr:`first_batch`."""
        F = super().evaluate(Z)
        if self.first_batch is None:
            self.first_batch = (np.array(Z, dtype=np.float64, copy=True), F.copy())
        return F

    __call__ = evaluate


class SelectionProblem(RecordsFirstBatch):
    """A set of ``k`` latents of one class's generator, scored by a :data:`SetObjective` of their images.

    Solvable by any optimizer (``latentbridge.optimizers.resolve(name).solve(problem, budget, seed)``); the first
    evaluated batch is kept in :attr:`first_batch` (its best set is the "first generation" of the reports).

    Args:
        generator: The class's generator.
        objective: ``images (m, k, C, H, W) → (m,)`` fitness.
        k: Latents per set.
        batch_size: Images per forward pass.
        name: What the objective is (recorded in :meth:`config`).
    """

    kind = "augment-selection"
    _requires_scorer = False

    def __init__(
        self,
        generator: LatentGenerator,
        objective: SetObjective,
        *,
        k: int,
        batch_size: int = 256,
        name: str = "selection",
    ) -> None:
        super().__init__(generator, [], k=k, batch_size=batch_size)
        if not callable(objective):
            raise InputError(f"objective must be callable, found {type(objective).__name__}")
        self.objective = objective
        self.objective_name = str(name)

    @property
    def n_obj(self) -> int:
        """Always 1."""
        return 1

    def _extra_config(self) -> dict[str, Any]:
        return {"objective": self.objective_name}

    def _fitness(self, images: torch.Tensor) -> torch.Tensor:
        arr = images.detach().to("cpu", torch.float32).numpy()
        f = np.asarray(self.objective(arr), dtype=np.float64).reshape(-1)
        if f.shape[0] != images.shape[0]:
            n = images.shape[0]
            raise InputError(f"objective {self.objective_name!r} returned {f.shape[0]} values for {n} sets")
        return torch.from_numpy(f).to(images.device).unsqueeze(1)
