"""Quality-diversity problems in suites: the ``kind = "quality-diversity"`` keys, the problem, its grid.

A suite entry::

    [[problems]]
    id = "lsi-8"
    kind = "quality-diversity"
    generator = "mnist-dcgan"
    objective = { name = "class-probability", digit = 8 }   # a registered measure, maximised
    measures = ["boldness", "lightness"]                     # names or { name = ..., <options> } tables
    grid = 50                                                # cells per measure (or one int per measure)
    options = { n_estimate = 1000 }                          # other QualityDiversity arguments

needs no ``scorer``. :func:`parse_qd_keys` checks these keys while the suite is read (errors name the
line), and puts them into the spec's ``options`` (``objective``, ``measures``, ``cells``), so the stored
spec of a run rebuilds the same problem; :func:`build_qd_problem` builds it, :func:`is_qd_spec` tells.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._protocols import LatentGenerator
from ..errors import InputError
from .specs import ProblemSpec

__all__ = ["QD_KEYS", "QD_KIND", "build_qd_problem", "is_qd_spec", "parse_qd_keys", "qd_cells"]

#: The problem kind of quality-diversity entries.
QD_KIND = "quality-diversity"
#: Keys of a ``[[problems]]`` entry that only quality-diversity problems take.
QD_KEYS = ("objective", "measures", "grid")

_DEFAULT_CELLS = 50
#: Most cells per measure a suite may ask for (the grid as a whole is bounded by ``qd.Grid``).
_MAX_CELLS_PER_MEASURE = 2000


def is_qd_spec(spec: ProblemSpec | dict[str, Any]) -> bool:
    """Whether ``spec`` (or a stored spec dict) describes a quality-diversity problem."""
    kind = spec.kind if isinstance(spec, ProblemSpec) else spec.get("kind")
    return kind == QD_KIND


def _named(value: Any, key: str) -> dict[str, Any]:
    if isinstance(value, str) and value.strip():
        return {"name": value.strip()}
    if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"].strip():
        return {**value, "name": value["name"].strip()}
    raise InputError(
        f"expected a registered measure name or a table {{ name = ..., <options> }}, got {value!r}; "
        "`latentbridge plugins` lists the measures"
    )


def parse_qd_keys(raw: dict[str, Any], error: Callable[[str | None, str], Exception]) -> dict[str, Any]:
    """The ``options`` a quality-diversity entry adds: ``objective``, ``measures``, ``cells``.

    Args:
        raw: The ``[[problems]]`` table as read.
        error: Makes the located error for a key and a message.

    Raises:
        SuiteError: (from ``error``) a missing or malformed key.
    """
    out: dict[str, Any] = {}
    for key in ("objective", "measures"):
        if key not in raw:
            raise error(None, f"kind {QD_KIND!r} needs {key!r} (registered measures: see `latentbridge plugins`)")
    try:
        out["objective"] = _named(raw["objective"], "objective")
    except InputError as exc:
        raise error("objective", str(exc)) from None
    items = raw["measures"] if isinstance(raw["measures"], list) else [raw["measures"]]
    if not items:
        raise error("measures", "give at least one measure (the grid's dimensions)")
    try:
        out["measures"] = [_named(m, "measures") for m in items]
    except InputError as exc:
        raise error("measures", str(exc)) from None
    cells = raw.get("grid", _DEFAULT_CELLS)
    values = cells if isinstance(cells, list) else [cells]
    if (
        not values
        or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= _MAX_CELLS_PER_MEASURE for v in values)
        or (isinstance(cells, list) and len(cells) != len(out["measures"]) and len(out["measures"]) > 1)
    ):
        raise error(
            "grid",
            f"expected cells per measure: an integer in [1, {_MAX_CELLS_PER_MEASURE}] or a list of them, one per "
            f"measure, got {cells!r}",
        )
    out["cells"] = cells
    return out


def refuse_qd_keys(raw: dict[str, Any], kind: str, error: Callable[[str | None, str], Exception]) -> None:
    """Refuse ``objective``/``measures``/``grid`` on a problem that is not quality-diversity."""
    for key in QD_KEYS:
        if key in raw:
            raise error(key, f"{key!r} is a key of kind {QD_KIND!r} problems, not of {kind!r}")


def qd_cells(spec: ProblemSpec | dict[str, Any]) -> Any:
    """The grid's cells of a quality-diversity spec (int or list), as the suite gave them."""
    options = spec.options if isinstance(spec, ProblemSpec) else spec.get("options") or {}
    return options.get("cells", _DEFAULT_CELLS)


def build_qd_problem(spec: ProblemSpec, generator: LatentGenerator) -> Any:
    """The :class:`~latentbridge.qd.QualityDiversity` problem of ``spec`` on ``generator``.

    Objective and measures are registered measures loaded by name with their options
    (:func:`latentbridge.load_measure`); the other options are the problem's arguments.
    """
    from .._plugins import load_measure
    from ..qd import QualityDiversity

    options = dict(spec.options)
    objective = options.pop("objective", None)
    measures = options.pop("measures", None)
    if not isinstance(objective, dict) or not isinstance(measures, list) or not measures:
        raise InputError(f"problem {spec.id!r} of kind {QD_KIND!r} needs an objective and measures")

    def load(entry: Any) -> Any:
        entry = _named(entry, "measure")
        return load_measure(entry["name"], **{k: v for k, v in entry.items() if k != "name"})

    return QualityDiversity(generator, load(objective), [load(m) for m in measures], **options)
