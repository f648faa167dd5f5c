"""Layers checked against formulas written out in NumPy and against finite differences (float64).

The layers are driven by hand (``forward`` / ``_backward``), not through ``Model``, so that a
failure points at the layer. ``layer.training = True`` switches on the reused buffers of the
training loop; those runs must give the same numbers as inference mode.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from helpers import numerical_gradient
from layerwise import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    Input,
    regularizers,
)
from layerwise.exceptions import IncompatibleLayerError, ShapeMismatchError
from layerwise.registry import deserialize, serialize

ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
}


def rng(seed=0):
    return np.random.default_rng(seed)


def dense_stack(activations, sizes, seed=0, input_shape=None):
    """``[Input, Dense, Dense, ...]`` in float64 with non-trivial biases."""
    generator = rng(seed)
    layers = [Input(shape=input_shape or (sizes[0],))]
    for size, activation in zip(sizes[1:], activations):
        layers.append(Dense(size, activation=activation, weights_initializer="xavier_normal"))
        layers[-1](layers[-2])
    for layer in layers:
        layer.set_dtype("float64")
    for layer in layers[1:]:
        layer.bias[:] = generator.normal(0, 0.3, layer.bias.shape)
    return layers


def run_forward(layers, x):
    for layer in layers:
        x = layer.forward(x)
    return x


def run_backward(layers, output_error):
    error = output_error.copy()
    for layer in reversed(layers):
        error = layer._backward(error)
    return error


def set_training(layers, training):
    for layer in layers:
        layer.training = training


# ------------------------------------------------------------------------------------ Dense
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense_forward_is_input_times_weights_plus_bias_then_activation(activation):
    layer = Dense(4, activation=activation, input_size=3)
    layer.set_dtype("float64")
    layer.bias[:] = [0.1, -0.2, 0.3, 0.0]
    x = rng().normal(size=(6, 3))
    expected = ACTIVATIONS[activation](x @ layer.weights + layer.bias)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-15)


def test_dense_acts_on_the_last_axis_and_returns_the_input_error_in_the_input_shape():
    inputs = Input(shape=(4, 7))
    layer = Dense(5, activation="tanh")(inputs)
    assert layer.weights.shape == (7, 5) and layer.output_shape == (4, 5)
    layer.set_dtype("float64")
    x = rng(1).normal(size=(3, 4, 7))
    z = np.einsum("ntf,fu->ntu", x, layer.weights) + layer.bias
    np.testing.assert_allclose(layer.forward(x), np.tanh(z), rtol=1e-12)
    g = rng(2).normal(size=(3, 4, 5))
    delta = g * (1 - np.tanh(z) ** 2)
    input_error = layer.backward(g)
    assert input_error.shape == (3, 4, 7)
    np.testing.assert_allclose(input_error, delta @ layer.weights.T, rtol=1e-10)
    np.testing.assert_allclose(
        layer.grad_weights, np.einsum("ntf,ntu->fu", x, delta), rtol=1e-10
    )
    np.testing.assert_allclose(layer.grad_bias, delta.sum(axis=(0, 1)), rtol=1e-10)


def test_flatten_then_dense_reads_28_by_28_images():
    flat = Flatten()(Input(shape=(28, 28)))
    layer = Dense(3)(flat)
    assert flat.output_shape == (784,) and layer.weights.shape == (784, 3)
    layer.set_dtype("float64")
    x = rng(3).normal(size=(2, 28, 28))
    np.testing.assert_allclose(
        layer.forward(flat.forward(x)), x.reshape(2, 784) @ layer.weights + layer.bias,
        rtol=1e-12,
    )
    assert flat.backward(layer.backward(np.ones((2, 3)))).shape == (2, 28, 28)


STACKS = [
    (["tanh", "relu", "sigmoid"], [4, 6, 5, 3]),
    (["relu", "tanh", "softmax"], [4, 7, 5, 3]),
    (["sigmoid", "linear"], [3, 4, 2]),
    # Activations whose gradient needs their input, not only their output.
    (["gelu", "elu", "swish", "softmax"], [3, 5, 4, 4, 3]),
]


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("activations, sizes", STACKS, ids=["-".join(a) for a, _ in STACKS])
def test_dense_stack_gradients_equal_finite_differences(activations, sizes, training):
    layers = dense_stack(activations, sizes)
    set_training(layers, training)
    x = rng(3).normal(size=(5, sizes[0]))
    g = rng(4).normal(size=(5, sizes[-1]))

    def loss():
        return float(np.sum(run_forward(layers, x) * g))

    loss()
    input_error = run_backward(layers, g).copy()
    analytic = [(layer.grad_weights.copy(), layer.grad_bias.copy()) for layer in layers[1:]]
    for layer, (grad_weights, grad_bias) in zip(layers[1:], analytic):
        np.testing.assert_allclose(
            grad_weights, numerical_gradient(loss, layer.weights), rtol=1e-6, atol=1e-8
        )
        np.testing.assert_allclose(
            grad_bias, numerical_gradient(loss, layer.bias), rtol=1e-6, atol=1e-8
        )
    np.testing.assert_allclose(input_error, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)


def test_training_buffers_give_inference_results_for_batches_of_changing_size():
    layers = dense_stack(["relu", "leaky_relu", "softmax"], [6, 8, 7, 4], seed=5)
    batches = [
        (rng(10 + i).normal(size=(n, 6)), rng(20 + i).normal(size=(n, 4)))
        for i, n in enumerate([7, 3, 11, 1, 7])
    ]

    def step(x, g):
        output = run_forward(layers, x).copy()
        input_error = run_backward(layers, g).copy()
        grads = [a.copy() for layer in layers[1:] for a in layer.gradients().values()]
        return output, input_error, grads

    set_training(layers, False)
    expected = [step(x, g) for x, g in batches]
    set_training(layers, True)
    # Twice: the second pass runs every batch size on buffers sized by the largest batch.
    for _ in range(2):
        for (x, g), (output, input_error, grads) in zip(batches, expected):
            got_output, got_input_error, got_grads = step(x, g)
            np.testing.assert_allclose(got_output, output, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(got_input_error, input_error, rtol=1e-13, atol=1e-15)
            for got, want in zip(got_grads, grads):
                np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_training_mode_reuses_the_same_buffers_from_batch_to_batch():
    layer = Dense(5, activation="relu", input_size=3)
    layer.training = True
    first = layer.forward(np.ones((8, 3), np.float32))
    second = layer.forward(np.ones((4, 3), np.float32))
    assert np.shares_memory(first, second)
    layer.training = False
    third = layer.forward(np.ones((4, 3), np.float32))
    assert not np.shares_memory(second, third)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_pre_activation_backward_equals_feeding_the_activation_jacobian_product(activation):
    layer = Dense(4, activation=activation, input_size=3)
    layer.set_dtype("float64")
    x = rng(6).normal(size=(5, 3))
    g = rng(7).normal(size=(5, 4))
    y = layer.forward(x)
    if activation == "softmax":
        jacobian = np.einsum("ni,ij->nij", y, np.eye(4)) - np.einsum("ni,nj->nij", y, y)
        delta = np.einsum("nij,nj->ni", jacobian, g)
    else:
        delta = g * y * (1 - y)
    input_error = layer._backward(delta.copy(), pre_activation=True)
    np.testing.assert_allclose(input_error, delta @ layer.weights.T, rtol=1e-12)
    np.testing.assert_allclose(layer.grad_weights, x.T @ delta, rtol=1e-12)
    np.testing.assert_allclose(layer.grad_bias, delta.sum(axis=0), rtol=1e-12)
    # The unfused path with the gradient of the output gives the same numbers.
    np.testing.assert_allclose(layer._backward(g.copy()), delta @ layer.weights.T, rtol=1e-10)


def test_without_input_gradient_backward_returns_none_but_stores_parameter_gradients():
    layer = Dense(3, activation="tanh", input_size=4)
    layer.set_dtype("float64")
    x = rng(8).normal(size=(6, 4))
    g = rng(9).normal(size=(6, 3))
    y = layer.forward(x)
    assert layer._backward(g.copy(), input_gradient=False) is None
    delta = g * (1 - y**2)
    np.testing.assert_allclose(layer.grad_weights, x.T @ delta, rtol=1e-12)
    np.testing.assert_allclose(layer.grad_bias, delta.sum(axis=0), rtol=1e-12)


def test_public_backward_leaves_the_callers_error_unchanged():
    layer = Dense(3, activation="sigmoid", input_size=2)
    layer.forward(np.ones((4, 2), np.float32))
    g = np.full((4, 3), 2.0, np.float32)
    layer.backward(g)
    np.testing.assert_array_equal(g, np.full((4, 3), 2.0, np.float32))


def test_update_is_parameter_minus_learning_rate_times_gradient():
    layer = Dense(3, input_size=2)
    layer.set_dtype("float64")
    layer.forward(rng(10).normal(size=(5, 2)))
    layer.backward(rng(11).normal(size=(5, 3)))
    weights, bias = layer.weights.copy(), layer.bias.copy()
    grad_weights, grad_bias = layer.grad_weights.copy(), layer.grad_bias.copy()
    layer.update(0.1)
    np.testing.assert_allclose(layer.weights, weights - 0.1 * grad_weights, rtol=1e-15)
    np.testing.assert_allclose(layer.bias, bias - 0.1 * grad_bias, rtol=1e-15)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softmax", "leaky_relu", "gelu"])
def test_float32_stays_float32_through_forward_backward_and_update(activation, training):
    layer = Dense(4, activation=activation, input_size=3)
    layer.training = training
    x = rng(12).normal(size=(5, 3)).astype(np.float32)
    output = layer.forward(x)
    input_error = layer._backward(np.ones((5, 4), np.float32))
    layer.update(0.01)
    arrays = [output, input_error, layer.weights, layer.bias, layer.grad_weights, layer.grad_bias]
    assert [a.dtype for a in arrays] == [np.dtype(np.float32)] * 6


def test_set_dtype_casts_weights_and_keeps_their_values():
    layer = Dense(3, input_size=2)
    weights = layer.weights.copy()
    layer.set_dtype("float64")
    assert layer.weights.dtype == np.float64 and layer.grad_weights.dtype == np.float64
    np.testing.assert_array_equal(layer.weights, weights.astype(np.float64))


# ------------------------------------------------------------------------------ Activation
def test_activation_layer_has_the_spec_attributes():
    layer = Activation("relu")
    x = np.array([[-1.5, 0.5, 2.0]])
    g = np.array([[3.0, 4.0, 5.0]])
    assert layer.name == "relu"
    np.testing.assert_array_equal(layer.activation(x), [[0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(layer.activation_derivative(x, g), [[0.0, 4.0, 5.0]])
    np.testing.assert_array_equal(g, [[3.0, 4.0, 5.0]])  # the derivative copies its argument


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_layer_forward_and_backward_match_formula_and_finite_differences(name):
    layer = Activation(name)
    layer.set_dtype("float64")
    x = rng(13).normal(size=(4, 5))
    g = rng(14).normal(size=(4, 5))
    np.testing.assert_allclose(layer.forward(x), ACTIVATIONS[name](x), rtol=1e-12, atol=1e-15)
    input_error = layer.backward(g)
    numeric = numerical_gradient(lambda: float(np.sum(ACTIVATIONS[name](x) * g)), x)
    np.testing.assert_allclose(input_error, numeric, rtol=1e-6, atol=1e-8)


def test_activation_layer_pre_activation_error_is_already_the_input_gradient():
    layer = Activation("softmax")
    layer.set_dtype("float64")
    x = rng(40).normal(size=(3, 4))
    layer.forward(x)
    delta = rng(41).normal(size=(3, 4))
    np.testing.assert_array_equal(layer._backward(delta.copy(), pre_activation=True), delta)
    assert layer._backward(delta.copy(), input_gradient=False) is None


@pytest.mark.parametrize("training", [False, True])
def test_standalone_activation_in_a_graph_gives_finite_difference_gradients(training):
    inputs = Input(shape=(3,))
    dense = Dense(4)(inputs)
    activation = Activation("tanh")(dense)
    layers = [inputs, dense, activation]
    for layer in layers:
        layer.set_dtype("float64")
    set_training(layers, training)
    x = rng(15).normal(size=(5, 3))
    g = rng(16).normal(size=(5, 4))
    z = x @ dense.weights + dense.bias
    np.testing.assert_allclose(run_forward(layers, x), np.tanh(z), rtol=1e-12)
    # The activation must not overwrite the linear layer's output, which it reads.
    np.testing.assert_allclose(dense.output, z, rtol=1e-12)
    input_error = run_backward(layers, g).copy()
    grad_weights = dense.grad_weights.copy()

    def loss():
        return float(np.sum(run_forward(layers, x) * g))

    np.testing.assert_allclose(grad_weights, numerical_gradient(loss, dense.weights), rtol=1e-6)
    np.testing.assert_allclose(input_error, numerical_gradient(loss, x), rtol=1e-6, atol=1e-9)


# -------------------------------------------------------------------------------- Dropout
def test_dropout_is_the_identity_outside_training():
    layer = Dropout(0.5)
    x = rng(17).normal(size=(10, 4)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))


def test_dropout_keeps_scaled_values_drops_about_rate_and_preserves_the_mean():
    rate = 0.3
    layer = Dropout(rate, seed=1)
    layer.set_dtype("float64")
    layer.training = True
    x = rng(18).uniform(1.0, 2.0, size=(400, 500))
    output = layer.forward(x)
    dropped = output == 0
    kept_ok = np.isclose(output, x / (1 - rate), rtol=1e-12)
    assert np.all(dropped | kept_ok)
    n = x.size
    assert abs(dropped.mean() - rate) < 5 * math.sqrt(rate * (1 - rate) / n)
    # With all-ones input the mean output estimates 1; its standard error is sqrt(p/(1-p)/n).
    ones_output = layer.forward(np.ones((400, 500)))
    assert abs(ones_output.mean() - 1.0) < 5 * math.sqrt(rate / (1 - rate) / n)


def test_dropout_backward_uses_the_forward_mask():
    layer = Dropout(0.5, seed=2)
    layer.set_dtype("float64")
    layer.training = True
    x = rng(19).uniform(1.0, 2.0, size=(30, 20))
    output = layer.forward(x).copy()
    g = rng(20).normal(size=(30, 20))
    np.testing.assert_allclose(layer.backward(g), g * output / x, rtol=1e-12)


def test_dropout_masks_are_reproducible_with_a_seed():
    def masks(seed):
        layer = Dropout(0.5, seed=seed)
        layer.training = True
        return [layer.forward(np.ones((50, 40), np.float32)).copy() for _ in range(2)]

    first, again, other = masks(7), masks(7), masks(8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])  # a new mask every batch
    assert not np.array_equal(first[0], other[0])


def test_dropout_output_stays_float32():
    layer = Dropout(0.2)
    layer.training = True
    output = layer.forward(np.ones((8, 3), np.float32))
    assert output.dtype == np.float32
    assert layer.backward(np.ones((8, 3), np.float32)).dtype == np.float32


@pytest.mark.parametrize("rate", [-0.1, 1, 1.5, float("nan"), "a", True, None])
def test_dropout_rate_must_be_in_zero_one(rate):
    with pytest.raises((TypeError, ValueError), match="'rate'"):
        Dropout(rate)


# ---------------------------------------------------------------------- BatchNormalization
def batch_norm(features=5, training=True, **kwargs):
    layer = BatchNormalization(**kwargs)(Input(shape=(features,)))
    layer.set_dtype("float64")
    layer.training = training
    return layer


def test_batch_norm_training_output_uses_the_batch_statistics():
    layer = batch_norm()
    x = rng(21).normal(3.0, 2.0, size=(64, 5))
    standardized = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-3)
    output = layer.forward(x)
    np.testing.assert_allclose(output, standardized, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(output.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(output.var(axis=0), 1, atol=1e-3)  # epsilon keeps it just below
    layer.gamma[:] = rng(22).normal(size=5)
    layer.beta[:] = rng(23).normal(size=5)
    expected = layer.gamma * standardized + layer.beta
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


def test_batch_norm_moving_averages_follow_keras_rule():
    layer = batch_norm(features=3)
    moving_mean, moving_variance = np.zeros(3), np.ones(3)
    for seed in range(3):
        x = rng(seed).normal(seed, 1 + seed, size=(16, 3))
        layer.forward(x)
        moving_mean = 0.99 * moving_mean + 0.01 * x.mean(axis=0)
        moving_variance = 0.99 * moving_variance + 0.01 * x.var(axis=0)  # biased variance
    np.testing.assert_allclose(layer.moving_mean, moving_mean, rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance, moving_variance, rtol=1e-12)
    custom = batch_norm(features=3, momentum=0.5)
    x = rng(4).normal(size=(16, 3))
    custom.forward(x)
    np.testing.assert_allclose(custom.moving_mean, 0.5 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(custom.moving_variance, 0.5 + 0.5 * x.var(axis=0), rtol=1e-12)


def test_batch_norm_inference_uses_the_moving_averages_and_leaves_them_alone():
    layer = batch_norm(features=4, training=False, epsilon=0.01)
    layer.moving_mean[:] = [1.0, -1.0, 0.5, 0.0]
    layer.moving_variance[:] = [4.0, 0.25, 1.0, 9.0]
    layer.gamma[:] = [1.0, 2.0, 0.5, -1.0]
    layer.beta[:] = [0.0, 0.1, -0.2, 0.3]
    x = rng(24).normal(size=(10, 4))
    expected = layer.gamma * (x - layer.moving_mean) / np.sqrt(layer.moving_variance + 0.01)
    np.testing.assert_allclose(layer.forward(x), expected + layer.beta, rtol=1e-12)
    np.testing.assert_array_equal(layer.moving_mean, [1.0, -1.0, 0.5, 0.0])
    np.testing.assert_array_equal(layer.moving_variance, [4.0, 0.25, 1.0, 9.0])


@pytest.mark.parametrize("shape", [(8, 4), (3, 5, 4)], ids=["2d", "3d"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batch_norm_gradients_equal_finite_differences(training, shape):
    layer = BatchNormalization()(Input(shape=shape[1:]))
    layer.set_dtype("float64")
    layer.training = training
    layer.gamma[:] = rng(25).normal(size=4)
    layer.beta[:] = rng(26).normal(size=4)
    layer.moving_mean[:] = rng(27).normal(size=4)
    layer.moving_variance[:] = rng(28).uniform(0.5, 2.0, size=4)
    x = rng(29).normal(1.0, 2.0, size=shape)
    g = rng(30).normal(size=shape)

    def loss():
        return float(np.sum(layer.forward(x) * g))

    loss()
    input_error = layer.backward(g)
    assert input_error.shape == shape
    grad_gamma, grad_beta = layer.grad_gamma.copy(), layer.grad_beta.copy()
    np.testing.assert_allclose(input_error, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grad_gamma, numerical_gradient(loss, layer.gamma), rtol=1e-6)
    np.testing.assert_allclose(grad_beta, numerical_gradient(loss, layer.beta), rtol=1e-6)


def test_batch_norm_backward_differentiates_the_statistics_its_forward_used():
    x = rng(37).normal(size=(6, 3))
    g = rng(38).normal(size=(6, 3))
    layer = batch_norm(features=3)
    layer.forward(x)
    layer.training = False  # flipped between the passes: the batch statistics still apply
    input_error = layer.backward(g)
    inverse_std = 1 / np.sqrt(x.var(axis=0) + 1e-3)
    x_hat = (x - x.mean(axis=0)) * inverse_std
    expected = inverse_std * (g - g.mean(axis=0) - x_hat * np.mean(g * x_hat, axis=0))
    np.testing.assert_allclose(input_error, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grad_gamma, np.sum(g * x_hat, axis=0), rtol=1e-12)


def test_batch_norm_on_sequences_normalizes_over_batch_and_time():
    layer = BatchNormalization()(Input(shape=(6, 3)))
    layer.set_dtype("float64")
    layer.training = True
    x = rng(31).normal(2.0, 3.0, size=(4, 6, 3))
    rows = x.reshape(-1, 3)
    expected = (x - rows.mean(axis=0)) / np.sqrt(rows.var(axis=0) + 1e-3)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.moving_mean, 0.01 * rows.mean(axis=0), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_stays_float32(training):
    layer = BatchNormalization()(Input(shape=(3,)))
    layer.training = training
    output = layer.forward(rng(32).normal(size=(6, 3)).astype(np.float32))
    input_error = layer._backward(np.ones((6, 3), np.float32))
    layer.update(0.1)
    arrays = [
        output,
        input_error,
        layer.gamma,
        layer.beta,
        layer.moving_mean,
        layer.moving_variance,
        layer.grad_gamma,
        layer.grad_beta,
    ]
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}


def test_batch_norm_update_and_without_scale_or_center_nothing_is_trained():
    layer = batch_norm(features=2)
    layer.forward(rng(33).normal(size=(5, 2)))
    layer.backward(rng(34).normal(size=(5, 2)))
    gamma = layer.gamma - 0.5 * layer.grad_gamma
    beta = layer.beta - 0.5 * layer.grad_beta
    layer.update(0.5)
    np.testing.assert_allclose(layer.gamma, gamma, rtol=1e-15)
    np.testing.assert_allclose(layer.beta, beta, rtol=1e-15)
    fixed = batch_norm(features=2, center=False, scale=False)
    assert fixed.parameters() == {} and fixed.gradients() == {}
    assert sorted(fixed.state()) == ["moving_mean", "moving_variance"]


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"momentum": 1.0}, "momentum"),
        ({"momentum": -0.1}, "momentum"),
        ({"momentum": "a"}, "momentum"),
        ({"epsilon": 0}, "epsilon"),
        ({"epsilon": float("inf")}, "epsilon"),
        ({"center": "yes"}, "center"),
    ],
)
def test_batch_norm_arguments_are_checked(kwargs, argument):
    with pytest.raises((TypeError, ValueError), match=f"'{argument}'"):
        BatchNormalization(**kwargs)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "output_size, error",
    [
        (0, ValueError),
        (-1, ValueError),
        (2.5, TypeError),
        ("a", TypeError),
        (None, TypeError),
        (True, TypeError),
    ],
)
def test_dense_output_size_must_be_a_positive_integer(output_size, error):
    with pytest.raises(error, match="'output_size'"):
        Dense(output_size)


@pytest.mark.parametrize("name", [5, "", "a/b", ["x"]])
def test_layer_names_must_be_plain_strings(name):
    with pytest.raises((TypeError, ValueError), match="'name'"):
        Dense(3, name=name)
    with pytest.raises((TypeError, ValueError), match="'name'"):
        Dropout(0.1, name=name)


@pytest.mark.parametrize("previous", [np.ones(3), "inputs", None, 3])
def test_dense_must_be_called_on_a_layer(previous):
    with pytest.raises(TypeError, match="'previous_layer'"):
        Dense(3)(previous)


@pytest.mark.parametrize(
    "shape, error",
    [
        (5, TypeError),
        ((0,), ValueError),
        ((2.5,), ValueError),
        (("a",), ValueError),
        ((), ValueError),
        ((3, -1), ValueError),
        (None, TypeError),
    ],
)
def test_input_shape_must_be_a_tuple_of_positive_integers(shape, error):
    with pytest.raises(error, match="'shape'"):
        Input(shape=shape)


@pytest.mark.parametrize(
    "spelling", ["weights_initializer", "weight_initializer", "kernel_initializer"]
)
def test_every_spelling_of_the_weights_initializer_is_used(spelling):
    layer = Dense(3, input_size=2, **{spelling: "ones"})
    np.testing.assert_array_equal(layer.weights, np.ones((2, 3)))


def test_the_weights_initializer_may_be_given_only_once():
    with pytest.raises(ValueError, match="'weights_initializer'"):
        Dense(3, weights_initializer="ones", weight_initializer="zeros")
    with pytest.raises(ValueError, match="'kernel_initializer'"):
        Dense(3, weight_initializer="ones", kernel_initializer="ones")


def test_unknown_activation_and_initializer_names_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"'activation'.*Valid names:.*relu.*sigmoid"):
        Dense(3, activation="relux")
    with pytest.raises(ValueError, match=r"'weights_initializer'.*Valid names:.*he_normal"):
        Dense(3, weights_initializer="he_norm")
    with pytest.raises(ValueError, match=r"'bias_initializer'.*Valid names:.*zeros"):
        Dense(3, bias_initializer="nothing")
    with pytest.raises(ValueError, match=r"'activation_function'.*Valid names:.*tanh"):
        Activation("tan")


def test_dense_with_input_size_starts_a_model_without_input():
    layer = Dense(input_size=2, output_size=3, bias_initializer="ones")
    assert layer.weights.shape == (2, 3) and layer.bias.shape == (3,)
    x = np.array([[1.0, 2.0]], np.float32)
    np.testing.assert_allclose(layer.forward(x), x @ layer.weights + 1, rtol=1e-6)
    weights = layer.weights.copy()
    # Attached later to a matching layer, it keeps its weights; a mismatch is refused.
    layer(Input(shape=(2,)))
    np.testing.assert_array_equal(layer.weights, weights)
    with pytest.raises(ShapeMismatchError, match="input_size=2"):
        Dense(3, input_size=2)(Input(shape=(3,)))
    with pytest.raises(TypeError, match="'input_size'"):
        Dense(3, input_size=1.5)


def test_calling_a_layer_twice_is_refused_and_keeps_the_first_wiring():
    first, second = Input(shape=(2,)), Input(shape=(2,))
    for layer in (Dense(3), Dropout(0.1), Activation("relu"), BatchNormalization()):
        layer(first)
        with pytest.raises(IncompatibleLayerError, match="already attached"):
            layer(second)
        assert layer.inbound == [first]
    starter = Dense(3, input_size=2)
    starter(first)
    with pytest.raises(IncompatibleLayerError, match="already attached"):
        starter(second)


def test_input_cannot_be_called_and_passes_errors_through():
    with pytest.raises(TypeError, match="Input"):
        Input(shape=(2,))(Input(shape=(2,)))
    layer = Input(shape=(2,))
    g = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(layer.backward(g), g)


def test_a_layer_without_a_known_shape_cannot_be_built_upon():
    with pytest.raises(IncompatibleLayerError, match="no known output shape"):
        Dense(3)(Dense(2))


# ---------------------------------------------------------------------------- regularizers
def test_regularization_loss_is_the_penalty_formula():
    layer = Dense(3, input_size=4, kernel_regularizer="l2", bias_regularizer="l1")
    layer.set_dtype("float64")
    layer.bias[:] = [0.5, -0.25, 1.0]
    expected = 0.01 * np.sum(layer.weights**2) + 0.01 * np.sum(np.abs(layer.bias))
    assert layer.regularization_loss() == pytest.approx(expected, rel=1e-12)
    both = Dense(3, input_size=4, kernel_regularizer=regularizers.L1L2(l1=0.1, l2=0.2))
    expected = 0.1 * np.sum(np.abs(both.weights)) + 0.2 * np.sum(both.weights.astype(float) ** 2)
    assert both.regularization_loss() == pytest.approx(expected, rel=1e-5)
    assert Dense(3, input_size=4).regularization_loss() == 0.0


@pytest.mark.parametrize("kernel, bias", [("l2", "l1"), ("l1_l2", None), ("l1", "l2")])
def test_regularized_gradients_equal_finite_differences_of_loss_plus_penalty(kernel, bias):
    layer = Dense(
        3, activation="tanh", input_size=4, kernel_regularizer=kernel, bias_regularizer=bias
    )
    layer.set_dtype("float64")
    layer.bias[:] = [0.5, -0.25, 1.0]  # away from the kink of |b| at 0
    x = rng(35).normal(size=(6, 4))
    g = rng(36).normal(size=(6, 3))

    def loss():
        return float(np.sum(layer.forward(x) * g)) + layer.regularization_loss()

    loss()
    layer.backward(g)  # gradients of the data term; the model adds the penalty's
    penalty = layer.regularization_gradients()
    grad_weights = layer.grad_weights + penalty.get("weights", 0)
    grad_bias = layer.grad_bias + penalty.get("bias", 0)
    np.testing.assert_allclose(grad_weights, numerical_gradient(loss, layer.weights), rtol=1e-6)
    np.testing.assert_allclose(grad_bias, numerical_gradient(loss, layer.bias), rtol=1e-6)


# ------------------------------------------------------------------------------ configs
def configured_layers():
    return [
        Input(shape=(28, 28), name="pixels"),
        Dense(4, activation="relu", weights_initializer="he_uniform", input_size=3, seed=5),
        Dense(
            2,
            activation={"class_name": "LeakyReLU", "config": {"negative_slope": 0.1}},
            kernel_initializer={"class_name": "RandomNormal", "config": {"stddev": 0.3}},
            kernel_regularizer=regularizers.L1L2(l1=0.5, l2=0.25),
            bias_regularizer="l2",
        ),
        Activation("softmax", name="probabilities"),
        Dropout(0.25, seed=3),
        BatchNormalization(momentum=0.9, epsilon=1e-5, center=False),
    ]


@pytest.mark.parametrize("index", range(6))
def test_get_config_round_trips_through_json_for_every_layer_type(index):
    layer = configured_layers()[index]
    config = layer.get_config()
    text = json.dumps(serialize(layer))
    rebuilt = deserialize(json.loads(text))
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == config
    assert type(layer).from_config(config).get_config() == config


def test_rebuilt_dense_keeps_its_parameterised_parts():
    original = configured_layers()[2]
    rebuilt = Dense.from_config(original.get_config())
    assert rebuilt.activation.negative_slope == 0.1
    assert rebuilt.weights_initializer.stddev == 0.3
    assert (rebuilt.kernel_regularizer.l1, rebuilt.kernel_regularizer.l2) == (0.5, 0.25)
    starter = Dense.from_config(configured_layers()[1].get_config())
    assert starter.weights.shape == (3, 4)
