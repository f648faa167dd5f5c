"""The in-place ``c -= a.T @ b`` of layerwise._blas, and the SGD step that folds the weight
update into it: same numbers as the straightforward NumPy computation, on the BLAS path and on
the fallback."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import layerwise
from layerwise import BatchNormalization, Dense, Input, Model, _blas
from layerwise.optimizers import SGD


def _numpy_blas_is_openblas() -> bool:
    try:
        config = np.show_config(mode="dicts")
    except TypeError:  # NumPy < 2 has no mode argument
        return False
    blas = config.get("Build Dependencies", {}).get("blas", {})
    return "openblas" in str(blas.get("name", "")).lower()


@pytest.fixture(params=["blas", "fallback"])
def path(request, monkeypatch):
    """Run a test once through the BLAS call and once through NumPy's product + subtraction."""
    if request.param == "fallback":
        monkeypatch.setattr(_blas, "_routines", None)
    else:  # the small arrays of these tests too
        monkeypatch.setattr(_blas, "MIN_SIZE", 0)
    return request.param


def test_numpys_own_openblas_is_found_on_linux():
    # The fast path must really run where NumPy's wheel bundles OpenBLAS (as in CI); elsewhere
    # the fallback is the documented behaviour, and the other tests cover it.
    expected = sys.platform.startswith("linux") and _numpy_blas_is_openblas()
    assert _blas.available() == expected


def _cases(dtype, rng):
    big = rng.normal(size=(40, 30)).astype(dtype)
    yield "contiguous", rng.normal(size=(7, 5)).astype(dtype), rng.normal(size=(7, 3)).astype(dtype)
    yield "row slices", big[:9, :], rng.normal(size=(20, 4)).astype(dtype)[:9]
    yield "wide row stride", big[:6, :11], big[10:16, 20:23]
    yield "one row", big[:1, :5], rng.normal(size=(1, 2)).astype(dtype)
    yield "fortran a", np.asfortranarray(rng.normal(size=(6, 4))).astype(dtype), rng.normal(
        size=(6, 3)).astype(dtype)
    yield "transposed b", rng.normal(size=(5, 4)).astype(dtype), rng.normal(
        size=(3, 5)).astype(dtype).T
    yield "column stride", big[:8, ::2], big[:8, 1:3]
    yield "no rows", np.zeros((0, 4), dtype), np.zeros((0, 3), dtype)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-14)])
def test_subtract_transposed_product_is_c_minus_a_transposed_times_b(dtype, rtol, path):
    rng = np.random.default_rng(0)
    for name, a, b in _cases(dtype, rng):
        c = rng.normal(size=(a.shape[1], b.shape[1])).astype(dtype)
        expected = c.astype(np.float64) - a.astype(np.float64).T @ b.astype(np.float64)
        a_before, b_before = a.copy(), b.copy()
        _blas.subtract_transposed_product(c, a, b, np.empty_like(c))
        assert c.dtype == dtype, name
        np.testing.assert_allclose(c, expected, rtol=rtol, atol=rtol, err_msg=name)
        np.testing.assert_array_equal(a, a_before, err_msg=name)  # inputs untouched
        np.testing.assert_array_equal(b, b_before, err_msg=name)


def test_arrays_blas_cannot_take_go_through_the_fallback():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    c = rng.normal(size=(4, 3))
    assert _blas._blas_ready(c, a, b)
    assert _blas._blas_ready(c, np.vstack([a, a])[:5], b)  # a slice of leading rows
    assert not _blas._blas_ready(c, a.astype(np.float32), b)  # mixed dtypes
    assert not _blas._blas_ready(c, np.asfortranarray(a), b)  # columns not adjacent
    assert not _blas._blas_ready(c[:, ::-1], a, b)  # negative column stride
    read_only = c.copy()
    read_only.flags.writeable = False
    assert not _blas._blas_ready(read_only, a, b)
    square = rng.normal(size=(4, 4))
    assert not _blas._blas_ready(square, square, square)  # c overlaps its inputs
    # ... and the fallback still computes them right
    expected = c - np.asfortranarray(a).T @ b
    _blas.subtract_transposed_product(c, np.asfortranarray(a), b, np.empty_like(c))
    np.testing.assert_allclose(c, expected, rtol=1e-14)


def _mlp(seed, batch_norm=False, dtype="float32"):
    layerwise.set_seed(seed)
    inputs = Input(shape=(6,))
    h = Dense(8, activation="relu", weights_initializer="glorot_uniform")(inputs)
    if batch_norm:
        h = BatchNormalization()(h)
    h = Dense(5, activation="tanh", weights_initializer="glorot_uniform")(h)
    model = Model(inputs, Dense(3, activation="softmax")(h))
    model.compile(loss_fn="categorical_crossentropy", optimizer=SGD(0.1), dtype=dtype)
    return model


def _data(n=50):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n, 6))
    return x, np.eye(3)[rng.integers(0, 3, n)]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_sgd_fit_with_the_step_folded_into_backward_equals_the_optimizers_update(
    batch_norm, path
):
    # The folded step (each layer descends as soon as the error has passed it) against
    # SGD.update_parameter's p -= lr * g after a full backward pass, in float64.
    x, y = _data()
    folded, plain = _mlp(3, batch_norm, "float64"), _mlp(3, batch_norm, "float64")
    plain.optimizer.gradient_scale = lambda: None  # forces backward, then optimizer.apply
    for model in (folded, plain):
        model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert folded.optimizer.iterations == plain.optimizer.iterations == 12
    for a, b in zip(folded.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(folded.history["loss"], plain.history["loss"], rtol=1e-12)


def test_float32_sgd_fit_matches_the_specs_forward_backward_update_loop(path):
    x, y = _data()
    fitted, manual = _mlp(4), _mlp(4)
    fitted.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for _ in range(2):
        for start in range(0, len(x), 16):
            manual.forward(x[start : start + 16])
            manual.backward(y[start : start + 16])
            manual.update(0.1)
    for a, b in zip(fitted.get_weights(), manual.get_weights()):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
