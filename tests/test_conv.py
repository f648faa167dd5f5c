"""Conv1D/Conv2D and the pooling layers in models: Keras' arguments and shapes, refusals,
summary, saving and resuming, optimizers, regularizers, dtypes, normalization and dropout on
images, and 20 Adam steps against PyTorch."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import layerwise
from layerwise import (
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxPooling2D,
    Input,
    MaxPooling1D,
    MaxPooling2D,
    Model,
)
from layerwise.callbacks import Callback, ModelCheckpoint
from layerwise.exceptions import ShapeMismatchError

torch = pytest.importorskip("torch")


def mnist_convnet():
    """Keras' mnist_convnet recipe."""
    inputs = Input((28, 28, 1))
    x = Conv2D(32, 3, activation="relu")(inputs)
    x = MaxPooling2D(2)(x)
    x = Conv2D(64, 3, activation="relu")(x)
    x = MaxPooling2D(2)(x)
    x = Dropout(0.5)(Flatten()(x))
    return Model(inputs, Dense(10, activation="softmax")(x))


def small_cnn(seed=0, **conv_options):
    layerwise.set_seed(seed)
    inputs = Input((8, 8, 2))
    x = Conv2D(4, 3, activation="relu", **conv_options)(inputs)
    x = MaxPooling2D(2)(x)
    x = Conv2D(5, 2, padding="same", activation="tanh")(x)
    x = Flatten()(AveragePooling2D(2, padding="same")(x))
    return Model(inputs, Dense(3, activation="softmax")(x))


def images(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 2))
    y = np.eye(3)[(x[:, :4, :4, 0].sum(axis=(1, 2)) > 0).astype(int) + (x[..., 1].mean(
        axis=(1, 2)) > 0.1)]
    return x, y


# ------------------------------------------------------------------- arguments and shapes
def test_keras_defaults_and_argument_forms():
    layer = Conv2D(8, 3)
    assert layer.kernel_size == (3, 3) and layer.strides == (1, 1)
    assert layer.dilation_rate == (1, 1) and layer.padding == "valid" and layer.use_bias
    assert type(layer.kernel_initializer).__name__ == "XavierUniform"
    assert Conv2D(8, (3, 5), strides=[2, 1], padding="SAME").padding == "same"
    assert Conv1D(4, 5, strides=2).kernel_size == (5,)
    assert MaxPooling2D().pool_size == (2, 2) and MaxPooling2D().strides == (2, 2)
    assert MaxPooling1D().pool_size == (2,) and MaxPooling2D(3, strides=1).strides == (1, 1)
    assert Conv2D(8, 3).name.startswith("conv2d_")
    assert MaxPooling2D().name.startswith("max_pooling2d_")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Conv2D(0, 3), "filters"),
        (lambda: Conv2D(4, (3,)), "kernel_size"),
        (lambda: Conv2D(4, 3, padding="full"), "padding"),
        (lambda: Conv2D(4, 3, strides=2, dilation_rate=2), "dilation_rate"),
        (lambda: Conv2D(4, 3, data_format="channels_first"), "data_format"),
        (lambda: Conv1D(4, 3, activation="nope"), "activation"),
        (lambda: MaxPooling2D((2, 0)), "pool_size"),
        (lambda: GlobalMaxPooling2D(keepdims="yes"), "keepdims"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_keras_output_shapes_and_parameter_counts_in_the_summary():
    model = mnist_convnet()
    shapes = [layer.output_shape for layer in model.layers]
    assert shapes == [(28, 28, 1), (26, 26, 32), (13, 13, 32), (11, 11, 64), (5, 5, 64),
                      (1600,), (1600,), (10,)]
    text = model.summary() or ""
    if not text:  # summary printed instead of returning text
        from layerwise.summary import summary_text

        text = summary_text(model)
    for expected in ("(None, 26, 26, 32)", "(None, 5, 5, 64)", "320", "18,496", "16,010",
                     "Total params: 34,826"):
        assert expected in text
    kernel, bias, *_ = model.get_weights()[:2]
    assert kernel.shape == (3, 3, 1, 32) and bias.shape == (32,)
    assert [w.shape for w in model.get_weights()[2:4]] == [(3, 3, 32, 64), (64,)]


def test_same_padding_and_strides_give_tensorflow_sizes():
    inputs = Input((28, 28, 3))
    assert Conv2D(2, 3, strides=2, padding="same")(inputs).output_shape == (14, 14, 2)
    assert Conv2D(2, 4, strides=3, padding="same")(Input((10, 7, 1))).output_shape == (4, 3, 2)
    assert MaxPooling2D(3, strides=2, padding="same")(Input((5, 5, 1))).output_shape == (3, 3, 1)
    assert Conv1D(2, 3, dilation_rate=2)(Input((10, 1))).output_shape == (6, 2)
    assert GlobalAveragePooling1D(keepdims=True)(Input((10, 4))).output_shape == (1, 4)


@pytest.mark.parametrize(
    "layer, shape, words",
    [
        (lambda: Conv2D(4, 5), (3, 8, 1), ["(5, 5)", "(3, 8)"]),
        (lambda: Conv2D(4, 3, dilation_rate=3), (6, 6, 1), ["(7, 7)"]),
        (lambda: Conv2D(4, 3), (8, 8), ["(height, width, channels)", "(8, 8)"]),
        (lambda: Conv1D(4, 3), (8, 8, 1), ["(steps, channels)"]),
        (lambda: MaxPooling2D(4), (3, 8, 1), ["(4, 4)", "(3, 8)"]),
        (lambda: GlobalMaxPooling2D(), (4, 2), ["(height, width, channels)"]),
    ],
)
def test_impossible_shapes_are_refused_when_wiring(layer, shape, words):
    made = layer()
    with pytest.raises(ShapeMismatchError) as error:
        made(Input(shape))
    for word in [made.name, *words]:
        assert word in str(error.value)


@pytest.mark.parametrize("bad_shape", [(6, 8, 8, 1), (6, 8, 8), (6, 8, 8, 3), (6, 8, 7, 2)])
def test_wrong_model_inputs_are_refused_before_any_weight_changes(bad_shape):
    model = small_cnn()
    model.compile(loss_fn="categorical_crossentropy", optimizer="adam")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ShapeMismatchError):
        model.fit(np.zeros(bad_shape), np.eye(3)[[0] * bad_shape[0]], verbose=0)
    with pytest.raises(ShapeMismatchError):
        model.predict(np.zeros(bad_shape))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ training
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop",
                                       layerwise.optimizers.SGD(0.05, momentum=0.9,
                                                                nesterov=True)])
def test_every_optimizer_trains_a_small_cnn(optimizer):
    x, y = images(48)
    model = small_cnn()
    model.compile(loss_fn="categorical_crossentropy", optimizer=optimizer, dtype="float64")
    first = model.evaluate(x, y)
    model.fit(x, y, epochs=15, batch_size=8, verbose=0,
              learning_rate=0.05 if optimizer == "sgd" else None)
    last = model.evaluate(x, y)
    loss = lambda v: v["loss"] if isinstance(v, dict) else v  # noqa: E731
    assert loss(last) < 0.9 * loss(first)


def test_kernel_regularizer_adds_its_penalty_and_gradient():
    x, y = images(8)
    plain, regular = small_cnn(seed=3), small_cnn(seed=3, kernel_regularizer="l2")
    for model in (plain, regular):
        model.compile(loss_fn="categorical_crossentropy", optimizer="sgd", dtype="float64")
    conv = regular.layers[1]
    penalty = conv.regularization_loss()
    assert penalty == pytest.approx(0.01 * np.sum(conv.kernel**2))
    assert np.allclose(conv.regularization_gradients()["kernel"], 0.02 * conv.kernel)
    loss = lambda v: v["loss"] if isinstance(v, dict) else v  # noqa: E731
    assert loss(regular.evaluate(x, y)) == pytest.approx(loss(plain.evaluate(x, y)) + penalty)
    plain.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    regular.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert not np.allclose(plain.layers[1].kernel, conv.kernel)


def test_float32_and_float64_train_to_close_results():
    x, y = images(16)
    results = {}
    for dtype in ("float32", "float64"):
        model = small_cnn(seed=5)
        model.compile(loss_fn="categorical_crossentropy", optimizer="adam", dtype=dtype)
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
        output = model.predict(x)
        assert output.dtype == np.dtype(dtype)
        results[dtype] = output
    np.testing.assert_allclose(results["float32"], results["float64"], atol=1e-4)


def test_save_load_and_checkpoint_resume_of_a_cnn(tmp_path):
    x, y = images(32)

    class Interrupt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    def compiled(seed):
        model = small_cnn(seed)
        model.compile(loss_fn="categorical_crossentropy", optimizer="adam")
        return model

    options = dict(batch_size=8, verbose=0)
    whole = compiled(1)
    whole.fit(x, y, epochs=4, **options)
    path = tmp_path / "ckpt.safetensors"
    first = compiled(1)
    with pytest.raises(KeyboardInterrupt):
        first.fit(x, y, epochs=4, callbacks=[ModelCheckpoint(path), Interrupt()], **options)
    resumed = compiled(42)
    resumed.fit(x, y, epochs=4, resume_from=path, **options)
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    whole.save(tmp_path / "model.safetensors")
    loaded = layerwise.load_model(tmp_path / "model.safetensors")
    np.testing.assert_array_equal(loaded.predict(x), whole.predict(x))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in whole.layers]


def test_a_generator_of_batches_trains_a_cnn():
    x, y = images(32)
    model = small_cnn()
    model.compile(loss_fn="categorical_crossentropy", optimizer="adam")

    def batches():
        while True:
            for start in range(0, 32, 8):
                yield x[start : start + 8], y[start : start + 8]

    model.fit(batches(), epochs=2, steps_per_epoch=4, verbose=0)
    assert np.all(np.isfinite(model.predict(x)))


def test_conv1d_model_trains_and_predicts():
    layerwise.set_seed(2)
    inputs = Input((20, 3))
    x = Conv1D(6, 5, padding="same", activation="relu")(inputs)
    x = MaxPooling1D(2)(x)
    x = GlobalAveragePooling1D()(Conv1D(4, 3, strides=2)(x))
    model = Model(inputs, Dense(1)(x))
    model.compile(loss_fn="mse", optimizer="adam")
    rng = np.random.default_rng(0)
    data = rng.normal(size=(64, 20, 3))
    target = data[:, :, 0].mean(axis=1, keepdims=True)
    before = float(np.mean((model.predict(data) - target) ** 2))
    model.fit(data, target, epochs=30, batch_size=16, verbose=0)
    assert float(np.mean((model.predict(data) - target) ** 2)) < 0.5 * before


# ----------------------------------------------------- normalization and dropout on images
def test_batch_normalization_on_images_matches_torch_per_channel():
    rng = np.random.default_rng(7)
    x = rng.normal(2.0, 3.0, size=(6, 4, 5, 3))
    layer = BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer(Input((4, 5, 3)))
    layer.set_dtype("float64")
    layer.training = True
    y = layer.forward(x)
    error = rng.normal(size=y.shape)
    dx = layer._backward(error.copy())
    reference = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=0.1, dtype=torch.float64)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).clone().requires_grad_(True)
    yt = reference(xt)
    (yt * torch.from_numpy(error).permute(0, 3, 1, 2)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().permute(0, 2, 3, 1).numpy(), atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.permute(0, 2, 3, 1).numpy(), atol=1e-10)
    np.testing.assert_allclose(layer.moving_mean, reference.running_mean.numpy(), atol=1e-10)
    # Keras (and layerwise) average the biased batch variance; PyTorch the unbiased one.
    biased = x.reshape(-1, 3).var(axis=0)
    np.testing.assert_allclose(layer.moving_variance, 0.9 + 0.1 * biased, atol=1e-10)


def test_dropout_on_images_drops_single_values_and_rescales():
    layer = Dropout(0.5, seed=3)
    layer(Input((6, 6, 4)))
    layer.set_dtype("float64")
    layer.training = True
    y = layer.forward(np.ones((50, 6, 6, 4)))
    kept = y != 0
    assert y.shape == (50, 6, 6, 4)
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 0.45 < kept.mean() < 0.55
    grad = layer._backward(np.ones_like(y))
    np.testing.assert_array_equal(grad, y)
    layer.training = False
    np.testing.assert_array_equal(layer.forward(np.ones((2, 6, 6, 4))), 1.0)


# ------------------------------------------------------------------- PyTorch parity
def test_twenty_adam_steps_equal_pytorch():
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
    import parity_cnn

    for head in parity_cnn.HEADS:
        assert parity_cnn.largest_difference(head) < 1e-10


# ------------------------------------------------------------------- predict and ONNX
def test_predict_passes_stay_small_for_cnns_and_give_the_same_results():
    model = mnist_convnet()
    model.compile(loss_fn="categorical_crossentropy")
    # At most 2**21 values in any layer's output per pass: 26 * 26 * 32 per image here.
    assert model._predict_batch() == 2**21 // (26 * 26 * 32)
    layerwise.set_seed(0)
    inputs = Input((784,))
    mlp = Model(inputs, Dense(10)(Dense(256, activation="relu")(inputs)))
    assert mlp._predict_batch() == 4096
    # evaluate and fit's validation follow the same rule (1024 rows for the MLP, as before)
    assert model._evaluate_batch() == model._predict_batch() and mlp._evaluate_batch() == 1024
    x = np.random.default_rng(0).normal(size=(250, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), model.predict(x, batch_size=250),
                               rtol=1e-5, atol=1e-6)  # float32: BLAS blocks differ


@pytest.mark.parametrize("opset", [13, 17, 20])
def test_a_cnn_exports_to_onnx_and_runs_like_predict(opset, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    layerwise.set_seed(3)
    inputs = Input((12, 10, 3))
    x = Conv2D(6, 3, strides=2, padding="same", activation="relu")(inputs)
    x = MaxPooling2D(2, padding="same")(x)
    x = Conv2D(4, (2, 3), dilation_rate=(2, 1), activation="tanh")(x)
    pooled = GlobalMaxPooling2D()(x)
    model = Model(inputs, Dense(5, activation="softmax")(pooled))
    model.compile(loss_fn="categorical_crossentropy", optimizer="adam")
    data = np.random.default_rng(1).normal(size=(40, 12, 10, 3)).astype(np.float32)
    model.fit(data, np.eye(5)[np.arange(40) % 5], epochs=2, batch_size=8, verbose=0)
    path = layerwise.export_onnx(model, tmp_path / "cnn.onnx", opset=opset)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (result,) = session.run(None, {session.get_inputs()[0].name: data})
    np.testing.assert_allclose(result, model.predict(data), rtol=1e-5, atol=1e-5)


def test_the_readme_cnn_example_runs_and_has_the_shapes_it_shows():
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
                 if "Conv2D(32, 3" in b)
    namespace: dict = {}
    exec(block, namespace)
    shapes = re.findall(r"# \(None, ([\d, ]+)\)", block)
    wired = [", ".join(map(str, layer.output_shape)) for layer in namespace["cnn"].layers]
    assert shapes and all(shape in wired for shape in shapes)


# ------------------------------------------------- the ReLU derivative applied by the pool
def _gradients_after_one_step(model, x, y):
    model.compile(loss_fn="categorical_crossentropy", optimizer="sgd", dtype="float64")
    model.train_on_batch(x, y)
    return [np.concatenate([g.ravel() for g in layer.gradients().values()])
            for layer in model.layers if layer.parameters()]


@pytest.mark.parametrize("fan_out", [False, True])
def test_max_pooling_applying_the_relu_derivative_equals_the_plain_path(monkeypatch, fan_out):
    from layerwise import Concatenate
    from layerwise.layers import pooling

    def build():
        layerwise.set_seed(11)
        inputs = Input((6, 6, 2))
        conv = Conv2D(3, 3, padding="same", activation="relu")(inputs)
        pooled = Flatten()(MaxPooling2D(2)(conv))
        if fan_out:  # the conv's error is then a sum: the pool's shortcut must not apply
            pooled = Concatenate()([pooled, Flatten()(conv)])
        return Model(inputs, Dense(3, activation="softmax")(pooled))

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 6, 6, 2)), np.eye(3)[rng.integers(0, 3, 5)]
    calls = []
    relu_backward = layerwise.activations.ReLU.backward
    monkeypatch.setattr(layerwise.activations.ReLU, "backward",
                        lambda self, *a: calls.append(1) or relu_backward(self, *a))
    fast = _gradients_after_one_step(build(), x, y)
    assert len(calls) == int(fan_out)  # the shortcut was taken exactly where it may be
    monkeypatch.setattr(pooling._Pooling, "_relu_parent", lambda self: None)
    plain = _gradients_after_one_step(build(), x, y)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert np.abs(fast[0]).max() > 0


@pytest.mark.parametrize("kernel, strides, dilation", [(3, 1, 1), (2, 1, 3), (4, 2, 1)])
def test_causal_conv1d_matches_torch_with_left_padding(kernel, strides, dilation):
    layer = Conv1D(3, kernel, strides=strides, dilation_rate=dilation, padding="causal",
                   bias_initializer="random_normal")
    layer(Input((9, 2)))
    layer.set_dtype("float64")
    assert layer.output_shape == ((9 - 1) // strides + 1, 3)
    x = np.random.default_rng(0).normal(size=(4, 9, 2))
    xt = torch.from_numpy(x).transpose(1, 2)
    weight = torch.from_numpy(layer.kernel.transpose(2, 1, 0).copy())
    expected = torch.nn.functional.conv1d(
        torch.nn.functional.pad(xt, ((kernel - 1) * dilation, 0)), weight,
        torch.from_numpy(layer.bias), stride=strides, dilation=dilation,
    ).transpose(1, 2).numpy()
    np.testing.assert_allclose(layer.forward(x), expected, rtol=0, atol=1e-12)
    # An output step never depends on later input steps.
    later = x.copy()
    later[:, 5:] += 1.0
    np.testing.assert_array_equal(layer.forward(later)[:, : 5 // strides + (5 % strides > 0)],
                                  layer.forward(x)[:, : 5 // strides + (5 % strides > 0)])
    with pytest.raises(ValueError, match="padding"):
        Conv2D(3, 3, padding="causal")
