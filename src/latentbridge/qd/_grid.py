"""The grid of a quality-diversity archive: cells per measure, their ranges and the QD-score offset."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["MAX_CELLS", "Grid"]

#: The most cells a grid may have (pyribs allocates every cell up front): 4 million, 20× lsi_mnist's 200×200.
MAX_CELLS = 4_000_000


@dataclass(frozen=True)
class Grid:
    """A regular grid over the measure space, as pyribs' ``GridArchive`` lays it out.

    Attributes:
        dims: Cells along each measure.
        ranges: ``(low, high)`` of each measure; values outside go to the edge cells.
        qd_offset: Subtracted from every objective before summing the QD-score (pyribs'
            ``qd_score_offset``), so that elites count positively.
        names: The measures' names (one per dimension).
    """

    dims: tuple[int, ...]
    ranges: tuple[tuple[float, float], ...]
    qd_offset: float = 0.0
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        dims = tuple(self.dims)
        if not dims or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dims):
            raise InputError(f"grid cells must be positive ints, one per measure, got {self.dims!r}")
        if math.prod(int(d) for d in dims) > MAX_CELLS:
            raise InputError(f"grid {dims} has more than {MAX_CELLS:,} cells; use fewer cells per measure")
        ranges = tuple((float(a), float(b)) for a, b in self.ranges)
        if len(ranges) != len(dims) or any(not (np.isfinite(a) and np.isfinite(b) and a < b) for a, b in ranges):
            raise InputError(
                f"grid ranges must be {len(dims)} finite (low, high) pairs with low < high, got {self.ranges!r}"
            )
        if not np.isfinite(self.qd_offset):
            raise InputError(f"qd_offset must be finite, got {self.qd_offset!r}")
        names = tuple(self.names) or tuple(f"m{i}" for i in range(len(dims)))
        if len(names) != len(dims):
            raise InputError(f"grid names must be one per measure ({len(dims)}), got {self.names!r}")
        object.__setattr__(self, "dims", tuple(int(d) for d in dims))
        object.__setattr__(self, "ranges", ranges)
        object.__setattr__(self, "qd_offset", float(self.qd_offset))
        object.__setattr__(self, "names", names)

    @property
    def cells(self) -> int:
        """Total number of cells."""
        return math.prod(self.dims)

    @property
    def n_measures(self) -> int:
        """Dimensions of the measure space."""
        return len(self.dims)

    def config(self) -> dict[str, Any]:
        """JSON-able description (stored next to archives)."""
        return {
            "dims": list(self.dims),
            "ranges": [list(r) for r in self.ranges],
            "qd_offset": self.qd_offset,
            "names": list(self.names),
        }

    @classmethod
    def from_config(cls, cfg: Any) -> Grid:
        """The grid :meth:`config` described, or one clear error."""
        if not isinstance(cfg, dict) or not {"dims", "ranges", "qd_offset"} <= cfg.keys():
            raise InputError(f"a grid config needs dims, ranges and qd_offset, got {cfg!r}")
        try:
            return cls(
                tuple(cfg["dims"]),
                tuple(tuple(r) for r in cfg["ranges"]),
                float(cfg["qd_offset"]),
                tuple(cfg.get("names", ())),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"invalid grid config {cfg!r}: {exc}") from None


def check_cells(cells: Any, n_measures: int) -> tuple[int, ...]:
    """``cells`` (an int for every measure or one int per measure) as a tuple of ``n_measures`` ints."""
    if isinstance(cells, (int, np.integer)) and not isinstance(cells, bool):
        return (int(cells),) * n_measures
    if isinstance(cells, Sequence) and not isinstance(cells, str) and len(cells) == n_measures:
        return tuple(cells)
    raise InputError(f"grid must be an int or {n_measures} ints (cells per measure), got {cells!r}")
