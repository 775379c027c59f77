"""``solve``: run a named quality-diversity algorithm through pyribs' ask/tell, with a resumable journal."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._result import OptimizeResult
from .._tracking import Tracker
from .._validation import check_positive_int, check_seed
from ..errors import InputError, StoreError
from ._algorithms import QDAlgorithm, algorithm
from ._archive import Archive, ArchiveRecorder, QDMetrics, as_grid, usable
from ._grid import Grid
from ._problem import QualityDiversity
from ._store import MAX_BYTES, read_arrays, read_file, write_arrays

__all__ = ["Journal", "QDResult", "QDTrace", "solve"]

Array = NDArray[np.float64]
#: Format tag of run journals.
JOURNAL_FORMAT = "latentbridge-qd-journal/1"
#: What pyribs is told for a failed evaluation (pyribs refuses NaN and inf): far below any real objective, so it
#: never displaces an elite and any real solution replaces it; it never enters the result archive.
FAILED_OBJECTIVE = -1e100


@dataclass
class QDTrace:
    """Metrics of the result archive after each iteration: parallel lists."""

    evals: list[int] = field(default_factory=list)
    qd_score: list[float] = field(default_factory=list)
    coverage: list[float] = field(default_factory=list)
    best: list[float] = field(default_factory=list)

    def record(self, evals: int, stats: Any) -> None:
        """Append pyribs archive ``stats`` after ``evals`` evaluations."""
        self.evals.append(int(evals))
        self.qd_score.append(float(stats.qd_score))
        self.coverage.append(float(stats.coverage))
        self.best.append(float("nan") if stats.obj_max is None else float(stats.obj_max))


@dataclass
class QDResult:
    """What :func:`solve` returns.

    Attributes:
        optimizer: The algorithm's name.
        params: Its parameters (defaults included).
        seed: The seed.
        grid: The grid of :attr:`archive`.
        archive: The result archive: every evaluation of the run inserted into an elitist
            archive of :attr:`grid` (for CMA-MAE/MAEGA this is pyribs' "result archive", not
            the soft archive the emitters use).
        metrics: Its QD metrics.
        trace: Metrics after each iteration.
        result: The run as a :class:`~latentbridge.OptimizeResult` of the problem's fitness
            ``-objective`` (best elite, best-so-far trace, ``extra["qd"]`` the metrics, ``extra["archive"]``).
        n_evals: Evaluations (gradient evaluations included).
        n_grad_evals: Of those, gradient evaluations.
        iterations: Ask/tell iterations.
        resumed_iterations: Of those, replayed from a checkpoint (not evaluated again).
        wall_time: Seconds.
    """

    optimizer: str
    params: dict[str, Any]
    seed: int
    grid: Grid
    archive: Archive
    metrics: QDMetrics
    trace: QDTrace
    result: OptimizeResult
    n_evals: int
    n_grad_evals: int
    iterations: int
    resumed_iterations: int
    wall_time: float

    def __repr__(self) -> str:
        m = self.metrics
        best = "None" if m.best is None else f"{m.best:.4g}"
        return (
            f"QDResult(optimizer={self.optimizer!r}, qd_score={m.qd_score:.4g}, coverage={m.coverage:.2%}, "
            f"best={best}, elites={m.num_elites}, n_evals={self.n_evals}, seed={self.seed})"
        )


class Journal:
    """Everything pyribs was told during a run, so that the run can be replayed and continued.

    pyribs' emitters (CMA-ES state, random generators) cannot be stored without pickles,
    so a checkpoint stores the run instead: per iteration the number of solutions asked, a
    sha256 of them, and the objective, measures (and jacobians) that were told. Resuming
    rebuilds the scheduler from the same seed, asks again, checks the digest (the same
    seed must ask the same solutions), tells the stored values without evaluating, and
    continues: the resumed run ends exactly where an uninterrupted one does.
    """

    def __init__(self, identity: dict[str, Any], n_measures: int, dim: int) -> None:
        self.identity = identity
        self.n_measures = n_measures
        self.dim = dim
        self.sizes: list[tuple[int, int]] = []
        self.digests: list[bytes] = []
        self.objective: list[Array] = []
        self.measures: list[Array] = []
        self.jacobian: list[Array] = []

    def __len__(self) -> int:
        return len(self.sizes)

    def append(self, n_dqd: int, n_ask: int, digest: bytes, obj: Array, meas: Array, jac: Array | None) -> None:
        """Record one iteration (gradient rows first)."""
        self.sizes.append((n_dqd, n_ask))
        self.digests.append(digest)
        self.objective.append(np.asarray(obj, dtype=np.float64))
        self.measures.append(np.asarray(meas, dtype=np.float64).reshape(-1, self.n_measures))
        if jac is not None:
            self.jacobian.append(np.asarray(jac, dtype=np.float64))

    def iteration(self, i: int) -> tuple[int, int, bytes, Array, Array, Array | None]:
        """``(n_dqd, n_ask, digest, objective, measures, jacobian)`` of iteration ``i``."""
        n_dqd, n_ask = self.sizes[i]
        jac = self.jacobian[i] if self.jacobian and n_dqd else None
        return n_dqd, n_ask, self.digests[i], self.objective[i], self.measures[i], jac

    def to_bytes(self) -> bytes:
        """The journal as an uncompressed ``.npz`` blob (no pickles)."""
        m, d = self.n_measures, self.dim
        arrays: dict[str, NDArray[Any]] = {
            "sizes": np.asarray(self.sizes, dtype=np.int64).reshape(-1, 2),
            "digests": np.frombuffer(b"".join(self.digests), dtype=np.uint8).reshape(-1, 32),
            "objective": np.concatenate(self.objective) if self.objective else np.empty(0),
            "measures": np.concatenate(self.measures) if self.measures else np.empty((0, m)),
            "jacobian": np.concatenate(self.jacobian) if self.jacobian else np.empty((0, 1 + m, d)),
        }
        meta = {"format": JOURNAL_FORMAT, "identity": self.identity, "n_measures": m, "dim": d}
        return write_arrays(meta, arrays)

    @classmethod
    def from_bytes(cls, blob: bytes, *, max_bytes: int = MAX_BYTES) -> Journal:
        """The journal :meth:`to_bytes` wrote; bounded and checked (a forged blob raises StoreError)."""
        what = "QD journal"
        meta, a = read_arrays(
            blob, ("sizes", "digests", "objective", "measures", "jacobian"), what, max_bytes=max_bytes
        )
        m, d = meta.get("n_measures"), meta.get("dim")
        if meta.get("format") != JOURNAL_FORMAT or not isinstance(meta.get("identity"), dict):
            raise StoreError(f"{what}: format {meta.get('format')!r} is not {JOURNAL_FORMAT!r}")
        if not (isinstance(m, int) and isinstance(d, int) and m >= 1 and d >= 1):
            raise StoreError(f"{what}: invalid n_measures {m!r} / dim {d!r}")
        sizes = a["sizes"]
        if sizes.dtype.kind != "i" or sizes.ndim != 2 or sizes.shape[1] != 2 or np.any(sizes < 0):
            raise StoreError(f"{what}: sizes must be (iterations, 2) non-negative ints, got {sizes.shape}")
        n, g = int(sizes.sum()), int(sizes[:, 0].sum())
        shapes = {
            "digests": (sizes.shape[0], 32),
            "objective": (n,),
            "measures": (n, m),
            "jacobian": (g, 1 + m, d),
        }
        for name, shape in shapes.items():
            if a[name].shape != shape:
                raise StoreError(f"{what}: {name} has shape {a[name].shape}, expected {shape}")
        out = cls(meta["identity"], m, d)
        pos = gpos = 0
        for i, (n_dqd, n_ask) in enumerate(sizes.tolist()):
            k = n_dqd + n_ask
            jac = a["jacobian"][gpos : gpos + n_dqd] if n_dqd else None
            out.append(
                n_dqd,
                n_ask,
                a["digests"][i].tobytes(),
                a["objective"][pos : pos + k],
                a["measures"][pos : pos + k],
                jac,
            )
            pos, gpos = pos + k, gpos + n_dqd
        return out

    def save(self, path: Path) -> None:
        """Write to ``path`` atomically (a temporary file, then a rename)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.to_bytes())
        os.replace(tmp, path)


def _digest(*batches: Array) -> bytes:
    h = hashlib.sha256()
    for b in batches:
        h.update(np.ascontiguousarray(b, dtype=np.float64).tobytes())
    return h.digest()


def _for_ribs(obj: Array, meas: Array, grid: Grid) -> tuple[Array, Array]:
    """Values pyribs accepts: failed rows get :data:`FAILED_OBJECTIVE` and the grid's lower corner."""
    ok = usable(obj, meas)
    if np.all(ok):
        return obj, meas
    lo = np.array([r[0] for r in grid.ranges])
    return np.where(ok, obj, FAILED_OBJECTIVE), np.where(ok[:, None], meas, lo[None, :])


def _identity(problem: QualityDiversity, name: str, params: dict[str, Any], seed: int, grid: Grid) -> dict[str, Any]:
    import ribs

    out: dict[str, Any] = json.loads(
        json.dumps(
            {
                "problem": problem.config_hash(),
                "optimizer": name,
                "params": params,
                "seed": seed,
                "grid": grid.config(),
                "ribs": ribs.__version__,
            },
            sort_keys=True,
            default=str,
        )
    )
    return out


class _Run:
    """One run's state: scheduler, result archive, tracker, journal, trace."""

    def __init__(
        self,
        algo: QDAlgorithm,
        problem: QualityDiversity,
        grid: Grid,
        params: dict[str, Any],
        seed: int,
        budget: int,
        journal: Journal,
    ) -> None:
        self.algo, self.problem, self.grid = algo, problem, grid
        self.scheduler = algo.build(problem, grid, params, seed)
        self.tracker = Tracker(1, budget=budget)
        self.recorder = ArchiveRecorder(problem, grid)
        self.journal = journal
        self.trace = QDTrace()
        self.n_grad = 0

    def _feed(self, Z: Array, obj: Array, meas: Array) -> None:
        if len(Z) == 0:
            return
        self.tracker.update(Z, -obj)
        self.recorder.add(Z, obj, meas)

    def replay(self, i: int) -> None:
        """Tell iteration ``i`` of the journal again, without evaluating."""
        n_dqd, n_ask, digest, obj, meas, jac = self.journal.iteration(i)
        Zg = self.scheduler.ask_dqd() if self.algo.gradient else np.empty((0, self.problem.dim))
        if len(Zg) != n_dqd:
            raise StoreError(f"cannot resume: iteration {i} asked {len(Zg)} gradient solutions, the checkpoint {n_dqd}")
        if n_dqd:
            o, mm = _for_ribs(obj[:n_dqd], meas[:n_dqd], self.grid)
            self.scheduler.tell_dqd(o, mm, np.array(jac))  # a copy: pyribs normalises the jacobian in place
        Z = self.scheduler.ask()
        if len(Z) != n_ask or _digest(Zg, Z) != digest:
            raise StoreError(
                f"cannot resume: at iteration {i} pyribs asked other solutions than the checkpointed run (a different "
                "numpy/BLAS or pyribs build computes differently, or the checkpoint was modified); start the run "
                "afresh without the checkpoint"
            )
        o, mm = _for_ribs(obj[n_dqd:], meas[n_dqd:], self.grid)
        self.scheduler.tell(o, mm)
        self._feed(Zg, obj[:n_dqd], meas[:n_dqd])
        self._feed(Z, obj[n_dqd:], meas[n_dqd:])
        self.n_grad += n_dqd
        self.trace.record(self.tracker.n_seen, self.recorder.ribs_archive.stats)

    def step(self) -> None:
        """One live iteration: (ask_dqd, evaluate with gradients, tell_dqd,) ask, evaluate, tell."""
        problem = self.problem
        Zg, jac = np.empty((0, problem.dim)), None
        og, mg = np.empty(0), np.empty((0, problem.n_measures))
        if self.algo.gradient:
            Zg = self.scheduler.ask_dqd()
            og, mg, jac = problem.evaluate_qd_grad(Zg)
            o, mm = _for_ribs(og, mg, self.grid)
            self.scheduler.tell_dqd(o, mm, np.array(jac))  # a copy: pyribs normalises the jacobian in place
            self.n_grad += len(Zg)
        Z = self.scheduler.ask()
        obj, meas = problem.evaluate_qd(Z)
        o, mm = _for_ribs(obj, meas, self.grid)
        self.scheduler.tell(o, mm)
        self.journal.append(len(Zg), len(Z), _digest(Zg, Z), np.concatenate([og, obj]), np.concatenate([mg, meas]), jac)
        self.trace.record(self.tracker.n_seen, self.recorder.ribs_archive.stats)


def solve(
    problem: QualityDiversity,
    name: str,
    *,
    budget: int,
    seed: int,
    grid: Grid | int | Sequence[int] = 50,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 10,
    **params: Any,
) -> QDResult:
    """Run the quality-diversity algorithm ``name`` on ``problem`` through pyribs' ask/tell.

    Each iteration asks every emitter once and evaluates the batch with **one** call of
    ``problem.evaluate_qd`` (one batched forward per chunk); gradient algorithms first ask
    one solution per emitter (``ask_dqd``), evaluate them with ``problem.evaluate_qd_grad`` and
    ``tell_dqd`` the jacobians. The budget counts evaluations, gradient evaluations
    included (each counts as one): the run stops before an iteration that would exceed
    it, so ``n_evals <= budget`` (a multiple of the iteration size).

    Args:
        problem: A :class:`~latentbridge.qd.QualityDiversity` problem.
        name: ``map-elites``, ``cma-me``, ``cma-mae``, ``cma-mega`` or ``cma-maega``
            (:func:`latentbridge.qd.algorithm_names`).
        budget: Evaluations at most.
        seed: Seed of everything random in the run (archives, emitters, initial samples).
        grid: A :class:`~latentbridge.qd.Grid` or cells per measure over the problem's ranges.
        checkpoint: A file to keep the run's journal in: if it exists the run resumes from it
            (same problem, algorithm, parameters, seed and grid, else an error), and it is
            rewritten every ``checkpoint_every`` iterations and at the end.
        checkpoint_every: Iterations between checkpoint writes.
        **params: The algorithm's parameters (``latentbridge.qd.algorithm(name).defaults``).

    Returns:
        A :class:`QDResult` (archive, metrics, trace, and the run as an OptimizeResult).

    Raises:
        InputError: not a QualityDiversity problem, a budget smaller than one iteration, an
            unknown parameter, a gradient algorithm with non-differentiable measures, or a
            checkpoint of another run.
        UnknownNameError: an unknown algorithm name.
        StoreError: an unreadable checkpoint, or one this machine cannot replay.
    """
    if not isinstance(problem, QualityDiversity):
        raise InputError(f"qd.solve needs a latentbridge.qd.QualityDiversity problem, got {type(problem).__name__}")
    algo = algorithm(name)
    p = algo.params(params)
    budget = check_positive_int(budget, "budget")
    seed = check_seed(seed)
    every = check_positive_int(checkpoint_every, "checkpoint_every")
    g = as_grid(problem, grid)
    size = algo.iteration_size(p)
    if budget < size:
        raise InputError(
            f"budget={budget} is smaller than one {name} iteration ({size} evaluations: {p['emitters']} emitter(s) x "
            f"{p['batch_size']}{' + 1 gradient evaluation' if algo.gradient else ''}); raise it or lower batch_size"
        )
    if algo.gradient and not problem.differentiable:
        problem.evaluate_qd_grad(np.empty((0, problem.dim)))  # raises the error naming the measures
    identity = _identity(problem, name, p, seed, g)
    journal = _open_journal(checkpoint, identity, problem)
    run = _Run(algo, problem, g, p, seed, budget, journal)
    start = time.perf_counter()
    replayed = 0
    with problem.observe(run.tracker), problem.observe(run.recorder):
        while replayed < len(journal) and run.tracker.n_seen + sum(journal.sizes[replayed]) <= budget:
            run.replay(replayed)
            replayed += 1
        del (
            journal.sizes[replayed:],
            journal.digests[replayed:],
            journal.objective[replayed:],
            journal.measures[replayed:],
        )
        del journal.jacobian[sum(1 for s in journal.sizes if s[0]) :]
        done = 0
        while run.tracker.n_seen + size <= budget:
            run.step()
            done += 1
            if checkpoint is not None and done % every == 0:
                journal.save(Path(checkpoint))
    if checkpoint is not None:
        journal.save(Path(checkpoint))
    wall = time.perf_counter() - start
    archive = run.recorder.archive()
    metrics = archive.metrics()
    result = run.tracker.result(
        name,
        params=dict(p),
        seed=seed,
        wall_time=wall,
        extra={"qd": metrics.as_dict(), "archive": archive, "grid": g.config(), "n_grad_evals": run.n_grad},
    )
    return QDResult(
        optimizer=name,
        params=dict(p),
        seed=seed,
        grid=g,
        archive=archive,
        metrics=metrics,
        trace=run.trace,
        result=result,
        n_evals=run.tracker.n_evals,
        n_grad_evals=run.n_grad,
        iterations=len(journal),
        resumed_iterations=replayed,
        wall_time=wall,
    )


def _open_journal(checkpoint: str | Path | None, identity: dict[str, Any], problem: QualityDiversity) -> Journal:
    if checkpoint is None or not Path(checkpoint).exists():
        return Journal(identity, problem.n_measures, problem.dim)
    journal = Journal.from_bytes(read_file(checkpoint, "QD journal", MAX_BYTES))
    if journal.identity != identity:
        diff = sorted(k for k in set(identity) | set(journal.identity) if identity.get(k) != journal.identity.get(k))
        raise InputError(
            f"checkpoint {checkpoint} belongs to another run (it differs in {diff}); resume with the same problem, "
            "algorithm, parameters, seed and grid, or choose another checkpoint file"
        )
    if journal.n_measures != problem.n_measures or journal.dim != problem.dim:
        raise StoreError(f"checkpoint {checkpoint}: its shapes do not fit this problem")
    return journal
