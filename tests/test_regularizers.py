"""Regularizers: Keras' penalties by formula, gradients by finite differences, the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import numerical_gradient
from layerwise import registry
from layerwise.regularizers import L1, L1L2, L2, get


def _weights(seed: int) -> np.ndarray:
    w = np.random.default_rng(seed).normal(size=(5, 4))
    w[np.abs(w) < 1e-3] = 0.5  # away from the kink of |w| for finite differences
    return w


CASES = [
    (L1(0.3), lambda w: 0.3 * np.sum(np.abs(w))),
    (L2(0.2), lambda w: 0.2 * np.sum(w**2)),
    (L1L2(l1=0.1, l2=0.4), lambda w: 0.1 * np.sum(np.abs(w)) + 0.4 * np.sum(w**2)),
    (get("l1"), lambda w: 0.01 * np.sum(np.abs(w))),
    (get("l2"), lambda w: 0.01 * np.sum(w**2)),
    (get("l1_l2"), lambda w: 0.01 * np.sum(np.abs(w)) + 0.01 * np.sum(w**2)),
]
IDS = [f"{type(r).__name__}{r.get_config()}" for r, _ in CASES]


@pytest.mark.parametrize(("regularizer", "formula"), CASES, ids=IDS)
def test_penalty_matches_keras_formula(regularizer, formula):
    w = _weights(0)
    penalty = regularizer(w)
    assert isinstance(penalty, float)
    assert penalty == pytest.approx(formula(w), rel=1e-14)


@pytest.mark.parametrize(("regularizer", "formula"), CASES, ids=IDS)
def test_gradient_matches_finite_differences(regularizer, formula):
    w = _weights(1)
    expected = numerical_gradient(lambda: regularizer(w), w)
    gradient = regularizer.gradient(w)
    assert gradient.shape == w.shape and gradient.dtype == w.dtype
    np.testing.assert_allclose(gradient, expected, rtol=1e-7, atol=1e-9)


def test_l1_gradient_at_zero_is_zero():
    np.testing.assert_array_equal(L1(0.5).gradient(np.zeros(3)), np.zeros(3))


def test_gradient_keeps_float32():
    w = _weights(2).astype(np.float32)
    gradient = L1L2(0.1, 0.2).gradient(w)
    assert gradient.dtype == np.float32
    np.testing.assert_allclose(gradient, 0.1 * np.sign(w) + 0.4 * w, rtol=1e-6)


def test_none_means_no_regularizer():
    assert get(None) is None


def test_unknown_regularizer_name_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"'kernel_regularizer'.*Valid names: l1, l1_l2, l2"):
        get("l3", argument="kernel_regularizer")


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: L1(-0.1), "l1"),
        (lambda: L2(float("inf")), "l2"),
        (lambda: L1L2(l1=0.1, l2="0.1"), "l2"),
        (lambda: L2(True), "l2"),
    ],
)
def test_bad_factors_are_refused_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=f"'{argument}'"):
        build()


@pytest.mark.parametrize("regularizer", [L1(0.3), L2(0.2), L1L2(0.1, 0.4)], ids=repr)
def test_round_trip_through_registry_gives_an_equal_regularizer(regularizer):
    config = json.loads(json.dumps(registry.serialize(regularizer)))
    restored = registry.deserialize(config)
    rebuilt = type(regularizer).from_config(regularizer.get_config())
    w = _weights(3)
    for other in (restored, rebuilt, get(config)):
        assert type(other) is type(regularizer)
        assert other.get_config() == regularizer.get_config()
        assert other == regularizer
        assert other(w) == regularizer(w)
        np.testing.assert_array_equal(other.gradient(w), regularizer.gradient(w))
