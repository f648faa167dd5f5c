"""Callbacks: early stopping, learning-rate control, user callbacks, divergence."""

import numpy as np
import pytest

import layerwise
from layerwise import Dense, Input, Model
from layerwise.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateScheduler,
    ReduceLROnPlateau,
)
from layerwise.exceptions import TrainingDivergedError


def regressor(seed=0, optimizer="sgd"):
    layerwise.set_seed(seed)
    inputs = Input(shape=(1,))
    model = Model(inputs, Dense(1, weights_initializer="zeros")(inputs))
    model.compile(loss_fn="mse", optimizer=optimizer, dtype="float64")
    return model


class Recorder(Callback):
    """Keeps the weights and logs of every epoch, and the order of the hooks."""

    def __init__(self):
        super().__init__()
        self.weights, self.logs, self.calls = [], [], []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):
        self.calls.append(f"batch_end {batch} {logs['loss']:.6f}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def diverging_validation():
    """Training fits y = x while validation wants y = -x: validation loss rises as it learns."""
    x = np.linspace(-1, 1, 20)[:, None]
    return x, x, (x, -x)


def test_user_callback_hooks_run_in_order_with_logs():
    x, y, _ = diverging_validation()
    recorder = Recorder()
    model = regressor()
    model.fit(x, y, epochs=2, batch_size=10, callbacks=[recorder], print_loss=False)
    kinds = [c.split(" ")[0] for c in recorder.calls]
    assert kinds == ["train_begin", "epoch_begin", "batch_end", "batch_end", "epoch_end",
                     "epoch_begin", "batch_end", "batch_end", "epoch_end", "train_end"]
    assert [log["loss"] for log in recorder.logs] == model.history["loss"]


def test_early_stopping_stops_and_restores_the_best_weights():
    x, y, validation = diverging_validation()
    recorder = Recorder()
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model = regressor()
    model.fit(x, y, epochs=50, learning_rate=0.1, validation_data=validation,
              callbacks=[recorder, stopper], print_loss=False)
    val = model.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 3  # stopped after `patience` epochs without improvement
    assert stopper.stopped_epoch == best + 2 and stopper.best_epoch == best
    for got, want in zip(model.get_weights(), recorder.weights[best]):
        np.testing.assert_array_equal(got, want)


def test_early_stopping_without_restore_keeps_the_last_weights():
    x, y, validation = diverging_validation()
    recorder = Recorder()
    model = regressor()
    model.fit(x, y, epochs=50, learning_rate=0.1, validation_data=validation,
              callbacks=[recorder, EarlyStopping(patience=1)], print_loss=False)
    for got, want in zip(model.get_weights(), recorder.weights[-1]):
        np.testing.assert_array_equal(got, want)


def test_early_stopping_on_a_missing_quantity_explains_itself():
    x, y, _ = diverging_validation()
    with pytest.raises(ValueError, match="val_loss.*validation"):
        regressor().fit(x, y, epochs=2, callbacks=[EarlyStopping()], print_loss=False)


def test_reduce_lr_on_plateau_multiplies_the_rate_after_patience():
    x, y, validation = diverging_validation()  # val_loss only rises: never improves after epoch 0
    reducer = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=0.01)
    model = regressor()
    model.fit(x, y, epochs=8, learning_rate=0.08, validation_data=validation,
              callbacks=[reducer], print_loss=False)
    # Logged: the rate used during each epoch. Epoch 0 sets the best; epochs 1-2 wait and the
    # end of epoch 2 halves the rate for epoch 3; 3-4 wait, halve for 5; 5-6 wait, halve for 7.
    assert model.history["learning_rate"] == [0.08, 0.08, 0.08, 0.04, 0.04, 0.02, 0.02, 0.01]


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y, _ = diverging_validation()
    scheduler = LearningRateScheduler(lambda epoch, rate: 0.1 * 0.5**epoch)
    model = regressor()
    model.fit(x, y, epochs=3, batch_size=20, callbacks=[scheduler], print_loss=False)
    assert model.history["learning_rate"] == [0.1, 0.05, 0.025]
    # Check the rates were really used: replay the three full-batch SGD steps by hand.
    w = b = 0.0
    for rate in (0.1, 0.05, 0.025):
        error = (w * x[:, 0] + b) - y[:, 0]
        w, b = w - rate * np.mean(2 * error * x[:, 0]), b - rate * np.mean(2 * error)
    np.testing.assert_allclose(model.get_weights()[0].item(), w, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1].item(), b, rtol=1e-12, atol=1e-15)


def test_stop_training_flag_ends_after_the_epoch():
    class StopAtOne(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    x, y, _ = diverging_validation()
    model = regressor()
    model.fit(x, y, epochs=10, callbacks=[StopAtOne()], print_loss=False)
    assert len(model.history["loss"]) == 2


def test_non_callbacks_are_refused():
    x, y, _ = diverging_validation()
    with pytest.raises(TypeError, match="callbacks"):
        regressor().fit(x, y, callbacks=[print], print_loss=False)


def test_divergence_stops_with_the_last_finite_weights():
    x = np.linspace(-1, 1, 32)[:, None] * 100
    y = 1e3 * x
    recorder = Recorder()
    model = regressor()
    with pytest.raises(TrainingDivergedError, match=r"epoch \d+, step \d+") as error:
        model.fit(x, y, epochs=100, batch_size=32, learning_rate=10.0, shuffle=False,
                  callbacks=[recorder], print_loss=False)
    assert isinstance(error.value, ValueError)
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    # With one full batch per epoch, the failing epoch is the first whose loss is not finite;
    # the kept weights are those after the last finite step, i.e. the last recorded epoch's.
    for got, want in zip(weights, recorder.weights[-1]):
        np.testing.assert_array_equal(got, want)
    epoch = len(recorder.weights) + 1
    assert f"epoch {epoch}, step 1" in str(error.value)
