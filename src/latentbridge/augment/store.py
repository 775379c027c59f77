"""SQLite store of an augmentation run: ``DIR/augment.sqlite`` (WAL).

One row per finished unit (a per-class generator, an augmentation set, a classifier fold with its scores on
the distribution-shifted test splits), each written in one transaction by the parent process only, so a
SIGKILL leaves no half-written row and ``--resume`` recomputes only what is missing. The configuration, data
digest and library versions are stored once; resuming with a different configuration is refused. Arrays are
stored as ``.npy`` bytes and read back without pickle and only when their header matches their length
(:mod:`latentbridge.campaign.store`, the bench's codec too).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..campaign.store import (
    check_value,
    check_version,
    create_schema,
    describe_sqlite_error,
    from_blob,
    get_meta,
    load_json,
    open_reader,
    open_writer,
    set_meta,
    to_blob,
)
from ..errors import InputError, StoreError

__all__ = ["AugmentStore", "AugmentStoreError", "ResultRow", "SetRow", "ShiftRow"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generators (
    class INTEGER PRIMARY KEY, kind TEXT NOT NULL, path TEXT, sha256 TEXT, wall_s REAL NOT NULL,
    info TEXT NOT NULL, created REAL NOT NULL, cpu_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sets (
    arm TEXT NOT NULL, seed INTEGER NOT NULL, class INTEGER NOT NULL, run_seed INTEGER NOT NULL,
    images BLOB NOT NULL, latents BLOB, fitness REAL, first_images BLOB, first_fitness REAL,
    agreement REAL, n_evals INTEGER NOT NULL, trace TEXT NOT NULL, wall_s REAL NOT NULL, created REAL NOT NULL,
    cpu_s REAL NOT NULL, PRIMARY KEY (arm, seed, class));
CREATE TABLE IF NOT EXISTS results (
    arm TEXT NOT NULL, seed INTEGER NOT NULL, fold INTEGER NOT NULL, run_seed INTEGER NOT NULL,
    accuracy REAL NOT NULL, precision REAL NOT NULL, recall REAL NOT NULL, f1 REAL NOT NULL,
    val_accuracy REAL NOT NULL, n_train INTEGER NOT NULL, wall_s REAL NOT NULL, created REAL NOT NULL,
    cpu_s REAL NOT NULL, PRIMARY KEY (arm, seed, fold));
CREATE TABLE IF NOT EXISTS shift_results (
    arm TEXT NOT NULL, seed INTEGER NOT NULL, fold INTEGER NOT NULL, shift TEXT NOT NULL,
    accuracy REAL NOT NULL, f1 REAL NOT NULL, PRIMARY KEY (arm, seed, fold, shift));
"""
# shift_results came after schema version 1 without a version bump: it is only added (CREATE ... IF NOT EXISTS,
# so a store written before it opens, gains it when opened for writing and resumes); read-only, such a store
# simply has no shift rows.

_TABLES = frozenset({"meta", "generators", "sets", "results", "shift_results"})


class AugmentStoreError(InputError):
    """The output folder holds a run that does not match this one, or a store that cannot be read."""


def _has_meta(conn: sqlite3.Connection) -> None:
    """Raise ``sqlite3.Error`` unless ``conn`` is a database with a ``meta`` table."""
    conn.execute("SELECT key FROM meta LIMIT 1").fetchall()


F = TypeVar("F", bound=Callable[..., Any])


def _checked(method: F) -> F:
    """A damaged row, a lock or a full disk in an :class:`AugmentStore` method → one :class:`AugmentStoreError`."""

    @functools.wraps(method)
    def inner(self: AugmentStore, *args: Any, **kwargs: Any) -> Any:
        with _translated(self.path):
            out = method(self, *args, **kwargs)
        return _translated_iter(self.path, out) if isinstance(out, Iterator) else out

    return inner  # type: ignore[return-value]


@contextlib.contextmanager
def _translated(path: Path) -> Iterator[None]:
    try:
        yield
    except AugmentStoreError:
        raise
    except StoreError as exc:  # a damaged row: already one clear error, now naming the store
        raise StoreError(f"augment store {path}: {exc}") from None
    except (sqlite3.Error, OSError) as exc:
        raise AugmentStoreError(f"augment store {path}: {describe_sqlite_error(exc)} ({exc})") from None


def _translated_iter(path: Path, items: Iterator[Any]) -> Iterator[Any]:
    while True:
        with _translated(path):
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


@dataclass(frozen=True)
class SetRow:
    """One stored augmentation set (one arm, evolutionary seed and class)."""

    arm: str
    seed: int
    label: int
    run_seed: int
    images: NDArray[np.float32]
    latents: NDArray[np.float64] | None
    fitness: float | None
    first_images: NDArray[np.float32] | None
    first_fitness: float | None
    agreement: float | None
    n_evals: int
    trace: list[list[float]]
    wall_s: float
    cpu_s: float = 0.0


@dataclass(frozen=True)
class ResultRow:
    """One classifier trained on one fold of one seed for one arm, scored on the test split."""

    arm: str
    seed: int
    fold: int
    run_seed: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    val_accuracy: float
    n_train: int
    wall_s: float
    cpu_s: float = 0.0


@dataclass(frozen=True)
class ShiftRow:
    """The classifier of one result row scored on one distribution-shifted copy of the test split.

    Attributes:
        arm: The result's arm.
        seed: Its seed.
        fold: Its fold.
        shift: The shift (see :data:`latentbridge.augment.shift.SHIFTS`).
        accuracy: Accuracy on the shifted test split, in [0, 1].
        f1: Macro F1 on it, in [0, 1].
    """

    arm: str
    seed: int
    fold: int
    shift: str
    accuracy: float
    f1: float


def _score(value: Any, what: str) -> float:
    """A stored score: a finite number in [0, 1] (else the store is damaged)."""
    x = float(check_value(value, "real", what))
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise StoreError(f"{what} is {x!r}, not a score in [0, 1]: the store is damaged; use another --out")
    return x


def _check_shift_rows(row: ResultRow, shifts: Sequence[ShiftRow]) -> None:
    """Shift rows must be of ``row``'s (arm, seed, fold), one per shift, with scores in [0, 1]."""
    seen: set[str] = set()
    for sr in shifts:
        if not isinstance(sr, ShiftRow):
            raise AugmentStoreError(f"shift rows must be ShiftRow, found {type(sr).__name__}")
        if (sr.arm, sr.seed, sr.fold) != (row.arm, row.seed, row.fold):
            raise AugmentStoreError(
                f"shift row of (arm, seed, fold) = {(sr.arm, sr.seed, sr.fold)!r} given with the result of "
                f"{(row.arm, row.seed, row.fold)!r}: a result is stored with its own shift rows only"
            )
        if not isinstance(sr.shift, str) or not sr.shift or sr.shift in seen:
            raise AugmentStoreError(f"shift rows need one non-empty shift name each, found {sr.shift!r} twice or empty")
        seen.add(sr.shift)
        for name in ("accuracy", "f1"):
            v = getattr(sr, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and 0.0 <= v <= 1.0):
                raise AugmentStoreError(f"shift row {sr.shift!r}: {name} must be a number in [0, 1], found {v!r}")


class AugmentStore:
    """``DIR/augment.sqlite``.

    Args:
        path: The SQLite file (created with its folder when missing, unless ``readonly``).
        readonly: Open an existing store without writing.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)

        def check(conn: sqlite3.Connection) -> None:
            _has_meta(conn)
            check_version(conn, SCHEMA_VERSION, f"augment store {self.path}")

        try:
            if readonly:
                if not self.path.is_file():
                    raise AugmentStoreError(f"no augment store at {self.path}")
                self.conn = open_reader(self.path, check=check)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = open_writer(self.path, before=self._refuse_foreign)
                create_schema(self.conn, _SCHEMA, SCHEMA_VERSION)
        except StoreError as exc:
            raise AugmentStoreError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise AugmentStoreError(
                f"{self.path} is not an augment store or cannot be opened ({describe_sqlite_error(exc)}; {exc}); "
                "use another --out"
            ) from None
        except OSError as exc:
            raise AugmentStoreError(f"augment store {self.path}: {describe_sqlite_error(exc)} ({exc})") from None

    def _refuse_foreign(self, conn: sqlite3.Connection) -> None:
        """Someone else's database or a newer store: refused before anything is written (left as it was)."""
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        foreign = sorted(t for t in tables - _TABLES if not t.startswith("sqlite_"))
        if foreign:
            raise AugmentStoreError(
                f"{self.path} is not an augment store (it has tables {', '.join(foreign[:5])}); it was left "
                "unchanged: use another --out"
            )
        if "meta" in tables:
            check_version(conn, SCHEMA_VERSION, f"augment store {self.path}")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> AugmentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ------------------------------------------------------------------------------------
    @_checked
    def meta(self, key: str) -> Any:
        """A JSON value from ``meta`` (``None`` when absent)."""
        return get_meta(self.conn, key)

    @_checked
    def set_meta(self, **values: Any) -> None:
        """Store JSON values in ``meta`` (one transaction)."""
        set_meta(self.conn, **values)

    @_checked
    def is_empty(self) -> bool:
        """No configuration stored yet."""
        return self.meta("config") is None

    # -- generators ------------------------------------------------------------------------------
    @_checked
    def add_generator(self, label: int, kind: str, path: str | None, sha256: str | None, info: dict[str, Any]) -> None:
        """Record a trained (or loaded) per-class generator."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO generators VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    label,
                    kind,
                    path,
                    sha256,
                    float(info.get("wall_s", 0.0)),
                    json.dumps(info, default=str),
                    time.time(),
                    float(info.get("cpu_s", 0.0)),
                ),
            )

    @_checked
    def generators(self) -> dict[int, dict[str, Any]]:
        """``class → {kind, path, sha256, wall_s, info}``."""
        out = {}
        for label, kind, path, sha, wall, info in self.conn.execute(
            "SELECT class, kind, path, sha256, wall_s, info FROM generators"
        ):
            what = f"generators.info of class {label!r}"
            out[check_value(label, "int", "generators.class")] = {
                "kind": kind,
                "path": path,
                "sha256": sha,
                "wall_s": wall,
                "info": load_json(info, what, dict),
            }
        return out

    # -- sets ------------------------------------------------------------------------------------
    @_checked
    def add_set(self, row: SetRow) -> None:
        """Insert one augmentation set in one transaction."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO sets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.arm,
                    row.seed,
                    row.label,
                    row.run_seed,
                    to_blob(row.images),
                    to_blob(row.latents),
                    row.fitness,
                    to_blob(row.first_images),
                    row.first_fitness,
                    row.agreement,
                    row.n_evals,
                    json.dumps(row.trace),
                    row.wall_s,
                    time.time(),
                    row.cpu_s,
                ),
            )

    @_checked
    def set_keys(self) -> set[tuple[str, int, int]]:
        """``(arm, seed, class)`` of every stored set."""
        return {(a, int(s), int(c)) for a, s, c in self.conn.execute("SELECT arm, seed, class FROM sets")}

    @_checked
    def sets(self, arm: str | None = None, seed: int | None = None) -> Iterator[SetRow]:
        """Stored sets (optionally of one arm and/or seed), ordered by arm, seed, class (every column checked)."""
        q = "SELECT * FROM sets WHERE (? IS NULL OR arm = ?) AND (? IS NULL OR seed = ?) ORDER BY arm, seed, class"
        for r in self.conn.execute(q, (arm, arm, seed, seed)):
            where = f"of (arm, seed, class) = ({str(r[0])[:40]!r}, {r[1]!r}, {r[2]!r})"

            def col(i: int, kind: str, name: str, nullable: bool = False, r: Any = r, where: str = where) -> Any:
                return check_value(r[i], kind, f"sets.{name} {where}", nullable=nullable)

            images = from_blob(r[4], f"sets.images {where}")
            if images is None:
                raise StoreError(f"sets.images {where} is NULL")
            trace = load_json(r[11], f"sets.trace {where}", list)
            yield SetRow(
                arm=col(0, "text", "arm"),
                seed=col(1, "int", "seed"),
                label=col(2, "int", "class"),
                run_seed=col(3, "int", "run_seed"),
                images=images.astype(np.float32),
                latents=from_blob(r[5], f"sets.latents {where}"),
                fitness=col(6, "real", "fitness", True),
                first_images=from_blob(r[7], f"sets.first_images {where}"),
                first_fitness=col(8, "real", "first_fitness", True),
                agreement=col(9, "real", "agreement", True),
                n_evals=col(10, "int", "n_evals"),
                trace=trace,
                wall_s=col(12, "real", "wall_s"),
                cpu_s=col(14, "real", "cpu_s"),
            )

    # -- results ---------------------------------------------------------------------------------
    @_checked
    def add_result(self, row: ResultRow, shifts: Sequence[ShiftRow] = ()) -> None:
        """Insert one classifier result and its scores on the shifted test splits, in one transaction.

        A result stored as finished therefore always has its shift rows; storing a result again replaces its
        shift rows too (rows of shifts not given again are removed).

        Raises:
            AugmentStoreError: A shift row of another (arm, seed, fold), a shift named twice, or a score
                outside [0, 1] (nothing is written).
        """
        _check_shift_rows(row, shifts)
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.arm,
                    row.seed,
                    row.fold,
                    row.run_seed,
                    row.accuracy,
                    row.precision,
                    row.recall,
                    row.f1,
                    row.val_accuracy,
                    row.n_train,
                    row.wall_s,
                    time.time(),
                    row.cpu_s,
                ),
            )
            self.conn.execute(
                "DELETE FROM shift_results WHERE arm = ? AND seed = ? AND fold = ?", (row.arm, row.seed, row.fold)
            )
            self.conn.executemany(
                "INSERT INTO shift_results VALUES (?, ?, ?, ?, ?, ?)",
                [(s.arm, s.seed, s.fold, s.shift, float(s.accuracy), float(s.f1)) for s in shifts],
            )

    @_checked
    def result_keys(self) -> set[tuple[str, int, int]]:
        """``(arm, seed, fold)`` of every stored result."""
        return {(a, int(s), int(f)) for a, s, f in self.conn.execute("SELECT arm, seed, fold FROM results")}

    @_checked
    def results(self) -> list[ResultRow]:
        """Every stored result, ordered by arm, seed, fold."""
        rows = self.conn.execute(
            "SELECT arm, seed, fold, run_seed, accuracy, precision, recall, f1, val_accuracy, n_train, wall_s, cpu_s "
            "FROM results ORDER BY arm, seed, fold"
        )
        kinds = ("text", "int", "int", "int", "real", "real", "real", "real", "real", "int", "real", "real")
        out = []
        for row in rows.fetchall():
            where = f"results row ({str(row[0])[:40]!r}, {row[1]!r}, {row[2]!r})"
            out.append(
                ResultRow(
                    *(check_value(v, k, f"{where}[{i}]") for i, (v, k) in enumerate(zip(row, kinds, strict=True)))
                )
            )
        return out

    # -- shift results ---------------------------------------------------------------------------
    def _has_shift_table(self) -> bool:
        """A store written before ``shift_results`` and opened read-only does not have it."""
        q = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'shift_results'"
        return self.conn.execute(q).fetchone() is not None

    @_checked
    def shift_keys(self) -> set[tuple[str, int, int, str]]:
        """``(arm, seed, fold, shift)`` of every stored shift row."""
        if not self._has_shift_table():
            return set()
        q = "SELECT arm, seed, fold, shift FROM shift_results"
        return {(a, int(s), int(f), sh) for a, s, f, sh in self.conn.execute(q)}

    @_checked
    def shift_results(self) -> list[ShiftRow]:
        """Every stored shift row, ordered by arm, seed, fold, shift (types checked, scores finite in [0, 1])."""
        if not self._has_shift_table():
            return []
        rows = self.conn.execute(
            "SELECT arm, seed, fold, shift, accuracy, f1 FROM shift_results ORDER BY arm, seed, fold, shift"
        ).fetchall()
        out = []
        for r in rows:
            where = f"shift_results row ({str(r[0])[:40]!r}, {r[1]!r}, {r[2]!r}, {str(r[3])[:40]!r})"
            out.append(
                ShiftRow(
                    arm=check_value(r[0], "text", f"{where}.arm"),
                    seed=check_value(r[1], "int", f"{where}.seed"),
                    fold=check_value(r[2], "int", f"{where}.fold"),
                    shift=check_value(r[3], "text", f"{where}.shift"),
                    accuracy=_score(r[4], f"{where}.accuracy"),
                    f1=_score(r[5], f"{where}.f1"),
                )
            )
        return out
