"""Bounds a suite must stay within, checked before anything is built or run.

A suite file is small but says how much work to do: ``seeds = 10**12`` or a grid of nine lists of ten values
(10⁹ combinations) would plan for hours and take gigabytes before the first run. These limits are counted
from the file (grid sizes multiplied, not expanded) and a suite beyond one is refused with a
:class:`~latentbridge.bench.suite.SuiteError` naming the key. Each limit is far above any real benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_BUDGET",
    "MAX_GRID",
    "MAX_NESTING",
    "MAX_RUNS",
    "MAX_RUN_TIMEOUT",
    "MAX_SEEDS",
    "MAX_SUITE_BYTES",
    "deepest",
    "grid_size",
    "timeout_problem",
]

#: Largest suite file read (bytes).
MAX_SUITE_BYTES: int = 1 << 20
#: Deepest nesting of tables and arrays in a suite (``params = { a = [[...]] }`` counts each level).
MAX_NESTING: int = 32
#: Most replicates per (problem, optimizer).
MAX_SEEDS: int = 10_000
#: Most evaluations per run.
MAX_BUDGET: int = 10**9
#: Most combinations one optimizer's ``grid`` may expand to.
MAX_GRID: int = 10_000
#: Most runs a suite may plan (problems × optimizer entries × seeds, counted before planning).
MAX_RUNS: int = 100_000
#: Longest ``run_timeout`` (seconds; 30 days). Longer, or ``inf``, is refused: leave it out for no limit.
MAX_RUN_TIMEOUT: float = 30 * 86_400.0


def deepest(data: Any, limit: int = MAX_NESTING) -> tuple[int, list[str]] | None:
    """The first path nested deeper than ``limit`` tables/arrays in ``data`` (walked without recursion).

    Returns:
        ``(depth, path)`` with ``path`` the keys/indices leading there (at most ``limit + 1`` deep), or ``None``.
    """
    stack: list[tuple[Any, int, list[str]]] = [(data, 0, [])]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict):
            items: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        if depth + 1 > limit:
            return depth + 1, path
        stack.extend((v, depth + 1, [*path, k]) for k, v in items)
    return None


def grid_size(grid: dict[str, Any]) -> int:
    """How many combinations a ``grid`` table expands to (product of its list lengths; not expanded)."""
    return math.prod(len(v) if isinstance(v, list) else 1 for v in grid.values())


def timeout_problem(value: Any) -> str | None:
    """Why ``value`` is not a usable ``run_timeout`` (``None`` when it is)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a positive number of seconds, got {value!r}"
    if not value > 0 or math.isnan(value):
        return f"expected a positive number of seconds, got {value!r}"
    if value > MAX_RUN_TIMEOUT:
        return (
            f"{value!r} seconds is more than the {MAX_RUN_TIMEOUT:,.0f} (30 days) a run may be given; "
            "leave run_timeout out for no limit"
        )
    return None


def check_runs(n_problems: int, n_entries: int, seeds: int, fail: Callable[[str], Exception]) -> None:
    """Refuse a plan of more than :data:`MAX_RUNS` runs (``fail(message)`` builds the error to raise)."""
    runs = n_problems * n_entries * seeds
    if runs > MAX_RUNS:
        raise fail(
            f"the suite plans up to {runs:,} runs ({n_problems} problems × {n_entries} optimizer entries × "
            f"{seeds} seeds), more than the {MAX_RUNS:,} a bench may run; split it into smaller suites"
        )
