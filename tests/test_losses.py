"""Losses: values against formulas written here, gradients against finite differences, the fused
activation+loss gradients, stability at +-1e4, the spec's interfaces and the registry."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from helpers import numerical_gradient
from layerwise import registry
from layerwise.activations import get as get_activation
from layerwise.exceptions import ShapeMismatchError
from layerwise.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    get,
    get_loss,
)

N, K = 6, 4  # samples and classes


def _softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _huber(y, p, delta):
    d = np.abs(p - y)
    return np.mean(np.where(d <= delta, 0.5 * d**2, delta * (d - 0.5 * delta)))


def _regression_data(seed):
    generator = np.random.default_rng(seed)
    y = generator.normal(size=(N, 3))
    p = y + generator.choice([-1, 1], size=y.shape) * generator.uniform(0.1, 2.5, size=y.shape)
    # Keep finite differences away from the kinks of mae (0) and huber (|d| = delta).
    d = np.abs(p - y)
    p[np.abs(d - 1.0) < 1e-3] += 0.01
    p[np.abs(d - 0.5) < 1e-3] += 0.01
    return y, p


def _classification_data(seed, labels="onehot"):
    generator = np.random.default_rng(seed)
    # Moderate logits: probabilities far from 0 keep finite differences of log(p) accurate.
    z = generator.normal(scale=1.0, size=(N, K))
    classes = generator.integers(0, K, size=N)
    if labels == "onehot":
        y = np.eye(K)[classes]
    elif labels == "soft":
        y = generator.dirichlet(np.ones(K), size=N)
    elif labels == "unnormalised":  # rows not summing to 1 exercise the sum(y) in the gradient
        y = generator.uniform(0, 1, size=(N, K))
    else:
        y = classes
    return y, z


def _binary_data(seed):
    generator = np.random.default_rng(seed)
    z = generator.normal(scale=2.0, size=(N, 3))
    y = generator.integers(0, 2, size=(N, 3)).astype(float)
    y[0] = [0.3, 0.5, 0.9]  # soft labels are allowed too
    return y, z


# name -> (loss, data builder returning (y_true, y_pred), reference value formula)
CASES = {
    "mse": (MeanSquaredError(), _regression_data, lambda y, p: np.mean((p - y) ** 2)),
    "mae": (MeanAbsoluteError(), _regression_data, lambda y, p: np.mean(np.abs(p - y))),
    "huber": (Huber(), _regression_data, lambda y, p: _huber(y, p, 1.0)),
    "huber_delta_0.5": (Huber(delta=0.5), _regression_data, lambda y, p: _huber(y, p, 0.5)),
    "cce": (
        CategoricalCrossentropy(),
        lambda s: (lambda y, z: (y, _softmax(z)))(*_classification_data(s)),
        lambda y, p: -np.mean(np.sum(y * np.log(p), axis=1)),
    ),
    "cce_soft_labels": (
        CategoricalCrossentropy(),
        lambda s: (lambda y, z: (y, _softmax(z)))(*_classification_data(s, "soft")),
        lambda y, p: -np.mean(np.sum(y * np.log(p), axis=1)),
    ),
    "cce_logits": (
        CategoricalCrossentropy(from_logits=True),
        lambda s: _classification_data(s, "soft"),
        lambda y, z: -np.mean(np.sum(y * np.log(_softmax(z)), axis=1)),
    ),
    "scce": (
        SparseCategoricalCrossentropy(),
        lambda s: (lambda y, z: (y, _softmax(z)))(*_classification_data(s, "sparse")),
        lambda y, p: -np.mean(np.log(p[np.arange(len(y)), y])),
    ),
    "scce_logits": (
        SparseCategoricalCrossentropy(from_logits=True),
        lambda s: _classification_data(s, "sparse"),
        lambda y, z: -np.mean(np.log(_softmax(z)[np.arange(len(y)), y])),
    ),
    "bce": (
        BinaryCrossentropy(),
        lambda s: (lambda y, z: (y, _sigmoid(z)))(*_binary_data(s)),
        lambda y, p: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)),
    ),
    "bce_logits": (
        BinaryCrossentropy(from_logits=True),
        _binary_data,
        lambda y, z: -np.mean(y * np.log(_sigmoid(z)) + (1 - y) * np.log(1 - _sigmoid(z))),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_value_matches_formula(case):
    loss, data, reference = CASES[case]
    y, p = data(1)
    value = loss.value(y, p)
    assert isinstance(value, float)
    assert value == pytest.approx(reference(y, p), rel=1e-13)


@pytest.mark.parametrize("case", CASES)
def test_gradient_matches_finite_differences_of_value(case):
    loss, data, _ = CASES[case]
    y, p = data(2)
    expected = numerical_gradient(lambda: loss.value(y, p), p)
    np.testing.assert_allclose(loss.gradient(y, p), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_gradient_writes_into_out_when_given(case):
    loss, data, _ = CASES[case]
    y, p = data(3)
    expected = numerical_gradient(lambda: loss.value(y, p), p)
    out = np.full_like(p, np.nan)
    result = loss.gradient(y, p, out=out)
    assert result is out
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_value_is_a_mean_so_repeating_the_batch_leaves_it_unchanged(case):
    loss, data, reference = CASES[case]
    y, p = data(4)
    doubled = loss.value(np.concatenate([y, y]), np.concatenate([p, p]))
    assert doubled == pytest.approx(reference(y, p), rel=1e-13)


# (loss, its partner activation, label kind)
FUSED = [
    (CategoricalCrossentropy(), "softmax", "onehot"),
    (CategoricalCrossentropy(), "softmax", "soft"),
    (CategoricalCrossentropy(), "softmax", "unnormalised"),
    (SparseCategoricalCrossentropy(), "softmax", "sparse"),
    (BinaryCrossentropy(), "sigmoid", "binary"),
]
FUSED_IDS = [f"{loss.name}-{labels}" for loss, _, labels in FUSED]


def _fused_data(labels, seed):
    return _binary_data(seed) if labels == "binary" else _classification_data(seed, labels)


@pytest.mark.parametrize(("loss", "activation_name", "labels"), FUSED, ids=FUSED_IDS)
def test_fused_gradient_is_the_gradient_with_respect_to_the_activation_input(
    loss, activation_name, labels
):
    activation = get_activation(activation_name)
    assert loss.partner == activation_name
    y, z = _fused_data(labels, 5)
    expected = numerical_gradient(lambda: loss.value(y, activation(z)), z)
    fused = loss.fused_gradient(y, activation(z))
    np.testing.assert_allclose(fused, expected, rtol=1e-6, atol=1e-9)
    # The unfused path: the loss gradient, then the activation's Jacobian-vector product.
    p = activation(z)
    chained = activation.backward(z, p, loss.gradient(y, p))
    np.testing.assert_allclose(fused, chained, rtol=1e-10, atol=1e-13)
    # from_logits=True takes z itself and gives the same gradient and value.
    logits_loss = type(loss)(from_logits=True)
    np.testing.assert_allclose(logits_loss.gradient(y, z), fused, rtol=1e-12, atol=1e-15)
    assert logits_loss.value(y, z) == pytest.approx(loss.value(y, p), rel=1e-12)


@pytest.mark.parametrize(("loss", "activation_name", "labels"), FUSED, ids=FUSED_IDS)
def test_fused_gradient_writes_into_out(loss, activation_name, labels):
    activation = get_activation(activation_name)
    y, z = _fused_data(labels, 6)
    p = activation(z)
    p_before = p.copy()
    out = np.full_like(p, np.nan)
    assert loss.fused_gradient(y, p, out=out) is out
    np.testing.assert_allclose(out, activation.backward(z, p, loss.gradient(y, p)), atol=1e-13)
    np.testing.assert_array_equal(p, p_before)


def test_probabilities_turn_logits_into_the_partner_activation_output():
    _, z = _classification_data(7)
    np.testing.assert_allclose(
        CategoricalCrossentropy(from_logits=True).probabilities(z), _softmax(z), rtol=1e-14
    )
    np.testing.assert_allclose(
        SparseCategoricalCrossentropy(from_logits=True).probabilities(z), _softmax(z), rtol=1e-14
    )
    np.testing.assert_allclose(
        BinaryCrossentropy(from_logits=True).probabilities(z), _sigmoid(z), rtol=1e-14
    )
    np.testing.assert_array_equal(CategoricalCrossentropy().probabilities(z), z)


ALL_LOSSES = [
    MeanSquaredError(),
    MeanAbsoluteError(),
    Huber(),
    Huber(delta=2.5),
    CategoricalCrossentropy(),
    CategoricalCrossentropy(from_logits=True),
    SparseCategoricalCrossentropy(),
    SparseCategoricalCrossentropy(from_logits=True),
    BinaryCrossentropy(),
    BinaryCrossentropy(from_logits=True),
]


def _extreme_batch(loss, dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4]], dtype=dtype)
    if isinstance(loss, SparseCategoricalCrossentropy):
        y = np.array([1, 1])
    elif isinstance(loss, BinaryCrossentropy):
        y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]], dtype=dtype)
    else:
        y = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=dtype)
    if loss.from_logits or loss.partner is None:
        return y, z
    return y, get_activation(loss.partner)(z)  # probabilities of exactly 0 and 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_extreme_logits_give_finite_values_and_gradients_without_warnings(loss, dtype):
    y, p = _extreme_batch(loss, dtype)
    # Underflow to 0 is the correct result of exp(-1e4); everything else must stay silent.
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        value = loss.value(y, p)
        gradient = loss.gradient(y, p)
        fused = loss.fused_gradient(y, p) if loss.partner and not loss.from_logits else gradient
    assert np.isfinite(value) and value > 0
    assert np.isfinite(gradient).all() and np.isfinite(fused).all()
    assert gradient.dtype == dtype


def test_extreme_logits_give_exact_values_with_from_logits():
    z = np.array([[1e4, -1e4, 0.0]])
    # -log softmax(z)[1] = log(e^1e4 + e^-1e4 + 1) + 1e4 = 2e4 in floating point.
    assert CategoricalCrossentropy(from_logits=True).value(np.array([[0, 1, 0]]), z) == 2e4
    assert SparseCategoricalCrossentropy(from_logits=True).value(np.array([0]), z) == 0.0
    # -log(1 - sigmoid(1e4)) = 1e4 and -log(sigmoid(-1e4)) = 1e4; the 0 logit gives log 2.
    bce = BinaryCrossentropy(from_logits=True).value(np.array([[0.0, 1.0, 1.0]]), z)
    assert bce == pytest.approx((2e4 + np.log(2)) / 3, rel=1e-15)
    np.testing.assert_allclose(
        BinaryCrossentropy(from_logits=True).gradient(np.array([[0.0, 1.0, 1.0]]), z),
        [[1 / 3, -1 / 3, -1 / 6]],
        rtol=1e-15,
    )


@pytest.mark.parametrize(
    ("alias", "cls"),
    [
        ("mse", MeanSquaredError),
        ("mean_squared_error", MeanSquaredError),
        ("mae", MeanAbsoluteError),
        ("mean_absolute_error", MeanAbsoluteError),
        ("huber", Huber),
        ("categorical_crossentropy", CategoricalCrossentropy),
        ("categorical_cross_entropy", CategoricalCrossentropy),
        ("cce", CategoricalCrossentropy),
        ("sparse_categorical_crossentropy", SparseCategoricalCrossentropy),
        ("binary_crossentropy", BinaryCrossentropy),
    ],
)
def test_aliases_name_the_same_loss(alias, cls):
    assert type(get(alias)) is cls
    assert type(Loss(alias).function) is cls


def test_spec_loss_class_accepts_plain_lists():
    loss = Loss("mse")
    assert loss.name == "mse"
    y, p = [[1, 2], [3, 4]], [[1.5, 1.0], [3.0, 6.0]]
    expected = np.mean((np.array(p) - np.array(y)) ** 2)
    assert loss.forward(y, p) == pytest.approx(expected, rel=1e-15)
    assert loss.loss(y, p) == pytest.approx(expected, rel=1e-15)
    gradient = 2 * (np.array(p) - np.array(y)) / 4
    np.testing.assert_allclose(loss.backward(y, p), gradient, rtol=1e-15)
    np.testing.assert_allclose(loss.loss_derivative(y, p), gradient, rtol=1e-15)


def test_get_loss_cross_entropy_accepts_lists_and_a_single_sample_vector():
    function, derivative = get_loss("categorical_crossentropy")
    assert function([[0, 1], [1, 0]], [[0.25, 0.75], [0.5, 0.5]]) == pytest.approx(
        -(np.log(0.75) + np.log(0.5)) / 2, rel=1e-15
    )
    # One sample given as a vector is one sample, not k of them.
    assert function([0, 1], [0.25, 0.75]) == pytest.approx(-np.log(0.75), rel=1e-15)
    np.testing.assert_allclose(derivative([0, 1], [0.25, 0.75]), [0.0, -1 / 0.75], rtol=1e-15)


def test_labels_of_shape_n_are_not_broadcast_against_predictions_of_shape_n_by_1():
    y, p = [0.0, 1.0, 1.0], [[0.1], [0.8], [0.6]]
    expected = np.mean((np.array(p)[:, 0] - np.array(y)) ** 2)
    assert Loss("mse").forward(y, p) == pytest.approx(expected, rel=1e-15)
    bce = -np.mean(np.log([0.9, 0.8, 0.6]))
    assert Loss("binary_crossentropy").forward(y, p) == pytest.approx(bce, rel=1e-15)


def test_sparse_labels_of_shape_n_by_1_match_labels_of_shape_n():
    y, z = _classification_data(8, "sparse")
    p = _softmax(z)
    loss = SparseCategoricalCrossentropy()
    expected = -np.mean(np.log(p[np.arange(N), y]))
    assert loss.value(y.reshape(-1, 1), p) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_array_equal(loss.gradient(y.reshape(-1, 1), p), loss.gradient(y, p))
    assert Loss("scce").forward(y.tolist(), p.tolist()) == pytest.approx(expected, rel=1e-14)


def test_loss_with_from_logits_backward_is_the_gradient_with_respect_to_logits():
    y, z = _classification_data(9)
    loss = Loss("categorical_crossentropy", from_logits=True)
    assert loss.from_logits
    np.testing.assert_allclose(loss.backward(y, z), (_softmax(z) - y) / N, rtol=1e-12)


def test_mismatched_label_count_is_a_shape_mismatch_naming_y_true():
    with pytest.raises(ShapeMismatchError, match="'y_true'"):
        Loss("mse").forward([1.0, 2.0, 3.0], [[1.0, 2.0]])
    with pytest.raises(ShapeMismatchError, match="'y_true'"):
        Loss("scce").forward([0, 1, 1], [[0.5, 0.5]])


def test_unknown_loss_name_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"Unknown loss 'hinge'.*Valid names: .*cce.*mse"):
        get_loss("hinge")
    with pytest.raises(ValueError, match=r"'loss_fn' is required; valid names: .*mse"):
        get(None)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: Loss("mse", from_logits=True), "from_logits"),
        (lambda: Loss(MeanSquaredError(), delta=2.0), "delta"),
        (lambda: Huber(delta=0), "delta"),
        (lambda: Huber(delta=float("inf")), "delta"),
        (lambda: CategoricalCrossentropy(from_logits="yes"), "from_logits"),
    ],
)
def test_bad_loss_options_are_refused_naming_the_option(build, argument):
    with pytest.raises(ValueError, match=f"'{argument}'"):
        build()


def test_targets_reshape_vectors_for_a_single_output_and_keep_values():
    y = np.array([0.0, 1.0, 0.5])
    targets = MeanSquaredError().targets(y, (1,), np.float32)
    assert targets.shape == (3, 1) and targets.dtype == np.float32
    np.testing.assert_array_equal(targets[:, 0], y)
    labels = SparseCategoricalCrossentropy().targets(np.array([[2.0], [0.0]]), (3,), np.float32)
    np.testing.assert_array_equal(labels, [2, 0])
    assert labels.dtype == np.intp


@pytest.mark.parametrize(
    ("loss", "y", "output_shape", "error"),
    [
        (MeanSquaredError(), np.zeros((4, 2)), (3,), ShapeMismatchError),
        (CategoricalCrossentropy(), np.array([0, 2, 1]), (3,), ShapeMismatchError),
        (SparseCategoricalCrossentropy(), np.eye(3), (3,), ShapeMismatchError),
        (SparseCategoricalCrossentropy(), np.array([0, 3]), (3,), ValueError),
        (SparseCategoricalCrossentropy(), np.array([0.5, 1.0]), (3,), ValueError),
        (SparseCategoricalCrossentropy(), np.array([0.0, np.nan]), (3,), ValueError),
        (SparseCategoricalCrossentropy(), np.array(["a", "b"]), (3,), ValueError),
        (BinaryCrossentropy(), np.array([[0.0], [2.0]]), (1,), ValueError),
    ],
)
def test_targets_refuse_labels_that_do_not_fit_naming_y(loss, y, output_shape, error):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error, match="'y'"):
            loss.targets(y, output_shape, np.float64)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_round_trip_through_registry_gives_an_equal_loss(loss):
    config = json.loads(json.dumps(registry.serialize(loss)))
    restored = registry.deserialize(config)
    rebuilt = type(loss).from_config(loss.get_config())
    y, p = _extreme_batch(loss, np.float64)
    p = p / 1e4 if loss.from_logits or loss.partner is None else np.clip(p, 0.1, 0.9)
    for other in (restored, rebuilt, get(config)):
        assert type(other) is type(loss)
        assert other.get_config() == loss.get_config()
        assert other == loss
        assert other.value(y, p) == loss.value(y, p)
        np.testing.assert_array_equal(other.gradient(y, p), loss.gradient(y, p))


def test_loss_wrapper_round_trips_through_its_config():
    loss = Loss("huber", delta=0.25)
    config = json.loads(json.dumps(loss.get_config()))
    restored = Loss.from_config(config)
    assert restored == loss and restored.name == "huber"
    assert restored.function.delta == 0.25
    y, p = _regression_data(10)
    assert restored.forward(y, p) == pytest.approx(_huber(y, p, 0.25), rel=1e-14)
    assert get(loss) is loss.function
