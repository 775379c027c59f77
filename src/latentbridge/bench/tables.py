"""The seeds' own tables, computed from stored runs and problems rebuilt from their stored specs.

Seed 000 (a GA over latents minimising a distance to a target image) reports:

- **Table I** (:func:`table_one`): per instance, min and mean ± std of the best distance of the
  independent runs, and of the wall time per run;
- **Table II** (:func:`table_two`, "deception"): the distance between the target and the best
  generated image next to the distance between the target and *another real image of the same
  identity/class* (the problem's ``baseline``), with the relative reduction
  ``Δ = (d(target, baseline) − d(target, best)) / d(target, baseline)``. (The paper's Δ column
  mixes conventions: its W2 row, 12.9 %, is the absolute difference 0.679 − 0.550; its W3 row,
  27.9 %, is the relative one.)
- **Table III** (:func:`table_three`): pairwise scorer distances between the best solutions of
  the independent runs (min, max, mean ± std over the ``n (n − 1) / 2`` pairs), with the matrix
  for a heatmap (the paper's Fig. 7);
- **Fig. 5** (:func:`run_curves`): best distance against generations for ten runs.

Seed 002 (sets of latents scored by their mean pairwise similarity) compares GA, random search
and MAP-Elites at equal budgets: :func:`set_diversity_table` gives, per set problem and
optimizer, the seed's fitness (mean pairwise similarity), the set's mean pairwise distance, and,
for the embedded digit generator, the fraction of distinct digit classes in each best set as
labelled by the embedded digit CNN (a classifier's label, not ground truth).

Every function takes leaderboard :class:`~latentbridge.bench.leaderboard.Instance` objects (stored
runs grouped by problem and budget) and a ``rebuild`` callable (stored spec → problem); a table
only has rows for the instances that carry what it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .leaderboard import Instance
from .store import RunRecord

__all__ = [
    "DeceptionRow",
    "RunCurves",
    "SeedTables",
    "SetDiversityRow",
    "SolutionDiversityRow",
    "TableOneRow",
    "baseline_image",
    "digit_classes",
    "instance_type",
    "run_curves",
    "seed_tables",
    "set_diversity_table",
    "table_one",
    "table_three",
    "table_two",
]

#: Best solutions per (instance, optimizer) compared in Table III (the paper compares ten).
TABLE_THREE_SOLUTIONS = 10
#: Runs drawn in the Fig. 5 analogue (the paper draws ten).
CURVE_RUNS = 10

Rebuild = Callable[[dict[str, Any]], Any]


# --------------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableOneRow:
    """Table I: best distance and wall time per run over the independent runs."""

    instance: str
    type: str
    optimizer: str
    runs: int
    best_min: float
    best_mean: float
    best_std: float
    time_min: float
    time_mean: float
    time_std: float


@dataclass(frozen=True)
class DeceptionRow:
    """Table II: the best generated image against another real image of the target's class.

    ``delta = (baseline - fake) / baseline``: positive when the generated image is closer to
    the target than the real baseline image is (the scorer is "deceived").
    """

    instance: str
    optimizer: str
    fake: float
    baseline: float
    delta: float
    baseline_source: str


@dataclass(frozen=True)
class SolutionDiversityRow:
    """Table III: pairwise scorer distances between the best solutions of independent runs."""

    instance: str
    optimizer: str
    solutions: int
    min: float
    max: float
    mean: float
    std: float
    matrix: NDArray[np.float64] = field(repr=False, compare=False)


@dataclass(frozen=True)
class SetDiversityRow:
    """Seed 002: one optimizer on one set problem (best set of each run).

    ``fitness_*`` is the stored fitness (mean pairwise similarity: NCC itself, or −RMSE for a
    distance), ``diversity_*`` the set's mean pairwise distance (RMSE, or 1 − NCC), and
    ``classes_*`` the fraction of distinct classes among the set's ``k`` images as labelled by
    the embedded digit CNN (NaN when the generator is not the digit generator).
    """

    instance: str
    metric: str
    k: int
    budget: int
    optimizer: str
    runs: int
    fitness_mean: float
    fitness_std: float
    diversity_mean: float
    diversity_std: float
    diversity_best: float
    classes_mean: float
    classes_std: float


@dataclass(frozen=True)
class RunCurves:
    """Fig. 5: best-so-far against generations (or evaluations) for up to ten runs."""

    instance: str
    optimizer: str
    unit: str
    curves: list[tuple[NDArray[np.float64], NDArray[np.float64]]]


@dataclass
class SeedTables:
    """All seed tables of a leaderboard; ``notes`` says which could not be computed and why."""

    table_one: list[TableOneRow] = field(default_factory=list)
    table_two: list[DeceptionRow] = field(default_factory=list)
    table_three: list[SolutionDiversityRow] = field(default_factory=list)
    set_diversity: list[SetDiversityRow] = field(default_factory=list)
    curves: list[RunCurves] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.table_one or self.table_two or self.table_three or self.set_diversity or self.notes)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _spec(inst: Instance) -> dict[str, Any]:
    first = next(iter(inst.runs.values()))[0]
    return first.problem_spec if isinstance(first.problem_spec, dict) else {}


def _is_target(inst: Instance) -> bool:
    spec = _spec(inst)
    return inst.kind == "target-similarity" and inst.n_obj == 1 and spec.get("target") is not None


def instance_type(spec: dict[str, Any]) -> str:
    """Seed 000's instance type: ``"G"`` for a generated target, ``"W"`` for a real image."""
    target = spec.get("target") or {}
    return "G" if "generated" in target else "W"


def _ordered(inst: Instance) -> list[str]:
    """Optimizers in leaderboard order (rank, then name)."""
    names = [row.optimizer for row in inst.rows]
    return names or sorted(inst.runs)


def _std(values: NDArray[np.float64]) -> float:
    return float(np.std(values, ddof=1)) if values.size > 1 else 0.0


class _Problems:
    """Rebuilds each stored problem once; failures become notes instead of exceptions."""

    def __init__(self, rebuild: Rebuild, notes: list[str]) -> None:
        self.rebuild = rebuild
        self.notes = notes
        self.cache: dict[str, Any] = {}

    def get(self, inst: Instance, what: str) -> Any | None:
        if inst.label in self.cache:
            return self.cache[inst.label]
        try:
            problem = self.rebuild(_spec(inst))
        except Exception as exc:  # a missing generator must not lose the other tables
            self.notes.append(f"{what} for {inst.label} unavailable: {type(exc).__name__}: {exc}")
            problem = None
        self.cache[inst.label] = problem
        return problem


def _with_one_thread(fn: Callable[[], Any]) -> Any:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a few tiny forwards: extra threads only contend for busy cores
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------
# Table I
# --------------------------------------------------------------------------------------------
def table_one(instances: Sequence[Instance]) -> list[TableOneRow]:
    """Table I for every single-objective target-similarity instance, one row per optimizer."""
    rows = []
    for inst in instances:
        if not _is_target(inst):
            continue
        kind = instance_type(_spec(inst))
        for name in _ordered(inst):
            runs = inst.runs[name]
            best = np.asarray([r.best for r in runs], dtype=np.float64)
            wall = np.asarray([r.wall_time for r in runs], dtype=np.float64)
            rows.append(
                TableOneRow(
                    inst.label,
                    kind,
                    name,
                    len(runs),
                    float(best.min()),
                    float(best.mean()),
                    _std(best),
                    float(wall.min()),
                    float(wall.mean()),
                    _std(wall),
                )
            )
    return rows


# --------------------------------------------------------------------------------------------
# Table II
# --------------------------------------------------------------------------------------------
def baseline_image(spec: dict[str, Any], problem: Any) -> tuple[NDArray[np.float32], str]:
    """The baseline image ``(C, H, W)`` of a target problem's spec, and a description of it.

    ``{heldout_nearest = true}`` picks, among the held-out digits of the target's class other
    than the target itself, the one nearest to the target under the problem's scorer.

    Raises:
        InputError: the spec has no baseline, or one that cannot be read.
    """
    import torch

    from ..errors import InputError
    from .problems import load_target

    source = spec.get("baseline")
    if not source:
        raise InputError(f"problem {spec.get('id')!r} has no baseline")
    target = spec.get("target") or {}
    if source.get("heldout_nearest"):
        if "heldout_digit" not in target:
            raise InputError("baseline { heldout_nearest = true } needs a held-out digit target")
        from ..data import load_mnist, to_float_images

        label, index = int(target["heldout_digit"]), int(target.get("index", 0))
        digits, labels = load_mnist("test")
        rows = np.flatnonzero(labels == label)
        others = np.delete(rows, index)
        candidates = torch.from_numpy(to_float_images(digits[others]))
        scorer = problem.scorers[0]
        with torch.inference_mode():
            tfeat = scorer.embed(problem.targets[:1].to(problem.generator.device))
            feats = scorer.embed(candidates.to(problem.generator.device))
            dist = scorer.distance(feats, tfeat)[:, 0].to("cpu", torch.float64).numpy()
        j = int(np.argmin(dist))
        pos = int(np.flatnonzero(rows == others[j])[0])
        return candidates[j].numpy(), f"nearest other held-out {label} (index {pos})"
    image = load_target(source, problem.generator)
    if "heldout_digit" in source:
        desc = f"held-out {source['heldout_digit']} (index {source.get('index', 0)})"
    else:
        desc = str(source.get("path") or source.get("npy"))
    return image, desc


def _baseline_distance(spec: dict[str, Any], problem: Any) -> tuple[float, str]:
    import torch

    from .._validation import as_image

    image, desc = baseline_image(spec, problem)
    scorer = problem.scorers[0]
    img = as_image(image, tuple(problem.generator.image_shape), name="baseline").unsqueeze(0)
    device = problem.generator.device
    with torch.inference_mode():
        d = scorer.distance(scorer.embed(img.to(device)), scorer.embed(problem.targets[:1].to(device)))
    return float(d.reshape(-1)[0]), desc


def table_two(instances: Sequence[Instance], rebuild: Rebuild, notes: list[str] | None = None) -> list[DeceptionRow]:
    """Table II for every target instance whose problem spec has a ``baseline``.

    ``fake`` is the best distance over the instance's runs (Table I's min), ``baseline`` the
    scorer distance between the target and the baseline image.
    """
    notes = notes if notes is not None else []
    problems = _Problems(rebuild, notes)
    rows = []
    for inst in instances:
        spec = _spec(inst)
        if not _is_target(inst) or not spec.get("baseline"):
            continue
        problem = problems.get(inst, "Table II")
        if problem is None:
            continue
        if getattr(problem, "n_targets", 1) != 1:
            notes.append(f"Table II for {inst.label} skipped: it has several targets")
            continue
        try:
            base, desc = _with_one_thread(partial(_baseline_distance, spec, problem))
        except Exception as exc:
            notes.append(f"Table II for {inst.label} unavailable: {type(exc).__name__}: {exc}")
            continue
        for name in _ordered(inst):
            fake = float(min(r.best for r in inst.runs[name]))
            delta = (base - fake) / base if base > 0 else float("nan")
            rows.append(DeceptionRow(inst.label, name, fake, base, delta, desc))
    return rows


# --------------------------------------------------------------------------------------------
# Table III
# --------------------------------------------------------------------------------------------
def _best_runs(runs: Sequence[RunRecord], limit: int) -> list[RunRecord]:
    with_x = [r for r in sorted(runs, key=lambda r: r.replicate) if r.best_x is not None]
    return with_x[:limit]


def _pairwise(problem: Any, runs: Sequence[RunRecord]) -> NDArray[np.float64]:
    import torch

    images = torch.cat([problem.render(np.asarray(r.best_x, dtype=np.float32)) for r in runs])
    scorer = problem.scorers[0]
    with torch.inference_mode():
        feats = scorer.embed(images.to(problem.generator.device))
        mat = scorer.distance(feats, feats).to("cpu", torch.float64).numpy()
    out: NDArray[np.float64] = np.asarray(mat, dtype=np.float64)
    return out


def table_three(
    instances: Sequence[Instance],
    rebuild: Rebuild,
    notes: list[str] | None = None,
    *,
    solutions: int = TABLE_THREE_SOLUTIONS,
) -> list[SolutionDiversityRow]:
    """Table III for every target instance with at least two runs of an optimizer.

    Takes the best solution of the first ``solutions`` runs (by replicate), renders each,
    and measures every pair with the problem's (first) scorer.
    """
    notes = notes if notes is not None else []
    problems = _Problems(rebuild, notes)
    rows = []
    for inst in instances:
        if not _is_target(inst):
            continue
        for name in _ordered(inst):
            runs = _best_runs(inst.runs[name], solutions)
            if len(runs) < 2:
                continue
            problem = problems.get(inst, "Table III")
            if problem is None:
                break
            mat = _with_one_thread(partial(_pairwise, problem, runs))
            iu = np.triu_indices(len(runs), k=1)
            vals = mat[iu]
            rows.append(
                SolutionDiversityRow(
                    inst.label,
                    name,
                    len(runs),
                    float(vals.min()),
                    float(vals.max()),
                    float(vals.mean()),
                    _std(vals),
                    mat,
                )
            )
    return rows


# --------------------------------------------------------------------------------------------
# Fig. 5
# --------------------------------------------------------------------------------------------
def run_curves(instances: Sequence[Instance], *, runs: int = CURVE_RUNS) -> list[RunCurves]:
    """Fig. 5: best-so-far of the first ``runs`` runs of each target instance's leading optimizer.

    The x axis is generations (evaluations / ``pop_size``) when the optimizer has a
    ``pop_size`` parameter, else evaluations.
    """
    out = []
    for inst in instances:
        if not _is_target(inst):
            continue
        name = _ordered(inst)[0]
        chosen = sorted(inst.runs[name], key=lambda r: r.replicate)[:runs]
        pop = chosen[0].optimizer_params.get("pop_size") if chosen else None
        unit = "generations" if isinstance(pop, int) and pop > 0 else "evaluations"
        curves = []
        for r in chosen:
            x = r.trace_evals.astype(np.float64)
            if unit == "generations":
                x = x / float(pop)  # type: ignore[arg-type]
            curves.append((x, r.trace_best.astype(np.float64)))
        out.append(RunCurves(inst.label, name, unit, curves))
    return out


# --------------------------------------------------------------------------------------------
# seed 002
# --------------------------------------------------------------------------------------------
def digit_classes(images: Any) -> NDArray[np.int64]:
    """Digit labels ``(n,)`` of images ``(n, 1, 28, 28)`` in [-1, 1] by the embedded digit CNN.

    A classifier's label (98.5 % held-out accuracy on real digits), not ground truth: on a
    blurry generated image it is the CNN's best guess.
    """
    import torch

    cnn = _digit_cnn()
    with torch.inference_mode():
        logits = cnn(torch.as_tensor(images, dtype=torch.float32).cpu())
    out: NDArray[np.int64] = logits.argmax(dim=1).numpy().astype(np.int64)
    return out


@lru_cache(maxsize=1)
def _digit_cnn() -> Any:
    from ..models.mnist import load_digit_cnn

    return load_digit_cnn()


def _labels_digits(spec: dict[str, Any]) -> bool:
    return spec.get("generator") == "mnist-dcgan"


def set_diversity_table(
    instances: Sequence[Instance], rebuild: Rebuild, notes: list[str] | None = None
) -> list[SetDiversityRow]:
    """Seed 002's comparison: one row per (set-diversity instance, optimizer), best set of each run."""
    notes = notes if notes is not None else []
    problems = _Problems(rebuild, notes)
    rows = []
    for inst in instances:
        if inst.kind != "set-diversity" or inst.n_obj != 1:
            continue
        spec = _spec(inst)
        problem = problems.get(inst, "the set-diversity table")
        if problem is None:
            continue
        metric = str(spec.get("scorer", "?"))
        for name in _ordered(inst):
            runs = [r for r in inst.runs[name] if r.best_x is not None]
            if not runs:
                continue
            fit = np.asarray([r.best for r in runs], dtype=np.float64)
            X = np.stack([np.asarray(r.best_x, dtype=np.float64) for r in runs])
            div = _with_one_thread(partial(problem.diversity, X))
            classes = np.full(len(runs), np.nan)
            if _labels_digits(spec):

                def fractions(p: Any = problem, rs: list[RunRecord] = runs) -> NDArray[np.float64]:
                    return np.asarray(
                        [len(set(digit_classes(p.render(r.best_x)).tolist())) / p.k for r in rs], dtype=np.float64
                    )

                classes = _with_one_thread(fractions)
            rows.append(
                SetDiversityRow(
                    inst.label,
                    metric,
                    int(problem.k),
                    inst.budget,
                    name,
                    len(runs),
                    float(fit.mean()),
                    _std(fit),
                    float(np.mean(div)),
                    _std(np.asarray(div)),
                    float(np.max(div)),
                    float(np.mean(classes)) if np.all(np.isfinite(classes)) else float("nan"),
                    _std(classes) if np.all(np.isfinite(classes)) else float("nan"),
                )
            )
    return rows


def seed_tables(instances: Sequence[Instance], rebuild: Rebuild) -> SeedTables:
    """Every seed table for ``instances`` (empty tables where no instance carries what they need)."""
    out = SeedTables()
    cache: dict[str, Any] = {}

    def memo(spec: dict[str, Any]) -> Any:  # one rebuild per problem for all tables
        import json

        key = json.dumps(spec, sort_keys=True, default=str)
        if key not in cache:
            cache[key] = rebuild(spec)
        return cache[key]

    out.table_one = table_one(instances)
    out.table_two = table_two(instances, memo, out.notes)
    out.table_three = table_three(instances, memo, out.notes)
    out.curves = run_curves(instances)
    out.set_diversity = set_diversity_table(instances, memo, out.notes)
    return out
