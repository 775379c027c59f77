"""The suite's data: problem, optimizer and suite specs, and where each entry was written.

These frozen dataclasses are what travels: a :class:`Suite` holds :class:`ProblemSpec` and
:class:`OptimizerSpec` entries (registry names and options, never built objects); a spec
goes to workers inside a run task and is stored with every run, so a problem can be
rebuilt from the database. :class:`Where` remembers the file, line and keys of an entry,
so errors found after parsing (by :func:`~latentbridge.bench.problems.build_problem` or
:func:`~latentbridge.bench.planning.plan`) name them (:func:`located`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import InputError, LatentBridgeError, UnknownNameError
from . import limits

__all__ = [
    "OPTIMIZER_KEYS",
    "PROBLEM_KEYS",
    "SUITE_KEYS",
    "OptimizerSpec",
    "ProblemSpec",
    "Suite",
    "SuiteError",
    "SuiteNameError",
    "Where",
    "located",
]


class SuiteError(InputError):
    """A suite file or suite option is invalid; the message names the file, line and key."""


#: Keys accepted in a ``[[problems]]`` entry.
PROBLEM_KEYS = (
    "id",
    "kind",
    "generator",
    "scorer",
    "target",
    "originals",
    "k",
    "batch_size",
    "aggregate",
    "success",
    "ref_point",
    "options",
    "baseline",
    "precision",
    "objective",
    "measures",
    "grid",
)
#: Keys accepted in a ``[[optimizers]]`` entry.
OPTIMIZER_KEYS = ("name", "label", "params", "problems", "grid")
#: Keys accepted in ``[suite]``.
SUITE_KEYS = ("name", "budget", "seeds", "seed", "batch_size", "description", "run_timeout", "precision")


@dataclass(frozen=True)
class Where:
    """Where a suite entry was written, for errors found after parsing (``file:line: table[i].key``).

    Attributes:
        origin: The suite file (or ``builtin:<name>``, or ``--optimizers`` for command-line entries).
        table: ``"problems"`` or ``"optimizers"``.
        index: Position of the entry in its table.
        header: Line of the entry's ``[[table]]`` header.
        keys: ``(key, line)`` for each key of the entry.
    """

    origin: str = ""
    table: str = ""
    index: int = 0
    header: int | None = None
    keys: tuple[tuple[str, int], ...] = ()

    def at(self, key: str | None = None) -> str:
        """``origin:line: table[index].key`` (the line of ``key``'s first part, else of the header)."""
        line = dict(self.keys).get(key.split(".")[0]) if key else None
        line = line or self.header
        pos = f"{self.origin}:{line}" if line and self.origin else self.origin
        path = f"{self.table}[{self.index}]" + (f".{key}" if key else "")
        return f"{pos}: {path}" if pos else path


class SuiteNameError(SuiteError, UnknownNameError):
    """An unknown name in a suite (a :class:`SuiteError` that is also an ``UnknownNameError``/``KeyError``)."""


def located(where: Where, key: str, exc: BaseException) -> SuiteError:
    """``exc`` re-raised as a :class:`SuiteError` that names the suite file, line and key."""
    text = str(exc) if isinstance(exc, LatentBridgeError) else f"{type(exc).__name__}: {exc}"
    cls = SuiteNameError if isinstance(exc, UnknownNameError) else SuiteError
    err = cls(f"{where.at(key)}: {text}")
    err.__cause__ = exc
    return err


#: Values of ``precision`` (as ``latentbridge.PRECISIONS``; repeated here so suites parse without torch).
_PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class ProblemSpec:
    """One problem instance, described by registry names and options (what travels to workers).

    Attributes:
        id: Unique short name within the suite (``"target-3"``).
        kind: Problem registry name (``"target-similarity"``, ``"set-diversity"``, ...).
        generator: Generator registry name.
        generator_options: Options for :func:`latentbridge.load_generator`.
        scorer: Scorer registry name.
        scorer_options: Options for :func:`latentbridge.load_scorer`.
        target: Target description (``heldout_digit``/``index``, ``path`` or ``npy``), or None.
        originals: Originals description (``heldout_class``/``count`` or ``npy``), or None.
        options: Further keyword arguments of the problem class (``k``, ``batch_size``, ...).
        success: Success threshold on the best fitness (``<=``; hypervolume ``>=`` for
            multi-objective problems), or None for the default relative target.
        ref_point: Hypervolume reference point for multi-objective problems, or None.
        baseline: Seed 000's Table II baseline for target problems (another real image of the
            target's identity/class): ``{heldout_digit, index}``, ``{path}``, ``{npy}`` or
            ``{heldout_nearest = true}``; None when the suite gives none. Used by the reports
            only, never by the problem itself.
    """

    id: str
    kind: str
    generator: str
    scorer: str
    generator_options: dict[str, Any] = field(default_factory=dict)
    scorer_options: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] | None = None
    originals: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    success: float | None = None
    ref_point: list[float] | None = None
    baseline: dict[str, Any] | None = None
    where: Where = field(default_factory=Where, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored with every run so the problem can be rebuilt from the database)."""
        out = {
            "id": self.id,
            "kind": self.kind,
            "generator": self.generator,
            "generator_options": self.generator_options,
            "scorer": self.scorer,
            "scorer_options": self.scorer_options,
            "target": self.target,
            "originals": self.originals,
            "options": self.options,
            "success": self.success,
            "ref_point": self.ref_point,
        }
        if self.baseline is not None:  # only when set, so specs without one keep their stored form
            out["baseline"] = self.baseline
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProblemSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            generator=str(data["generator"]),
            scorer=str(data["scorer"]),
            generator_options=dict(data.get("generator_options") or {}),
            scorer_options=dict(data.get("scorer_options") or {}),
            target=dict(data["target"]) if data.get("target") is not None else None,
            originals=dict(data["originals"]) if data.get("originals") is not None else None,
            options=dict(data.get("options") or {}),
            success=None if data.get("success") is None else float(data["success"]),
            ref_point=None if data.get("ref_point") is None else [float(v) for v in data["ref_point"]],
            baseline=dict(data["baseline"]) if data.get("baseline") is not None else None,
        )

    def cache_key(self) -> str:
        """Canonical JSON of the spec (for per-process problem caches)."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str)


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer entry: a registry name (or ``pymoo:<Algorithm>`` / ``ng:<name>``) and parameters.

    Attributes:
        name: ``paper-ga``, ``set-ga``, ``random``, ``map-elites``, ``pymoo:DE``, ``ng:CMA``, or
            any plugin-registered optimizer.
        params: Keyword arguments of the optimizer.
        label: Display name and identity in the store; defaults to ``name`` (two entries
            with the same name need distinct labels).
        problems: Restrict the optimizer to these problem ids (default: the applicability rule).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    problems: tuple[str, ...] | None = None
    where: Where = field(default_factory=Where, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "name": self.name,
            "params": self.params,
            "label": self.label,
            "problems": list(self.problems) if self.problems is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OptimizerSpec:
        """Inverse of :meth:`to_dict`."""
        probs = data.get("problems")
        return cls(
            name=str(data["name"]),
            params=dict(data.get("params") or {}),
            label=str(data.get("label") or ""),
            problems=tuple(probs) if probs is not None else None,
        )


@dataclass(frozen=True)
class Suite:
    """A benchmark suite.

    Attributes:
        name: Suite name (part of every run's key).
        problems: The problem instances.
        optimizers: The optimizers (labels are unique).
        budget: Evaluations per run.
        seeds: Replicates per (problem, optimizer).
        seed: Base seed from which every run's seed is derived.
        source: Where the suite came from (file path or ``builtin:<name>``).
        run_timeout: Seconds one run may take before it is stopped and stored as failed
            (None: no limit).
    """

    name: str
    problems: tuple[ProblemSpec, ...]
    optimizers: tuple[OptimizerSpec, ...]
    budget: int
    seeds: int
    seed: int = 0
    source: str = ""
    run_timeout: float | None = None

    def with_overrides(
        self,
        *,
        optimizers: Sequence[str] | None = None,
        budget: int | None = None,
        seeds: int | None = None,
        run_timeout: float | None = None,
        precision: str | None = None,
    ) -> Suite:
        """A copy with command-line overrides applied.

        ``optimizers`` replaces the optimizer list; a name that matches an entry's label or
        name keeps that entry's parameters. ``precision`` sets every problem's precision.
        """
        new = self
        if optimizers is not None:
            by_label = {o.label: o for o in self.optimizers}
            by_name = {o.name: o for o in self.optimizers}
            chosen: list[OptimizerSpec] = []
            for raw in optimizers:
                name = raw.strip()
                if not name:
                    continue
                cli = OptimizerSpec(name, where=Where("--optimizers", "optimizers", len(chosen)))
                chosen.append(by_label.get(name) or by_name.get(name) or cli)
            if not chosen:
                raise SuiteError("--optimizers: give at least one optimizer name")
            _check_unique([o.label for o in chosen], "optimizer label", where="--optimizers")
            new = replace(new, optimizers=tuple(chosen))
        if budget is not None:
            if not 1 <= budget <= limits.MAX_BUDGET:
                raise SuiteError(f"--budget must be 1..{limits.MAX_BUDGET:,} evaluations, got {budget}")
            new = replace(new, budget=int(budget))
        if seeds is not None:
            if not 1 <= seeds <= limits.MAX_SEEDS:
                raise SuiteError(f"--seeds must be 1..{limits.MAX_SEEDS:,}, got {seeds}")
            new = replace(new, seeds=int(seeds))
            limits.check_runs(len(new.problems), len(new.optimizers), new.seeds, lambda m: SuiteError(f"--seeds: {m}"))
        if run_timeout is not None:
            if limits.timeout_problem(run_timeout) is not None:
                raise SuiteError(
                    f"--run-timeout must be a positive number of seconds, at most {limits.MAX_RUN_TIMEOUT:,.0f} "
                    f"(30 days), got {run_timeout!r}; leave it out for the suite's own"
                )
            new = replace(new, run_timeout=float(run_timeout))
        if precision is not None:
            if precision not in _PRECISIONS:
                raise SuiteError(f"--precision must be one of {', '.join(_PRECISIONS)}, got {precision!r}")
            problems = tuple(replace(p, options={**p.options, "precision": precision}) for p in new.problems)
            new = replace(new, problems=problems)
        return new

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "name": self.name,
            "budget": self.budget,
            "seeds": self.seeds,
            "seed": self.seed,
            "source": self.source,
            "run_timeout": self.run_timeout,
            "problems": [p.to_dict() for p in self.problems],
            "optimizers": [o.to_dict() for o in self.optimizers],
        }


def _check_unique(values: Sequence[str], what: str, *, where: str) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise SuiteError(f"{where}: {what} {v!r} appears twice; give one of them a distinct label")
        seen.add(v)
