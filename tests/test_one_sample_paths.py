"""The inference shortcuts of one-sample predict give what the general paths give.

Each shortcut is compared with the path it stands in for (the training path of the same op, or
the general conversion), in float32 and float64, for one sample and for many; the recurrent
kernels' one-sample loop also against PyTorch in float64, masks included.
"""

import functools

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import layerwise
from layerwise import Conv2D, Dense, Flatten, Input, MaxPooling2D, Model
from layerwise.ops import conv as conv_ops
from layerwise.ops import pooling
from layerwise.ops import recurrent as R
from layerwise.ops.geometry import strided_view
from layerwise.ops.workspace import Workspace

DTYPES = [np.float32, np.float64]


# ------------------------------------------------------------------ predict's input check
def _model(dtype="float32"):
    layerwise.set_seed(0)
    inputs = Input((4, 3))
    model = Model(inputs, Dense(2)(Flatten()(inputs)))
    model.compile(loss="mse", dtype=dtype)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 6])
def test_a_ready_array_predicts_as_its_converted_copies(dtype, n):
    model = _model(dtype)
    x = np.random.default_rng(0).standard_normal((n, 4, 3)).astype(dtype)
    ready = model.predict(x)
    assert model._ready_input(x)  # the shortcut is taken
    np.testing.assert_array_equal(ready, model.predict(np.asfortranarray(x)))
    np.testing.assert_array_equal(ready, model.predict(x.tolist()))
    assert ready.dtype == np.dtype(dtype)


def test_arrays_the_shortcut_does_not_take_go_the_general_way():
    model = _model()
    x = np.ones((2, 4, 3), np.float32)
    assert not model._ready_input(x.astype(np.float64))  # converted
    assert not model._ready_input(np.asfortranarray(x))  # copied
    assert not model._ready_input(x[:, :, :2])  # wrong shape: refused below
    with pytest.raises(ValueError, match="shape"):
        model.predict(x[:, :, :2])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_the_shortcut_still_refuses_nan_and_infinity(bad):
    model = _model()
    x = np.ones((1, 4, 3), np.float32)
    x[0, 1, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.predict(x)


@pytest.mark.parametrize("n", [1, 255, 256, 600])
def test_predict_never_returns_the_callers_memory(n):
    # A model whose output is a view of its input: both the few-sample shortcut (n < 256) and
    # the pass-wise path must hand back an array of predict's own.
    inputs = Input((4, 3))
    model = Model(inputs, layerwise.Reshape((12,))(inputs))
    model.compile(loss="mse")
    x = np.arange(n * 12, dtype=np.float32).reshape(n, 4, 3)
    out = model.predict(x)
    np.testing.assert_array_equal(out, x.reshape(n, 12))
    assert not np.shares_memory(out, x)
    out[...] = -1
    assert x[0, 0, 1] == 1.0


def test_the_shortcut_runs_in_inference_mode_and_gives_training_mode_back_inside_fit():
    # Dropout is the identity in predict; a callback's predict inside fit leaves the rest of
    # the epoch in training mode (dropout active again for the next batch).
    layerwise.set_seed(0)
    inputs = Input((50,))
    model = Model(inputs, layerwise.Dropout(0.5)(inputs))
    model.compile(loss="mse", optimizer="sgd")
    x = np.ones((1, 50), np.float32)
    modes = []

    class Probe(layerwise.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            np.testing.assert_array_equal(self.model.predict(x), x)  # the shortcut
            modes.append(self.model.layers[1].training)

    model.fit(np.ones((8, 50), np.float32), np.ones((8, 50), np.float32), epochs=1,
              batch_size=4, verbose=0, callbacks=[Probe()])
    assert modes == [True, True]
    np.testing.assert_array_equal(model.predict(x), x)
    assert model.layers[1].training is False


def test_the_cached_pass_size_follows_a_growing_sequential():
    model = layerwise.Sequential([Input((3,)), Dense(4)])
    model.compile(loss="mse")
    assert model.predict(np.ones((2, 3), np.float32)).shape == (2, 4)
    model.add(Dense(5000))  # a wide layer: fewer rows per pass
    model.compile(loss="mse")
    assert model._predict_batch() == 2**21 // 5000
    assert model.predict(np.ones((1000, 3), np.float32)).shape == (1000, 5000)


# ---------------------------------------------------------------------------- strided views
def test_strided_view_equals_as_strided_and_keeps_its_flags():
    x = np.arange(30.0).reshape(5, 6)
    shape, strides = (4, 5, 2, 2), (48, 8, 48, 8)
    fast = strided_view(x, shape, strides, writeable=False)
    np.testing.assert_array_equal(fast, as_strided(x, shape, strides))
    assert not fast.flags.writeable
    assert strided_view(x, shape, strides, writeable=True).flags.writeable
    transposed = x.T  # not C-contiguous: the as_strided path
    view = strided_view(transposed, (5, 5), transposed.strides, writeable=False)
    np.testing.assert_array_equal(view, transposed[:5])


# ---------------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("pool", [(2, 2), (3, 3), (1, 2), (2, 1), (3, 2)])
def test_inference_max_pooling_equals_the_training_path(dtype, n, pool):
    x = np.random.default_rng(1).standard_normal((n, 11, 10, 3)).astype(dtype)
    x[0, 0, 0, 0] = np.nan  # NaN propagates in both
    geometry = conv_ops.conv_geometry((11, 10), 3, pool, strides=pool)
    inference = pooling.max_pool2d_forward(x, geometry, Workspace(), keep_choices=False)
    training = pooling.max_pool2d_forward(x, geometry, Workspace(), keep_choices=True)
    np.testing.assert_array_equal(inference, training)
    oh, ow = geometry.output_size
    windows = x[:, : oh * pool[0], : ow * pool[1]].reshape(n, oh, pool[0], ow, pool[1], 3)
    np.testing.assert_array_equal(inference, windows.max(axis=(2, 4)))  # independent


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 11, 11, 32), (4, 3, 5, 2), (3, 9, 2)])
def test_global_average_pooling_equals_numpy_mean_exactly(dtype, shape):
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype) * 100
    expected = x.mean(axis=tuple(range(1, x.ndim - 1)))
    result = pooling.global_pool_forward(x, "avg")
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result, expected)


# ------------------------------------------------------------------------------ convolution
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("channels", [1, 3, 7, 12])
@pytest.mark.parametrize("options", [{}, {"strides": (2, 1), "padding": "same"},
                                     {"dilation": (2, 2)}])
def test_inference_convolution_equals_the_training_path(dtype, n, channels,
                                                                         options):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 9, 8, channels)).astype(dtype)
    kernel = rng.standard_normal((3, 2, channels, 5)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    geometry = conv_ops.conv_geometry((9, 8), channels, (3, 2), **options)
    workspace = Workspace()
    inference, _ = conv_ops.conv2d_forward(x, kernel, bias, geometry, workspace,
                                           keep_columns=False)
    training, columns = conv_ops.conv2d_forward(x, kernel, bias, geometry, Workspace())
    assert columns is not None
    tolerance = 1e-5 if dtype == np.float32 else 1e-12  # BLAS may sum in another order
    np.testing.assert_allclose(inference, training, rtol=tolerance, atol=tolerance)
    # Independent: every output position as a sum over the kernel, in float64.
    (top, _), (left, _) = geometry.padding
    padded = np.zeros((n, *geometry.padded_size, channels))
    padded[:, top:top + 9, left:left + 8] = x
    (sh, sw), (dh, dw) = geometry.strides, geometry.dilation
    expected = np.zeros((n, *geometry.output_size, 5))
    for i in range(3):
        for j in range(2):
            patch = padded[:, i * dh:, j * dw:][:, ::sh, ::sw][:, :geometry.output_size[0],
                                                               :geometry.output_size[1]]
            expected += patch @ kernel[i, j].astype(np.float64)
    np.testing.assert_allclose(inference, expected + bias, rtol=1e-4, atol=1e-5)
    # Another batch size, a training pass on the same workspace (which may reallocate the
    # columns), then that batch size again: the kept one-pass plan stays valid.
    one, _ = conv_ops.conv2d_forward(x[:1], kernel, bias, geometry, workspace,
                                     keep_columns=False)
    conv_ops.conv2d_forward(np.concatenate([x, x]), kernel, bias, geometry, workspace)
    again, _ = conv_ops.conv2d_forward(x[:1], kernel, bias, geometry, workspace,
                                       keep_columns=False)
    np.testing.assert_array_equal(again, one)
    np.testing.assert_allclose(one, inference[:1], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("channels", [1, 3, 12])
@pytest.mark.parametrize("options", [{}, {"strides": (2, 1), "padding": "same"},
                                     {"dilation": (2, 2)}, {"padding": "same"}])
@pytest.mark.parametrize("with_bias", [True, False])
def test_the_few_sample_convolution_equals_the_one_pass_path(dtype, n, channels, options,
                                                             with_bias):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, 9, 8, channels)).astype(dtype)
    kernel = rng.standard_normal((3, 2, channels, 5)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype) if with_bias else None
    geometry = conv_ops.conv_geometry((9, 8), channels, (3, 2), **options)
    workspace = Workspace()
    shape = (n, *geometry.output_size, 5)
    few = conv_ops.conv2d_forward_few(x, kernel.reshape(-1, 5), bias, geometry, workspace,
                                      shape)
    general, _ = conv_ops.conv2d_forward(x, kernel, bias, geometry, Workspace(),
                                         keep_columns=False)
    tolerance = 1e-5 if dtype == np.float32 else 1e-13  # the bias is added after the product
    np.testing.assert_allclose(few, general, rtol=tolerance, atol=tolerance)
    # a training pass on the same workspace (it may reallocate the shared buffers), another
    # input, then the first again: the kept plan stays valid and its border stays zero
    conv_ops.conv2d_forward(np.concatenate([x, x]), kernel, bias, geometry, workspace)
    other = conv_ops.conv2d_forward_few(x[::-1] * 2, kernel.reshape(-1, 5), bias, geometry,
                                        workspace, shape)
    again = conv_ops.conv2d_forward_few(x, kernel.reshape(-1, 5), bias, geometry, workspace,
                                        shape)
    np.testing.assert_array_equal(again, few)
    assert not np.shares_memory(again, few) and not np.shares_memory(other, again)


@pytest.mark.parametrize("layer_type, shape, options", [
    (layerwise.Conv1D, (20, 3), {"padding": "causal", "dilation_rate": 2}),
    (layerwise.Conv1D, (20, 9), {"strides": 2, "padding": "same"}),
    (Conv2D, (7, 6, 2), {"padding": "same", "activation": "tanh"}),
    (Conv2D, (7, 6, 2), {"use_bias": False, "activation": "relu"}),
])
def test_a_conv_layers_one_sample_inference_equals_its_training_forward(layer_type, shape,
                                                                         options):
    import copy
    import pickle

    layerwise.set_seed(1)
    inputs = Input(shape)
    layer = layer_type(4, 3, **options)
    model = Model(inputs, layer(inputs))
    model.compile(loss="mse", dtype="float64")
    x = np.random.default_rng(9).standard_normal((2, *shape))
    assert layer._gathered_per_sample <= conv_ops.FEW_SAMPLE_VALUES  # the shortcut is taken
    layer.training = True
    expected = layer.forward(x).copy()
    layer.training = False
    np.testing.assert_allclose(model.predict(x[:1]), expected[:1], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-13, atol=1e-13)
    # weights changed in place, replaced (a dtype change) and in a pickled or copied model
    # are all seen: the kernel view is remade from the layer's current kernel
    layer.kernel *= 2
    doubled = model.predict(x[:1])
    layer.training = True
    np.testing.assert_allclose(doubled, layer.forward(x[:1]), rtol=1e-13, atol=1e-13)
    layer.training = False
    for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        twin_layer = twin.layers[1]
        np.testing.assert_allclose(twin.predict(x[:1]), doubled, rtol=1e-13, atol=1e-13)
        twin_layer.kernel[...] = 0
        if twin_layer.use_bias:
            twin_layer.bias[...] = 0
        np.testing.assert_allclose(twin.predict(x[:1]), twin_layer.activation.forward(
            np.zeros_like(doubled)))
    model.compile(loss="mse", dtype="float32")  # a new kernel array, then trained in place
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(model.predict(x32[:1]), doubled, rtol=1e-5, atol=1e-5)
    model.fit(x32, np.ones((2, *layer.output_shape), np.float32), epochs=1, verbose=0)
    layer.training = True
    trained = layer.forward(x32[:1]).copy()
    layer.training = False
    assert not np.allclose(trained, doubled, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(model.predict(x32[:1]), trained, rtol=1e-5, atol=1e-5)


def test_a_convolutional_model_trains_after_an_inference_pass():
    layerwise.set_seed(0)
    inputs = Input((8, 8, 1))
    h = MaxPooling2D(2)(Conv2D(4, 3, activation="relu")(inputs))
    model = Model(inputs, Dense(2)(Flatten()(h)))
    model.compile(loss="mse", optimizer="sgd")
    x = np.random.default_rng(4).standard_normal((6, 8, 8, 1)).astype(np.float32)
    y = np.random.default_rng(5).standard_normal((6, 2)).astype(np.float32)
    before = model.predict(x[:1])
    model.fit(x, y, epochs=2, batch_size=3, verbose=0)
    after = model.predict(x[:1])
    assert np.isfinite(after).all() and not np.array_equal(before, after)
    np.testing.assert_allclose(after, model.predict(x)[:1], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ recurrent, one sample
torch = pytest.importorskip("torch")
F, U, T = 4, 3, 7


def _lstm_torch(kernel, recurrent, bias):
    module = torch.nn.LSTM(F, U, batch_first=True).double()
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(kernel.T))
        module.weight_hh_l0.copy_(torch.tensor(recurrent.T))
        module.bias_ih_l0.copy_(torch.tensor(bias))
        module.bias_hh_l0.zero_()
    return module


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("length", [T, 4])
def test_one_sample_lstm_equals_pytorch_with_its_gradients(return_sequences, go_backwards,
                                                           length):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, T, F))
    kernel, recurrent = rng.standard_normal((F, 4 * U)), rng.standard_normal((U, 4 * U))
    bias = rng.standard_normal(4 * U)
    mask = (np.arange(T) < length)[None]  # right padding: length real steps
    x[~mask] = 99.0
    grads = [np.full_like(w, np.nan) for w in (kernel, recurrent, bias)]
    out, cache = R.lstm_forward(x, kernel, recurrent, bias, return_sequences=return_sequences,
                                go_backwards=go_backwards, mask=mask, training=True)
    gy = rng.standard_normal(out.shape)
    dx = R.lstm_backward(cache, gy.copy(), *grads)
    real = x[:, :length]
    xt = torch.tensor(real[:, ::-1].copy() if go_backwards else real, requires_grad=True)
    module = _lstm_torch(kernel, recurrent, bias)
    sequence = module(xt)[0]
    if return_sequences and go_backwards:  # the padding comes first: the state stays zero
        np.testing.assert_allclose(out[:, T - length:], sequence.detach().numpy(), atol=1e-10,
                                   rtol=0)
        assert np.all(out[:, :T - length] == 0)
        (sequence * torch.tensor(gy[:, T - length:])).sum().backward()
    elif return_sequences:  # masked steps repeat the last real state (Keras)
        expected = sequence.detach().numpy()
        np.testing.assert_allclose(out[:, :length], expected, atol=1e-10, rtol=0)
        np.testing.assert_allclose(out[:, length:], np.repeat(expected[:, -1:], T - length, 1),
                                   atol=1e-10, rtol=0)
        weight = gy[:, :length].copy()
        weight[:, -1] += gy[:, length:].sum(axis=1)
        (sequence * torch.tensor(weight)).sum().backward()
    else:
        np.testing.assert_allclose(out, sequence[:, -1].detach().numpy(), atol=1e-10, rtol=0)
        (sequence[:, -1] * torch.tensor(gy)).sum().backward()
    expected_dx = xt.grad.numpy()[:, ::-1] if go_backwards else xt.grad.numpy()
    np.testing.assert_allclose(dx[:, :length], expected_dx, atol=1e-10, rtol=0)
    assert np.all(dx[:, length:] == 0)
    np.testing.assert_allclose(grads[0], module.weight_ih_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(grads[1], module.weight_hh_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(grads[2], module.bias_ih_l0.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru-before"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_sample_equals_its_row_of_a_batch_and_the_workspace_moves_between_them(cell, dtype):
    forward = {"rnn": R.simple_rnn_forward, "lstm": R.lstm_forward, "gru": R.gru_forward,
               "gru-before": R.gru_forward}[cell]
    if cell == "gru-before":  # the reset gate applied before the recurrent product
        forward = functools.partial(R.gru_forward, reset_after=False)
    k = {"rnn": 1, "lstm": 4, "gru": 3, "gru-before": 3}[cell]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, T, F)).astype(dtype)
    weights = [rng.standard_normal((F, k * U)).astype(dtype),
               rng.standard_normal((U, k * U)).astype(dtype),
               rng.standard_normal((2, k * U) if cell == "gru" else (k * U,)).astype(dtype)]
    mask = np.ones((5, T), bool)
    mask[2, 4:] = False
    workspace = R.Workspace()
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    for masked in (None, mask):
        batch = forward(x, *weights, mask=masked, return_sequences=True, workspace=workspace)[0]
        for j in (2, 0, 4):  # one sample after a batch, and after another sample
            one = forward(x[j:j + 1], *weights, mask=None if masked is None else masked[j:j + 1],
                          return_sequences=True, workspace=workspace)[0]
            np.testing.assert_allclose(one[0], batch[j], rtol=tolerance, atol=tolerance)
            assert one.dtype == dtype
        again = forward(x, *weights, mask=masked, return_sequences=True, workspace=workspace)[0]
        np.testing.assert_array_equal(again, batch)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "axes"), [((1, 64), (1,)), ((5, 3, 7), (2,)),
                                             ((5, 3, 7), (1, 2)), ((2, 4, 6, 3), (1, 3))])
def test_layer_normalization_mean_equals_numpy_mean_exactly(dtype, shape, axes):
    from layerwise.layers.normalization import _mean

    x = (np.random.default_rng(8).standard_normal(shape) * 10).astype(dtype)
    expected = np.mean(x, axis=axes, keepdims=True)
    result = _mean(x, axes)
    assert result.dtype == expected.dtype and result.shape == expected.shape
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("n", [1, 4])
def test_a_graph_without_masks_runs_as_the_mask_carrying_loop(n):
    from layerwise import Add, Concatenate

    layerwise.set_seed(0)
    inputs = Input((6,))
    a = Dense(5, activation="relu")(inputs)
    b = Dense(5, activation="tanh")(inputs)
    model = Model(inputs, Dense(3)(Concatenate()([Add()([a, b]), b])))
    model.compile(loss="mse")
    x = np.random.default_rng(9).standard_normal((n, 6)).astype(np.float32)
    assert not model._graph.masking and not model._graph._chain
    lean = model.predict(x)
    model._graph.masking = True  # the general loop, which also asks every layer for a mask
    np.testing.assert_array_equal(model.predict(x), lean)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_sample_lstm_with_recurrent_dropout_equals_its_row_of_a_batch(dtype):
    # Recurrent dropout keeps the product of the batch path (no input folded into it).
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, T, F)).astype(dtype)
    weights = [rng.standard_normal((F, 4 * U)).astype(dtype),
               rng.standard_normal((U, 4 * U)).astype(dtype),
               rng.standard_normal(4 * U).astype(dtype)]
    drop = (rng.random((3, U)) > 0.3).astype(dtype) / dtype(0.7)
    batch = R.lstm_forward(x, *weights, recurrent_dropout_mask=drop, return_sequences=True)[0]
    one = R.lstm_forward(x[1:2], *weights, recurrent_dropout_mask=drop[1:2],
                         return_sequences=True)[0]
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(one[0], batch[1], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("kind", ["maximum", "minimum"])
def test_extremum_finds_the_winner_in_backward_first_input_on_ties(kind):
    from layerwise import Maximum, Minimum

    layer = (Maximum if kind == "maximum" else Minimum)()
    a = np.array([[1.0, 5.0, 2.0, 3.0]])
    b = np.array([[4.0, 5.0, 0.0, 3.0]])
    c = np.array([[4.0, 1.0, 2.0, 7.0]])
    out = layer.forward([a, b, c])
    pick = np.maximum if kind == "maximum" else np.minimum
    np.testing.assert_array_equal(out, pick(pick(a, b), c))
    layer.input_shape = [(4,)] * 3
    grads = layer._backward(np.array([[10.0, 20.0, 30.0, 40.0]]))
    stacked = np.stack([a, b, c])
    winner = np.argmax(stacked == out, axis=0)  # the first input holding the extreme
    for i, grad in enumerate(grads):
        np.testing.assert_array_equal(grad, np.where(winner == i, [[10.0, 20.0, 30.0, 40.0]], 0))


def test_a_copied_workspace_starts_empty_and_the_copy_computes_the_same():
    import copy
    import pickle

    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 9, 8, 2)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)
    geometry = conv_ops.conv_geometry((9, 8), 2, (3, 3))
    workspace = Workspace()
    expected, _ = conv_ops.conv2d_forward(x, kernel, None, geometry, workspace,
                                          keep_columns=False)
    for copied in (copy.deepcopy(workspace), pickle.loads(pickle.dumps(workspace))):
        assert copied.nbytes == 0 and not copied.holds
        other = x[:, ::-1].copy()
        result, _ = conv_ops.conv2d_forward(other, kernel, None, geometry, copied,
                                            keep_columns=False)
        fresh, _ = conv_ops.conv2d_forward(other, kernel, None, geometry, Workspace(),
                                           keep_columns=False)
        np.testing.assert_array_equal(result, fresh)
    again, _ = conv_ops.conv2d_forward(x, kernel, None, geometry, workspace, keep_columns=False)
    np.testing.assert_array_equal(again, expected)


def test_conv_geometry_is_immutable_and_equal_by_its_fields():
    import copy
    import pickle

    geometry = conv_ops.conv_geometry((8, 8), 3, (3, 3), (1, 1), (1, 1), "same")
    twin = conv_ops.conv_geometry((8, 8), 3, (3, 3), (1, 1), (1, 1), "same")
    assert geometry == twin and hash(geometry) == hash(twin) and geometry is not twin
    assert geometry != conv_ops.conv_geometry((8, 8), 3, (3, 3), (2, 2), (1, 1), "same")
    assert geometry != "not a geometry"
    for copied in (pickle.loads(pickle.dumps(geometry)), copy.deepcopy(geometry)):
        assert copied == geometry and copied.padded_size == geometry.padded_size
    with pytest.raises(AttributeError, match="immutable"):
        geometry.channels = 4
    with pytest.raises(AttributeError, match="immutable"):
        del geometry.channels
    assert geometry.channels == 3
