"""The quality-diversity problem: an objective and measures of one latent's image, from one batched forward."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from .._problems import LatentProblem
from .._protocols import LatentGenerator, describe
from .._tracking import Evaluation
from .._validation import check_latents, check_positive_int, check_seed
from ..errors import InputError
from ..measures import Measure, as_measure, check_measure_output, fitted_bounds
from ..precision import Precision
from ._grid import Grid, check_cells

__all__ = ["QualityDiversity"]

Array = NDArray[np.float64]


class QualityDiversity(LatentProblem):
    """Maximise an objective over single latents while covering a grid of measures (pyribs' convention).

    Every evaluation generates each image once and computes the objective and all measures
    from it, in one batched forward per chunk of ``batch_size`` latents, through the
    problem's one evaluation path (``LatentProblem._run``): ``evaluate_qd(Z)`` returns
    ``(objective, measures)`` for pyribs' ``tell``. As a :class:`~latentbridge.LatentProblem`
    its fitness is ``-objective`` (minimised), so any latentbridge optimizer (the seeds' GA,
    CMA-ES, random search) runs on it too, and every one of its evaluations reports the
    measures to listeners (``Evaluation.D``): :class:`latentbridge.qd.ArchiveRecorder` turns
    any run into an archive of the same grid.

    :meth:`evaluate_qd_grad` adds the gradients of the objective and of each measure with
    respect to the latent (torch autograd through the generator and the measures) for
    gradient emitters (CMA-MEGA, CMA-MAEGA). Models must be in eval mode (each image
    depends only on its own latent), as loaded models are.

    Ranges of the measures (the grid's extent) come from ``ranges`` where given, else
    from each measure's known bounds, else they are estimated from ``n_estimate`` prior
    samples drawn with ``estimate_seed`` (``[min, max]`` widened by ``margin`` of the
    range on each side). The QD-score offset is ``qd_offset`` if given, else the
    objective's known lower bound, else the estimated minimum (widened likewise).
    Estimation evaluations are not counted in :attr:`n_evals`; everything is recorded
    in :meth:`config`.

    Args:
        generator: The generator.
        objective: A measure with one column (maximised), or a registered measure name.
        measures: Measures (or names): together they give the grid's dimensions.
        ranges: ``(low, high)`` per measure column; ``None`` entries (or None for all) are
            known or estimated.
        qd_offset: Objective offset of the QD-score (see :class:`~latentbridge.qd.Grid`).
        n_estimate: Prior samples used to estimate unknown ranges.
        estimate_seed: Their seed.
        margin: Widening of estimated ranges, as a fraction of the range.
        batch_size: Latents per forward pass.
        precision: Precision of the generator's forward (measures compute as configured).
        cells: The grid's cells per measure (an int for all, or one per measure) that
            :meth:`grid` uses by default (default 50); part of :meth:`config` when given.
    """

    kind = "quality-diversity"
    _requires_scorer = False

    def __init__(
        self,
        generator: LatentGenerator,
        objective: Measure | str,
        measures: Measure | str | Sequence[Measure | str],
        *,
        ranges: Sequence[tuple[float, float] | None] | None = None,
        qd_offset: float | None = None,
        n_estimate: int = 1000,
        estimate_seed: int = 0,
        margin: float = 0.1,
        batch_size: int = 128,
        precision: Precision | None = None,
        cells: int | Sequence[int] | None = None,
    ) -> None:
        super().__init__(generator, (), k=1, batch_size=batch_size, precision=precision)
        self.objective = as_measure(_by_name(objective), "objective")
        if len(self.objective.names) != 1:
            raise InputError(
                f"objective must have one column, but it has {len(self.objective.names)}: {self.objective.names}"
            )
        items = [measures] if isinstance(measures, (str, Measure)) else list(measures)
        if not items:
            raise InputError("at least one measure is required (the grid's dimensions)")
        self.measures = [as_measure(_by_name(m), f"measures[{i}]") for i, m in enumerate(items)]
        self.measure_names: tuple[str, ...] = tuple(n for m in self.measures for n in m.names)
        if len(set(self.measure_names)) != len(self.measure_names):
            raise InputError(f"measure names must be distinct, got {self.measure_names}")
        self.n_estimate = check_positive_int(n_estimate, "n_estimate")
        self.estimate_seed = check_seed(estimate_seed, "estimate_seed")
        if not 0 <= float(margin) <= 10:
            raise InputError(f"margin must be a fraction in [0, 10], got {margin!r}")
        self.margin = float(margin)
        self._n_grad_evals = 0
        self._resolve_ranges(ranges, qd_offset)
        self._cells_given = cells is not None
        dims = check_cells(50 if cells is None else cells, len(self.measure_names))
        self.cells: tuple[int, ...] = Grid(dims, self.ranges, self.qd_offset, self.measure_names).dims  # checked

    # -- ranges and grid -----------------------------------------------------------------------
    def _resolve_ranges(self, ranges: Sequence[tuple[float, float] | None] | None, qd_offset: float | None) -> None:
        m = len(self.measure_names)
        given = [None] * m if ranges is None else list(ranges)
        if len(given) != m:
            raise InputError(
                f"ranges must have {m} entries (one per measure column {self.measure_names}), got {len(given)}"
            )
        shape = self.generator.image_shape
        known = [b for meas in self.measures for b in self._bounds_of(meas, shape)]
        out: list[tuple[float, float] | None] = []
        sources: list[str] = []
        for i, (g, k) in enumerate(zip(given, known, strict=True)):
            if g is not None:
                lo, hi = _pair(g, f"ranges[{i}]")
                out.append((lo, hi))
                sources.append("given")
            elif k is not None:
                out.append(k)
                sources.append("known")
            else:
                out.append(None)
                sources.append("estimated")
        obj_known = self._bounds_of(self.objective, shape)[0]
        if qd_offset is not None:
            if isinstance(qd_offset, bool) or not np.isfinite(float(qd_offset)):
                raise InputError(f"qd_offset must be a finite number, got {qd_offset!r}")
            offset, offset_source = float(qd_offset), "given"
        elif obj_known is not None:
            offset, offset_source = obj_known[0], "known"
        else:
            offset, offset_source = 0.0, "estimated"
        self.estimated = "estimated" in sources or offset_source == "estimated"
        if self.estimated:
            obj, meas = self.sample_values(self.n_estimate, self.estimate_seed)
            est = fitted_bounds(meas, self.margin)
            out = [est[i] if r is None else r for i, r in enumerate(out)]
            if offset_source == "estimated":
                offset = fitted_bounds(obj[:, None], self.margin)[0][0]
        self.ranges: tuple[tuple[float, float], ...] = tuple(r for r in out if r is not None)
        self.range_sources = tuple(sources)
        self.qd_offset = float(offset)
        self.offset_source = offset_source

    @staticmethod
    def _bounds_of(measure: Measure, shape: tuple[int, int, int]) -> list[tuple[float, float] | None]:
        got = list(measure.bounds(shape))
        if len(got) != len(measure.names):
            raise InputError(
                f"measure {measure.names}: bounds() gave {len(got)} entries for {len(measure.names)} columns"
            )
        return [None if b is None else _pair(b, f"bounds of {measure.names}") for b in got]

    def grid(self, cells: int | Sequence[int] | None = None) -> Grid:
        """The archive grid with ``cells`` per measure (an int for all, or one per measure; default
        :attr:`cells`) over :attr:`ranges`."""
        dims = self.cells if cells is None else check_cells(cells, len(self.measure_names))
        return Grid(dims, self.ranges, self.qd_offset, self.measure_names)

    @property
    def n_obj(self) -> int:
        """Always 1 (the fitness is ``-objective``)."""
        return 1

    @property
    def n_measures(self) -> int:
        """Measure columns (the grid's dimensions)."""
        return len(self.measure_names)

    @property
    def differentiable(self) -> bool:
        """Whether the objective and every measure are differentiable (gradient emitters need it)."""
        return bool(self.objective.differentiable) and all(bool(m.differentiable) for m in self.measures)

    @property
    def n_grad_evals(self) -> int:
        """Of :attr:`n_evals`, how many were gradient evaluations (:meth:`evaluate_qd_grad`)."""
        return self._n_grad_evals

    def reset_counter(self) -> None:
        """Set :attr:`n_evals`, :attr:`n_failed` and :attr:`n_grad_evals` back to zero."""
        super().reset_counter()
        with self._lock:
            self._n_grad_evals = 0

    def _extra_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "objective": describe(self.objective),
            "measures": [describe(m) for m in self.measures],
            "measure_names": list(self.measure_names),
            "ranges": [list(r) for r in self.ranges],
            "range_sources": list(self.range_sources),
            "qd_offset": self.qd_offset,
            "offset_source": self.offset_source,
        }
        if self._cells_given:
            out["cells"] = list(self.cells)
        if self.estimated:
            out["estimate"] = {"n": self.n_estimate, "seed": self.estimate_seed, "margin": self.margin}
        return out

    # -- computing ---------------------------------------------------------------------------------
    def _objective_values(self, flat: torch.Tensor) -> torch.Tensor:
        return check_measure_output(self.objective, self.objective.measure(flat), int(flat.shape[0]))[:, 0]

    def _measure_values(self, flat: torch.Tensor) -> torch.Tensor:
        n = int(flat.shape[0])
        cols = [check_measure_output(m, m.measure(flat), n).to(flat.device, torch.float32) for m in self.measures]
        return torch.cat(cols, dim=1)

    def _fitness(self, images: torch.Tensor) -> torch.Tensor:
        return -self._objective_values(images[:, 0]).to(torch.float64).reshape(-1, 1)

    def _describe(self, images: torch.Tensor) -> torch.Tensor:
        return self._measure_values(images[:, 0])

    def evaluate(self, Z: ArrayLike) -> NDArray[np.float64]:
        """Fitness ``-objective`` ``(n,)`` (lower is better); listeners also receive the measures."""
        return self._run(Z, self._describe)[0]

    __call__ = evaluate

    def evaluate_qd(self, Z: ArrayLike) -> tuple[Array, Array]:
        """``(objective (n,), measures (n, n_measures))`` of solutions ``Z (n, dim)``, from one forward per chunk.

        Counted in :attr:`n_evals` like :meth:`evaluate`. A failed evaluation (non-finite
        objective) has objective ``-inf``; its measures are whatever was computed.
        """
        F, D = self._run(Z, self._describe)
        assert D is not None
        return -F, D.reshape(F.shape[0], self.n_measures)

    def sample_values(self, n: int, seed: int) -> tuple[Array, Array]:
        """Objective ``(n,)`` and measures ``(n, n_measures)`` of ``n`` prior samples; not counted, not observed."""
        Zf = check_latents(self.sample(n, seed), self.dim)
        obj = np.empty(n, dtype=np.float64)
        meas = np.empty((n, self.n_measures), dtype=np.float64)
        with torch.inference_mode():
            for start, stop, imgs in self._generate_chunks(Zf):
                obj[start:stop] = self._objective_values(imgs[:, 0]).to("cpu", torch.float64).numpy()
                meas[start:stop] = self._measure_values(imgs[:, 0]).to("cpu", torch.float64).numpy()
        return obj, meas

    def evaluate_qd_grad(self, Z: ArrayLike) -> tuple[Array, Array, Array]:
        """Objective, measures and their gradients with respect to the latent, for gradient emitters.

        One forward per chunk with autograd through the generator, objective and
        measures, then one backward per output (``1 + n_measures``). Each solution counts
        as one evaluation in :attr:`n_evals` (and in :attr:`n_grad_evals`); listeners see
        the batch as any other evaluation.

        Returns:
            ``(objective (n,), measures (n, m), jacobian (n, 1 + m, dim))``: the jacobian's
            first row is the objective's gradient, then one row per measure (pyribs'
            ``tell_dqd`` layout). Failed rows (any non-finite value) have objective ``-inf``
            and a zero jacobian.

        Raises:
            InputError: the objective or a measure is not differentiable.
        """
        if not self.differentiable:
            flat = [self.objective, *self.measures]
            bad = [n for m in flat if not m.differentiable for n in m.names]
            raise InputError(
                f"gradients need differentiable measures, but {bad} are not; use e.g. "
                "load_measure('boldness', temperature=0.05) for a smooth boldness/lightness, or a gradient-free "
                "optimizer (map-elites, cma-me, cma-mae)"
            )
        Zf = check_latents(Z, self.dim)
        n, m = Zf.shape[0], self.n_measures
        obj = np.empty(n, dtype=np.float64)
        meas = np.empty((n, m), dtype=np.float64)
        jac = np.zeros((n, 1 + m, self.dim), dtype=np.float64)
        t0 = time.perf_counter()
        step = self._solutions_per_chunk()
        for start in range(0, n, step):
            stop = min(start + step, n)
            z = torch.tensor(Zf[start:stop], device=self.generator.device, requires_grad=True)
            with torch.enable_grad():
                imgs = self.generator.generate(z.reshape(stop - start, *self.latent.shape))
                outs = torch.cat(
                    [self._objective_values(imgs)[:, None].to(torch.float32), self._measure_values(imgs)], 1
                )
                for j in range(1 + m):
                    (g,) = torch.autograd.grad(outs[:, j].sum(), z, retain_graph=j < m, allow_unused=True)
                    if g is not None:
                        jac[start:stop, j] = g.detach().to("cpu", torch.float64).numpy().reshape(stop - start, -1)
            vals = outs.detach().to("cpu", torch.float64).numpy()
            obj[start:stop], meas[start:stop] = vals[:, 0], vals[:, 1:]
        seconds = time.perf_counter() - t0
        failed = ~(np.isfinite(obj) & np.all(np.isfinite(meas), axis=1) & np.all(np.isfinite(jac), axis=(1, 2)))
        obj[failed] = -np.inf
        jac[failed] = 0.0
        self._account(Zf.shape[0], np.asarray(Z, dtype=np.float64).reshape(n, self.dim), obj, meas, failed, seconds)
        return obj, meas, jac

    def _account(self, n: int, X: Array, obj: Array, meas: Array, failed: NDArray[np.bool_], seconds: float) -> None:
        """Count a gradient batch and report it to listeners, as ``_run`` does for the others."""
        n_failed = int(np.count_nonzero(failed))
        with self._lock:
            first = self._n_evals
            self._n_evals += n
            self._n_grad_evals += n
            self._n_failed += n_failed
            listeners = self._listeners
        if listeners and n:
            F = np.where(failed, np.inf, -obj)[:, None]
            event = Evaluation(X=X, F=F, failed=failed, first=first, seconds=seconds, D=meas)
            for listener in listeners:
                listener(event)

    def __repr__(self) -> str:
        return (
            f"QualityDiversity(dim={self.dim}, objective={self.objective.names[0]!r}, "
            f"measures={list(self.measure_names)}, batch_size={self.batch_size})"
        )


def _pair(value: Any, what: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a (low, high) pair of numbers, got {value!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"{what} must be finite with low < high, got {value!r}")
    return lo, hi


def _by_name(value: Any) -> Any:
    """A registered measure name built with :func:`latentbridge.load_measure`; anything else unchanged."""
    if isinstance(value, str):
        from .._plugins import load_measure

        return load_measure(value)
    return value
