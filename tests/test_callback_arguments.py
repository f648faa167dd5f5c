"""Keras' remaining arguments of the monitoring callbacks, driven epoch by epoch with chosen
values: EarlyStopping(baseline=, start_from_epoch=, verbose=), ReduceLROnPlateau(verbose=),
ModelCheckpoint(verbose=, initial_value_threshold=). The expected epochs follow Keras 3's rules,
worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

import layerwise
from layerwise import Dense, Input, Model
from layerwise.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau


def _model():
    layerwise.set_seed(0)
    inputs = Input((2,))
    model = Model(inputs, Dense(1)(inputs))
    model.compile(loss="mse", optimizer=layerwise.optimizers.SGD(learning_rate=0.1))
    return model


def _drive(callback, values, key="val_loss"):
    """on_train_begin, then on_epoch_end with each value (the weights changed each epoch, so
    that restoring can be seen), stopping where the callback stops training; the epochs run."""
    model = _model()
    callback.set_model(model)
    callback.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        model.layers[1].weights[...] = epoch  # this epoch's weights
        callback.on_epoch_end(epoch, {key: value, "loss": 1.0})
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end()
    return model, ran


def test_early_stopping_without_a_baseline():
    # patience 2: best at epoch 1 (0.9); epochs 2, 3 do not improve: wait 1, 2 -> stop after 3
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    model, ran = _drive(stop, [1.0, 0.9, 0.95, 0.92, 0.5])
    assert ran == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert np.all(model.layers[1].weights == 1)  # the best epoch's weights put back


def test_a_baseline_not_beaten_keeps_the_patience_running():
    # baseline 0.5: improving values do not reset the wait (1, 2, 3 after epochs 0-2); epoch 3
    # does not improve and the wait (4) has reached the patience: stop after epoch 3
    stop = EarlyStopping(patience=2, baseline=0.5)
    _, ran = _drive(stop, [1.0, 0.9, 0.8, 0.85, 0.1])
    assert ran == [0, 1, 2, 3] and stop.stopped_epoch == 3
    # a value that beats the baseline resets it: 0.4 at epoch 1, then two worse epochs
    stop = EarlyStopping(patience=2, baseline=0.5)
    _, ran = _drive(stop, [1.0, 0.4, 0.6, 0.7, 0.8])
    assert ran == [0, 1, 2, 3] and stop.best == 0.4
    # for 'max' the baseline is a value to exceed
    stop = EarlyStopping(monitor="val_accuracy", patience=1, baseline=0.9)
    _, ran = _drive(stop, [0.5, 0.6, 0.55, 0.95], key="val_accuracy")
    assert ran == [0, 1, 2] and stop.mode == "max"


def test_start_from_epoch_ignores_the_warm_up():
    # patience 0 and worsening values: epochs 0 and 1 are not watched, epoch 2 sets the best,
    # epoch 3 does not improve: stop after epoch 3 (without the warm-up: after epoch 1)
    stop = EarlyStopping(patience=0, start_from_epoch=2)
    _, ran = _drive(stop, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert ran == [0, 1, 2, 3] and stop.best == 3.0
    _, ran = _drive(EarlyStopping(patience=0), [1.0, 2.0, 3.0])
    assert ran == [0, 1]


def test_verbose_messages_are_keras_ones(capsys, tmp_path):
    # patience 1: best at epoch 1, epoch 2 does not improve: stop after it (Epoch 3, from 1)
    _drive(EarlyStopping(patience=1, restore_best_weights=True, verbose=1), [1.0, 0.8, 0.9, 0.95])
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3: early stopping",
        "Restoring model weights from the end of the best epoch: 2.",
    ]
    _drive(EarlyStopping(patience=1), [1.0, 0.8, 0.9, 0.95])  # verbose 0: silent
    assert capsys.readouterr().out == ""
    plateau = ReduceLROnPlateau(patience=1, factor=0.5, verbose=1, min_lr=0.05)
    model, _ = _drive(plateau, [1.0, 1.0, 1.0, 1.0, 1.0])
    # reductions after epochs 2 and 4 (patience 1, no cooldown): 0.1 -> 0.05, then at min_lr;
    # epoch-end messages start on a line of their own, as Keras' (not after the bar's line)
    assert capsys.readouterr().out == (
        "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.05.\n")
    assert model.optimizer.learning_rate == 0.05
    path = str(tmp_path / "best-{epoch}.safetensors")
    _drive(ModelCheckpoint(path, save_best_only=True, verbose=1), [0.5, 0.7, 0.25])
    assert [line for line in capsys.readouterr().out.splitlines() if line] == [
        f"Epoch 1: val_loss improved from inf to 0.50000, saving model to "
        f"{tmp_path / 'best-1.safetensors'}",
        "Epoch 2: val_loss did not improve from 0.50000",
        f"Epoch 3: val_loss improved from 0.50000 to 0.25000, saving model to "
        f"{tmp_path / 'best-3.safetensors'}",
    ]


def test_initial_value_threshold_is_the_value_to_beat_first(tmp_path):
    path = str(tmp_path / "best-{epoch}.safetensors")
    best = ModelCheckpoint(path, save_best_only=True, initial_value_threshold=0.5)
    _drive(best, [0.7, 0.4, 0.45, 0.3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-2.safetensors",
                                                          "best-4.safetensors"]
    assert best.best == 0.3


@pytest.mark.parametrize("make, error, argument", [
    (lambda: EarlyStopping(verbose=2), ValueError, "verbose"),
    (lambda: EarlyStopping(verbose=True), ValueError, "verbose"),
    (lambda: EarlyStopping(baseline="low"), TypeError, "baseline"),
    (lambda: EarlyStopping(baseline=math.nan), ValueError, "baseline"),
    (lambda: EarlyStopping(start_from_epoch=-1), ValueError, "start_from_epoch"),
    (lambda: ReduceLROnPlateau(verbose="loud"), ValueError, "verbose"),
    (lambda: ModelCheckpoint("a.safetensors", initial_value_threshold=math.inf), ValueError,
     "initial_value_threshold"),
])
def test_bad_arguments_are_refused_by_name(make, error, argument):
    with pytest.raises(error, match=f"'{argument}'"):
        make()


@pytest.mark.parametrize("baseline, epochs", [(None, [0, 1, 2]), (-1.0, [0, 1])])
def test_early_stopping_with_a_baseline_in_fit(baseline, epochs):
    # a loss that does not move (learning rate 1e-12, min_delta 1e-3): the first epoch sets
    # the best; without a baseline it resets the wait (stop after epoch 2, patience 2), with
    # one that no epoch beats (mse is never below -1) it does not (stop after epoch 1)
    model = _model()
    model.optimizer.learning_rate = 1e-12
    x = np.random.default_rng(0).standard_normal((32, 2))
    stop = EarlyStopping(monitor="loss", patience=2, min_delta=1e-3, baseline=baseline)
    model.fit(x, x[:, :1], epochs=20, verbose=0, callbacks=[stop])
    assert model.history.epoch == epochs and stop.stopped_epoch == epochs[-1]


def test_a_resumed_run_that_does_not_stop_prints_no_early_stopping(capsys):
    first = EarlyStopping(patience=1, verbose=1)
    _drive(first, [1.0, 0.8, 0.9])  # stops after epoch 2
    assert "early stopping" in capsys.readouterr().out
    resumed = EarlyStopping(patience=5, verbose=1)
    model = _model()
    resumed.set_model(model)
    resumed.on_train_begin()
    resumed.set_state(first.get_state())  # as fit(resume_from=...) does after on_train_begin
    for epoch, value in enumerate([0.7, 0.6], start=3):
        resumed.on_epoch_end(epoch, {"val_loss": value})
    resumed.on_train_end()
    assert not model.stop_training and capsys.readouterr().out == ""


def test_model_checkpoint_is_still_found_where_it_was():
    from layerwise.callbacks import monitors

    assert monitors.ModelCheckpoint is ModelCheckpoint
