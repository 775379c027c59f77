"""Grid: validation, identity round trip, the cell limit."""

from __future__ import annotations

import pytest

from latentbridge.errors import InputError
from latentbridge.qd import Grid
from latentbridge.qd._grid import MAX_CELLS, check_cells


def test_grid_normalises_and_round_trips() -> None:
    g = Grid((200, 200), ((0, 784), (0.5, 1)), 0, ("boldness", "lightness"))
    assert g.cells == 40_000
    assert g.n_measures == 2
    assert g.ranges == ((0.0, 784.0), (0.5, 1.0))
    assert Grid.from_config(g.config()) == g
    assert Grid((3,), ((0, 1),)).names == ("m0",)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (((0, 3), ((0, 1), (0, 1))), "positive ints"),
        (((3,), ((1, 0),)), "low < high"),
        (((3,), ((0, float("inf")),)), "finite"),
        (((3, 3), ((0, 1),)), "2 finite"),
        (((MAX_CELLS + 1,), ((0, 1),)), "more than"),
        (((3,), ((0, 1),), float("nan")), "qd_offset"),
        (((3,), ((0, 1),), 0.0, ("a", "b")), "one per measure"),
    ],
)
def test_bad_grids_raise_one_clear_error(args: tuple, match: str) -> None:
    with pytest.raises(InputError, match=match):
        Grid(*args)


def test_from_config_and_cells_checks() -> None:
    with pytest.raises(InputError, match="needs dims"):
        Grid.from_config({"dims": [3]})
    with pytest.raises(InputError, match="invalid grid config"):
        Grid.from_config({"dims": [3], "ranges": [[0, "x"]], "qd_offset": 0})
    assert check_cells(5, 2) == (5, 5)
    assert check_cells((4, 6), 2) == (4, 6)
    with pytest.raises(InputError, match="2 ints"):
        check_cells((4, 6, 8), 2)
