"""fit's validation_freq and validation_batch_size, with Keras' meanings: validation after every
k-th epoch or after listed epochs (numbered from 1), and callbacks that monitor a val_ quantity
waiting for the epochs that have it; the validation batch size changes the number of
on_test_batch_* calls, never the values."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import layerwise
from layerwise import Dense, Input, Model
from layerwise.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
)


def _setup(seed=0):
    layerwise.set_seed(seed)
    inputs = Input((3,))
    model = Model(inputs, Dense(1)(Dense(4, activation="tanh")(inputs)))
    model.compile(loss="mse", metrics=["mae"], dtype="float64",
                  optimizer=layerwise.optimizers.SGD(learning_rate=0.05))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    return model, x, y


class _Record(Callback):
    """The logs of each epoch, and the loss evaluate gives on the validation data then."""

    def __init__(self, xv, yv):
        super().__init__()
        self.xv, self.yv = xv, yv
        self.logs, self.evaluated, self.test_batches = [], [], 0

    def on_test_batch_begin(self, batch, logs=None):
        self.test_batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))
        self.evaluated.append(self.model.evaluate(self.xv, self.yv, verbose=0)["loss"])


@pytest.mark.parametrize("freq, validated", [(1, [0, 1, 2, 3, 4]), (2, [1, 3]), (3, [2]),
                                             ([1, 4], [0, 3]), ((5,), [4])])
def test_validation_runs_after_the_epochs_keras_names(freq, validated):
    model, x, y = _setup()
    record = _Record(x[30:], y[30:])
    model.fit(x[:30], y[:30], epochs=5, batch_size=8, verbose=0,
              validation_data=(x[30:], y[30:]), validation_freq=freq, callbacks=[record])
    assert [e for e, logs in enumerate(record.logs) if "val_loss" in logs] == validated
    for e in validated:  # the values are those of evaluate on the same weights
        assert math.isclose(record.logs[e]["val_loss"], record.evaluated[e], rel_tol=1e-12)
    assert len(model.history.history["val_loss"]) == len(validated)
    assert len(model.history.history["loss"]) == 5


def test_validation_freq_counts_epochs_from_initial_epoch_as_keras():
    model, x, y = _setup()
    record = _Record(x[30:], y[30:])
    model.fit(x, y, epochs=6, initial_epoch=3, verbose=0, validation_split=0.25,
              validation_freq=2, callbacks=[record])
    # epochs 3, 4, 5 run; Keras validates after epoch numbers 4 and 6 (from 1): indices 3, 5
    assert ["val_loss" in logs for logs in record.logs] == [True, False, True]


def test_early_stopping_counts_validated_epochs_only():
    model, x, y = _setup()
    # min_delta so large that nothing after the first validated epoch counts as improving
    stop = EarlyStopping(monitor="val_loss", patience=1, min_delta=1e9)
    model.fit(x, y, epochs=8, verbose=0, validation_split=0.25, validation_freq=3,
              callbacks=[stop])
    # validated after epochs 2 (best set) and 5 (no improvement: patience 1 used up)
    assert stop.stopped_epoch == 5
    assert model.history.epoch == [0, 1, 2, 3, 4, 5]


def test_reduce_lr_on_plateau_waits_for_validated_epochs_and_logs_the_rate_every_epoch():
    model, x, y = _setup()
    plateau = ReduceLROnPlateau(monitor="val_loss", patience=1, min_delta=1e9, factor=0.5)
    model.fit(x, y, epochs=6, verbose=0, validation_split=0.25, validation_freq=2,
              callbacks=[plateau])
    rates = model.history.history["learning_rate"]
    # the epoch-end log is the rate before that epoch's decision: cut after epoch 3 (index),
    # the second validated epoch, and again after epoch 5
    assert rates == pytest.approx([0.05, 0.05, 0.05, 0.05, 0.025, 0.025])
    assert model.optimizer.current_learning_rate == pytest.approx(0.0125)


def test_model_checkpoint_saves_the_best_only_after_validated_epochs(tmp_path):
    model, x, y = _setup()
    path = str(tmp_path / "best-{epoch}-{val_loss:.3f}.safetensors")  # names a val_ value
    best = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model.fit(x, y, epochs=4, verbose=0, validation_split=0.25, validation_freq=2,
              callbacks=[best])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert not any(name.startswith(("best-1-", "best-3-")) for name in saved)
    # the first validated epoch always improves
    assert f"best-2-{model.history['val_loss'][0]:.3f}.safetensors" in saved


def test_csv_logger_has_validation_columns_from_the_first_row(tmp_path):
    model, x, y = _setup()
    path = tmp_path / "log.csv"
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, validation_freq=2,
              callbacks=[CSVLogger(path)])
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [row["val_loss"] == "NA" for row in rows] == [True, False, True]
    assert float(rows[1]["val_loss"]) == pytest.approx(model.history.history["val_loss"][0])


# None: Keras' default, batch_size (8) rows, since the callback takes on_test_batch_begin
@pytest.mark.parametrize("size, batches", [(None, 2), (3, 4), (10, 1), (1, 10)])
def test_validation_batch_size_changes_the_test_batches_not_the_values(size, batches):
    results = []
    for validation in ("split", "data"):
        model, x, y = _setup()
        record = _Record(x[30:], y[30:])
        kwargs = (dict(validation_split=0.25) if validation == "split"
                  else dict(validation_data=(x[30:], y[30:])))
        model.fit(x[:40] if validation == "split" else x[:30],
                  y[:40] if validation == "split" else y[:30], epochs=2, batch_size=8,
                  verbose=0, shuffle=False, validation_batch_size=size, callbacks=[record],
                  **kwargs)
        assert record.test_batches == 2 * batches  # two epochs, 10 validation rows each
        results.append(model.history.history["val_loss"])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)
    for logs_loss, evaluated in zip(results[0], record.evaluated):
        assert math.isclose(logs_loss, evaluated, rel_tol=1e-12)


@pytest.mark.parametrize("bad", [0, -2, True, 1.0, "2", None, [0, 2], [1.5], [True]])
def test_a_bad_validation_freq_is_refused_by_name_and_changes_nothing(bad):
    model, x, y = _setup()
    before = model.get_weights()
    with pytest.raises(ValueError, match="'validation_freq'"):
        model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, validation_freq=bad)
    for was, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(was, now)


def test_validation_batch_size_is_refused_without_arrays_to_validate():
    model, x, y = _setup()
    before = model.get_weights()
    with pytest.raises(ValueError, match="'validation_batch_size' needs validation_data"):
        model.fit(x, y, epochs=1, verbose=0, validation_batch_size=4)
    with pytest.raises(ValueError, match="'validation_batch_size' is for arrays"):
        model.fit(x, y, epochs=1, verbose=0, validation_batch_size=4,
                  validation_data=[(x[:5], y[:5]), (x[5:10], y[5:10])])
    with pytest.raises(ValueError, match="'validation_batch_size'"):
        model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, validation_batch_size=0)
    for was, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(was, now)


def test_history_knows_the_validated_epochs_and_plot_history_draws_them_there():
    import matplotlib

    matplotlib.use("Agg")
    model, x, y = _setup()
    model.fit(x, y, epochs=5, verbose=0, validation_split=0.25, validation_freq=2)
    assert model.history.logged_epochs["val_loss"] == [1, 3]
    assert model.history.logged_epochs["loss"] == [0, 1, 2, 3, 4]
    figure = layerwise.plot_history(model.history, metrics=["loss"])
    train, validation = figure.axes[0].get_lines()
    assert list(train.get_xdata()) == [1, 2, 3, 4, 5]
    assert list(validation.get_xdata()) == [2, 4]  # epochs 2 and 4, numbered from 1
    assert list(validation.get_ydata()) == model.history["val_loss"]
