"""Realism of latent solutions: typicality under the prior, a discriminator against real images, the digit check.

Gradient methods can reach low scorer distances with latents far outside the prior, i.e.
adversarial images. :func:`realism` measures, for any solutions ``Z`` of a problem (or
latents of a generator):

- **latent typicality** (always): ``latent_norm_ratio``, the distance of the prior-normalised
  solution ``u = (z - loc) / scale`` from the prior mean in units of the typical distance
  ``sqrt(dim)`` (1 is typical); and, for a plain Gaussian latent (not truncated, not
  StyleGAN2's w / w+ whose prior is only a Gaussian fit), ``latent_p``: the two-sided tail
  probability of ``|u|`` under the chi distribution with ``dim`` degrees of freedom (small =
  atypical, both too close to the mean and too far out);
- **discriminator** (where one exists: the embedded DCGAN's, ``mnist_disc.pt``):
  ``discriminator``, its mean logit over a solution's images (higher = more real), and
  ``discriminator_percentile``, the fraction of the 1,000 held-out real digits it scores
  lower (0.5 = as real as a median real digit);
- **digit check** (digit targets: a :class:`TargetSimilarity` on 1×28×28 images with one
  target): ``digit_class``, the embedded classifier's class for the image,
  ``digit_confidence``, its probability of the target's class (the target's own predicted
  class unless ``digit=`` says), and ``digit_match`` (1.0 when they agree).

:class:`RealismPenalty` adds ``λ ·`` realism penalties to any problem's fitness
(differentiable, so gradient optimizers see them), and :class:`RealismConstraints` gives
pymoo inequality constraints (``latentbridge.pymoo.as_pymoo(problem, constraints=...)``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from ._chunks import model_name
from ._latent import LatentSpace
from ._problems import LatentProblem, TargetSimilarity
from ._protocols import LatentGenerator
from ._validation import check_latents
from .errors import InputError

__all__ = [
    "RealismConstraints",
    "RealismDiscriminator",
    "RealismPenalty",
    "discriminator_for",
    "latent_typicality",
    "realism",
]

_DIGIT_SHAPE = (1, 28, 28)


def _prior(latent: LatentSpace, k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.tile(latent.mean.reshape(-1), k), np.tile(latent.std.reshape(-1), k)


def _gaussian(latent: LatentSpace) -> bool:
    """Whether the prior really is the Gaussian ``N(loc, scale²)`` (not truncated, not a fit to mapped w)."""
    return latent.truncation is None and latent.name not in ("w", "w+")


def latent_typicality(latent: LatentSpace, Z: ArrayLike, k: int = 1) -> dict[str, NDArray[np.float64]]:
    """``latent_norm_ratio`` and ``latent_p`` (NaN where the prior is not a plain Gaussian) of solutions ``Z``.

    Args:
        latent: The generator's latent space.
        Z: ``(n, k * latent.dim)`` solutions.
        k: Latents per solution (the norm is taken over the whole solution: ``k * dim`` degrees of freedom).
    """
    from scipy.stats import chi

    dim = k * latent.dim
    X = check_latents(Z, dim).astype(np.float64)
    loc, scale = _prior(latent, k)
    r = np.linalg.norm((X - loc) / scale, axis=1)
    p = 2.0 * np.minimum(chi.cdf(r, dim), chi.sf(r, dim)) if _gaussian(latent) else np.full(len(r), np.nan)
    return {"latent_norm_ratio": r / math.sqrt(dim), "latent_p": np.minimum(p, 1.0)}


class RealismDiscriminator:
    """A discriminator (images → logits, higher = more real) and the logits of real reference images.

    Args:
        module: ``(n, C, H, W)`` images in [-1, 1] → ``(n,)`` logits; frozen, in eval mode.
        reference: Real images ``(N, C, H, W)`` its scores are compared with.
        name: Label for messages.
    """

    def __init__(self, module: torch.nn.Module, reference: torch.Tensor, *, name: str) -> None:
        self.module = module.eval().requires_grad_(False)
        self.name = name
        self.device = next(module.parameters()).device
        with torch.inference_mode():
            ref = torch.cat(
                [self.module(reference[i : i + 256].to(self.device)) for i in range(0, len(reference), 256)]
            )
        self.reference = np.sort(ref.to("cpu", torch.float64).numpy())

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(n,)`` (differentiable when ``images`` require grad)."""
        out: torch.Tensor = self.module(images.to(self.device, torch.float32)).reshape(images.shape[0])
        return out

    def percentile(self, logits: NDArray[np.float64]) -> NDArray[np.float64]:
        """Fraction of the reference images whose logit is lower than each of ``logits``."""
        out: NDArray[np.float64] = np.searchsorted(self.reference, logits, side="left") / len(self.reference)
        return out


@functools.lru_cache(maxsize=4)
def _mnist_discriminator(device: str) -> RealismDiscriminator:
    from .data import load_mnist, to_float_images
    from .models.mnist import load_discriminator

    images, _ = load_mnist("test")
    reference = torch.from_numpy(to_float_images(images))
    return RealismDiscriminator(load_discriminator(device=device), reference, name="mnist-disc")


@functools.lru_cache(maxsize=4)
def _digit_classifier(device: str) -> torch.nn.Module:
    from .models.mnist import load_digit_cnn

    return load_digit_cnn(device=device)


def discriminator_for(generator: LatentGenerator) -> RealismDiscriminator | None:
    """The shipped discriminator of ``generator`` (the embedded ``mnist-dcgan``'s), or None when there is none."""
    if model_name(generator) == "mnist-dcgan" and tuple(generator.image_shape) == _DIGIT_SHAPE:
        return _mnist_discriminator(str(generator.device))
    return None


def _source(obj: Any) -> tuple[LatentGenerator, int, LatentProblem | None]:
    if isinstance(obj, LatentProblem):
        return obj.generator, obj.k, obj
    if isinstance(obj, LatentGenerator):
        return obj, 1, None
    raise InputError(f"realism needs a latentbridge problem or generator, got {type(obj).__name__}")


def _target_digit(problem: LatentProblem | None, digit: int | None, device: torch.device) -> int | None:
    if digit is not None:
        if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= int(digit) <= 9:
            raise InputError(f"digit must be a class 0..9, got {digit!r}")
        return int(digit)
    if not isinstance(problem, TargetSimilarity) or problem.n_targets != 1:
        return None
    if tuple(problem.generator.image_shape) != _DIGIT_SHAPE:
        return None
    with torch.inference_mode():
        logits = _digit_classifier(str(device))(problem.targets.to(device))
    return int(logits.argmax(dim=1)[0])


def realism(
    source: LatentProblem | LatentGenerator,
    Z: ArrayLike,
    *,
    discriminator: RealismDiscriminator | str | None = "auto",
    digit: int | None = None,
    batch_size: int = 256,
) -> dict[str, NDArray[np.float64]]:
    """Realism measures of solutions ``Z`` of a problem (or latents of a generator), one value per solution.

    Args:
        source: A :class:`~latentbridge.LatentProblem` (solutions of ``k`` latents) or a generator.
        Z: ``(n, dim)`` solutions.
        discriminator: ``"auto"`` (the generator's shipped one, if any: :func:`discriminator_for`), a
            :class:`RealismDiscriminator`, or None (no discriminator columns).
        digit: The target digit class for the digit check (default: the classifier's class of the
            problem's single 1×28×28 target; no digit check otherwise).
        batch_size: Images per forward.

    Returns:
        ``{name: (n,) float64}``: ``latent_norm_ratio``, ``latent_p`` always; ``discriminator`` and
        ``discriminator_percentile`` with a discriminator; ``digit_class``, ``digit_confidence``,
        ``digit_match`` for digit targets (set problems: means over the set's images).
        The problem's evaluation counters do not change (no fitness is computed).
    """
    gen, k, problem = _source(source)
    X = check_latents(Z, k * gen.latent.dim)
    out = latent_typicality(gen.latent, X, k)
    disc = discriminator_for(gen) if discriminator == "auto" else discriminator
    if disc is not None and not isinstance(disc, RealismDiscriminator):
        raise InputError(f"discriminator must be 'auto', None or a RealismDiscriminator, got {discriminator!r}")
    label = _target_digit(problem, digit, gen.device)
    if label is not None and tuple(gen.image_shape) != _DIGIT_SHAPE:
        raise InputError(f"the digit check needs 1x28x28 digit images; this generator makes {gen.image_shape}")
    if disc is None and label is None:
        return out
    n, step = X.shape[0], max(1, int(batch_size) // k)
    d_logit, digit_cls, digit_conf = (np.empty((n, k)) for _ in range(3))
    with torch.inference_mode():
        for s in range(0, n, step):
            z = torch.tensor(X[s : s + step], device=gen.device).reshape(-1, *gen.latent.shape)
            imgs = gen.generate(z)
            m = imgs.shape[0] // k
            if disc is not None:
                d_logit[s : s + m] = disc.logits(imgs).to("cpu", torch.float64).reshape(m, k).numpy()
            if label is not None:
                prob = torch.softmax(_digit_classifier(str(gen.device))(imgs.to(gen.device)), dim=1)
                digit_cls[s : s + m] = prob.argmax(dim=1).reshape(m, k).cpu().numpy()
                digit_conf[s : s + m] = prob[:, label].reshape(m, k).to(torch.float64).cpu().numpy()
    if disc is not None:
        out["discriminator"] = d_logit.mean(axis=1)
        out["discriminator_percentile"] = disc.percentile(d_logit).mean(axis=1)
    if label is not None:
        out["digit_class"] = digit_cls[:, 0] if k == 1 else digit_cls.mean(axis=1)
        out["digit_confidence"] = digit_conf.mean(axis=1)
        out["digit_match"] = (digit_cls == label).mean(axis=1).astype(np.float64)
    return out


class RealismPenalty(LatentProblem):
    """``problem`` with realism penalties added to every objective (minimised; gradients flow through them).

    ``fitness = problem's fitness + latent · (|u| / sqrt(dim) - 1)² + discriminator · softplus(-D(image))``:
    the first term is 0 on the prior's typical shell (``u`` the prior-normalised solution) and
    grows off it; the second is the discriminator's non-saturating generator loss ``-log
    sigmoid(D)``, averaged over a set's images (near 0 for images it finds real). Evaluations go
    through this problem's own path (its counters and observers), with the inner problem's
    models, targets and chunk size.

    Args:
        problem: Any problem.
        latent: Weight of the latent-typicality term.
        discriminator: Weight of the discriminator term (needs a discriminator: ``disc=`` or the
            generator's shipped one).
        disc: The :class:`RealismDiscriminator` (default: :func:`discriminator_for` the generator).

    Raises:
        InputError: negative weights, or a discriminator weight without a discriminator.
    """

    kind = "realism-penalty"

    def __init__(
        self,
        problem: LatentProblem,
        *,
        latent: float = 0.0,
        discriminator: float = 0.0,
        disc: RealismDiscriminator | None = None,
    ) -> None:
        if not isinstance(problem, LatentProblem):
            raise InputError(f"RealismPenalty wraps a latentbridge problem, got {type(problem).__name__}")
        for name, w in (("latent", latent), ("discriminator", discriminator)):
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not (math.isfinite(w) and w >= 0):
                raise InputError(f"RealismPenalty: {name} must be a finite weight >= 0, got {w!r}")
        super().__init__(problem.generator, problem.scorers, k=problem.k, batch_size=problem.batch_size)
        self.inner = problem
        self.precision = problem.precision
        self.latent_weight, self.discriminator_weight = float(latent), float(discriminator)
        self.disc = disc if disc is not None else discriminator_for(problem.generator)
        if self.discriminator_weight > 0 and self.disc is None:
            raise InputError(
                f"RealismPenalty(discriminator={discriminator}): no discriminator is known for the generator "
                f"{model_name(problem.generator)!r}; pass disc=RealismDiscriminator(...) or discriminator=0"
            )
        loc, scale = _prior(problem.latent, problem.k)
        self._loc, self._scale = torch.from_numpy(loc).float(), torch.from_numpy(scale).float()

    @property
    def n_obj(self) -> int:
        """The inner problem's objectives."""
        return self.inner.n_obj

    def _extra_config(self) -> dict[str, Any]:
        return {
            "inner": self.inner.config(),
            "latent_weight": self.latent_weight,
            "discriminator_weight": self.discriminator_weight,
            "discriminator": self.disc.name if self.disc is not None and self.discriminator_weight else None,
        }

    def _fitness(self, images: torch.Tensor) -> torch.Tensor:
        fit = self.inner._fitness(images)
        if self.discriminator_weight and self.disc is not None:
            m, k = images.shape[:2]
            logits = self.disc.logits(images.reshape(m * k, *images.shape[2:])).reshape(m, k)
            pen = torch.nn.functional.softplus(-logits).mean(dim=1, keepdim=True).to(fit.device, fit.dtype)
            fit = fit + self.discriminator_weight * pen
        return fit

    def _solution_fitness(self, z: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        fit = self._fitness(images)
        if self.latent_weight:
            u = (z.float() - self._loc.to(z.device)) / self._scale.to(z.device)
            ratio = u.norm(dim=1, keepdim=True) / math.sqrt(self.dim)
            fit = fit + self.latent_weight * (ratio - 1.0).square().to(fit.device, fit.dtype)
        return fit


class RealismConstraints:
    """Realism as inequality constraints ``g(x) <= 0`` (feasible) for pymoo: ``as_pymoo(problem, constraints=...)``.

    Args:
        problem: The problem whose solutions are constrained.
        max_latent_ratio: Require ``latent_norm_ratio <= max_latent_ratio`` (e.g. 1.1).
        min_discriminator_percentile: Require ``discriminator_percentile >= this`` (e.g. 0.05: at
            least as real as the least real 5 % of real digits); needs the generator's discriminator.

    Attributes:
        n_constr: Number of constraints (columns of :meth:`values`).
        needs_images: Whether :meth:`describe` must see the solutions' images (the discriminator).
    """

    def __init__(
        self,
        problem: LatentProblem,
        *,
        max_latent_ratio: float | None = None,
        min_discriminator_percentile: float | None = None,
    ) -> None:
        if max_latent_ratio is None and min_discriminator_percentile is None:
            raise InputError("RealismConstraints needs max_latent_ratio and/or min_discriminator_percentile")
        if max_latent_ratio is not None and not (float(max_latent_ratio) > 0):
            raise InputError(f"max_latent_ratio must be > 0, got {max_latent_ratio!r}")
        if min_discriminator_percentile is not None and not 0 <= float(min_discriminator_percentile) <= 1:
            raise InputError(f"min_discriminator_percentile must be in [0, 1], got {min_discriminator_percentile!r}")
        self.problem = problem
        self.max_latent_ratio = max_latent_ratio
        self.min_percentile = min_discriminator_percentile
        self.disc = discriminator_for(problem.generator) if min_discriminator_percentile is not None else None
        if min_discriminator_percentile is not None and self.disc is None:
            raise InputError(
                f"min_discriminator_percentile: no discriminator is known for the generator "
                f"{model_name(problem.generator)!r}; use max_latent_ratio only"
            )
        self.n_constr = int(max_latent_ratio is not None) + int(min_discriminator_percentile is not None)
        self.needs_images = self.disc is not None

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        """Mean discriminator logit ``(m, 1)`` of a chunk of images ``(m, k, C, H, W)`` (for ``evaluate_with``)."""
        assert self.disc is not None
        m, k = images.shape[:2]
        return self.disc.logits(images.reshape(m * k, *images.shape[2:])).reshape(m, k).mean(dim=1, keepdim=True)

    def values(self, X: NDArray[np.float64], described: NDArray[np.float64] | None) -> NDArray[np.float64]:
        """Constraint values ``(n, n_constr)``: ``<= 0`` where satisfied."""
        cols = []
        if self.max_latent_ratio is not None:
            ratio = latent_typicality(self.problem.latent, X, self.problem.k)["latent_norm_ratio"]
            cols.append(ratio - float(self.max_latent_ratio))
        if self.min_percentile is not None and self.disc is not None and described is not None:
            cols.append(float(self.min_percentile) - self.disc.percentile(described[:, 0]))
        out: NDArray[np.float64] = np.column_stack(cols)
        return out
