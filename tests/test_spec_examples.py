"""The spec's code examples, run as written, and small learning problems."""

import numpy as np
import pytest

import layerwise
from layerwise import Activation, Dense, Input, Loss, Model
from layerwise.activations import get_function
from layerwise.layers import Layer
from layerwise.losses import get_loss

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)


def test_spec_model_example_builds_compiles_fits_and_predicts():
    x_train, y_train, x_test = XOR_X, XOR_Y, XOR_X
    inputs = Dense(input_size=2, output_size=16, activation="tanh")
    x = Dense(output_size=8, activation="relu")(inputs)
    x = Dense(output_size=4, activation="relu")(x)
    x = Dense(output_size=2, activation="relu")(x)
    outputs = Dense(output_size=1, activation="sigmoid")(x)

    model = Model(inputs, outputs)
    model.compile(loss_fn="mse")
    loss = model.fit(x_train, y_train, epochs=500, learning_rate=0.05, print_loss=False)
    predictions = model.predict(x_test)

    assert isinstance(loss, float)
    assert predictions.shape == (4, 1)
    assert np.all((predictions > 0) & (predictions < 1))
    # The returned loss is the last epoch's mean loss over the (single) batch of 4 samples,
    # measured before that epoch's update; it must be close to the loss after it.
    after = float(np.mean((predictions - y_train) ** 2))
    assert abs(loss - after) < 1e-3


def test_spec_weight_initializer_example():
    inputs = Input(shape=(2,))
    x = Dense(output_size=4, activation="tanh", weights_initializer="xavier_uniform")(inputs)
    limit = np.sqrt(6 / (2 + 4))
    assert x.weights.shape == (2, 4)
    assert np.all(np.abs(x.weights) <= limit)
    y = Dense(output_size=4, activation="tanh", weight_initializer="xavier_uniform")(inputs)
    assert np.all(np.abs(y.weights) <= limit)


def test_spec_dense_activation_examples():
    for name in ("relu", "sigmoid", "softmax", "tanh"):
        layer = Dense(input_size=3, output_size=5, activation=name)
        assert layer.activation.name == name
        assert layer.weights.shape == (3, 5) and layer.bias.shape == (5,)


def test_spec_activation_class_interface():
    layer = Activation("tanh")
    assert isinstance(layer, Layer)
    assert layer.name == "tanh"
    x = np.array([[-1.0, 0.5]])
    np.testing.assert_allclose(layer.forward(x), np.tanh(x))
    np.testing.assert_allclose(layer.activation(x), np.tanh(x))
    g = np.array([[2.0, 3.0]])
    np.testing.assert_allclose(layer.backward(g), g * (1 - np.tanh(x) ** 2))
    np.testing.assert_allclose(layer.activation_derivative(x, g), g * (1 - np.tanh(x) ** 2))


def test_spec_loss_class_interface():
    loss = Loss("mse")
    assert loss.name == "mse"
    y, p = np.array([[1.0, 2.0]]), np.array([[1.5, 1.0]])
    assert loss.forward(y, p) == pytest.approx((0.25 + 1.0) / 2)
    np.testing.assert_allclose(loss.backward(y, p), 2 * (p - y) / 2)
    function, derivative = get_loss("categorical_crossentropy")
    assert function([[0, 1]], [[0.25, 0.75]]) == pytest.approx(-np.log(0.75))
    fn, dfn = get_function("relu")
    np.testing.assert_allclose(fn(np.array([-1.0, 2.0])), [0.0, 2.0])
    np.testing.assert_allclose(dfn(np.array([-1.0, 2.0]), np.array([5.0, 5.0])), [0.0, 5.0])


def test_spec_categorical_crossentropy_compile_example():
    inputs = Input(shape=(4,))
    outputs = Dense(3, activation="softmax")(Dense(8, activation="relu")(inputs))
    model = Model(inputs, outputs)
    model.compile(loss_fn="categorical_crossentropy")
    assert model.loss.name == "categorical_crossentropy"


def test_xor_is_learned_with_per_sample_updates():
    layerwise.set_seed(0)
    inputs = Input(shape=(2,))
    hidden = Dense(8, activation="tanh", weights_initializer="xavier_uniform")(inputs)
    outputs = Dense(1, activation="sigmoid", weights_initializer="xavier_uniform")(hidden)
    model = Model(inputs, outputs)
    model.compile(loss_fn="mse")
    loss = model.fit(XOR_X, XOR_Y, epochs=1000, learning_rate=0.5, print_loss=False,
                     batch_size=1)
    assert loss < 0.01
    np.testing.assert_array_equal(model.predict(XOR_X).round(), XOR_Y)


def test_small_regression_is_learned():
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, size=(256, 1))
    y = np.sin(x)
    layerwise.set_seed(1)
    inputs = Input(shape=(1,))
    hidden = Dense(32, activation="tanh", weights_initializer="xavier_normal")(inputs)
    outputs = Dense(1)(hidden)
    model = Model(inputs, outputs)
    model.compile(loss_fn="mse", optimizer="adam")
    model.fit(x, y, epochs=300, learning_rate=0.01, print_loss=False)
    residual = np.mean((model.predict(x) - y) ** 2)
    assert residual < 0.01 * np.var(y)


def test_small_classification_is_learned():
    rng = np.random.default_rng(2)
    centers = np.array([[0, 3], [3, 0], [-3, -3]])
    labels = rng.integers(0, 3, size=300)
    x = centers[labels] + rng.normal(size=(300, 2))
    y = np.eye(3)[labels]
    layerwise.set_seed(2)
    inputs = Input(shape=(2,))
    hidden = Dense(16, activation="relu", weights_initializer="he_normal")(inputs)
    outputs = Dense(3, activation="softmax")(hidden)
    model = Model(inputs, outputs)
    model.compile(loss_fn="categorical_crossentropy")
    model.fit(x, y, epochs=50, learning_rate=0.1, print_loss=False)
    accuracy = np.mean(model.predict(x).argmax(1) == labels)
    assert accuracy > 0.95
