"""Activations: values against formulas written here, gradients against finite differences,
stability at +-1e4, dtypes, and round trips through the registry."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from helpers import numerical_gradient
from layerwise import _constants, activations, registry
from layerwise.activations import ELU, GELU, LeakyReLU, erf, get, get_function

vector_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


# Reference formulas, valid for the moderate inputs of the value tests (|x| < 20).
REFERENCES = {
    "linear": lambda x: x,
    "relu": lambda x: np.where(x > 0, x, 0.0),
    "sigmoid": _sigmoid,
    "softmax": _softmax,
    "tanh": lambda x: (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "gelu": lambda x: x * 0.5 * (1 + vector_erf(x / math.sqrt(2))),
    "softplus": lambda x: np.log(1 + np.exp(x)),
    "swish": lambda x: x * _sigmoid(x),
    "silu": lambda x: x / (1 + np.exp(-x)),
}


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


# (activation object, reference) for every activation and parameterisation under test.
CASES = [(get(name), reference) for name, reference in REFERENCES.items()] + [
    (GELU(approximate=True), _gelu_tanh),
    (LeakyReLU(negative_slope=0.05), lambda x: np.where(x > 0, x, 0.05 * x)),
    (ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
]
IDS = [repr(activation) for activation, _ in CASES]


def _inputs(seed: int, shape=(4, 5), scale=3.0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(scale=scale, size=shape)
    # Keep finite differences away from the kinks of relu, leaky_relu and elu at 0.
    x[np.abs(x) < 1e-3] = 0.5
    return x


@pytest.mark.parametrize(("activation", "reference"), CASES, ids=IDS)
def test_value_matches_formula(activation, reference):
    x = _inputs(0, shape=(6, 7))
    np.testing.assert_allclose(activation(x), reference(x), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("activation", "reference"), CASES, ids=IDS)
def test_derivative_matches_finite_differences_of_weighted_sum(activation, reference):
    # For softmax this is the full Jacobian-vector product per row, not the diagonal.
    x = _inputs(1)
    g = np.random.default_rng(2).normal(size=x.shape)
    expected = numerical_gradient(lambda: np.sum(activation(x) * g), x)
    np.testing.assert_allclose(activation.derivative(x, g), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("activation", "reference"), CASES, ids=IDS)
def test_function_and_derivative_leave_their_arguments_unchanged(activation, reference):
    x = _inputs(3)
    g = np.random.default_rng(4).normal(size=x.shape)
    x_before, g_before = x.copy(), g.copy()
    y = activation(x)
    activation.derivative(x, g)
    y += 1  # the returned value is a new array, not a view of x
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(g, g_before)


@pytest.mark.parametrize(("activation", "reference"), CASES, ids=IDS)
def test_float32_inputs_stay_float32_and_close_to_float64(activation, reference):
    x = _inputs(5)
    g = np.random.default_rng(6).normal(size=x.shape)
    x32, g32 = x.astype(np.float32), g.astype(np.float32)
    y32, d32 = activation(x32), activation.derivative(x32, g32)
    assert y32.dtype == np.float32 and d32.dtype == np.float32
    np.testing.assert_allclose(y32, reference(x), rtol=1e-5, atol=1e-6)
    expected = numerical_gradient(lambda: np.sum(activation(x) * g), x)
    np.testing.assert_allclose(d32, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("activation", "reference"), CASES, ids=IDS)
def test_forward_into_its_own_input_buffer_when_output_suffices(activation, reference):
    # Layers apply activations with needs_input=False in place and call backward without x.
    x = _inputs(7)
    g = np.random.default_rng(8).normal(size=x.shape)
    expected_gradient = numerical_gradient(lambda: np.sum(activation(x) * g), x)
    buffer = x.copy()
    if activation.needs_input:
        out = activation.forward(x, out=np.empty_like(x))
        gradient = activation.backward(x, out, g.copy())
    else:
        out = activation.forward(buffer, out=buffer)
        assert out is buffer
        gradient = activation.backward(None, out, g.copy())
    np.testing.assert_allclose(out, reference(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-6, atol=1e-8)


def test_softmax_is_per_row_and_each_row_sums_to_one():
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0], [-5.0, 0.0, 5.0]])
    y = get("softmax")(x)
    np.testing.assert_allclose(y[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-15)
    np.testing.assert_allclose(y[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-15)


def test_relu_and_leaky_relu_gradients_at_zero_follow_pytorch():
    # PyTorch and Keras take the gradient of max(0, x) at 0 as 0, and leaky_relu's as the slope.
    x, g = np.zeros(3), np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(get("relu").derivative(x, g), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(get("leaky_relu").derivative(x, g), 0.2 * g)


def test_get_function_returns_the_specs_function_and_derivative_pair():
    function, derivative = get_function("tanh")
    x = np.array([[-0.5, 0.25]])
    g = np.array([[2.0, 3.0]])
    np.testing.assert_allclose(function(x), REFERENCES["tanh"](x), rtol=1e-14)
    np.testing.assert_allclose(derivative(x, g), g * (1 - REFERENCES["tanh"](x) ** 2), rtol=1e-14)


def test_plain_lists_and_integers_are_computed_in_float64():
    function, derivative = get_function("softmax")
    y = function([1, 2, 3])
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, _softmax(np.array([1.0, 2.0, 3.0])), rtol=1e-15)
    gradient = derivative([1, 2, 3], [1, 0, 0])
    np.testing.assert_allclose(gradient, y[0] * (np.array([1, 0, 0]) - y), rtol=1e-14)
    np.testing.assert_allclose(erf([1, 2]), [math.erf(1), math.erf(2)], rtol=1e-15)


def test_swish_and_silu_are_the_same_activation():
    assert type(get("swish")) is type(get("silu"))


def test_erf_matches_math_erf_on_a_dense_grid():
    x = np.linspace(-8, 8, 160_001)
    np.testing.assert_allclose(erf(x), vector_erf(x), rtol=0, atol=1e-14)
    tiny = np.geomspace(1e-300, 1e-2, 2000)
    np.testing.assert_allclose(erf(tiny), vector_erf(tiny), rtol=1e-14, atol=0)
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf, 1e300])), [1.0, -1.0, 1.0])
    assert np.isnan(erf(np.array([np.nan]))[0])
    assert erf(np.float64(0.5)).shape == ()


def test_erf_in_float32_is_within_rounding_of_math_erf():
    x = np.linspace(-6, 6, 20_001).astype(np.float32)
    result = erf(x)
    assert result.dtype == np.float32
    # Half an ulp of float32 near 1 is 3e-8; allow a little more than that.
    np.testing.assert_allclose(result, vector_erf(x.astype(np.float64)), rtol=0, atol=5e-8)


def test_gelu_keeps_relative_precision_in_the_negative_tail():
    # x * Phi(x) for x << 0 is tiny; computing 1 + erf would cancel it to noise.
    x = np.array([-8.0, -12.0, -20.0])
    expected = x * 0.5 * np.array([math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(get("gelu")(x), expected, rtol=1e-12)


STABLE = ["sigmoid", "softmax", "softplus", "swish", "gelu", "elu", "tanh", "relu", "leaky_relu"]
STABLE_CASES = [get(name) for name in STABLE] + [GELU(approximate=True)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", STABLE_CASES, ids=repr)
def test_extreme_inputs_give_finite_values_and_no_warnings(activation, dtype):
    x = np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    g = np.ones_like(x)
    # Underflow (exp(-1e4) rounding to 0) is the correct result, so only overflow, division by
    # zero and invalid operations count as failures.
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        y = activation(x)
        d = activation.derivative(x, g)
    assert np.isfinite(y).all() and np.isfinite(d).all()
    assert y.dtype == dtype and d.dtype == dtype


def test_extreme_inputs_give_the_limits_of_each_function():
    x = np.array([-1e4, 1e4])
    limits = {
        "sigmoid": ([0.0, 1.0], [0.0, 0.0]),
        "softplus": ([0.0, 1e4], [0.0, 1.0]),
        "swish": ([0.0, 1e4], [0.0, 1.0]),
        "gelu": ([0.0, 1e4], [0.0, 1.0]),
        "elu": ([-1.0, 1e4], [0.0, 1.0]),
    }
    for name, (value, slope) in limits.items():
        activation = get(name)
        np.testing.assert_allclose(activation(x), value, atol=1e-300, err_msg=name)
        np.testing.assert_allclose(activation.derivative(x, np.ones(2)), slope, err_msg=name)
    np.testing.assert_allclose(GELU(approximate=True)(x), [0.0, 1e4])
    np.testing.assert_array_equal(get("softmax")(np.array([[-1e4, 0.0, 1e4]])), [[0, 0, 1]])


ROUND_TRIP = [
    activations.Linear(),
    activations.ReLU(),
    activations.Sigmoid(),
    activations.Softmax(),
    activations.Tanh(),
    LeakyReLU(negative_slope=0.1),
    ELU(alpha=0.7),
    GELU(),
    GELU(approximate=True),
    activations.Softplus(),
    activations.Swish(),
]


@pytest.mark.parametrize("activation", ROUND_TRIP, ids=repr)
def test_round_trip_through_registry_gives_an_equal_activation(activation):
    config = json.loads(json.dumps(registry.serialize(activation)))
    restored = registry.deserialize(config)
    rebuilt = type(activation).from_config(activation.get_config())
    x = _inputs(9)
    for other in (restored, rebuilt, get(config)):
        assert type(other) is type(activation)
        assert other.get_config() == activation.get_config()
        assert other == activation
        np.testing.assert_array_equal(other(x), activation(x))


def test_parameterised_activations_report_their_parameter():
    assert LeakyReLU(0.1).get_config() == {"negative_slope": 0.1}
    np.testing.assert_allclose(LeakyReLU(0.1)(np.array([-2.0, 3.0])), [-0.2, 3.0])
    assert LeakyReLU(0.1) != LeakyReLU(0.2)


def test_unknown_activation_name_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"'activation_function'.*Valid names: .*gelu.*relu"):
        get_function("rectifier")


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: LeakyReLU(negative_slope="steep"), "negative_slope"),
        (lambda: LeakyReLU(negative_slope=float("nan")), "negative_slope"),
        (lambda: ELU(alpha=-1.0), "alpha"),
        (lambda: GELU(approximate="tanh"), "approximate"),
    ],
)
def test_bad_parameters_are_refused_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=f"'{argument}'"):
        build()


def test_relu_against_cached_zeros_is_the_maximum_with_zero_for_every_shape(monkeypatch):
    # ReLU takes max(x, zeros) from one cached read-only array of zeros (a faster NumPy loop
    # than max(x, 0)); beyond the cache's limit it falls back to the scalar.
    monkeypatch.setattr(_constants, "_CACHE", {})
    monkeypatch.setattr(_constants, "LIMIT", 50_000)
    relu, rng = activations.ReLU(), np.random.default_rng(8)
    for dtype in (np.float32, np.float64):
        for shape in [(3,), (0, 4), (5, 7), (2, 3, 4), (200, 200), (300, 300), (40_000, 2)]:
            x = rng.normal(size=shape).astype(dtype)
            expected = np.where(x > 0, x, 0).astype(dtype)
            np.testing.assert_array_equal(relu.forward(x), expected)
            relu.forward(x, out=x)  # in place, as Dense does while training
            np.testing.assert_array_equal(x, expected)
            assert x.dtype == dtype
    for zeros in _constants._CACHE.values():
        assert not zeros.flags.writeable and not zeros.any() and zeros.size <= 50_000
