"""Graphs beyond a chain: several inputs and outputs, fan-out, merge and shape layers, data as
lists or dicts, per-output losses and metrics, saving, summary, ONNX and Sequential."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

import layerwise
from layerwise import (
    Activation,
    Add,
    Concatenate,
    Dense,
    Dropout,
    Flatten,
    Input,
    Model,
    Reshape,
    Sequential,
    Subtract,
)
from layerwise.callbacks import Callback
from layerwise.exceptions import IncompatibleLayerError, ShapeMismatchError


def two_headed(seed=0):
    """Two inputs, a residual Add, a Concatenate, a class head and a regression head."""
    layerwise.set_seed(seed)
    text = Input((6,), name="text")
    table = Input((3,), name="table")
    h = Dense(6, activation="tanh")(text)
    h = Add()([h, Dense(6, activation="relu")(h)])  # residual: h feeds two layers
    merged = Concatenate()([h, Dense(4, activation="tanh")(table)])
    label = Dense(3, activation="softmax", name="label")(merged)
    box = Dense(2, name="box")(merged)
    return Model([text, table], [label, box])


def data(n=24, seed=1):
    rng = np.random.default_rng(seed)
    xa, xb = rng.normal(size=(n, 6)), rng.normal(size=(n, 3))
    return [xa, xb], [np.eye(3)[rng.integers(0, 3, n)], rng.normal(size=(n, 2))]


def test_graph_gradients_match_finite_differences():
    model = two_headed()
    model.compile(loss=["categorical_crossentropy", "mse"], loss_weights=[0.7, 1.9],
                  dtype="float64")
    xs, ys = data(5)
    model.forward(xs)
    grads = model.backward(ys)
    weights = model.get_weights()
    names = [n for layer in model.layers for n in layer.parameters()]
    assert len(grads) == 2 and grads[0].shape == (5, 6) and grads[1].shape == (5, 3)

    def total_loss():
        label, box = model.forward(xs)
        p = np.clip(label, 1e-300, None)
        return 0.7 * -np.sum(ys[0] * np.log(p)) / 5 + 1.9 * np.mean((box - ys[1]) ** 2)

    model.forward(xs)
    model.backward(ys)
    analytic = [g.copy() for layer in model.layers for g in layer.gradients().values()]
    params = [p for layer in model.layers for p in layer.parameters().values()]
    assert len(analytic) == len(params) == len(names) > 0
    rng = np.random.default_rng(3)
    for param, grad in zip(params, analytic):
        flat = param.reshape(-1)
        for i in rng.choice(flat.size, size=min(5, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            plus = total_loss()
            flat[i] = old - 1e-6
            minus = total_loss()
            flat[i] = old
            np.testing.assert_allclose(grad.reshape(-1)[i], (plus - minus) / 2e-6, rtol=1e-6,
                                       atol=1e-9)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_error_handed_to_two_parents_is_not_overwritten_by_the_first():
    # Both parents of the Add apply an activation whose backward works in place.
    layerwise.set_seed(2)
    inputs = Input((4,))
    a = Dense(3, activation="sigmoid")(inputs)
    b = Dense(3, activation="tanh")(inputs)
    model = Model(inputs, Add()([a, b]))
    model.compile(loss="mse", dtype="float64")
    x = np.random.default_rng(4).normal(size=(6, 4))
    y = np.zeros((6, 3))
    model.forward(x)
    model.backward(y)
    out = model.predict(x)
    za, zb = x @ a.weights + a.bias, x @ b.weights + b.bias
    g = 2 * out / out.size
    sa = 1 / (1 + np.exp(-za))
    np.testing.assert_allclose(a.grad_weights, x.T @ (g * sa * (1 - sa)), rtol=1e-10)
    np.testing.assert_allclose(b.grad_weights, x.T @ (g * (1 - np.tanh(zb) ** 2)), rtol=1e-10)


def test_fan_out_gradients_are_summed():
    layerwise.set_seed(3)
    inputs = Input((3,))
    shared = Dense(4)(inputs)
    out = Subtract()([Dense(2)(shared), Dense(2)(shared)])
    model = Model(inputs, out)
    model.compile(loss="mse", dtype="float64")
    x = np.random.default_rng(5).normal(size=(4, 3))
    model.forward(x)
    model.backward(np.ones((4, 2)))
    left, right = out.inbound
    g = 2 * (model.predict(x) - 1) / 8
    delta = g @ left.weights.T - g @ right.weights.T
    np.testing.assert_allclose(shared.grad_weights, x.T @ delta, rtol=1e-10)


def test_two_inputs_two_outputs_train_with_lists_and_dicts_and_log_keras_names():
    model = two_headed()
    model.compile(loss={"label": "categorical_crossentropy", "box": "mse"},
                  loss_weights={"label": 1.0, "box": 0.5},
                  metrics={"label": ["accuracy"]}, optimizer="adam")
    xs, ys = data()
    model.fit(xs, ys, epochs=2, batch_size=8, print_loss=False,
              validation_data=(xs, ys))
    assert set(model.history) == {
        "loss", "label_loss", "box_loss", "label_accuracy",
        "val_loss", "val_label_loss", "val_box_loss", "val_label_accuracy",
    }
    result = model.evaluate({"text": xs[0], "table": xs[1]}, {"label": ys[0], "box": ys[1]})
    np.testing.assert_allclose(result["loss"], result["label_loss"] + 0.5 * result["box_loss"])
    label, box = model.predict({"text": xs[0], "table": xs[1]})
    assert label.shape == (24, 3) and box.shape == (24, 2)
    p = np.clip(label, 1e-7, 1)
    np.testing.assert_allclose(result["label_loss"], -np.mean(np.sum(ys[0] * np.log(p), 1)),
                               rtol=1e-4)
    np.testing.assert_allclose(result["box_loss"], np.mean((box - ys[1]) ** 2), rtol=1e-4)
    assert 0 <= result["label_accuracy"] <= 1


def test_generators_and_train_on_batch_take_lists_and_dicts():
    model = two_headed()
    model.compile(loss=["categorical_crossentropy", "mse"], metrics=["accuracy"])
    xs, ys = data()
    pairs = [(xs, ys), ({"text": xs[0], "table": xs[1]}, {"label": ys[0], "box": ys[1]})]
    model.fit(pairs, epochs=1, print_loss=False)
    assert "label_accuracy" in model.history and "box_accuracy" in model.history
    logs = model.train_on_batch(xs, ys, return_dict=True)
    assert {"loss", "label_loss", "box_loss"} <= set(logs)
    assert model.evaluate(pairs)["loss"] > 0


@pytest.mark.parametrize("bad, message", [
    (lambda xs: xs[:1], "one array per input"),
    (lambda xs: {"text": xs[0]}, re.escape("lacks ['table']")),
    (lambda xs: {"text": xs[0], "table": xs[1], "other": xs[1]},
     re.escape("unknown keys ['other']")),
    (lambda xs: [xs[0], xs[1][:5]], "same number of samples"),
])
def test_malformed_multi_input_data_is_refused_before_training(bad, message):
    model = two_headed()
    model.compile(loss=["categorical_crossentropy", "mse"])
    before = model.get_weights()
    xs, ys = data()
    with pytest.raises(ValueError, match=message):
        model.fit(bad(xs), ys, epochs=1, print_loss=False)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_merge_layers_check_shapes_at_call_time_and_name_the_layers():
    a, b = Dense(3, name="left")(Input((2,))), Dense(4, name="right")(Input((2,)))
    with pytest.raises(ShapeMismatchError, match="'left' outputs \\(3,\\) and 'right'"):
        Add()([a, b])
    with pytest.raises(ShapeMismatchError, match="'wide' outputs \\(3, 1\\) and 'square'"):
        Concatenate(axis=1)([Reshape((3, 1), name="wide")(a), Reshape((2, 2), name="square")(b)])
    with pytest.raises(ValueError, match="exactly 2"):
        Subtract()([a, a, a])


def test_one_input_layers_refuse_a_list_and_shared_layers_are_refused():
    h = Dense(4)(Input((2,)))
    with pytest.raises(TypeError, match="takes one input layer"):
        Dropout(0.1)([h, h])
    with pytest.raises(TypeError, match="list of layers"):
        Add()(h)
    layer = Dense(2)
    layer(h)
    with pytest.raises(IncompatibleLayerError, match="shared weights"):
        layer(Dense(4)(Input((2,))))


def test_dense_output_with_extra_axes_and_labels_that_do_not_match_mention_flatten():
    inputs = Input((5, 3))
    model = Model(inputs, Dense(2, activation="softmax")(inputs))
    model.compile(loss="categorical_crossentropy")
    with pytest.raises(ShapeMismatchError, match="Flatten"):
        model.fit(np.ones((4, 5, 3)), np.eye(2)[[0, 1, 0, 1]], epochs=1, print_loss=False)


def test_accuracy_and_losses_over_positions_of_n_d_outputs():
    inputs = Input((5, 4))
    model = Model(inputs, Dense(3, activation="softmax")(inputs))
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], dtype="float64")
    rng = np.random.default_rng(6)
    x, labels = rng.normal(size=(8, 5, 4)), rng.integers(0, 3, size=(8, 5))
    result = model.evaluate(x, labels)
    p = model.predict(x)
    assert p.shape == (8, 5, 3)
    expected_accuracy = np.mean(np.argmax(p, -1) == labels)
    np.testing.assert_allclose(result["accuracy"], expected_accuracy)
    picked = np.take_along_axis(p, labels[..., None], -1)[..., 0]
    np.testing.assert_allclose(result["loss"], -np.mean(np.log(picked)), rtol=1e-10)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"], dtype="float64")
    result = model.evaluate(x, np.eye(3)[labels])
    assert result["accuracy"] <= 1
    np.testing.assert_allclose(result["accuracy"], expected_accuracy)


def test_any_layer_with_a_softmax_activation_can_feed_cross_entropy():
    inputs = Input((4,))
    merged = Add()([Dense(3)(inputs), Dense(3)(inputs)])
    model = Model(inputs, Activation("softmax")(merged))
    model.compile(loss="categorical_crossentropy")  # an Activation layer after a merge
    with pytest.raises(IncompatibleLayerError, match="Add"):
        Model(inputs, Add()([Dense(3)(inputs), Dense(3)(inputs)])).compile(
            loss="categorical_crossentropy")


def test_keras_spellings():
    inputs = Input((3,))
    hidden = Dense(units=4, use_bias=False, name="hidden")(inputs)
    model = Model(inputs, Dense(1)(hidden))
    model.compile(loss="mse", optimizer="adam")
    assert model.get_layer("hidden") is hidden and hidden.bias is None
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4, 1), (1,)]
    assert model.layers == [inputs, hidden, model.output_layer]
    with pytest.raises(ValueError, match="the first argument of compile is the loss"):
        model.compile("adam", "mse")
    with pytest.raises(ValueError, match="No layer named"):
        model.get_layer("nothing")


def test_predict_inside_a_callback_keeps_dropout_in_training_mode():
    seen = []

    class Probe(Callback):
        def on_batch_end(self, batch, logs=None):
            self.model.predict(np.ones((2, 4)))
            self.model.evaluate(np.ones((2, 4)), np.ones((2, 1)))
            seen.append(drop.training)

    inputs = Input((4,))
    drop = Dropout(0.5)(Dense(8)(inputs))
    model = Model(inputs, Dense(1)(drop))
    model.compile(loss="mse")
    model.fit(np.ones((8, 4)), np.ones(8), epochs=1, batch_size=2, print_loss=False,
              callbacks=[Probe()])
    assert seen == [True] * 4
    assert drop.training is False


def test_a_graph_saves_and_loads_with_its_inputs_and_outputs(tmp_path):
    model = two_headed()
    model.compile(loss=["categorical_crossentropy", "mse"], optimizer="adam",
                  metrics={"label": ["accuracy"], "box": ["mae"]}, loss_weights=[1.0, 0.3])
    xs, ys = data()
    model.fit(xs, ys, epochs=2, print_loss=False)
    model.save(tmp_path / "g.safetensors")
    loaded = layerwise.load_model(tmp_path / "g.safetensors")
    assert loaded.input_names == ["text", "table"] and loaded.output_names == ["label", "box"]
    for a, b in zip(loaded.predict(xs), model.predict(xs)):
        np.testing.assert_array_equal(a, b)
    assert loaded.loss_weights == [1.0, 0.3]
    assert loaded.evaluate(xs, ys) == model.evaluate(xs, ys)
    loaded.fit(xs, ys, epochs=3, print_loss=False)
    model.fit(xs, ys, epochs=3, print_loss=False)


def test_summary_shows_what_each_layer_is_connected_to(capsys):
    model = two_headed()
    model.summary()
    text = capsys.readouterr().out
    add = next(layer for layer in model.layers if isinstance(layer, Add))
    row = next(line for line in text.splitlines() if line.startswith(add.name))
    assert all(parent.name in row for parent in add.inbound)


def test_a_graph_exports_to_onnx_with_named_inputs_and_outputs(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = two_headed()
    model.compile(loss=["categorical_crossentropy", "mse"])
    xs, _ = data()
    path = layerwise.export_onnx(model, tmp_path / "g.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["text", "table"]
    assert [o.name for o in session.get_outputs()] == ["label", "box"]
    results = session.run(None, {"text": xs[0].astype(np.float32),
                                 "table": xs[1].astype(np.float32)})
    for got, expected in zip(results, model.predict(xs)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_sequential_is_the_same_network_as_the_chain_model(tmp_path):
    seq = Sequential([Input((4,)), Dense(8, activation="relu", seed=1)])
    seq.add(Dense(1, seed=2))
    inputs = Input((4,))
    chain = Model(inputs, Dense(1, seed=2)(Dense(8, activation="relu", seed=1)(inputs)))
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(32, 4)), rng.normal(size=32)
    for model in (seq, chain):
        model.compile(loss="mse", optimizer="adam", dtype="float64")
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, print_loss=False)
    for a, b in zip(seq.get_weights(), chain.get_weights()):
        np.testing.assert_array_equal(a, b)
    seq.save(tmp_path / "s.safetensors")
    loaded = layerwise.load_model(tmp_path / "s.safetensors")
    assert isinstance(loaded, Sequential)
    np.testing.assert_array_equal(loaded.predict(x), seq.predict(x))
    popped = seq.pop()
    assert isinstance(popped, Dense) and seq.output_shape == (8,)


def test_sequential_refuses_a_first_layer_without_a_shape_and_a_late_input():
    with pytest.raises(IncompatibleLayerError, match="input shape"):
        Sequential([Dense(3)])
    model = Sequential([Dense(3, input_size=2)])
    with pytest.raises(TypeError, match="first layer"):
        model.add(Input((3,)))


def test_flatten_and_reshape_layers():
    inputs = Input((2, 3))
    flat = Flatten()(inputs)
    assert flat.output_shape == (6,)
    assert Reshape((3, -1))(flat).output_shape == (3, 2)
    with pytest.raises(ShapeMismatchError, match="not a multiple"):
        Reshape((4, -1))(flat)
    with pytest.raises(ValueError, match="one -1"):
        Reshape((-1, -1))


def test_a_graph_with_dropout_resumes_bit_for_bit_from_a_checkpoint(tmp_path):
    from layerwise.callbacks import ModelCheckpoint

    xs, ys = data(40)

    def graph():
        layerwise.set_seed(5)
        a, b = Input((6,), name="text"), Input((3,), name="table")
        h = Dropout(0.3, seed=11)(Dense(8, activation="relu")(a))
        merged = Concatenate()([h, Dense(4)(b)])
        model = Model([a, b], [Dense(3, activation="softmax", name="label")(merged),
                               Dense(2, name="box")(merged)])
        model.compile(loss=["categorical_crossentropy", "mse"], optimizer="adam",
                      dtype="float64")
        return model

    whole = graph()
    whole.fit(xs, ys, epochs=4, batch_size=8, print_loss=False)
    first = graph()
    path = tmp_path / "ckpt.safetensors"
    first.fit(xs, ys, epochs=2, batch_size=8, print_loss=False, callbacks=[ModelCheckpoint(path)])
    resumed = graph()
    resumed.fit(xs, ys, epochs=4, batch_size=8, print_loss=False, resume_from=path)
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.history["loss"] == whole.history["loss"]


def test_get_weights_follow_the_running_order_and_set_weights_checks_all_first():
    model = two_headed()
    names = [f"{layer.name}/{n}" for layer in model.layers
             for n in (*layer.parameters(), *layer.state())]
    weights = model.get_weights()
    assert [w.shape for w in weights] == [
        model.get_layer(n.split("/")[0]).__dict__[n.split("/")[1]].shape for n in names
    ]
    bad = [w + 1 for w in weights]
    bad[-1] = np.zeros((7, 7))
    with pytest.raises(ShapeMismatchError):
        model.set_weights(bad)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_a_file_saved_before_graphs_still_loads_and_predicts_the_same():
    # Written by layerwise at commit a0b27e7 (a chain: Input, Dense, BatchNormalization,
    # Dropout, Dense softmax; Adam; inputs x = default_rng(0).normal(size=(32, 4))).
    folder = pathlib.Path(__file__).parent / "data"
    model = layerwise.load_model(folder / "chain_before_graphs.safetensors")
    x = np.random.default_rng(0).normal(size=(32, 4))
    expected = np.load(folder / "chain_before_graphs_predictions.npy")
    np.testing.assert_array_equal(model.predict(x), expected)
    assert model.input_names == [model.layers[0].name]
    model.fit(x, np.eye(3)[np.zeros(32, int)], epochs=1, print_loss=False)
