"""The leaderboard: per-instance statistics and across-instance rankings computed from stored runs.

An *instance* is one problem of one suite at one budget. Within an instance each optimizer's
runs (one per seed) give its best-fitness sample; across instances optimizers are compared
within *groups* of instances on which the same optimizers ran (a complete block design, as
the Friedman test needs):

- for each objective class (single / multi), the group of all its instances with the
  optimizers that ran on every one of them;
- one more group for each distinct larger optimizer set (e.g. the set problems, where
  ``set-ga`` and ``map-elites`` also run).

Multi-objective instances are scored by hypervolume (higher is better); every statistic is
computed on the stored minimisation score (``-hypervolume``) and only displayed as HV.
Success rate counts runs reaching the instance's ``success`` threshold, or by default the
pooled first quartile of all runs' final scores on that instance (a relative target).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import stats
from .store import RunRecord

__all__ = ["Group", "Instance", "InstanceRow", "Leaderboard", "build_leaderboard", "spent"]


def spent(record: RunRecord) -> float:
    """Forward-equivalents a run spent: its ``forward_equivalents``, or ``n_evals`` where not recorded."""
    return float(record.n_evals if record.forward_equivalents is None else record.forward_equivalents)


#: Quantile of pooled final scores used as success target when a problem sets none.
DEFAULT_SUCCESS_QUANTILE = 0.25


@dataclass(frozen=True)
class InstanceRow:
    """One optimizer on one instance (values in display units: fitness, or hypervolume if MO)."""

    instance: str
    optimizer: str
    summary: stats.Summary
    rank: float
    mean_evals: float
    mean_wall: float
    failed_evals: int = 0
    mean_grad_evals: float = 0.0
    mean_forward_equivalents: float = 0.0


@dataclass
class Instance:
    """One problem instance with its runs, rows and pairwise tests."""

    key: tuple[str, str, int]
    label: str
    problem_id: str
    kind: str
    n_obj: int
    budget: int
    success_score: float
    success_source: str
    runs: dict[str, list[RunRecord]]
    rows: list[InstanceRow] = field(default_factory=list)
    pairwise: list[stats.Comparison] = field(default_factory=list)

    @property
    def higher_is_better(self) -> bool:
        """True for multi-objective instances (hypervolume)."""
        return self.n_obj > 1

    @property
    def metric(self) -> str:
        """Name of the displayed metric."""
        return "hypervolume" if self.n_obj > 1 else "best fitness"

    def display(self, score: float) -> float:
        """A stored score in display units."""
        return -score if self.n_obj > 1 else score

    @property
    def success_display(self) -> float:
        """The success threshold in display units."""
        return self.display(self.success_score)

    def scores(self, optimizer: str) -> NDArray[np.float64]:
        """Final scores (lower is better) of ``optimizer``'s runs, by replicate."""
        return np.asarray([r.best for r in self.runs[optimizer]], dtype=np.float64)


@dataclass
class Group:
    """Instances compared together across instances."""

    name: str
    instances: list[str]
    optimizers: list[str]
    medians: NDArray[np.float64]
    mean_ranks: NDArray[np.float64]
    friedman: stats.FriedmanResult
    pairwise: list[stats.Comparison]

    def ranking(self) -> list[tuple[str, float]]:
        """(optimizer, mean rank), best first."""
        order = np.argsort(self.mean_ranks, kind="stable")
        return [(self.optimizers[i], float(self.mean_ranks[i])) for i in order]


@dataclass
class Leaderboard:
    """Everything the reports show."""

    instances: list[Instance]
    groups: list[Group]
    runs: list[RunRecord]
    #: (instance label, optimizer) → realism measures of its best latents
    #: (filled by :func:`latentbridge.bench.realism.attach_realism`; empty until then).
    realism: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    #: The seeds' tables computed so far, by rebuild function (HTML, Markdown and CSV reports share them).
    _seed_tables: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def instance(self, label: str) -> Instance:
        """The instance called ``label``."""
        for inst in self.instances:
            if inst.label == label:
                return inst
        raise KeyError(label)


def build_leaderboard(runs: Sequence[RunRecord], *, success_quantile: float = DEFAULT_SUCCESS_QUANTILE) -> Leaderboard:
    """Compute the leaderboard from finished runs (any order; the result does not depend on it)."""
    finished = [r for r in runs if r.status == "finished" and np.isfinite(r.best)]
    finished.sort(key=lambda r: (r.suite, r.problem_id, r.budget, r.optimizer, r.replicate))
    suites = {r.suite for r in finished}
    budgets: dict[tuple[str, str], set[int]] = {}
    for r in finished:
        budgets.setdefault((r.suite, r.problem_id), set()).add(r.budget)
    by_key: dict[tuple[str, str, int], list[RunRecord]] = {}
    for r in finished:
        by_key.setdefault((r.suite, r.problem_id, r.budget), []).append(r)

    instances: list[Instance] = []
    for key, recs in by_key.items():
        suite, pid, budget = key
        label = pid if len(suites) == 1 else f"{suite}/{pid}"
        if len(budgets[(suite, pid)]) > 1:
            label = f"{label}@{budget}"
        per_opt: dict[str, list[RunRecord]] = {}
        for r in recs:
            per_opt.setdefault(r.optimizer, []).append(r)
        first = recs[0]
        n_obj = int(first.n_obj)
        spec_success = first.problem_spec.get("success") if isinstance(first.problem_spec, dict) else None
        pooled = np.asarray([r.best for r in recs], dtype=np.float64)
        if spec_success is not None:
            success = -float(spec_success) if n_obj > 1 else float(spec_success)
            source = "suite"
        else:
            success = float(np.quantile(pooled, success_quantile))
            source = f"pooled q{round(100 * success_quantile)}"
        inst = Instance(key, label, pid, first.problem_kind, n_obj, budget, success, source, per_opt)
        _fill_instance(inst)
        instances.append(inst)
    return Leaderboard(instances, _groups(instances), finished)


def _fill_instance(inst: Instance) -> None:
    names = sorted(inst.runs)
    medians = np.asarray([[np.median(inst.scores(n)) for n in names]])
    ranks = stats.rank_matrix(medians)[0]
    rows = []
    for name, rank in zip(names, ranks, strict=True):
        scores = inst.scores(name)
        summary = stats.describe([inst.display(s) for s in scores])
        rate = float(np.mean(scores <= inst.success_score))
        summary = stats.Summary(
            summary.n,
            summary.median,
            summary.mean,
            summary.std,
            summary.q25,
            summary.q75,
            summary.iqr,
            float(np.max([inst.display(s) for s in scores])) if inst.higher_is_better else summary.best,
            rate,
        )
        recs = inst.runs[name]
        rows.append(
            InstanceRow(
                inst.label,
                name,
                summary,
                float(rank),
                float(np.mean([min(r.n_evals, r.budget) for r in recs])),
                float(np.mean([r.wall_time for r in recs])),
                sum(r.n_failed for r in recs),
                float(np.mean([r.n_grad_evals for r in recs])),
                float(np.mean([min(spent(r), r.budget) for r in recs])),
            )
        )
    rows.sort(key=lambda row: (row.rank, row.optimizer))
    inst.rows = rows
    inst.pairwise = stats.pairwise_mannwhitney({n: inst.scores(n) for n in names})


def _groups(instances: list[Instance]) -> list[Group]:
    groups: list[Group] = []
    for mo in (False, True):
        members = [i for i in instances if (i.n_obj > 1) == mo]
        if not members:
            continue
        kind = "multi-objective" if mo else "single-objective"
        common = sorted(set.intersection(*(set(i.runs) for i in members)))
        sets: dict[frozenset[str], list[Instance]] = {}
        for inst in members:
            sets.setdefault(frozenset(inst.runs), []).append(inst)
        if len(common) >= 2:
            groups.append(_group(f"all {kind} instances", members, common))
        for opts, insts in sorted(sets.items(), key=lambda kv: (-len(kv[1]), sorted(kv[0]))):
            if set(opts) == set(common) and len(insts) == len(members) and len(common) >= 2:
                continue
            if len(opts) > len(common) or len(common) < 2:
                groups.append(_group(f"{kind}: {', '.join(i.label for i in insts)}", insts, sorted(opts)))
    return groups


def _group(name: str, insts: list[Instance], optimizers: list[str]) -> Group:
    medians = np.asarray([[np.median(i.scores(o)) for o in optimizers] for i in insts], dtype=np.float64)
    ranks = stats.mean_ranks(medians)
    k = len(optimizers)
    effect = np.full((len(insts), k, k), np.nan)
    for n, inst in enumerate(insts):
        for a in range(k):
            for b in range(k):
                if a != b:
                    effect[n, a, b] = stats.a12(inst.scores(optimizers[b]), inst.scores(optimizers[a]))
    return Group(
        name=name,
        instances=[i.label for i in insts],
        optimizers=optimizers,
        medians=medians,
        mean_ranks=ranks,
        friedman=stats.friedman(medians),
        pairwise=stats.pairwise_wilcoxon(medians, optimizers, effect),
    )
