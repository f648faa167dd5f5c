"""The cached constants and the BLAS-backed small reductions of layerwise._constants: the same
numbers as NumPy's own reductions, for every shape they can meet."""

from __future__ import annotations

import numpy as np
import pytest

from layerwise import _constants
from layerwise.activations import Softmax

SHAPES = [(5,), (0, 3), (4, 0), (7, 10), (3, 4, 6), (1, 1)]


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("shape", SHAPES)
def test_row_sums_are_sums_over_the_last_axis(shape, dtype, rtol):
    a = np.random.default_rng(0).normal(size=shape).astype(dtype)
    got = _constants.row_sums(a)
    expected = a.astype(np.float64).sum(axis=-1, keepdims=True)
    assert got.shape == expected.shape and got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("shape", [(0, 3), (4, 0), (7, 10), (128, 256), (1, 1)])
def test_column_sums_are_sums_over_the_first_axis(shape, dtype, rtol):
    a = np.random.default_rng(1).normal(size=shape).astype(dtype)
    out = np.full(shape[1], np.nan, dtype=dtype)
    assert _constants.column_sums(a, out=out) is out
    np.testing.assert_allclose(out, a.astype(np.float64).sum(axis=0), rtol=rtol, atol=rtol)


def test_integer_arrays_keep_numpys_reductions():
    a = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(_constants.row_sums(a), a.sum(axis=1, keepdims=True))
    out = np.empty(4, dtype=a.dtype)
    np.testing.assert_array_equal(_constants.column_sums(a, out=out), a.sum(axis=0))


def _reference_softmax(x):
    z = x.astype(np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-13)])
def test_softmax_with_either_shift_matches_the_row_maximum_softmax(dtype, rtol):
    rng = np.random.default_rng(2)
    narrow = rng.normal(size=(50, 10)) * 5  # within 64 of the maximum: one global shift
    wide = narrow.copy()
    wide[0] -= 500  # a row far below the others: row maxima, or that row would be 0/0
    wide[1] += 300
    for x in (narrow, wide):
        x = x.astype(dtype)
        got = Softmax().forward(x)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, _reference_softmax(x), rtol=rtol, atol=1e-30)
    assert np.ndim(_constants.row_max_shift(narrow)) == 0
    assert _constants.row_max_shift(wide).shape == (50, 1)


def test_float16_scores_take_the_row_maxima():
    # exp(-64) underflows in float16: a row 30 below the other must still get probabilities.
    x = np.tile(np.array([[0.0, 1.0, 2.0], [-30.0, -29.0, -28.0]], dtype=np.float16), 100)
    assert x.size >= 256  # large enough for the global shift, were it float32
    assert _constants.row_max_shift(x).shape == (2, 1)
    got = Softmax().forward(x)
    np.testing.assert_allclose(got, _reference_softmax(x), rtol=2e-3)


def test_non_finite_scores_take_the_row_maxima():
    x = np.array([[1.0, 2.0], [np.inf, 0.0], [np.nan, 1.0]])
    np.testing.assert_array_equal(_constants.row_max_shift(x), [[2.0], [np.inf], [np.nan]])
    assert _constants.row_max_shift(np.zeros((0, 3))).shape == (0, 1)


def test_constants_are_read_only_and_fall_back_beyond_the_limit(monkeypatch):
    monkeypatch.setattr(_constants, "_CACHE", {})
    monkeypatch.setattr(_constants, "LIMIT", 100)
    ones = _constants.constant(1.0, 40, np.float32)
    assert ones.shape == (40,) and ones.dtype == np.float32 and (ones == 1).all()
    with pytest.raises(ValueError):
        ones[0] = 2.0
    assert _constants.constant(1.0, 101, np.float32) is None
    big = np.arange(120.0).reshape(10, 12)
    np.testing.assert_array_equal(_constants.row_sums(big), big.sum(axis=1, keepdims=True))
    assert _constants.zeros_like(big) == 0  # the scalar
    assert _constants.zeros_like(np.ones((3, 4))) == 0  # small: the scalar as well
    monkeypatch.setattr(_constants, "LIMIT", 10_000)
    zeros = _constants.zeros_like(np.ones((8, 8, 64)))
    assert zeros.shape == (8, 8, 64) and not zeros.any() and not zeros.flags.writeable
