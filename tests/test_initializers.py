"""Initializers: distributions against the spec's formulas with tolerances from sampling error,
plain (untruncated) normals, dtypes, seeding, NumPy's global state, and the registry."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import layerwise
from layerwise import initializers, registry
from layerwise.initializers import compute_fans, get

# A non-square shape tells fan_in (rows) from fan_out (columns).
FAN_IN, FAN_OUT = 500, 2000
SHAPE = (FAN_IN, FAN_OUT)
SAMPLES = FAN_IN * FAN_OUT
Z = 5.0  # tolerance in standard errors: a false alarm has probability below 1e-6

NORMALS = {
    "random_normal": 0.05,
    "xavier_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "glorot_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "he_normal": math.sqrt(2 / FAN_IN),
}
UNIFORMS = {
    "random_uniform": 0.05,
    "xavier_uniform": math.sqrt(6 / (FAN_IN + FAN_OUT)),
    "glorot_uniform": math.sqrt(6 / (FAN_IN + FAN_OUT)),
    "he_uniform": math.sqrt(6 / FAN_IN),
}


def _draw(name, seed=0):
    return get(name)(SHAPE, np.float64, np.random.default_rng(seed))


@pytest.mark.parametrize("name", NORMALS)
def test_normal_initializers_have_the_spec_standard_deviation_and_zero_mean(name):
    std = NORMALS[name]
    w = _draw(name)
    assert abs(w.mean()) < Z * std / math.sqrt(SAMPLES)
    # The sample standard deviation of a normal has a relative standard error of 1/sqrt(2n).
    assert abs(w.std() / std - 1) < Z / math.sqrt(2 * SAMPLES)


@pytest.mark.parametrize("name", NORMALS)
def test_normal_initializers_are_not_truncated(name):
    std = NORMALS[name]
    w = _draw(name, seed=1)
    for k in (2, 3):
        expected = math.erfc(k / math.sqrt(2))  # P(|z| > k) for a standard normal
        observed = np.mean(np.abs(w) > k * std)
        assert abs(observed - expected) < Z * math.sqrt(expected * (1 - expected) / SAMPLES)
    # About 63 of a million samples lie beyond 4 std; a truncated normal has none.
    assert np.sum(np.abs(w) > 4 * std) > 20


@pytest.mark.parametrize("name", UNIFORMS)
def test_uniform_initializers_fill_the_spec_interval(name):
    limit = UNIFORMS[name]
    w = _draw(name, seed=2)
    assert w.min() >= -limit and w.max() <= limit
    # With a million samples the extremes come within 1e-4 of the bounds (miss: e^-50).
    assert w.min() < -limit * (1 - 1e-4) and w.max() > limit * (1 - 1e-4)
    std = limit / math.sqrt(3)
    assert abs(w.mean()) < Z * std / math.sqrt(SAMPLES)
    # Relative standard error of the sample std of a uniform: sqrt((9/5 - 1) / (4n)).
    assert abs(w.std() / std - 1) < Z * math.sqrt(0.8 / (4 * SAMPLES))
    # Flat: each tenth of the interval holds a tenth of the samples.
    counts, _ = np.histogram(w, bins=10, range=(-limit, limit))
    assert np.all(np.abs(counts / SAMPLES - 0.1) < Z * math.sqrt(0.09 / SAMPLES))


def test_none_means_random_normal_with_std_0_05():
    init = get(None)
    assert isinstance(init, initializers.RandomNormal)
    w = init(SHAPE, np.float64, np.random.default_rng(3))
    assert abs(w.std() / 0.05 - 1) < Z / math.sqrt(2 * SAMPLES)


def test_glorot_names_are_the_xavier_initializers():
    assert type(get("glorot_normal")) is initializers.XavierNormal
    assert type(get("glorot_uniform")) is initializers.XavierUniform


@pytest.mark.parametrize(("name", "value"), [("zeros", 0.0), ("ones", 1.0)])
def test_constant_initializers(name, value):
    w = get(name)((3, 4))
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, np.full((3, 4), value))
    np.testing.assert_array_equal(initializers.Constant(0.5)((2,)), [0.5, 0.5])


@pytest.mark.parametrize("name", [*NORMALS, *UNIFORMS, "zeros", "ones"])
def test_arrays_are_float32_by_default_and_take_the_requested_dtype(name):
    assert get(name)((4, 3)).dtype == np.float32
    assert get(name)((4, 3)).shape == (4, 3)
    assert get(name)((4, 3), dtype=np.float64).dtype == np.float64


def test_compute_fans_reads_rows_as_fan_in_and_columns_as_fan_out():
    assert compute_fans((3, 7)) == (3, 7)
    # Convolution kernels (*window, in, out): Keras multiplies both by the receptive field.
    assert compute_fans((2, 3, 7)) == (6, 14)
    assert compute_fans((3, 3, 32, 64)) == (288, 576)
    assert compute_fans((5, 1, 4)) == (5, 20)
    assert compute_fans((5,)) == (5, 5)
    # Empty shapes give empty arrays rather than a division by zero.
    assert get("he_normal")((0, 4)).shape == (0, 4)


@pytest.mark.parametrize("name", [*NORMALS, *UNIFORMS])
def test_seeded_initializer_draws_the_same_values_every_call(name):
    init = type(get(name))(seed=42)
    first, second = init((20, 30)), init((20, 30))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, type(get(name))(seed=43)((20, 30)))


def test_seeded_initializer_draws_from_a_generator_built_from_the_seed():
    w = initializers.RandomNormal(seed=7)((5, 6), np.float64)
    expected = np.random.default_rng(7).normal(0.0, 0.05, size=(5, 6))
    np.testing.assert_array_equal(w, expected)


def test_set_seed_makes_unseeded_draws_reproducible():
    def draws():
        layerwise.set_seed(123)
        return [get(name)((10, 10)) for name in [*NORMALS, *UNIFORMS]]

    first, second = draws(), draws()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # Successive draws within a run differ, and another seed gives other values.
    layerwise.set_seed(123)
    assert not np.array_equal(get("random_normal")((10, 10)), get("random_normal")((10, 10)))
    layerwise.set_seed(124)
    assert not np.array_equal(get("random_normal")((10, 10)), first[0])


def test_initializers_never_touch_numpys_global_random_state():
    np.random.seed(2024)
    expected = np.random.random(5)
    np.random.seed(2024)
    layerwise.set_seed(5)
    for name in [*NORMALS, *UNIFORMS, "zeros", "ones"]:
        get(name)((8, 8))
        type(get(name))()((8, 8))
    initializers.RandomNormal(seed=3)((8, 8))
    np.testing.assert_array_equal(np.random.random(5), expected)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: initializers.RandomNormal(stddev=0), "stddev"),
        (lambda: initializers.RandomNormal(stddev=True), "stddev"),
        (lambda: initializers.RandomUniform(limit=-1), "limit"),
        (lambda: initializers.Constant(value=float("nan")), "value"),
        (lambda: initializers.HeNormal(seed=-1), "seed"),
        (lambda: initializers.XavierUniform(seed=1.5), "seed"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=f"'{argument}'"):
        build()


def test_unknown_initializer_name_lists_the_valid_names():
    with pytest.raises(
        ValueError, match=r"'weights_initializer'.*Valid names: .*he_normal.*xavier_uniform"
    ):
        get("variance_scaling", argument="weights_initializer")  # orthogonal exists now


ROUND_TRIP = [
    initializers.RandomNormal(seed=1),
    initializers.RandomNormal(stddev=0.5, seed=2),
    initializers.RandomUniform(limit=0.2, seed=3),
    initializers.Zeros(),
    initializers.Ones(),
    initializers.Constant(0.25),
    initializers.XavierNormal(seed=4),
    initializers.XavierUniform(seed=5),
    initializers.HeNormal(seed=6),
    initializers.HeUniform(seed=7),
]


@pytest.mark.parametrize("init", ROUND_TRIP, ids=repr)
def test_round_trip_through_registry_gives_an_equal_initializer(init):
    config = json.loads(json.dumps(registry.serialize(init)))
    restored = registry.deserialize(config)
    rebuilt = type(init).from_config(init.get_config())
    for other in (restored, rebuilt, get(config)):
        assert type(other) is type(init)
        assert other.get_config() == init.get_config()
        assert other == init
        np.testing.assert_array_equal(other((6, 5)), init((6, 5)))


def test_glorot_uniform_of_a_conv_kernel_has_the_keras_limit():
    # Keras: limit = sqrt(6 / (fan_in + fan_out)) with the receptive field, here 3*3*32 + 3*3*64.
    kernel = get("glorot_uniform")((3, 3, 32, 64), dtype=np.float64)
    limit = np.sqrt(6.0 / (288 + 576))
    assert kernel.max() <= limit and kernel.min() >= -limit
    assert kernel.max() > 0.99 * limit and kernel.min() < -0.99 * limit
    he = get("he_normal")((5, 8, 16), dtype=np.float64)
    assert abs(he.std() - np.sqrt(2.0 / 40)) < 0.1 * np.sqrt(2.0 / 40)
