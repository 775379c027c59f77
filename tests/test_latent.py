"""LatentSpace: shapes, prior sampling, truncation, bounds, validation."""

from __future__ import annotations

import numpy as np
import pytest

import latentbridge as lb
from latentbridge.errors import InputError


def test_dim_and_sampling_shape() -> None:
    space = lb.LatentSpace((3, 4))
    assert space.dim == 12
    z = space.sample(5, seed=0)
    assert z.shape == (5, 12)
    assert z.dtype == np.float64


def test_sampling_is_seeded_and_standard_normal() -> None:
    space = lb.LatentSpace((64,))
    a = space.sample(2000, seed=1)
    np.testing.assert_array_equal(a, space.sample(2000, seed=1))
    assert not np.array_equal(a, space.sample(2000, seed=2))
    assert abs(a.mean()) < 0.02
    assert abs(a.std() - 1.0) < 0.02


def test_loc_scale_are_applied_per_coordinate() -> None:
    loc = np.array([10.0, -5.0])
    space = lb.LatentSpace((2,), loc=loc, scale=np.array([0.1, 2.0]))
    z = space.sample(20_000, seed=0)
    np.testing.assert_allclose(z.mean(0), loc, atol=0.05)
    np.testing.assert_allclose(z.std(0), [0.1, 2.0], rtol=0.03)
    lo, hi = space.bounds(3.0)
    np.testing.assert_allclose(lo, [9.7, -11.0])
    np.testing.assert_allclose(hi, [10.3, 1.0])


def test_truncation_bounds_samples() -> None:
    space = lb.LatentSpace((16,), truncation=0.5)
    z = space.sample(1000, seed=0)
    assert np.abs(z).max() <= 0.5
    lo, hi = space.bounds()
    np.testing.assert_allclose(hi, 0.5)
    np.testing.assert_allclose(lo, -0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": ()}, "non-empty"),
        ({"shape": (0,)}, "positive"),
        ({"shape": (3,), "scale": 0.0}, "scale"),
        ({"shape": (3,), "loc": np.zeros(4)}, "broadcast"),
        ({"shape": (3,), "truncation": -1.0}, "truncation"),
    ],
)
def test_bad_spaces_are_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        lb.LatentSpace(**kwargs)  # type: ignore[arg-type]


def test_config_is_json_friendly() -> None:
    import json

    cfg = lb.LatentSpace((2, 3), loc=np.zeros((2, 3)), name="w+").config()
    assert json.loads(json.dumps(cfg))["shape"] == [2, 3]
