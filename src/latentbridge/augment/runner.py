"""Orchestration of ``latentbridge augment``: generators → augmentation sets → classifiers → report.

Work units run through an executor (``serial``, ``process`` or ``dask``) as picklable tasks; the parent alone
writes the SQLite store, one transaction per finished unit, so an interrupted run loses only the units in
flight and ``resume=True`` finishes it with the results an uninterrupted run gives (every unit's seed is
derived from the run seed and the unit's identity, never from the order of execution).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..campaign.executors import ExecutorName, check_executor, run_tasks
from ..campaign.seeds import derive_seed
from ..campaign.store import CORE_PACKAGES, versions
from ..errors import InputError
from ..validation import check_positive_int
from .arms import (
    DEFAULT_ARMS,
    ArmContext,
    SetOutcome,
    build_set,
    get_arm,
    known_arms,
    needs_feedback,
    needs_generator,
    searches,
)
from .classifiers import CLASSIFIERS, CNN_EPOCHS, make_classifier, scores
from .data import DataSplit, load_data
from .gan_phase import GENERATOR_KINDS, build_generators
from .generators import GAN_DEFAULTS
from .progress import Progress, finished_fits, fit_keys, set_keys, unit_counts, with_overall
from .shift import SHIFTS, apply_shift
from .store import AugmentStore, AugmentStoreError, ResultRow, SetRow, ShiftRow

__all__ = [
    "DEFAULTS",
    "AugmentConfig",
    "AugmentSummary",
    "augment",
    "derive_seed",
]

Executor = ExecutorName

#: Defaults of :func:`augment` and the command (sized so that ``mnist-small`` finishes within 15 minutes on
#: 2 CPU cores; see benchmarks/README.md).
DEFAULTS: dict[str, Any] = {
    "budget": 300,
    "pop_size": 20,
    "seeds": 5,
    "folds": 5,
    "train_per_class": 40,
    "classifier": "cnn",
    "gan_steps": GAN_DEFAULTS["steps"],
    "cgan_steps": None,
    "cnn_epochs": CNN_EPOCHS,
    "cc_weight": 1.0,
    "optimizer": "set-ga",
}
_VERSION_PACKAGES = (*CORE_PACKAGES, "scikit-learn", "pillow")


def _versions() -> dict[str, str]:
    return {"python": platform.python_version(), **versions(_VERSION_PACKAGES)}


@dataclass(frozen=True)
class AugmentConfig:
    """Everything that determines an augmentation run's results (stored; a resume must match it)."""

    data: str
    generator: str = "dcgan"
    generator_options: dict[str, Any] = field(default_factory=dict)
    budget: int = DEFAULTS["budget"]
    pop_size: int = DEFAULTS["pop_size"]
    seeds: int = DEFAULTS["seeds"]
    folds: int = DEFAULTS["folds"]
    k: int = DEFAULTS["train_per_class"]
    classifier: str = DEFAULTS["classifier"]
    arms: tuple[str, ...] = DEFAULT_ARMS
    train_per_class: int = DEFAULTS["train_per_class"]
    gan_steps: int = DEFAULTS["gan_steps"]
    cnn_epochs: int = DEFAULTS["cnn_epochs"]
    cc_weight: float = DEFAULTS["cc_weight"]
    seed: int = 0
    optimizer: str = DEFAULTS["optimizer"]
    cgan_steps: int | None = DEFAULTS["cgan_steps"]

    def unread(self) -> set[str]:
        """Settings this run never reads (a stored run that differs only in them is the same run)."""
        return {"cgan_steps"} if self.generator != "cdcgan" else set()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = asdict(self)
        d["arms"] = list(self.arms)
        return d


@dataclass
class AugmentSummary:
    """What :func:`augment` did.

    Attributes:
        out: The output folder.
        results: One row per arm × seed × fold.
        timings: Seconds spent in ``gan`` training, ``supervision`` (the two supervisor arms), other ``sets``,
            ``classifiers`` (summed over units, in their processes) and ``wall`` (this call, end to end).
        computed: Units computed by this call (``generators``, ``sets``, ``results``); the rest were stored.
        reports: Paths of the written reports.
    """

    out: Path
    results: list[ResultRow]
    timings: dict[str, float]
    computed: dict[str, int]
    reports: list[Path] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ tasks
@dataclass
class ClassifyTask:
    """Train one classifier on one fold (originals of the other folds + the arm's sets) and score it."""

    arm: str
    seed: int
    fold: int
    run_seed: int
    x_train: NDArray[np.float32]
    y_train: NDArray[np.int64]
    x_val: NDArray[np.float32]
    y_val: NDArray[np.int64]
    x_test: NDArray[np.float32]
    y_test: NDArray[np.int64]
    kind: str
    n_classes: int
    epochs: int
    threads: int
    shifted: dict[str, NDArray[np.float32]] = field(default_factory=dict)


def classify(task: ClassifyTask) -> tuple[ResultRow, list[ShiftRow]]:
    """Run a :class:`ClassifyTask`: its result row and its scores on the distribution-shifted test splits."""
    t0, c0 = time.perf_counter(), time.process_time()
    clf = make_classifier(task.kind, task.n_classes, seed=task.run_seed, threads=task.threads, epochs=task.epochs)
    clf.fit(task.x_train, task.y_train)
    m = scores(task.y_test, clf.predict_proba(task.x_test), task.n_classes)
    val = float(np.mean(clf.predict_proba(task.x_val).argmax(axis=1) == task.y_val)) if len(task.y_val) else 0.0
    shifts = []
    for name, x in task.shifted.items():
        sm = scores(task.y_test, clf.predict_proba(x), task.n_classes)
        shifts.append(ShiftRow(task.arm, task.seed, task.fold, name, sm["accuracy"], sm["f1"]))
    row = ResultRow(
        task.arm,
        task.seed,
        task.fold,
        task.run_seed,
        m["accuracy"],
        m["precision"],
        m["recall"],
        m["f1"],
        val,
        len(task.y_train),
        time.perf_counter() - t0,
        time.process_time() - c0,
    )
    return row, shifts


# ------------------------------------------------------------------------------------------- checks
def _check_options(cfg: AugmentConfig, executor: str, workers: int, threads: int, scheduler: str | None) -> None:
    for name, low in (("budget", 1), ("pop_size", 2), ("seeds", 1), ("folds", 2), ("k", 1), ("gan_steps", 1)):
        check_positive_int(getattr(cfg, name), name, minimum=low)
    check_positive_int(cfg.cnn_epochs, "cnn_epochs")
    if cfg.cgan_steps is not None:
        check_positive_int(cfg.cgan_steps, "cgan_steps")
    check_executor(executor, workers, scheduler)
    check_positive_int(threads, "threads")
    if cfg.classifier not in CLASSIFIERS:
        raise InputError(f"classifier must be one of {', '.join(CLASSIFIERS)}, found {cfg.classifier!r}")
    if "none" not in cfg.arms or len(set(cfg.arms)) != len(cfg.arms):
        raise InputError(
            f"arms must be distinct names including 'none' (from {', '.join(known_arms())}, or A+B combinations), "
            f"found {list(cfg.arms)}"
        )
    for arm in cfg.arms:
        if arm != "none":
            get_arm(arm)  # an unknown name: one error with close matches
    searching = [a for a in cfg.arms if searches(a)]
    uses_pop = cfg.optimizer in ("set-ga", "paper-ga") or cfg.optimizer.startswith("pymoo:")
    if searching and uses_pop and cfg.budget < cfg.pop_size:
        raise InputError(f"budget ({cfg.budget}) must be at least one GA population (pop_size {cfg.pop_size})")
    if searching:
        from ..optimizers import resolve

        resolve(cfg.optimizer, {"pop_size": cfg.pop_size} if uses_pop else {})  # unknown names fail here
    if not float(cfg.cc_weight) >= 0:
        raise InputError(f"cc_weight must be >= 0, found {cfg.cc_weight!r}")


def _check_generator(cfg: AugmentConfig, split: DataSplit) -> None:
    if cfg.generator in GENERATOR_KINDS or not any(needs_generator(a) for a in cfg.arms):
        return
    from .._plugins import load_generator

    try:
        gen = load_generator(cfg.generator, label=0, **cfg.generator_options)
    except TypeError as exc:
        raise InputError(
            f"generator {cfg.generator!r} does not take label=: a per-class generator must be class-conditional "
            f"({exc}); use --per-class-generator dcgan"
        ) from None
    if tuple(gen.image_shape) != split.image_shape:
        raise InputError(
            f"generator {cfg.generator!r} makes images of shape {tuple(gen.image_shape)}, but DATA's images are "
            f"{split.image_shape} (C, H, W); resize the data or pick another generator"
        )


def _open_store(out: Path, cfg: AugmentConfig, split: DataSplit, resume: bool) -> AugmentStore:
    db = out / "augment.sqlite"
    existed = db.exists()
    store = AugmentStore(db)
    try:
        if existed and not store.is_empty():
            new = cfg.to_dict()
            old = {**AugmentConfig(data=cfg.data).to_dict(), **store.meta("config")}  # keys added since: defaults
            diff = sorted(k for k in (set(old) | set(new)) - cfg.unread() if old.get(k) != new.get(k))
            if store.meta("data_sha256") != split.digest():
                diff.append("data (the images differ)")
            added = [a for a in cfg.arms if a not in old["arms"]]
            if resume and diff == ["arms"] and set(old["arms"]) <= set(cfg.arms):
                # more arms for a stored run: every unit's seed depends on its identity only, so the stored
                # units stay valid and only the new arms' sets and fits are computed
                history = store.meta("arms_added") or []
                store.set_meta(
                    config={**store.meta("config"), "arms": list(cfg.arms)},
                    arms_added=[*(history if isinstance(history, list) else []), added],
                )
                diff = []
            if diff:
                raise AugmentStoreError(
                    f"{out} holds a run with another configuration (differs in: {', '.join(diff)}); "
                    "use another --out, or the same options to resume it"
                )
            if not resume and (store.result_keys() or store.set_keys()):
                raise AugmentStoreError(
                    f"{out} already holds results of this run; add --resume to finish it or pick another --out"
                )
        else:
            store.set_meta(
                config=cfg.to_dict(),
                data=split.describe(),
                data_sha256=split.digest(),
                versions=_versions(),
                host=platform.node(),
                created=time.time(),
            )
    except BaseException:
        store.close()
        raise
    return store


# -------------------------------------------------------------------------------------------- main
def augment(
    data: str | Path,
    out: str | Path,
    *,
    generator: str = "dcgan",
    generator_options: dict[str, Any] | None = None,
    budget: int = DEFAULTS["budget"],
    pop_size: int = DEFAULTS["pop_size"],
    seeds: int = DEFAULTS["seeds"],
    folds: int = DEFAULTS["folds"],
    k: int | None = None,
    classifier: str = DEFAULTS["classifier"],
    arms: Sequence[str] = DEFAULT_ARMS,
    train_per_class: int = DEFAULTS["train_per_class"],
    gan_steps: int = DEFAULTS["gan_steps"],
    cnn_epochs: int = DEFAULTS["cnn_epochs"],
    cc_weight: float = DEFAULTS["cc_weight"],
    seed: int = 0,
    optimizer: str = DEFAULTS["optimizer"],
    cgan_steps: int | None = DEFAULTS["cgan_steps"],
    executor: Executor = "serial",
    workers: int = 1,
    threads: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    report: bool = True,
    progress: Progress | None = None,
) -> AugmentSummary:
    """Seed 002's augmentation pipeline, end to end, stored in ``out/augment.sqlite`` with reports beside it.

    1. Split ``data`` per class into ``train_per_class`` originals and a test rest (checked first: bad
       input raises before ``out`` is created or anything is trained).
    2. One generator per class: a DCGAN trained on that class's originals only (cached in
       ``out/generators/``), or the registered class-conditional ``generator`` built with ``label=``.
    3. For every arm and evolutionary seed, a set of ``k`` images per class (see
       :mod:`latentbridge.augment.arms`).
    4. For every arm, seed and fold of a stratified ``folds``-fold split of the originals (the same split for
       every arm), a classifier trained on the other folds plus the arm's sets, scored on the test split.
       Each classifier is also scored on distribution-shifted copies of the test split
       (:data:`~latentbridge.augment.shift.SHIFTS`: thinner and thicker strokes, translation, lower contrast).
    5. ``results.csv``, ``shift_results.csv``, ``comparisons.csv`` (every arm against ``none``, ``duplicate``,
       ``random`` and ``affine`` where the run has them), ``report.md``, ``report.html``, image grids and the
       selected images as PNGs.

    Args:
        data: Folder of class subfolders, ``.npz`` or a built-in (``"mnist-small"``, ``"sklearn-digits"``,
            ``"lfw-faces"``).
        out: Output folder.
        generator: ``"dcgan"`` (one DCGAN per class, trained on its originals), ``"cdcgan"`` (one
            class-conditional DCGAN trained on all classes' originals) or a registered class-conditional
            generator name.
        generator_options: More options for a registered generator.
        budget: Supervisor evaluations (sets) per run.
        pop_size: Supervisor GA population.
        seeds: Evolutionary seeds (seed 002: 5).
        folds: Cross-validation folds (seed 002: 5).
        k: Images added per class (default: ``train_per_class``, doubling the training set as seed 002).
        classifier: ``cnn``, ``logreg`` or ``svm``.
        arms: Arms to compare (``none`` is required: the others are tested against it): built-in names
            (:data:`~latentbridge.augment.arms.ARMS`), plugin arms, or ``A+B`` combinations.
        train_per_class: Originals per class (seed 002: 40).
        gan_steps: DCGAN generator updates per class (``dcgan``).
        cgan_steps: Generator updates of the class-conditional DCGAN (``cdcgan``); None: as many images as the
            per-class DCGANs see together (:func:`~latentbridge.augment.conditional.matched_schedule`: 1,250
            steps of 64 for 10 classes of 40).
        cnn_epochs: CNN classifier epochs.
        cc_weight: Class-consistency penalty weight of ``supervisor-cc`` and of the selection arms' checker.
        seed: Run seed (every unit's seed is derived from it).
        optimizer: The set searches' optimizer (``set-ga``, seed 002's; or any name
            :func:`latentbridge.optimizers.resolve` accepts, e.g. ``pymoo:DE``, ``ng:CMA``).
        executor: ``serial``, ``process`` or ``dask``.
        workers: Parallel units for ``process``/``dask``.
        threads: torch threads per unit.
        scheduler: A dask scheduler address (default: a local cluster).
        resume: Continue a run stored in ``out`` (the same options are required, except that ``arms`` may add
            arms to the stored ones: only the new arms' sets and fits are computed).
        report: Write the reports.
        progress: Called as ``progress(phase, done, total)``.

    Returns:
        An :class:`AugmentSummary`.

    Raises:
        AugmentDataError: Bad ``data`` (names the file or class).
        AugmentStoreError: ``out`` holds another run, or this run without ``resume``.
        InputError: A bad option.
    """
    t_start = time.perf_counter()
    cfg = AugmentConfig(
        data=str(data),
        generator=generator,
        generator_options=dict(generator_options or {}),
        budget=budget,
        pop_size=pop_size,
        seeds=seeds,
        folds=folds,
        k=train_per_class if k is None else k,
        classifier=classifier,
        arms=tuple(arms),
        train_per_class=train_per_class,
        gan_steps=gan_steps,
        cnn_epochs=cnn_epochs,
        cc_weight=float(cc_weight),
        seed=seed,
        optimizer=optimizer,
        cgan_steps=cgan_steps,
    )
    _check_options(cfg, executor, workers, threads, scheduler)
    split = load_data(data, train_per_class=train_per_class, folds=folds, seed=seed)
    _check_generator(cfg, split)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; pass a folder")
    run = dict(executor=executor, workers=workers, threads=threads, scheduler=scheduler)
    computed = {"generators": 0, "sets": 0, "results": 0}
    with _open_store(out, cfg, split, resume) as store:
        note = with_overall(progress or (lambda phase, done, total: None), unit_counts(cfg, split, store))
        classifiers = _seed_classifiers(cfg, split, threads)
        gen_specs = build_generators(
            cfg, split, out, store, run, note, computed, _judge(cfg, split, classifiers, threads)
        )
        _sets(cfg, split, store, gen_specs, classifiers, run, note, computed)
        _results(cfg, split, store, run, note, computed)
        results = store.results()
        timings = _timings(store)
        timings["wall"] = time.perf_counter() - t_start
        summary = AugmentSummary(out, results, timings, computed)
        if report:
            from .report import write_reports

            summary.reports = write_reports(store, out)
    return summary


def _judge(cfg: AugmentConfig, split: DataSplit, classifiers: dict[int, dict[str, Any]], threads: int) -> Any:
    """The CNN that judges generator quality: seed 0's CNN classifier, or one trained for it (originals only)."""
    if not any(needs_generator(a) for a in cfg.arms):
        return None
    models = classifiers[0]
    for role in ("classifier", "feedback"):
        if hasattr(models.get(role), "embed"):
            return models[role]
    clf = make_classifier(
        "cnn", split.n_classes, seed=derive_seed(cfg.seed, "judge"), threads=threads, epochs=cfg.cnn_epochs
    )
    return clf.fit(split.train_x, split.train_y)


def _seed_classifiers(cfg: AugmentConfig, split: DataSplit, threads: int) -> dict[int, dict[str, Any]]:
    """Per evolutionary seed, classifiers trained on the training originals only (never test data).

    ``classifier`` (the run's kind): ``supervisor-cc``'s penalty and every set's agreement. For selection arms
    also ``feedback`` and ``checker``: two CNNs with their own seeds, so the model whose uncertainty an arm reads,
    the one that keeps its images in class and the one that measures their agreement are three different models.
    """
    feedback = any(needs_feedback(a) for a in cfg.arms)
    out: dict[int, dict[str, Any]] = {}
    for s in range(cfg.seeds):
        models: dict[str, Any] = {}
        for role, kind in (
            ("classifier", cfg.classifier),
            *((("feedback", "cnn"), ("checker", "cnn")) if feedback else ()),
        ):
            clf = make_classifier(
                kind,
                split.n_classes,
                seed=derive_seed(cfg.seed, "cc" if role == "classifier" else role, s),
                threads=threads,
                epochs=cfg.cnn_epochs,
            )
            models[role] = clf.fit(split.train_x, split.train_y)
        out[s] = models
    return out


def _sets(
    cfg: AugmentConfig,
    split: DataSplit,
    store: AugmentStore,
    gen_specs: dict[int, dict[str, Any]],
    classifiers: dict[int, dict[str, Any]],
    run: dict[str, Any],
    note: Progress,
    computed: dict[str, int],
) -> None:
    have = store.set_keys()
    keys = set_keys(cfg, split)
    todo = [key for key in keys if key not in have]
    total, done = len(keys), len(keys) - len(todo)
    note("sets", done, total)

    uses = {arm: (needs_generator(arm), needs_feedback(arm)) for arm in cfg.arms}

    def tasks() -> Iterator[ArmContext]:
        for arm, s, c in todo:
            models = classifiers[s]
            gen_used, feedback_used = uses[arm]
            yield ArmContext(
                arm=arm,
                seed=s,
                label=c,
                run_seed=derive_seed(cfg.seed, "set", arm if arm == "affine" else "gan-arm", s, c),
                originals=split.originals(c),
                k=cfg.k,
                n_classes=split.n_classes,
                generator=gen_specs.get(c, {}) if gen_used else {},
                budget=cfg.budget,
                pop_size=cfg.pop_size,
                optimizer=cfg.optimizer,
                classifier=models["classifier"],
                feedback=models.get("feedback") if feedback_used else None,
                checker=models.get("checker") if feedback_used else None,
                cc_weight=cfg.cc_weight,
                threads=run["threads"],
            )

    for res in run_tasks(build_set, tasks(), **run):
        assert isinstance(res, SetOutcome)
        arm, s, c = res.task_key
        store.add_set(
            SetRow(
                arm,
                s,
                c,
                res.run_seed,
                res.images,
                res.latents,
                res.fitness,
                res.first_images,
                res.first_fitness,
                res.agreement,
                res.n_evals,
                res.trace,
                res.wall_s,
                res.cpu_s,
            )
        )
        computed["sets"] += 1
        done += 1
        note("sets", done, total)


def _results(
    cfg: AugmentConfig,
    split: DataSplit,
    store: AugmentStore,
    run: dict[str, Any],
    note: Progress,
    computed: dict[str, int],
) -> None:
    from sklearn.model_selection import StratifiedKFold

    have = finished_fits(store)
    keys = fit_keys(cfg)
    todo = [key for key in keys if key not in have]
    total, done = len(keys), len(keys) - len(todo)
    note("classifiers", done, total)
    folds = {
        s: list(
            StratifiedKFold(cfg.folds, shuffle=True, random_state=derive_seed(cfg.seed, "folds", s)).split(
                split.train_x.reshape(len(split.train_y), -1), split.train_y
            )
        )
        for s in range(cfg.seeds)
    }
    shifted = {name: apply_shift(name, split.test_x, seed=derive_seed(cfg.seed, "shift", name)) for name in SHIFTS}

    def tasks() -> Iterator[ClassifyTask]:
        cache: dict[tuple[str, int], tuple[NDArray[np.float32], NDArray[np.int64]]] = {}
        for arm, s, f in todo:
            if (arm, s) not in cache:
                cache.clear()
                rows = list(store.sets(arm, s)) if arm != "none" else []
                if arm != "none" and len(rows) != split.n_classes:
                    raise AugmentStoreError(f"arm {arm!r} seed {s}: {len(rows)} of {split.n_classes} sets stored")
                xs = [r.images for r in rows]
                ys = [np.full(len(r.images), r.label, dtype=np.int64) for r in rows]
                shape = (0, *split.image_shape)
                cache[(arm, s)] = (
                    np.concatenate(xs).astype(np.float32) if xs else np.zeros(shape, np.float32),
                    np.concatenate(ys) if ys else np.zeros(0, np.int64),
                )
            ax, ay = cache[(arm, s)]
            tr, va = folds[s][f]
            yield ClassifyTask(
                arm=arm,
                seed=s,
                fold=f,
                run_seed=derive_seed(cfg.seed, "classifier", s, f),
                x_train=np.concatenate([split.train_x[tr], ax]),
                y_train=np.concatenate([split.train_y[tr], ay]),
                x_val=split.train_x[va],
                y_val=split.train_y[va],
                x_test=split.test_x,
                y_test=split.test_y,
                kind=cfg.classifier,
                n_classes=split.n_classes,
                epochs=cfg.cnn_epochs,
                threads=run["threads"],
                shifted=shifted,
            )

    for row, shift_rows in run_tasks(classify, tasks(), **run):
        store.add_result(row, shift_rows)
        computed["results"] += 1
        done += 1
        note("classifiers", done, total)


def _timings(store: AugmentStore) -> dict[str, float]:
    """Seconds per phase, summed over stored units (wall and CPU time of the work, wherever it ran)."""
    out: dict[str, float] = {}
    for col, suffix in (("wall_s", ""), ("cpu_s", "_cpu")):
        q = store.conn.execute
        out["gan" + suffix] = float(q(f"SELECT COALESCE(SUM({col}), 0) FROM generators").fetchone()[0])
        out["supervision" + suffix] = float(
            q(f"SELECT COALESCE(SUM({col}), 0) FROM sets WHERE n_evals > 0").fetchone()[0]
        )
        out["sets" + suffix] = float(q(f"SELECT COALESCE(SUM({col}), 0) FROM sets WHERE n_evals = 0").fetchone()[0])
        out["classifiers" + suffix] = float(q(f"SELECT COALESCE(SUM({col}), 0) FROM results").fetchone()[0])
    return out
