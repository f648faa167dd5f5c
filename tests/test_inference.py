"""predict's input check and batching: the fast finite-sum check finds what the exact one does,
and large inputs run in passes that give the same outputs."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise
from layerwise import Dense, Input, Model
from layerwise.data import check_finite


def test_the_finite_check_of_large_arrays_finds_nan_and_infinity_and_names_the_sample():
    x = np.zeros((3000, 10), dtype=np.float32)  # above the small-array path
    check_finite(x, "x")
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[1234, 7] = bad
        with pytest.raises(ValueError, match="sample 1234"):
            check_finite(y, "x")


def test_a_sum_that_overflows_is_not_mistaken_for_a_non_finite_value():
    huge = np.full((3000, 10), 3e38, dtype=np.float32)  # every value finite, the sum is not
    with np.errstate(all="raise"):
        check_finite(huge, "x")
    opposite = np.concatenate([huge, -huge])
    check_finite(opposite, "x")


def test_predict_in_several_passes_equals_one_pass():
    layerwise.set_seed(0)
    inputs = Input((6,))
    model = Model(inputs, Dense(3, activation="softmax")(Dense(8, activation="relu")(inputs)))
    model.compile(loss="categorical_crossentropy", dtype="float64")
    x = np.random.default_rng(0).normal(size=(1000, 6))
    whole = model.predict(x)
    np.testing.assert_allclose(model.predict(x, batch_size=64), whole, rtol=1e-13)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.where(np.arange(6000).reshape(1000, 6) == 4321, np.nan, x))
