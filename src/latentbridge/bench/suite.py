"""Benchmark suites: problems × optimizers × seeds × budget, read from TOML with located errors.

A suite file looks like this (every key is documented in :func:`parse_suite`)::

    [suite]
    name = "quick"
    budget = 1000          # evaluations per run
    seeds = 5              # replicates per (problem, optimizer)

    [[problems]]
    id = "target-3"
    kind = "target-similarity"
    generator = "mnist-dcgan"                       # or { name = "stylegan2", path = "ffhq.pkl" }
    scorer = "mnist-embed"
    target = { heldout_digit = 3, index = 0 }       # or { path = "x.png" } / { npy = "x.npy" }

    [[optimizers]]
    name = "paper-ga"
    params = { pop_size = 50 }

Errors in a file raise :class:`SuiteError` naming the file, the line and the key. The specs a suite
is made of live in :mod:`~latentbridge.bench.specs` (re-exported here); the built-in suites are
TOML files in ``latentbridge/bench/suites/``.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..campaign.seeds import run_seed
from . import limits
from .qd_problems import QD_KIND, parse_qd_keys, refuse_qd_keys
from .specs import (
    _PRECISIONS,
    OPTIMIZER_KEYS,
    PROBLEM_KEYS,
    SUITE_KEYS,
    OptimizerSpec,
    ProblemSpec,
    Suite,
    SuiteError,
    Where,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError:  # pragma: no cover
        tomllib = None

__all__ = [
    "BUILTIN_SUITES",
    "OptimizerSpec",
    "ProblemSpec",
    "Suite",
    "SuiteError",
    "Where",
    "load_suite",
    "parse_suite",
    "run_seed",
]


def _where(ctx: _Ctx, table: str, i: int, raw: Any) -> Where:
    keys = tuple((str(k), ctx.loc.line(table, i, str(k)) or 0) for k in raw) if isinstance(raw, dict) else ()
    return Where(ctx.origin, table, i, ctx.loc.line(table, i), keys)


# --------------------------------------------------------------------------------------------
# TOML parsing with located errors
# --------------------------------------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")


class _Locator:
    """Finds the line of a key in TOML source text (tomllib reports lines for syntax errors only)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        # (header name, occurrence index, line number (1-based))
        self.sections: list[tuple[str, int, int]] = []
        counts: dict[str, int] = {}
        for no, line in enumerate(self.lines, start=1):
            m = _HEADER.match(line)
            if m:
                name = m.group(2).replace('"', "").replace("'", "").replace(" ", "")
                idx = counts.get(name, 0)
                counts[name] = idx + 1
                self.sections.append((name, idx, no))

    def _section_span(self, name: str, index: int) -> tuple[int, int] | None:
        for pos, (sec, idx, no) in enumerate(self.sections):
            if sec == name and idx == index:
                end = len(self.lines) + 1
                for other in self.sections[pos + 1 :]:
                    if not other[0].startswith(name + "."):
                        end = other[2]
                        break
                return no, end
        return None

    def line(self, table: str, index: int = 0, key: str | None = None) -> int | None:
        """Line of ``key`` in the ``index``-th ``[table]``/``[[table]]`` (or of the header itself)."""
        span = self._section_span(table, index)
        if span is None:
            return None
        start, end = span
        if key is None:
            return start
        head = key.split(".")[0]
        pat = re.compile(rf"^\s*[\"']?{re.escape(head)}[\"']?\s*=")
        for no in range(start + 1, end):
            if pat.match(self.lines[no - 1]):
                return no
        # dotted sub-table such as [problems.target]
        sub = self._section_span(f"{table}.{head}", 0)
        return sub[0] if sub else start


class _Ctx:
    def __init__(self, origin: str, locator: _Locator) -> None:
        self.origin = origin
        self.loc = locator

    def error(self, table: str, index: int, key: str | None, message: str, *, array: bool = True) -> SuiteError:
        line = self.loc.line(table, index, key)
        where = f"{self.origin}:{line}" if line is not None else self.origin
        path = f"{table}[{index}]" if array else table
        if key is not None:
            path = f"{path}.{key}"
        return SuiteError(f"{where}: {path}: {message}")


def _where_looked(path: Path) -> str:
    """The absolute file a suite path names, and for a relative path the folder it was taken from."""
    if path.is_absolute():
        return str(path)
    return f"{Path.cwd() / path}: a relative path is taken from the working directory {Path.cwd()}"


def load_suite(name_or_path: str | Path) -> Suite:
    """A built-in suite by name (``"quick"``) or a suite TOML file.

    Raises:
        SuiteError: unknown name, unreadable file, invalid TOML, or an invalid key
            (the message names the file, line and key).
    """
    text_name = str(name_or_path)
    if text_name in BUILTIN_SUITES:
        return parse_suite(BUILTIN_SUITES[text_name], origin=f"builtin:{text_name}")
    path = Path(name_or_path)
    if not path.is_file():
        import difflib

        known = ", ".join(sorted(BUILTIN_SUITES))
        close = difflib.get_close_matches(text_name, sorted(BUILTIN_SUITES), n=2)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise SuiteError(
            f"--suite {text_name!r} is neither a built-in suite ({known}) nor an existing TOML file "
            f"(looked for {_where_looked(path)}).{hint}"
        )
    try:
        size = path.stat().st_size
        if size > limits.MAX_SUITE_BYTES:
            raise SuiteError(f"suite file {path} has {size:,} bytes, more than the {limits.MAX_SUITE_BYTES:,} read")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read suite file {path}: {exc}") from exc
    return parse_suite(text, origin=str(path), base_dir=path.resolve().parent)


def parse_suite(text: str, *, origin: str = "<suite>", base_dir: Path | None = None) -> Suite:
    """Parse suite TOML text.

    ``[suite]`` keys: ``name`` (str, required), ``budget`` (int >= 1, evaluations per run,
    required), ``seeds`` (int >= 1, default 5), ``seed`` (int, default 0), ``batch_size`` (int,
    default problem ``batch_size``), ``run_timeout`` (seconds one run may take; a run over it
    is stored as failed), ``precision`` (``"fp32"``, ``"bf16"`` or ``"fp16"``: every problem's
    model precision, default: the models' own), ``description``.

    ``[[problems]]`` keys: ``id`` (unique), ``kind``, ``generator`` and ``scorer`` (a registry
    name or a table ``{ name = ..., <options> }``; ``"pkg.module:factory"`` only with the
    command line's ``--allow-import pkg.module``), ``target`` (``{ heldout_digit, index }``,
    ``{ path }`` or ``{ npy }``), ``originals`` (``{ heldout_class, count }`` or ``{ npy }``),
    ``k``, ``batch_size``, ``aggregate``, ``success`` (threshold for the success rate),
    ``ref_point`` (hypervolume reference), ``precision``, ``options`` (other keyword arguments).
    ``kind = "quality-diversity"`` entries take ``objective``, ``measures`` and ``grid`` instead of a
    ``scorer`` (see :mod:`latentbridge.bench.qd_problems`).

    ``[[optimizers]]`` keys: ``name``, ``params`` (table), ``label`` (unique display name),
    ``problems`` (list of problem ids it runs on; default: the applicability rule), ``grid``
    (table of parameter -> list of values: one entry per combination, see :func:`grid_label`).

    Seed keys: ``target = { generated = { seed } }`` (the generator's image of a seeded prior
    draw, seed 000's "G" targets) and ``baseline`` on target problems (``{ path }``, ``{ npy }``,
    ``{ heldout_digit, index }`` or ``{ heldout_nearest = true }``: seed 000's Table II image).

    Relative paths resolve against ``base_dir``.

    Raises:
        SuiteError: with ``origin:line: key: message``.
    """
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise SuiteError("reading suite files on Python 3.10 needs tomli: pip install tomli")
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4300 digits
        raise SuiteError(f"{origin}: invalid TOML: {str(exc)[:300]}") from None
    except RecursionError:
        raise SuiteError(
            f"{origin}: tables or arrays nest too deeply to read (at most {limits.MAX_NESTING} levels are accepted)"
        ) from None
    too_deep = limits.deepest(data)
    if too_deep is not None:
        raise SuiteError(
            f"{origin}: {'.'.join(too_deep[1][:6])}{'...' if len(too_deep[1]) > 6 else ''}: tables or arrays nest "
            f"more than {limits.MAX_NESTING} levels deep"
        )
    ctx = _Ctx(origin, _Locator(text))
    base = base_dir or Path.cwd()

    for key in data:
        if key not in ("suite", "problems", "optimizers"):
            line = ctx.loc.line(key) or _top_key_line(text, key)
            where = f"{origin}:{line}" if line else origin
            raise SuiteError(f"{where}: unknown top-level key {key!r}; expected [suite], [[problems]], [[optimizers]]")

    head = data.get("suite")
    if not isinstance(head, dict):
        raise SuiteError(f"{origin}: missing [suite] table (with name, budget, seeds)")
    _unknown(ctx, "suite", 0, head, SUITE_KEYS, array=False)
    name = _req_str(ctx, "suite", 0, head, "name", array=False)
    budget = _int(ctx, "suite", 0, head, "budget", minimum=1, default=None, array=False, maximum=limits.MAX_BUDGET)
    seeds = _int(ctx, "suite", 0, head, "seeds", minimum=1, default=5, array=False, maximum=limits.MAX_SEEDS)
    seed = _int(ctx, "suite", 0, head, "seed", minimum=0, default=0, array=False)
    batch_size = _int(ctx, "suite", 0, head, "batch_size", minimum=1, default=0, array=False)
    run_timeout = None
    if "run_timeout" in head:
        val = head["run_timeout"]
        why = limits.timeout_problem(val)
        if why is not None:
            raise ctx.error("suite", 0, "run_timeout", why, array=False)
        run_timeout = float(val)
    precision = _precision(ctx, "suite", 0, head, array=False)

    raw_problems = data.get("problems")
    if not isinstance(raw_problems, list) or not raw_problems:
        raise SuiteError(f"{origin}: the suite needs at least one [[problems]] entry")
    problems = tuple(
        _parse_problem(ctx, i, raw, base, batch_size or None, precision) for i, raw in enumerate(raw_problems)
    )
    ids = [p.id for p in problems]
    for i, pid in enumerate(ids):
        if pid in ids[:i]:
            raise ctx.error("problems", i, "id", f"problem id {pid!r} is used twice")

    raw_opts = data.get("optimizers")
    if not isinstance(raw_opts, list) or not raw_opts:
        raise SuiteError(f"{origin}: the suite needs at least one [[optimizers]] entry")
    entries = 0  # counted before any grid is expanded
    for i, raw in enumerate(raw_opts):
        n = limits.grid_size(raw["grid"]) if isinstance(raw, dict) and isinstance(raw.get("grid"), dict) else 1
        if n > limits.MAX_GRID:
            raise ctx.error("optimizers", i, "grid", f"expands to {n:,} combinations, more than {limits.MAX_GRID:,}")
        entries += n
    limits.check_runs(len(problems), entries, seeds, lambda m: ctx.error("suite", 0, "seeds", m, array=False))
    optimizers = tuple(
        spec
        for i, raw in enumerate(raw_opts)
        for spec in _expand_grid(ctx, i, raw, _parse_optimizer(ctx, i, raw, set(ids)))
    )
    labels = [o.label for o in optimizers]
    for i, lab in enumerate(labels):
        if lab in labels[:i]:
            raise ctx.error("optimizers", i, "label", f"optimizer label {lab!r} is used twice; set a distinct label")
    return Suite(name, problems, optimizers, budget, seeds, seed, origin, run_timeout)


def _top_key_line(text: str, key: str) -> int | None:
    pat = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for no, line in enumerate(text.splitlines(), start=1):
        if pat.match(line):
            return no
    return None


def _unknown(ctx: _Ctx, table: str, i: int, raw: dict[str, Any], known: Sequence[str], *, array: bool = True) -> None:
    for key in raw:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ctx.error(table, i, key, f"unknown key{hint}; known keys: {', '.join(known)}", array=array)


def _req_str(ctx: _Ctx, table: str, i: int, raw: dict[str, Any], key: str, *, array: bool = True) -> str:
    if key not in raw:
        raise ctx.error(table, i, None, f"missing required key {key!r}", array=array)
    val = raw[key]
    if not isinstance(val, str) or not val.strip():
        raise ctx.error(table, i, key, f"expected a non-empty string, got {val!r}", array=array)
    return val.strip()


def _int(
    ctx: _Ctx,
    table: str,
    i: int,
    raw: dict[str, Any],
    key: str,
    *,
    minimum: int,
    default: int | None,
    array: bool = True,
    maximum: int | None = None,
) -> int:
    if key not in raw:
        if default is None:
            raise ctx.error(table, i, None, f"missing required key {key!r}", array=array)
        return default
    val = raw[key]
    if isinstance(val, bool) or not isinstance(val, int) or val < minimum:
        shown = f"{val!r}"[:40]
        raise ctx.error(table, i, key, f"expected an integer >= {minimum}, got {shown}", array=array)
    if maximum is not None and val > maximum:
        raise ctx.error(table, i, key, f"{val:,} is more than the {maximum:,} a bench accepts", array=array)
    return val


def _named(ctx: _Ctx, i: int, raw: dict[str, Any], key: str) -> tuple[str, dict[str, Any]]:
    if key not in raw:
        raise ctx.error("problems", i, None, f"missing required key {key!r}")
    val = raw[key]
    if isinstance(val, str) and val.strip():
        return val.strip(), {}
    if isinstance(val, dict) and isinstance(val.get("name"), str):
        opts = {k: v for k, v in val.items() if k != "name"}
        return str(val["name"]), opts
    raise ctx.error("problems", i, key, f"expected a registry name or a table {{ name = ..., options }}, got {val!r}")


def _resolve_path(value: Any, base: Path) -> str:
    p = Path(str(value)).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _precision(ctx: _Ctx, table: str, i: int, raw: dict[str, Any], *, array: bool = True) -> str | None:
    """The optional ``precision`` key: one of fp32, bf16, fp16."""
    if "precision" not in raw:
        return None
    val = raw["precision"]
    if val not in _PRECISIONS:
        raise ctx.error(table, i, "precision", f"expected one of {', '.join(_PRECISIONS)}, got {val!r}", array=array)
    return str(val)


def _parse_problem(
    ctx: _Ctx, i: int, raw: Any, base: Path, batch_size: int | None, precision: str | None = None
) -> ProblemSpec:
    if not isinstance(raw, dict):
        raise ctx.error("problems", i, None, "expected a table")
    _unknown(ctx, "problems", i, raw, PROBLEM_KEYS)
    pid = _req_str(ctx, "problems", i, raw, "id")
    kind = _req_str(ctx, "problems", i, raw, "kind")
    gen, gen_opts = _named(ctx, i, raw, "generator")
    qd = kind == QD_KIND
    scorer, sc_opts = ("", {}) if qd and "scorer" not in raw else _named(ctx, i, raw, "scorer")

    options: dict[str, Any] = {}
    if "options" in raw:
        if not isinstance(raw["options"], dict):
            raise ctx.error("problems", i, "options", f"expected a table of keyword arguments, got {raw['options']!r}")
        options.update(raw["options"])
    located_error = functools.partial(ctx.error, "problems", i)
    if qd:
        options.update(parse_qd_keys(raw, located_error))
    else:
        refuse_qd_keys(raw, kind, located_error)
    for key, minimum in (("k", 1), ("batch_size", 1)):
        if key in raw:
            options[key] = _int(ctx, "problems", i, raw, key, minimum=minimum, default=None)
    if batch_size and "batch_size" not in options:
        options["batch_size"] = batch_size
    precision = _precision(ctx, "problems", i, raw) or precision
    if precision is not None and "precision" not in options:
        options["precision"] = precision
    if "aggregate" in raw:
        if raw["aggregate"] not in ("none", "mean"):
            raise ctx.error("problems", i, "aggregate", f"expected 'none' or 'mean', got {raw['aggregate']!r}")
        options["aggregate"] = raw["aggregate"]

    target = None
    if "target" in raw:
        if isinstance(raw["target"], dict) and "generated" in raw["target"]:
            target = _parse_generated_target(ctx, i, raw["target"])
        else:
            target = _parse_image_source(ctx, i, raw["target"], "target", base, ("heldout_digit", "index"))
    originals = None
    if "originals" in raw:
        originals = _parse_image_source(ctx, i, raw["originals"], "originals", base, ("heldout_class", "count"))

    if kind == "target-similarity" and target is None:
        raise ctx.error("problems", i, None, "kind 'target-similarity' needs a 'target' table")
    if kind == "centroid-diversity" and originals is None:
        raise ctx.error("problems", i, None, "kind 'centroid-diversity' needs an 'originals' table")
    if kind == "set-diversity" and options.get("k", 5) < 2:
        raise ctx.error("problems", i, "k", f"set-diversity needs k >= 2, got {options.get('k')}")

    success = None
    if "success" in raw:
        val = raw["success"]
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise ctx.error("problems", i, "success", f"expected a number (fitness threshold), got {val!r}")
        success = float(val)
    baseline = None
    if "baseline" in raw:
        baseline = _parse_baseline(ctx, i, raw["baseline"], target, base)
    ref_point = None
    if "ref_point" in raw:
        val = raw["ref_point"]
        if not isinstance(val, list) or not val or not all(isinstance(v, (int, float)) for v in val):
            raise ctx.error("problems", i, "ref_point", f"expected a list of numbers, got {val!r}")
        ref_point = [float(v) for v in val]
    return ProblemSpec(
        id=pid,
        kind=kind,
        generator=gen,
        scorer=scorer,
        generator_options=gen_opts,
        scorer_options=sc_opts,
        target=target,
        originals=originals,
        options=options,
        success=success,
        ref_point=ref_point,
        baseline=baseline,
        where=_where(ctx, "problems", i, raw),
    )


def _parse_image_source(
    ctx: _Ctx, i: int, val: Any, key: str, base: Path, mnist_keys: tuple[str, str]
) -> dict[str, Any]:
    label_key, extra_key = mnist_keys
    if not isinstance(val, dict):
        raise ctx.error("problems", i, key, f"expected a table such as {{ {label_key} = 3 }}, {{ path = ... }}")
    sources = [s for s in (label_key, "path", "npy") if s in val]
    if len(sources) != 1:
        raise ctx.error("problems", i, key, f"give exactly one of {label_key!r}, 'path', 'npy'; got keys {sorted(val)}")
    allowed = {label_key, extra_key} if sources[0] == label_key else {sources[0]}
    extra = sorted(set(val) - allowed)
    if extra:
        raise ctx.error("problems", i, key, f"unexpected keys {extra} next to {sources[0]!r}")
    out = dict(val)
    if sources[0] == label_key:
        for sub in (label_key, extra_key):
            if sub in out and (isinstance(out[sub], bool) or not isinstance(out[sub], int) or out[sub] < 0):
                raise ctx.error("problems", i, key, f"{key}.{sub} must be a non-negative integer, got {out[sub]!r}")
    else:
        out[sources[0]] = _resolve_path(out[sources[0]], base)
    return out


def _parse_optimizer(ctx: _Ctx, i: int, raw: Any, problem_ids: set[str]) -> OptimizerSpec:
    if not isinstance(raw, dict):
        raise ctx.error("optimizers", i, None, "expected a table")
    _unknown(ctx, "optimizers", i, raw, OPTIMIZER_KEYS)
    name = _req_str(ctx, "optimizers", i, raw, "name")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise ctx.error("optimizers", i, "params", f"expected a table of parameters, got {params!r}")
    label = raw.get("label", "")
    if not isinstance(label, str):
        raise ctx.error("optimizers", i, "label", f"expected a string, got {label!r}")
    problems = raw.get("problems")
    if problems is not None:
        if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
            raise ctx.error("optimizers", i, "problems", f"expected a list of problem ids, got {problems!r}")
        unknown = sorted(set(problems) - problem_ids)
        if unknown:
            raise ctx.error("optimizers", i, "problems", f"unknown problem ids {unknown}; known: {sorted(problem_ids)}")
    probs = tuple(problems) if problems is not None else None
    return OptimizerSpec(name, dict(params), label, probs, where=_where(ctx, "optimizers", i, raw))


# --------------------------------------------------------------------------------------------
# seed experiments: generated targets, Table II baselines, parameter grids
# --------------------------------------------------------------------------------------------
def _parse_generated_target(ctx: _Ctx, i: int, val: dict[str, Any]) -> dict[str, Any]:
    """``target = { generated = { seed = 7 } }``: the generator's image of z* drawn from its prior."""
    extra = sorted(set(val) - {"generated"})
    if extra:
        raise ctx.error("problems", i, "target", f"unexpected keys {extra} next to 'generated'")
    gen = val["generated"]
    if not isinstance(gen, dict) or set(gen) != {"seed"}:
        raise ctx.error("problems", i, "target", f"expected target = {{ generated = {{ seed = 7 }} }}, got {val!r}")
    seed = gen["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ctx.error("problems", i, "target", f"target.generated.seed must be a non-negative integer, got {seed!r}")
    return {"generated": {"seed": seed}}


def _parse_baseline(ctx: _Ctx, i: int, val: Any, target: dict[str, Any] | None, base: Path) -> dict[str, Any]:
    """``baseline``: another real image of the target's identity/class (seed 000's Table II)."""
    if target is None:
        raise ctx.error("problems", i, "baseline", "a baseline needs a 'target' (target-similarity problems only)")
    if isinstance(val, dict) and "heldout_nearest" in val:
        if set(val) != {"heldout_nearest"} or val["heldout_nearest"] is not True:
            raise ctx.error("problems", i, "baseline", f"expected {{ heldout_nearest = true }}, got {val!r}")
        if "heldout_digit" not in target:
            raise ctx.error(
                "problems",
                i,
                "baseline",
                "{ heldout_nearest = true } needs a held-out digit target (target = { heldout_digit = ... }); "
                "give the baseline image as { path = ... } or { npy = ... } instead",
            )
        return {"heldout_nearest": True}
    return _parse_image_source(ctx, i, val, "baseline", base, ("heldout_digit", "index"))


def _grid_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def grid_label(base: str, combo: Mapping[str, Any]) -> str:
    """The label of one grid entry: ``paper-ga(p_crossover=0.6, p_mutation=0.001)``.

    Round brackets, not square ones, so labels print verbatim in rich's console markup.
    """
    return f"{base}({', '.join(f'{k}={_grid_value(v)}' for k, v in combo.items())})"


def _expand_grid(ctx: _Ctx, i: int, raw: dict[str, Any], spec: OptimizerSpec) -> list[OptimizerSpec]:
    """``grid = { p = [a, b], q = [c, d] }`` → one entry per combination (Cartesian product, file order).

    Values in ``params`` are always taken literally (a list stays a list); only ``grid``
    expands. Each entry's label is :func:`grid_label` of the entry's label (or name).
    """
    if "grid" not in raw:
        return [spec]
    grid = raw["grid"]
    if not isinstance(grid, dict) or not grid:
        raise ctx.error("optimizers", i, "grid", f"expected a table of parameter -> list of values, got {grid!r}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ctx.error(
                "optimizers", i, "grid", f"grid.{key} must be a non-empty list of values to try, got {values!r}"
            )
        if key in spec.params:
            raise ctx.error("optimizers", i, "grid", f"{key!r} is both in params and in grid; keep it in one of them")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ctx.error("optimizers", i, "grid", f"grid.{key} lists a value twice: {values!r}")
    import itertools

    keys = list(grid)
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        combo = dict(zip(keys, values, strict=True))
        out.append(replace(spec, params={**spec.params, **combo}, label=grid_label(spec.label, combo)))
    return out


# --------------------------------------------------------------------------------------------
# built-in suites
# --------------------------------------------------------------------------------------------
def _packaged_suites() -> dict[str, str]:
    """The suites shipped as package data (``latentbridge/bench/suites/*.toml``), in name order."""
    from importlib import resources

    folder = resources.files("latentbridge.bench").joinpath("suites")
    if not folder.is_dir():  # pragma: no cover - a broken installation
        return {}
    return {
        entry.name.removesuffix(".toml"): entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    }


#: Built-in suites by name (TOML text, parsed like a file): ``quick`` (``suites/quick.toml``), and the
#: seed experiments ``seed000``/``seed002`` with their paper-budget versions ``seed000-paper``/``seed002-paper``.
BUILTIN_SUITES: dict[str, str] = _packaged_suites()
