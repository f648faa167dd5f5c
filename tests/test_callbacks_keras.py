"""Keras-named callbacks: CSVLogger, LambdaCallback, TerminateOnNaN, the Keras 3 hook names, and
ModelCheckpoint's refusal of another format's file name."""

from __future__ import annotations

import csv

import pytest

from layerwise.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    LambdaCallback,
    ModelCheckpoint,
    TerminateOnNaN,
)


class _Model:
    stop_training = False


def test_csv_logger_writes_epoch_then_sorted_names_and_appends_without_a_second_header(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.set_model(_Model())
    logger.on_train_begin()
    logger.on_epoch_end(0, {"val_loss": 0.5, "loss": 0.25, "accuracy": 0.75})
    logger.on_epoch_end(1, {"val_loss": 0.375, "loss": 0.125, "accuracy": 0.875})
    logger.on_train_end()
    again = CSVLogger(path, append=True)
    again.on_train_begin()
    again.on_epoch_end(2, {"val_loss": 0.25, "loss": 0.0625, "accuracy": 1.0})
    again.on_train_end()
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_loss"]
    assert rows[1:] == [
        ["0", "0.75", "0.25", "0.5"],
        ["1", "0.875", "0.125", "0.375"],
        ["2", "1.0", "0.0625", "0.25"],
    ]


def test_csv_logger_overwrites_unless_appending_and_takes_a_separator(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("old\n")
    logger = CSVLogger(path, separator="\t")
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 1.5})
    logger.on_train_end()
    assert path.read_text().splitlines() == ["epoch\tloss", "0\t1.5"]
    with pytest.raises(ValueError, match="'separator'"):
        CSVLogger(path, separator=",,")


def test_lambda_callback_calls_the_functions_given_and_rejects_unknown_hooks():
    seen = []
    callback = LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(("epoch_end", epoch, logs["loss"])),
        on_train_batch_end=lambda batch, logs: seen.append(("batch_end", batch)),
        on_test_end=lambda logs: seen.append(("test_end", logs)),
    )
    callbacks = CallbackList([callback], _Model())
    assert callbacks.wants("on_train_batch_end") and not callbacks.wants("on_train_batch_begin")
    callbacks.call("on_train_batch_end", 3, {"loss": 0.5})
    callbacks.call("on_epoch_end", 0, {"loss": 0.25})
    callbacks.call("on_test_end", {"loss": 1.0})
    callbacks.call("on_train_begin", {})  # not given: the base class's no-op
    assert seen == [("batch_end", 3), ("epoch_end", 0, 0.25), ("test_end", {"loss": 1.0})]
    with pytest.raises(TypeError, match="on_epoch_finish"):
        LambdaCallback(on_epoch_finish=lambda epoch, logs: None)
    with pytest.raises(TypeError, match="callable"):
        LambdaCallback(on_epoch_end=3)


def test_old_batch_hook_names_are_reached_through_the_keras_3_names():
    calls = []

    class Old(Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("old begin", batch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("old end", batch))

    class New(Callback):
        def on_train_batch_end(self, batch, logs=None):
            calls.append(("new end", batch))

    class Quiet(Callback):
        pass

    callbacks = CallbackList([Old(), New(), Quiet()], _Model())
    assert [type(c).__name__ for c in callbacks.batch_begin] == ["Old"]
    callbacks.call("on_train_batch_begin", 0, {})
    callbacks.call("on_train_batch_end", 0, {"loss": 1.0})
    assert calls == [("old begin", 0), ("old end", 0), ("new end", 0)]
    assert not callbacks.wants("on_test_batch_end") and not callbacks.wants("on_predict_batch_end")


def test_terminate_on_nan_stops_training_on_a_non_finite_loss_only(capsys):
    model = _Model()
    callback = TerminateOnNaN()
    callback.set_model(model)
    callback.on_train_batch_end(0, {"loss": 0.5})
    assert not model.stop_training
    callback.on_train_batch_end(4, {"loss": float("nan")})
    assert model.stop_training
    assert "Batch 4: Invalid loss, terminating training" in capsys.readouterr().out
    model.stop_training = False
    callback.on_train_batch_end(5, {"loss": float("inf")})
    assert model.stop_training


@pytest.mark.parametrize(
    "name", ["m.keras", "m.h5", "m.hdf5", "m.pt", "m.pth", "m.pkl", "m.pickle", "m.joblib", "M.H5"]
)
def test_model_checkpoint_refuses_another_formats_name_unless_allowed(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.safetensors") as raised:
        ModelCheckpoint(tmp_path / name)
    assert "allow_other_extension=True" in str(raised.value) and "'filepath'" in str(raised.value)
    ModelCheckpoint(tmp_path / name, allow_other_extension=True)  # accepted when asked for
    ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}.safetensors")
    ModelCheckpoint(tmp_path / "ckpt")


def test_backup_and_restore_resumes_an_interrupted_fit_bit_for_bit(tmp_path):
    import numpy as np

    import layerwise
    from layerwise import Dense, Dropout, Input, Model
    from layerwise.callbacks import BackupAndRestore

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6))
    y = np.eye(3)[rng.integers(0, 3, 64)]

    def model():
        layerwise.set_seed(1)
        inputs = Input(shape=(6,))
        hidden = Dropout(0.2)(Dense(16, activation="relu")(inputs))
        built = Model(inputs, Dense(3, activation="softmax")(hidden))
        built.compile(loss="categorical_crossentropy", optimizer="adam")
        return built

    straight = model()
    straight.fit(x, y, epochs=5, batch_size=16, verbose=0)

    class Crash(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    backup = BackupAndRestore(tmp_path / "backup")
    interrupted = model()
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[backup, Crash()])
    assert backup.exists()
    resumed = model()  # a new process: same code, fresh objects
    seen = []
    epochs = LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    resumed.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[backup, epochs])
    assert seen == [2, 3, 4]  # the backup ends each epoch last: the crash came before the 3rd
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.history["loss"] == straight.history["loss"]
    assert not backup.exists()  # deleted when training ended normally


def test_the_new_callbacks_refuse_bad_arguments_by_name(tmp_path):
    for make, argument in [
        (lambda: CSVLogger(None), "'filename'"),
        (lambda: CSVLogger(tmp_path / "log.csv", append="yes"), "'append'"),
        (lambda: CSVLogger(tmp_path / "log.csv", separator=None), "'separator'"),
    ]:
        with pytest.raises((TypeError, ValueError), match=argument):
            make()
    from layerwise.callbacks import BackupAndRestore

    with pytest.raises(TypeError, match="'backup_dir'"):
        BackupAndRestore(3)
    with pytest.raises(TypeError, match="'delete_checkpoint'"):
        BackupAndRestore(tmp_path, delete_checkpoint="no")
    logger = CSVLogger(tmp_path / "missing" / "log.csv")
    with pytest.raises(ValueError, match="does not exist"):
        logger.check_before_fit({"loss"}, False)
