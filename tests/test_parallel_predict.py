"""predict's inference path (layerwise.inference): every layer's ``_infer`` gives what its
``forward`` gives in inference mode, passes on several threads give what one pass gives, the
BLAS thread setting decides the threads and is restored, and NaN is found in any pass."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import layerwise
from layerwise import (
    Activation,
    Add,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    Maximum,
    Minimum,
    Model,
    Multiply,
    Reshape,
    Subtract,
    _blas,
    inference,
)
from layerwise.ops.affine import affine

TOLERANCE = {"float32": 2e-6, "float64": 1e-13}


def graph_model(dtype: str) -> Model:
    """Two inputs, two outputs, and every layer that has an ``_infer``: BN with moving
    statistics away from 0 and 1, Dropout, each merge, reshaping, an activation layer."""
    layerwise.set_seed(3)
    a, b = Input((4, 3), name="a"), Input((6,), name="b")
    flat = Flatten()(a)
    h = Dense(16, activation="relu")(flat)
    norm = BatchNormalization()
    h = Dropout(0.5)(norm(h))
    g = Dense(16, activation="tanh", use_bias=False)(b)
    k = Dense(16, activation="sigmoid")(flat)
    merged = [Add()([h, g, k]), Subtract()([h, g]), Multiply()([h, g, k]),
              Average()([h, g, k]), Maximum()([h, g, k]), Minimum()([g, h])]
    joined = Concatenate()(merged)
    shaped = Flatten()(Reshape((8, 12))(joined))
    gelu = Activation("gelu")(Dense(12)(shaped))
    probabilities = Dense(5, activation="softmax")(gelu)
    model = Model([a, b], [probabilities, Dense(2)(shaped)])
    model.compile(loss=["categorical_crossentropy", "mse"], dtype=dtype)
    rng = np.random.default_rng(0)
    norm.moving_mean[:] = rng.normal(size=16)
    norm.moving_variance[:] = rng.uniform(0.5, 2.0, size=16)
    norm.gamma[:] = rng.normal(size=16)
    norm.beta[:] = rng.normal(size=16)
    return model


def inputs(n: int, dtype: str, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 4, 3)).astype(dtype), rng.normal(size=(n, 6)).astype(dtype)]


def layer_by_layer(model: Model, xs: list[np.ndarray]) -> list[np.ndarray]:
    """The plain forward, one pass over all rows, in inference mode (copies: the layers keep
    their arrays)."""
    model._set_training(False)
    return [out.copy() for out in model._graph.forward(xs)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 7, 3000])
def test_every_layers_infer_gives_its_forward_output(dtype, n):
    model = graph_model(dtype)
    assert model._graph.inferable
    xs = inputs(n, dtype)
    expected = layer_by_layer(model, xs)
    workspace = [None] * len(model._graph.layers)
    for scratch in (None, workspace, workspace):  # fresh arrays, then written over twice
        got = model._graph.infer(xs, scratch)
        for out, want in zip(got, expected):
            assert out.dtype == np.dtype(dtype) and out.shape == want.shape
            np.testing.assert_allclose(out, want, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    for x, original in zip(xs, inputs(n, dtype)):
        np.testing.assert_array_equal(x, original)  # the inputs are never written


def passes_on_threads(monkeypatch, meet: int = 0) -> list[tuple[int, int]]:
    """Record (thread id, BLAS threads) of every pass predict runs. With ``meet``, the first
    pass of each thread waits until ``meet`` threads have started one (so that on a busy
    machine the calling thread cannot finish every pass before a helper is scheduled)."""
    seen: list[tuple[int, int]] = []
    run = inference._run_pass
    barrier = threading.Barrier(meet) if meet else None

    def recording(*args):
        if barrier is not None and all(t != threading.get_ident() for t, _ in seen):
            seen.append((threading.get_ident(), _blas.blas_threads()))
            barrier.wait(timeout=30)  # a thread that never comes breaks it: the test fails
        else:
            seen.append((threading.get_ident(), _blas.blas_threads()))
        return run(*args)

    monkeypatch.setattr(inference, "_run_pass", recording)
    monkeypatch.setattr(inference, "_cores", lambda: 2)  # the threads even on a 1-core runner
    monkeypatch.setattr(inference, "MIN_PARALLEL_WORK", 0)  # and for this small model
    return seen


needs_blas = pytest.mark.skipif(not _blas.available(), reason="NumPy's OpenBLAS not found")


@needs_blas
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_on_two_threads_equals_the_layer_by_layer_forward(monkeypatch, dtype):
    model = graph_model(dtype)
    xs = inputs(6000, dtype)
    expected = layer_by_layer(model, xs)
    seen = passes_on_threads(monkeypatch, meet=2)
    with threadpool_limits(2, user_api="blas"):
        assert inference.threads_for(model._graph, 6000) == 2
        got = model.predict(xs, batch_size=1000)
        assert _blas.blas_threads() == 2  # restored
    assert len(seen) == 6000 // 750  # passes of ceil(6000 / (2 threads * 4)) rows
    assert len({thread for thread, _ in seen}) == 2
    assert {blas for _, blas in seen} == {1}  # one BLAS thread each while they run
    for out, want in zip(got, expected):
        np.testing.assert_allclose(out, want, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@needs_blas
def test_one_blas_thread_runs_the_passes_on_the_calling_thread(monkeypatch):
    model = graph_model("float32")
    xs = inputs(6000, "float32")
    expected = layer_by_layer(model, xs)
    seen = passes_on_threads(monkeypatch)
    with threadpool_limits(1, user_api="blas"):
        got = model.predict(xs, batch_size=2500)
    assert {thread for thread, _ in seen} == {threading.get_ident()}
    assert len(seen) == 3
    for out, want in zip(got, expected):
        np.testing.assert_allclose(out, want, rtol=2e-6, atol=2e-6)


def test_small_inputs_and_models_with_other_layers_run_on_one_thread(monkeypatch):
    model = graph_model("float32")
    monkeypatch.setattr(inference, "_cores", lambda: 2)
    with threadpool_limits(2, user_api="blas"):
        assert inference.threads_for(model._graph, 600) == 1  # too little work for threads
    seen = passes_on_threads(monkeypatch)
    with threadpool_limits(2, user_api="blas"):
        assert inference.threads_for(model._graph, 2 * inference.MIN_PASS_ROWS - 1) == 1
        tokens = Input((5,), dtype="int64")
        embedded = Model(tokens, Dense(3)(Flatten()(Embedding(10, 4)(tokens))))
        embedded.compile(loss="mse")
        assert not embedded._graph.inferable
        assert inference.threads_for(embedded._graph, 100_000) == 1
        ids = np.random.default_rng(0).integers(0, 10, size=(3000, 5))
        np.testing.assert_allclose(embedded.predict(ids, batch_size=1000),
                                   layer_by_layer(embedded, [ids])[0], rtol=1e-6)
    assert len({thread for thread, _ in seen}) == 1


@needs_blas
@pytest.mark.parametrize("rows", [[5999], [4100, 700], [3000, 5000]])
def test_nan_in_any_pass_names_the_first_bad_sample(monkeypatch, rows):
    model = graph_model("float32")
    xs = inputs(6000, "float32")
    for row in rows:
        xs[1][row, 2] = np.nan
    passes_on_threads(monkeypatch)
    with threadpool_limits(2, user_api="blas"):
        with pytest.raises(ValueError) as error:
            model.predict(xs)
        assert _blas.blas_threads() == 2  # restored after the failure too
    assert f"sample {min(rows)}" in str(error.value) and "x[1]" in str(error.value)


@needs_blas
def test_one_thread_blocks_restore_the_count_after_the_last_closes():
    with threadpool_limits(2, user_api="blas"):
        with _blas.one_thread():
            assert _blas.blas_threads() == 1
            with _blas.one_thread():  # another predict, e.g. from another Python thread
                pass
            assert _blas.blas_threads() == 1
        assert _blas.blas_threads() == 2
        with pytest.raises(RuntimeError), _blas.one_thread():
            raise RuntimeError
        assert _blas.blas_threads() == 2


@pytest.mark.parametrize("n", [3, 1000])  # below and above the direct BLAS call's size
def test_affine_is_the_product_plus_the_bias(n):
    rng = np.random.default_rng(5)
    x, w, b = rng.normal(size=(n, 40)), rng.normal(size=(40, 50)), rng.normal(size=50)
    expected = np.einsum("nk,km->nm", x, w) + b  # not BLAS: an independent sum
    np.testing.assert_allclose(affine(x, w, b), expected, rtol=1e-12, atol=1e-12)
    out = np.full((n, 50), np.nan)
    assert affine(x, w, b, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    strided = np.asfortranarray(x)  # BLAS cannot take it as it is: NumPy's product instead
    np.testing.assert_allclose(affine(strided, w, b), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(affine(x, w, None), expected - b, rtol=1e-12, atol=1e-12)


def dense_fed_model() -> Model:
    """An input feeding only dense layers no wider than it: predict checks it for NaN through
    their products. Row 0 of the first kernel is negative, so that an infinite feature 0 turns
    into -inf before ReLU, which ReLU would hide."""
    layerwise.set_seed(4)
    inputs = Input((12,))
    first = Dense(8, activation="relu")
    h = Add()([first(inputs), Dense(8, activation="relu")(inputs)])
    model = Model(inputs, Dense(3, activation="softmax")(h))
    model.compile(loss="categorical_crossentropy")
    first.weights[0] = -np.abs(first.weights[0]) - 0.1
    return model


def chain_model() -> Model:
    """Input -> Dense -> Dense: a chain, which Graph.infer runs by its shortest loop."""
    layerwise.set_seed(5)
    inputs = Input((12,))
    model = Model(inputs, Dense(3, activation="softmax")(Dense(8, activation="relu")(inputs)))
    model.compile(loss="categorical_crossentropy")
    return model


def test_inputs_that_feed_only_narrower_dense_layers_are_checked_by_their_products():
    checked, layers = inference.checks_by_product(dense_fed_model()._graph)
    assert checked == [True] and len(layers) == 2
    checked, _ = inference.checks_by_product(graph_model("float32")._graph)
    assert checked == [False, False]  # through Flatten; into a wider Dense


@pytest.mark.parametrize("make", [dense_fed_model, chain_model])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_product_check_finds_nan_and_infinity_in_any_pass(monkeypatch, make, threads, bad):
    model = make()
    x = np.random.default_rng(2).normal(size=(5000, 12)).astype(np.float32)
    x[3217, 0], x[4999, 5] = bad, bad
    passes_on_threads(monkeypatch)
    with threadpool_limits(threads, user_api="blas"):
        for batch_size in (None, 700):
            with pytest.raises(ValueError, match="first in sample 3217"):
                model.predict(x, batch_size=batch_size)
        with pytest.raises(ValueError, match="first in sample 17"):
            model.predict(x[3200:])  # one pass
        with pytest.raises(ValueError, match="first in sample 17"):
            model.predict(x[3200:3500])  # one pass, below the rows for threads


def test_a_product_that_overflows_from_finite_inputs_is_not_refused():
    model = dense_fed_model()
    x = np.random.default_rng(3).normal(size=(3000, 12)).astype(np.float32)
    x[1000] = 3e38  # finite, but the products overflow to infinity
    expected = layer_by_layer(model, [x])[0]
    with np.errstate(all="ignore"):
        got = model.predict(x, batch_size=1000)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6)
    assert np.isfinite(np.delete(got, 1000, axis=0)).all()


@needs_blas
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_predicts_on_threads_of_its_own(monkeypatch):
    model = graph_model("float64")
    xs = inputs(4000, "float64")
    passes_on_threads(monkeypatch)
    with threadpool_limits(2, user_api="blas"):
        expected = model.predict(xs)  # the parent's helper threads exist now
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                got = model.predict(xs)
                ok = all(np.allclose(g, e, rtol=1e-12, atol=1e-12) for g, e in zip(got, expected))
                os.write(write, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write)
        deadline = time.monotonic() + 20
        while os.waitpid(child, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                pytest.fail("predict in a forked child did not finish")
            time.sleep(0.01)
        assert os.read(read, 1) == b"1"
        os.close(read)


def shape_and_pooling_model(dtype: str) -> Model:
    """The other layers with an ``_infer``: LayerNormalization (scaled, shifted or neither),
    max and average pooling with and without padding, global pooling, and the layers that move
    values (RepeatVector, Permute, padding, cropping, up-sampling)."""
    layerwise.set_seed(4)
    inputs = Input((6, 5, 2))
    h = layerwise.LayerNormalization()(inputs)
    h = layerwise.ZeroPadding2D(((1, 0), (0, 1)))(h)                    # (7, 6, 2)
    h = layerwise.MaxPooling2D(2, padding="same")(h)                    # (4, 3, 2)
    h = layerwise.UpSampling2D((2, 1))(h)                               # (8, 3, 2)
    h = layerwise.AveragePooling2D((2, 2), strides=1)(h)                # (7, 2, 2)
    h = layerwise.Cropping2D(((1, 1), (0, 0)))(h)                       # (5, 2, 2)
    a = layerwise.GlobalMaxPooling2D()(h)
    b = layerwise.GlobalAveragePooling2D()(h)
    seq = layerwise.RepeatVector(4)(Concatenate()([a, b]))              # (4, 4)
    seq = layerwise.LayerNormalization(center=False)(seq)               # over the 4 features
    seq = layerwise.UpSampling1D(2)(layerwise.ZeroPadding1D(1)(seq))    # (12, 4)
    seq = layerwise.AveragePooling1D(3, padding="same")(layerwise.Cropping1D((1, 2))(seq))
    seq = layerwise.Permute((2, 1))(seq)                                # (4, 3): steps vary
    seq = layerwise.MaxPooling1D(2)(layerwise.LayerNormalization(scale=False)(seq))
    pooled = [layerwise.GlobalMaxPooling1D()(seq), layerwise.GlobalAveragePooling1D()(seq)]
    model = Model(inputs, Dense(3, activation="softmax")(Concatenate()(pooled)))
    model.compile(loss="categorical_crossentropy", dtype=dtype)
    for layer in model.layers:  # scale and shift away from 1 and 0
        for name, array in layer.parameters().items():
            if name in ("gamma", "beta"):
                array[...] = np.random.default_rng(5).normal(size=array.shape)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 7, 600])
def test_the_shape_and_pooling_layers_infer_as_they_forward(dtype, n):
    model = shape_and_pooling_model(dtype)
    assert model._graph.inferable
    x = np.random.default_rng(6).normal(size=(n, 6, 5, 2)).astype(dtype)
    original = x.copy()
    expected = layer_by_layer(model, [x])
    workspace = [None] * len(model._graph.layers)
    for scratch in (None, workspace, workspace):
        got = model._graph.infer([x], scratch)
        np.testing.assert_allclose(got[0], expected[0], rtol=TOLERANCE[dtype],
                                   atol=TOLERANCE[dtype])
    np.testing.assert_allclose(model.predict(x), expected[0], rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype])
    np.testing.assert_array_equal(x, original)
    if n > 1:  # the output depends on the sample (no layer washes its input out)
        assert np.ptp(expected[0], axis=0).max() > 1e-3


@needs_blas
def test_a_pooling_model_predicts_on_two_threads_as_on_one(monkeypatch):
    model = shape_and_pooling_model("float64")
    x = np.random.default_rng(7).normal(size=(2000, 6, 5, 2))
    expected = layer_by_layer(model, [x])[0]
    seen = passes_on_threads(monkeypatch, meet=2)
    with threadpool_limits(2):
        got = model.predict(x)
    assert len({thread for thread, _ in seen}) == 2  # the passes ran on two threads
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
