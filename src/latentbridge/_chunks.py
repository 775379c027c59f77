"""The chunks of a problem's one evaluation path: forward, or forward and backward, ``batch_size`` images at a time.

``LatentProblem._run`` (the one method that evaluates) calls :func:`forward` for
``evaluate``/``evaluate_with`` and :func:`value_and_grad` for ``evaluate_grad``. This
module also holds the check that names the generator or scorer that blocks autograd
(:class:`~latentbridge.errors.NotDifferentiableError`) and what one gradient evaluation
costs in forward passes (:func:`grad_cost`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray

from .errors import ImageShapeError, NotDifferentiableError

if TYPE_CHECKING:
    from ._problems import LatentProblem

__all__ = ["GRAD_COSTS", "GRAD_COST_DEFAULT", "forward", "grad_cost", "model_name", "value_and_grad"]

#: Forward-equivalents of one value-and-gradient evaluation of a model that :data:`GRAD_COSTS` does not list:
#: the usual rule that a backward pass costs about two forwards.
GRAD_COST_DEFAULT: float = 3.0

#: Forward-equivalents of one value-and-gradient evaluation, per model (registry name): the time of a forward
#: plus backward over the time of a forward alone, measured side by side by ``benchmarks/gradient_cost.py``
#: (``benchmarks/README.md`` has the runs), rounded *up* to the next quarter so that budgets do not favour gradients.
#: The pixel scorers (``rmse``, ``ncc``) cost microseconds next to any generator and are not listed.
GRAD_COSTS: dict[str, float] = {
    "mnist-dcgan": 2.25,  # measured 2.03 (batch 64, 1 CPU thread)
    "mnist-embed": 2.5,  # 2.41
    "stylegan2": 2.75,  # 2.06-2.71 over z / w / w+ on a tiny and a 64² network
    "facenet": 2.25,  # 2.14
}

_CHEAP = frozenset({"rmse", "ncc"})


def model_name(obj: Any) -> str:
    """A generator's or scorer's name for messages and the cost table (registry name, ``name``, or class)."""
    origin = getattr(obj, "_latentbridge_origin", None)
    if isinstance(origin, dict) and isinstance(origin.get("name"), str):
        return str(origin["name"])
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    cfg = getattr(obj, "config", None)
    if callable(cfg):
        try:
            got = cfg()
        except Exception:  # a config() that fails is not this message's business
            got = None
        if isinstance(got, dict) and isinstance(got.get("name"), str):
            return str(got["name"])
    return type(obj).__name__


def grad_cost(problem: LatentProblem) -> float:
    """Forward-equivalents of one value-and-gradient evaluation of ``problem``.

    The largest :data:`GRAD_COSTS` entry among its generator and scorers (the pixel scorers
    cost nothing next to a generator), :data:`GRAD_COST_DEFAULT` for a model the table
    does not know. A bound, not a guess in the gradient's favour: a composite's true ratio
    is a time-weighted mean of its models' ratios, never above their maximum.
    """
    costs = []
    for obj in (problem.generator, *problem.scorers):
        name = model_name(obj)
        if name not in _CHEAP:
            costs.append(GRAD_COSTS.get(name, GRAD_COST_DEFAULT))
    return max(costs) if costs else 1.0


def _label(role: str, obj: Any) -> str:
    name, cls = model_name(obj), type(obj).__name__
    return f"{role} {name!r}" + (f" ({cls})" if cls != name else "")


_WHY = (
    "its output does not depend differentiably on its input: it runs under torch.inference_mode() or "
    "torch.no_grad(), detaches, goes through numpy, or was compiled/exported for inference only"
)


def _blocked(what: str, why: str, cause: BaseException | None = None) -> NotDifferentiableError:
    detail = f" ({type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''})" if cause else ""
    err = NotDifferentiableError(
        f"cannot differentiate through the {what}: {why}{detail}. Gradient optimizers (adam, basin-cma, lbfgs) "
        "need a torch module that autograd can run backwards; use an evolutionary optimizer for this problem, "
        "or make the model's forward differentiable (no inference_mode/no_grad/detach/numpy on the latent's path)"
    )
    err.__cause__ = cause
    return err


def _check_model(role: str, obj: Any, run: Any, x: torch.Tensor) -> None:
    """Run ``run(x)`` with ``x`` requiring grad, then backwards; raise naming ``obj`` if either fails."""
    x = x.detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            out = run(x)
            if not isinstance(out, torch.Tensor) or not out.requires_grad:
                raise _blocked(_label(role, obj), _WHY)
            (g,) = torch.autograd.grad(out.float().sum(), x, allow_unused=True)
    except NotDifferentiableError:
        raise
    except RuntimeError as exc:  # autograd refused: an inference tensor, an in-place op on a leaf, ...
        raise _blocked(_label(role, obj), "autograd cannot run it backwards", exc) from exc
    if g is None:
        raise _blocked(_label(role, obj), _WHY)


def check_differentiable(problem: LatentProblem, z: torch.Tensor) -> None:
    """Check the generator and every scorer on one latent, forward and backward, naming the one that fails.

    Args:
        problem: The problem.
        z: Latents of one solution ``(k, *latent.shape)`` on the generator's device.

    Raises:
        NotDifferentiableError: naming the generator or scorer that blocks gradients.
    """
    gen = problem.generator
    _check_model("generator", gen, gen.generate, z[:1])
    with torch.inference_mode():
        img = gen.generate(z[:1]).clone()
    img = torch.tensor(img.detach().cpu().numpy(), device=img.device)  # a normal tensor, not an inference one
    for scorer in problem.scorers:
        _check_model("scorer", scorer, scorer.embed, img)
        _check_model("scorer", scorer, lambda x, s=scorer: s.distance(s.embed(x), s.embed(x.detach()).detach()), img)


def forward(
    problem: LatentProblem,
    Zf: NDArray[np.float32],
    out: NDArray[np.float64],
    describe: Callable[[torch.Tensor], torch.Tensor | NDArray[Any]] | None,
) -> NDArray[np.float64] | None:
    """Fill ``out`` ``(n, n_obj)`` with the fitness of ``Zf``; return descriptors of the same images if asked.

    One generator+scorer forward per chunk of ``batch_size`` images under
    ``torch.inference_mode()``.
    """
    desc: NDArray[np.float64] | None = None
    with torch.inference_mode():
        for start, stop, imgs in problem._generate_chunks(Zf):
            z = torch.tensor(Zf[start:stop], device=imgs.device)
            out[start:stop] = problem._solution_fitness(z, imgs).to("cpu", torch.float64).numpy()
            if describe is not None:
                d = torch.as_tensor(describe(imgs)).to("cpu", torch.float64).reshape(stop - start, -1)
                if desc is None:
                    desc = np.empty((Zf.shape[0], d.shape[1]), dtype=np.float64)
                desc[start:stop] = d.numpy()
    return desc


def _chunks(problem: LatentProblem, Zf: NDArray[np.float32]) -> Iterator[tuple[int, int, torch.Tensor]]:
    step = problem._solutions_per_chunk()
    for start in range(0, Zf.shape[0], step):
        stop = min(start + step, Zf.shape[0])
        yield start, stop, torch.tensor(Zf[start:stop], device=problem.generator.device)


def value_and_grad(
    problem: LatentProblem, Zf: NDArray[np.float32], F: NDArray[np.float64], G: NDArray[np.float64]
) -> None:
    """Fill ``F`` ``(n, n_obj)`` and ``G`` ``(n, n_obj, dim)`` with the fitness of ``Zf`` and its gradient.

    One generator+scorer forward and ``n_obj`` backward passes per chunk of ``batch_size``
    images (whole sets stay together), so peak memory is bounded by ``batch_size`` like
    :meth:`~latentbridge.LatentProblem.evaluate`. Rows are independent (each solution's
    fitness depends on its own latents only), so one backward of a column's sum gives every
    row's gradient of that objective. The first gradient evaluation of a problem checks its
    generator and scorers on one latent and names the one that blocks autograd.

    Raises:
        NotDifferentiableError: the generator or a scorer cannot be differentiated.
    """
    k, shape = problem.k, problem.latent.shape
    c, h, w = problem.generator.image_shape
    n_obj = problem.n_obj
    for start, stop, zf in _chunks(problem, Zf):
        m = stop - start
        if not getattr(problem, "_grad_checked", False):
            check_differentiable(problem, zf[:1].reshape(k, *shape))
            problem._grad_checked = True
        zf.requires_grad_(True)
        with torch.enable_grad():
            imgs = problem.generator.generate(zf.reshape(m * k, *shape))
            if tuple(imgs.shape[1:]) != (c, h, w):
                raise ImageShapeError(
                    f"generator returned images of shape {tuple(imgs.shape[1:])}, but its image_shape says {(c, h, w)}"
                )
            fit = problem._solution_fitness(zf, imgs.reshape(m, k, c, h, w))
            if not fit.requires_grad:
                raise _blocked(f"problem {problem.name}", _WHY)
            try:
                for j in range(n_obj):
                    (g,) = torch.autograd.grad(fit[:, j].sum(), zf, retain_graph=j < n_obj - 1, allow_unused=True)
                    G[start:stop, j] = 0.0 if g is None else g.to("cpu", torch.float64).numpy()
            except RuntimeError as exc:
                raise _blocked(f"problem {problem.name}", "autograd cannot run its fitness backwards", exc) from exc
        F[start:stop] = fit.detach().to("cpu", torch.float64).numpy()
