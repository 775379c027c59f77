"""``latentbridge bench``: reproducible, resumable, statistically ranked optimizer comparisons.

One module per job, in the order a suite goes through them:

- :mod:`~latentbridge.bench.specs` — the suite's data (problem, optimizer and suite specs, where each was written);
- :mod:`~latentbridge.bench.suite` — suites from TOML with located errors; the built-in ones in ``suites/*.toml``;
- :mod:`~latentbridge.bench.problems` — a spec → a problem (``build_problem``, ``rebuild_problem``, trusted imports);
- :mod:`latentbridge.optimizers` — optimizer names and the applicability rule (in the library; the bench uses them);
- :mod:`~latentbridge.bench.planning` — every run as a seeded, validated ``RunTask``;
- :mod:`~latentbridge.bench.execution` — one run: budget, time limit, trace, the store's row;
- :mod:`~latentbridge.bench.runner` — ``run_suite``: runs on the campaign executors, stored as they finish;
- :mod:`~latentbridge.bench.store` — the SQLite (WAL) store, one transaction per finished run;
- :mod:`latentbridge.stats` — Friedman, Holm, Mann–Whitney/Wilcoxon, Vargha–Delaney A12 (in the library);
- :mod:`~latentbridge.bench.leaderboard` — rankings and statistics of the stored runs;
- :mod:`~latentbridge.bench.report` — the leaderboard as a rich table, Markdown, CSV and a self-contained
  HTML report, with :mod:`~latentbridge.bench.figures` (plots) and :mod:`~latentbridge.bench.seed_report`
  (the seeds' tables, computed by :mod:`~latentbridge.bench.tables`).

Example:
    >>> from latentbridge.bench import Store, build_leaderboard, load_suite, run_suite  # doctest: +SKIP
    >>> with Store("results/bench.sqlite") as store:                                   # doctest: +SKIP
    ...     run_suite(load_suite("quick"), store)
    ...     board = build_leaderboard(store.runs())
"""

from __future__ import annotations

from ..optimizers import applies, resolve
from .execution import execute
from .leaderboard import Leaderboard, build_leaderboard
from .planning import RunTask, plan
from .report import print_leaderboard, to_csv, to_html, to_markdown
from .runner import BenchInterrupted, BenchSummary, run_suite
from .store import RunRecord, Store
from .suite import OptimizerSpec, ProblemSpec, Suite, SuiteError, load_suite, parse_suite, run_seed

__all__ = [
    # suites
    "OptimizerSpec",
    "ProblemSpec",
    "Suite",
    "SuiteError",
    "load_suite",
    "parse_suite",
    "run_seed",
    # running
    "BenchInterrupted",
    "BenchSummary",
    "RunTask",
    "applies",
    "execute",
    "plan",
    "resolve",
    "run_suite",
    # results
    "RunRecord",
    "Store",
    # leaderboard
    "Leaderboard",
    "build_leaderboard",
    "print_leaderboard",
    "to_csv",
    "to_html",
    "to_markdown",
]
