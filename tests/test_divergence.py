"""Whenever training stops on divergence, every parameter, layer state (moving averages) and
optimizer slot is finite, and the model predicts finite values on the training data."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise
from layerwise import BatchNormalization, Dense, Input, Model
from layerwise.exceptions import TrainingDivergedError
from layerwise.optimizers import SGD, Adam
from layerwise.snapshot import non_finite, state_arrays


def _model(optimizer, batch_norm=False, dtype="float32"):
    layerwise.set_seed(0)
    inputs = Input((4,))
    h = Dense(8, activation="relu")(inputs)
    if batch_norm:
        h = BatchNormalization()(h)
    model = Model(inputs, Dense(1)(h))
    model.compile(loss="mse", optimizer=optimizer, dtype=dtype)
    return model


def _data(n=32):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4))
    return x, x.sum(axis=1) * 10


def _all_finite_and_predicts(model, x):
    assert non_finite(model) == []
    assert np.isfinite(model.predict(x)).all()


@pytest.mark.parametrize("optimizer", [lambda: SGD(3e38), lambda: SGD(3e38, momentum=0.5)])
def test_the_last_update_of_fit_writing_infinity_is_caught(optimizer):
    model = _model(optimizer())
    before = [a.copy() for _, a in state_arrays(model)]
    x, y = _data()
    # One step per epoch and one epoch: the loss is finite, the only update overflows.
    with pytest.raises(TrainingDivergedError, match="wrote NaN or infinity"):
        model.fit(x, y, epochs=1, batch_size=len(x), print_loss=False)
    _all_finite_and_predicts(model, x)
    for (_, array), old in zip(state_arrays(model), before):
        np.testing.assert_array_equal(array, old)


def test_a_diverged_epoch_never_restores_non_finite_weights():
    model = _model(SGD(3e38))
    x, y = _data()
    with pytest.raises(TrainingDivergedError):
        model.fit(x, y, epochs=3, batch_size=8, print_loss=False)
    _all_finite_and_predicts(model, x)


def test_batch_normalization_statistics_and_adam_slots_are_finite_after_divergence():
    model = _model(Adam(1e30), batch_norm=True)
    x, y = _data()
    x[5] *= 1e30  # a sample that overflows the forward pass once the weights have grown
    with pytest.raises(TrainingDivergedError):
        model.fit(x, y, epochs=20, batch_size=4, print_loss=False)
    assert non_finite(model) == []
    norm = next(layer for layer in model.layers if isinstance(layer, BatchNormalization))
    assert np.isfinite(norm.moving_mean).all() and np.isfinite(norm.moving_variance).all()


def test_weights_that_produced_the_nan_loss_are_not_kept():
    model = _model(SGD(5.0))  # grows until the loss overflows
    x, y = _data()
    with pytest.raises(TrainingDivergedError):
        model.fit(x, y, epochs=50, batch_size=4, print_loss=False)
    _all_finite_and_predicts(model, x)


def test_train_on_batch_that_writes_infinity_changes_nothing():
    model = _model(SGD(3e38))
    x, y = _data()
    before = [a.copy() for _, a in state_arrays(model)]
    with pytest.raises(TrainingDivergedError, match="before this batch"):
        model.train_on_batch(x, y)
    for (_, array), old in zip(state_arrays(model), before):
        np.testing.assert_array_equal(array, old)
    assert model.optimizer.iterations == 0
