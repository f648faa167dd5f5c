"""Model: the graph, compile checks, forward/backward through the whole network, weights, dtype."""

import numpy as np
import pytest

import layerwise
from helpers import numerical_gradient
from layerwise import Activation, Dense, Flatten, Input, Loss, Model
from layerwise.exceptions import (
    DisconnectedLayersError,
    IncompatibleLayerError,
    ShapeMismatchError,
)


def mlp(output_activation="softmax", outputs=3, hidden=("tanh", "relu"), features=4, seed=0):
    layerwise.set_seed(seed)
    inputs = Input(shape=(features,))
    x = inputs
    for activation in hidden:
        x = Dense(6, activation=activation, weights_initializer="xavier_normal",
                  bias_initializer="random_normal")(x)
    return Model(inputs, Dense(outputs, activation=output_activation)(x))


def one_hot(labels, classes):
    return np.eye(classes)[labels]


def loss_of(model, x, y):
    """The model's mean loss, by an independent formula for the losses used here."""
    p = model.predict(x).astype(np.float64)
    name = model.loss.name
    if name == "mse":
        return np.mean((p - y) ** 2)
    if name == "categorical_crossentropy":
        if model.loss.from_logits:
            p = np.exp(p - p.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
        return -np.mean(np.sum(y * np.log(p), axis=1))
    if name == "binary_crossentropy":
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    raise AssertionError(name)


CASES = [
    ("softmax", "categorical_crossentropy", 3),  # fused softmax + CCE
    ("linear", Loss("categorical_crossentropy", from_logits=True), 3),
    ("sigmoid", "binary_crossentropy", 2),  # fused sigmoid + BCE
    ("softmax", "mse", 3),  # softmax's true Jacobian with another loss
    ("tanh", "mse", 2),
]


@pytest.mark.parametrize("activation, loss, outputs", CASES)
def test_backward_gives_finite_difference_gradients_of_the_loss(activation, loss, outputs):
    rng = np.random.default_rng(3)
    model = mlp(activation, outputs)
    model.compile(loss_fn=loss, dtype="float64")
    x = rng.normal(size=(7, 4))
    y = one_hot(rng.integers(0, outputs, 7), outputs) if activation != "tanh" else rng.uniform(
        -0.9, 0.9, size=(7, outputs))
    model.forward(x)
    input_gradient = model.backward(y)
    for layer in model.layers:
        for name, param in layer.parameters().items():
            expected = numerical_gradient(lambda: loss_of(model, x, y), param)
            np.testing.assert_allclose(layer.gradients()[name], expected, rtol=1e-5, atol=1e-8,
                                       err_msg=f"{layer.name}/{name}")
    expected_input = numerical_gradient(lambda: loss_of(model, x, y), x)
    np.testing.assert_allclose(input_gradient, expected_input, rtol=1e-5, atol=1e-8)


def test_one_fit_step_is_gradient_descent_with_finite_difference_gradient():
    rng = np.random.default_rng(4)
    model = mlp()
    model.compile(loss_fn="categorical_crossentropy", dtype="float64")
    x, y = rng.normal(size=(10, 4)), one_hot(rng.integers(0, 3, 10), 3)
    before = model.get_weights()
    expected = [w - 0.1 * numerical_gradient(lambda: loss_of(model, x, y), p)
                for w, p in zip(before, model._parameter_arrays())]
    model.fit(x, y, epochs=1, batch_size=10, learning_rate=0.1, print_loss=False)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-10)


def test_batch_size_one_is_the_specs_per_sample_gradient_descent():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 4)), one_hot(rng.integers(0, 3, 6), 3)
    fitted, manual = mlp(seed=7), mlp(seed=7)
    for model in (fitted, manual):
        model.compile(loss_fn="categorical_crossentropy", dtype="float64")
    fitted.fit(x, y, epochs=2, batch_size=1, learning_rate=0.05, shuffle=False,
               print_loss=False)
    for _ in range(2):  # the spec's loop: forward, backward, update, one sample at a time
        for i in range(len(x)):
            manual.forward(x[i : i + 1])
            manual.backward(y[i : i + 1])
            manual.update(0.05)
    for a, b in zip(fitted.get_weights(), manual.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_last_partial_batch_is_trained_on():
    rng = np.random.default_rng(6)
    model = mlp()
    model.compile(loss_fn="categorical_crossentropy")
    x, y = rng.normal(size=(10, 4)), one_hot(rng.integers(0, 3, 10), 3)
    model.fit(x, y, epochs=1, batch_size=4, print_loss=False)
    assert model.optimizer.iterations == 3  # 4 + 4 + 2
    # The last two samples alone change the weights: training only on them moves them too.
    twin = mlp(seed=0)
    twin.compile(loss_fn="categorical_crossentropy")
    before = twin.get_weights()
    twin.fit(x[8:], y[8:], epochs=1, batch_size=4, print_loss=False)
    assert any(not np.array_equal(a, b) for a, b in zip(before, twin.get_weights()))


def test_default_learning_rate_is_0_01():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(5, 4)), one_hot(rng.integers(0, 3, 5), 3)
    a, b = mlp(seed=3), mlp(seed=3)
    a.compile(loss_fn="categorical_crossentropy", dtype="float64")
    b.compile(loss_fn="categorical_crossentropy", dtype="float64")
    a.fit(x, y, epochs=1, batch_size=5, print_loss=False)
    b.fit(x, y, epochs=1, batch_size=5, learning_rate=0.01, print_loss=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_float32_is_the_default_and_float64_switches_everything():
    model = mlp()
    model.compile(loss_fn="categorical_crossentropy")
    x = np.random.default_rng(8).normal(size=(3, 4))  # float64 data
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(x).dtype == np.float32
    model.compile(loss_fn="categorical_crossentropy", dtype="float64")
    assert all(w.dtype == np.float64 for w in model.get_weights())
    assert model.predict(x).dtype == np.float64
    with pytest.raises(ValueError, match="dtype"):
        model.compile(loss_fn="mse", dtype="int8")


def test_predict_returns_n_by_output_shape_and_batches_large_inputs():
    model = mlp()
    model.compile(loss_fn="categorical_crossentropy", dtype="float64")
    x = np.random.default_rng(9).normal(size=(10, 4))
    whole = model.predict(x)
    assert whole.shape == (10, 3)
    np.testing.assert_allclose(model.predict(x, batch_size=3), whole, rtol=1e-15)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0)  # softmax per sample, not per batch
    one = model.predict(x[:1])
    np.testing.assert_allclose(one, whole[:1], rtol=1e-15)
    np.testing.assert_allclose(model.predict(x.tolist()), whole)  # plain lists


def test_get_and_set_weights_in_keras_order():
    model = mlp()
    weights = model.get_weights()
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    expected = [a for layer in dense for a in (layer.weights, layer.bias)]
    assert [w.shape for w in weights] == [e.shape for e in expected]
    new = [np.full_like(w, i) for i, w in enumerate(weights)]
    model.set_weights(new)
    for layer, i in zip(dense, range(0, 6, 2)):
        assert np.all(layer.weights == i) and np.all(layer.bias == i + 1)
    with pytest.raises(ShapeMismatchError, match="shape"):
        model.set_weights([np.zeros((1, 1))] + new[1:])
    with pytest.raises(ShapeMismatchError, match="6 weights"):
        model.set_weights(new[:2])
    assert np.all(dense[0].weights == 0)  # a refused set_weights changes nothing


def _layer_weight_model(seed):
    layerwise.set_seed(seed)
    inputs = Input((6, 6, 2))
    h = layerwise.Conv2D(3, 3, activation="relu")(inputs)
    h = layerwise.BatchNormalization()(h)
    h = layerwise.Reshape((4, 12))(h)
    h = layerwise.LSTM(5)(h)
    model = Model(inputs, Dense(2, activation="softmax")(h))
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def test_layer_get_weights_are_keras_lists_that_make_up_the_models():
    model = _layer_weight_model(0)
    by_layer = [layer.get_weights() for layer in model.layers]
    conv, norm, lstm, dense = (model.layers[i] for i in (1, 2, 4, 5))
    assert by_layer[0] == [] and model.layers[3].get_weights() == []  # Input, Reshape
    # Keras' shapes and order: kernel (kh, kw, in, filters) and bias; gamma, beta, moving mean
    # and variance; kernel, recurrent kernel, bias (gates i, f, c, o); kernel, bias.
    assert [w.shape for w in conv.get_weights()] == [(3, 3, 2, 3), (3,)]
    np.testing.assert_array_equal(norm.get_weights()[3], norm.moving_variance)
    assert [w.shape for w in norm.get_weights()] == [(3,)] * 4
    assert [w.shape for w in lstm.get_weights()] == [(12, 20), (5, 20), (20,)]
    assert [w.shape for w in dense.get_weights()] == [(5, 2), (2,)]
    flat = [w for weights in by_layer for w in weights]
    assert len(flat) == len(model.get_weights())
    for mine, whole in zip(flat, model.get_weights()):
        np.testing.assert_array_equal(mine, whole)
    flat[0][...] = 7.0  # copies, not the layer's arrays
    assert not np.any(conv.get_weights()[0] == 7.0)
    assert Dense(3).get_weights() == []  # not built yet


def test_layer_set_weights_copies_a_layer_into_another_model_and_checks_all_first():
    source, target = _layer_weight_model(0), _layer_weight_model(1)
    x = np.random.default_rng(0).standard_normal((4, 6, 6, 2)).astype(np.float32)
    target.fit(x, np.eye(2, dtype=np.float32)[[0, 1, 0, 1]], epochs=1, verbose=0)  # packed
    for mine, theirs in zip(target.layers, source.layers):
        mine.set_weights(theirs.get_weights())
    np.testing.assert_array_equal(target.predict(x), source.predict(x))
    # and training goes on from the new values (the packed arrays were written in place)
    target.fit(x, np.eye(2, dtype=np.float32)[[0, 1, 0, 1]], epochs=1, verbose=0)
    assert not np.array_equal(target.layers[5].get_weights()[0], source.layers[5].weights)

    lstm, norm = target.layers[4], target.layers[2]
    before = [w.copy() for w in target.get_weights()]
    good = lstm.get_weights()
    # each refused list starts with good arrays of new values, which must not be written
    with pytest.raises(ShapeMismatchError, match=r"lstm_\d+/recurrent_kernel.*\(5, 20\)"):
        lstm.set_weights([good[0] + 1, np.zeros((20, 5)), good[2]])
    with pytest.raises(ShapeMismatchError, match=r"holds 2 arrays, but layer 'lstm_\d+' has 3"):
        lstm.set_weights([good[0] + 1, good[1]])
    with pytest.raises(ValueError, match="NaN"):
        lstm.set_weights([good[0] + 1, good[1] + 1, np.full(20, np.nan)])
    with pytest.raises(ValueError, match="variance"):
        norm.set_weights([w + 1 for w in norm.get_weights()[:3]] + [-np.ones(3)])
    with pytest.raises(TypeError, match="list of arrays"):
        lstm.set_weights(good[0])
    for was, now in zip(before, target.get_weights()):
        np.testing.assert_array_equal(was, now)  # every refusal changed nothing


def test_multi_axis_input_is_flattened_by_flatten():
    inputs = Input(shape=(3, 4))
    outputs = Dense(2)(Flatten()(inputs))
    model = Model(inputs, outputs)
    model.compile(loss_fn="mse", dtype="float64")
    x = np.random.default_rng(10).normal(size=(5, 3, 4))
    np.testing.assert_allclose(model.predict(x),
                               x.reshape(5, 12) @ outputs.weights + outputs.bias)
    model.fit(x, np.zeros((5, 2)), epochs=1, print_loss=False)


def test_dense_on_a_multi_axis_input_gives_one_output_per_position():
    inputs = Input(shape=(3, 4))
    outputs = Dense(2)(inputs)
    model = Model(inputs, outputs)
    model.compile(loss_fn="mse", dtype="float64")
    x = np.random.default_rng(10).normal(size=(5, 3, 4))
    np.testing.assert_allclose(model.predict(x), x @ outputs.weights + outputs.bias)
    model.fit(x, np.zeros((5, 3, 2)), epochs=1, print_loss=False)


def test_a_single_dense_layer_can_be_the_whole_model():
    layer = Dense(input_size=3, output_size=1)
    model = Model(layer, layer)
    model.compile(loss_fn="mse", dtype="float64")
    x = np.random.default_rng(11).normal(size=(50, 3))
    y = x @ np.array([1.0, -2.0, 0.5])  # 1-D labels for a single output
    model.fit(x, y, epochs=200, learning_rate=0.1, print_loss=False)
    np.testing.assert_allclose(layer.weights.ravel(), [1.0, -2.0, 0.5], atol=1e-3)


def test_standalone_activation_layer_and_graph_order():
    inputs = Input(shape=(4,))
    dense = Dense(3)(inputs)
    outputs = Activation("softmax")(dense)
    model = Model(inputs, outputs)
    assert model.layers == [inputs, dense, outputs]
    model.compile(loss_fn="categorical_crossentropy", dtype="float64")
    assert model._fused  # softmax as its own layer still takes the fused gradient
    x = np.random.default_rng(12).normal(size=(4, 4))
    z = x @ dense.weights + dense.bias
    expected = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x), expected)


def test_disconnected_graphs_are_refused():
    a, b = Input(shape=(2,)), Input(shape=(2,))
    out_b = Dense(1)(b)
    with pytest.raises(DisconnectedLayersError, match="not connected|not one of"):
        Model(a, out_b)
    lone = Dense(3)
    with pytest.raises(IncompatibleLayerError, match="no shape"):
        Model(lone, lone)


def test_model_arguments_are_checked():
    inputs = Input(shape=(2,))
    outputs = Dense(1)(inputs)
    with pytest.raises(TypeError, match="inputs"):
        Model(None, outputs)
    with pytest.raises(TypeError, match="outputs"):
        Model(inputs, None)
    with pytest.raises(TypeError, match="outputs"):
        Model(inputs, "dense")


@pytest.mark.parametrize("activation", ["relu", "linear", "tanh"])
def test_cross_entropy_after_a_non_probability_output_is_refused_with_the_fix(activation):
    model = mlp(activation)
    with pytest.raises(IncompatibleLayerError, match="softmax"):
        model.compile(loss_fn="categorical_crossentropy")


def test_other_incompatible_outputs_are_refused():
    with pytest.raises(IncompatibleLayerError, match="binary_crossentropy"):
        mlp("sigmoid").compile(loss_fn="categorical_crossentropy")
    with pytest.raises(IncompatibleLayerError, match="from_logits"):
        mlp("softmax").compile(loss_fn=Loss("categorical_crossentropy", from_logits=True))


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="mse"):
        mlp().compile(loss_fn="hinge")
    with pytest.raises(ValueError, match="adam"):
        mlp().compile(loss_fn="mse", optimizer="adagrad")
    with pytest.raises(ValueError, match="relu"):
        Dense(3, activation="relu6")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_adds_the_regularizers_gradient_to_the_update(optimizer):
    rng = np.random.default_rng(13)
    layerwise.set_seed(13)
    inputs = Input(shape=(3,))
    dense = Dense(2, kernel_regularizer="l2", bias_regularizer="l1",
                  bias_initializer="random_normal")(inputs)
    model = Model(inputs, dense)
    model.compile(loss_fn="mse", optimizer=optimizer, dtype="float64")
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))

    def total_loss():
        return np.mean((x @ dense.weights + dense.bias - y) ** 2) + dense.regularization_loss()

    grads = [numerical_gradient(total_loss, p) for p in (dense.weights, dense.bias)]
    model.forward(x)
    model.backward(y)  # the spec's backward includes the penalty
    np.testing.assert_allclose(dense.grad_weights, grads[0], rtol=1e-6)
    np.testing.assert_allclose(dense.grad_bias, grads[1], rtol=1e-6)
    before, loss_before = model.get_weights(), total_loss()
    model.fit(x, y, epochs=1, batch_size=8, learning_rate=0.1, print_loss=False)
    assert model.history["loss"][0] == pytest.approx(loss_before, rel=1e-12)  # penalty included
    if optimizer == "sgd":
        expected = [w - 0.1 * g for w, g in zip(before, grads)]
    else:  # Adam's first step moves each weight by lr * sign(g) (up to epsilon)
        expected = [w - 0.1 * g / (np.abs(g) + 1e-7) for w, g in zip(before, grads)]
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_predict_never_returns_a_view_of_its_input():
    inputs = Input(shape=(3,))
    model = Model(inputs, layerwise.Dropout(0.5)(inputs))  # the identity at inference
    x = np.ones((2, 3), dtype=np.float32)
    out = model.predict(x)
    out[:] = 7
    assert np.all(x == 1)
    with pytest.raises(ValueError, match="batch_size"):
        mlp().predict(np.zeros((2, 4)), batch_size=0)


def test_logits_may_come_from_a_layer_without_activation():
    layerwise.set_seed(3)
    inputs = Input(shape=(4,))
    outputs = layerwise.BatchNormalization()(Dense(3)(inputs))
    model = Model(inputs, outputs)
    model.compile(loss_fn=Loss("categorical_crossentropy", from_logits=True), dtype="float64")
    x = np.random.default_rng(0).normal(size=(8, 4))
    y = one_hot(np.arange(8) % 3, 3)
    model.forward(x)
    model.backward(y)
    expected = numerical_gradient(lambda: loss_of(model, x, y), outputs.gamma)
    np.testing.assert_allclose(outputs.grad_gamma, expected, rtol=1e-5, atol=1e-9)
    with pytest.raises(IncompatibleLayerError, match="probabilities"):
        model.compile(loss_fn="categorical_crossentropy")
