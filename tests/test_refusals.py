"""A refused call changes nothing: every argument of compile, fit, evaluate, set_weights,
callbacks, optimizers and losses is checked before work starts, and the error names it."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise
from layerwise import Dense, Input, Loss, Model
from layerwise.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from layerwise.exceptions import ShapeMismatchError
from layerwise.optimizers import SGD, Adam
from layerwise.snapshot import Snapshot


def trained_model():
    layerwise.set_seed(0)
    inputs = Input((3,))
    model = Model(inputs, Dense(2, activation="softmax")(Dense(4, activation="relu")(inputs)))
    model.compile(loss="categorical_crossentropy", optimizer=Adam(0.01), metrics=["accuracy"])
    x, y = data()
    model.fit(x, y, epochs=2, print_loss=False)
    return model


def data(n=20):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 3)), np.eye(2)[rng.integers(0, 2, n)]


def unchanged(model, snapshot, optimizer, dtype):
    assert snapshot.matches()
    assert model.optimizer is optimizer and model.dtype == dtype


@pytest.mark.parametrize("kwargs, error, argument", [
    ({"metrics": ["accuracy", "no_such_metric"]}, ValueError, "no_such_metric"),
    ({"metrics": 5}, TypeError, "metrics"),
    ({"optimizer": "nope"}, ValueError, "optimizer"),
    ({"dtype": "float16"}, ValueError, "dtype"),
    ({"loss_weights": [float("nan")]}, ValueError, "loss_weights"),
    ({"loss_fn": "no_such_loss"}, ValueError, "loss_fn"),
])
def test_a_refused_compile_keeps_the_optimizer_state_and_the_weights(kwargs, error, argument):
    model = trained_model()
    snapshot, optimizer, dtype = Snapshot(model), model.optimizer, model.dtype
    args = {"loss_fn": "categorical_crossentropy", "optimizer": "sgd", "dtype": "float64",
            **kwargs}
    with pytest.raises(error, match=argument):
        model.compile(**args)
    unchanged(model, snapshot, optimizer, dtype)


@pytest.mark.parametrize("replace, error, message", [
    (lambda w: w[:-1], ShapeMismatchError, "holds 3 arrays"),
    (lambda w: w[:-1] + [np.zeros((3, 3))], ShapeMismatchError, "item 3"),
    (lambda w: w[:-1] + [np.full_like(w[-1], np.nan)], ValueError, "NaN or infinity"),
    (lambda w: w[:-1] + [np.full_like(w[-1], np.inf)], ValueError, "NaN or infinity"),
    (lambda w: w[:-1] + [None], TypeError, "must be an array"),
    (lambda w: w[:-1] + [w[-1] + 1j], TypeError, "real numbers"),
    (lambda w: w[:-1] + [np.full(w[-1].shape, 1e300)], ValueError, "too large"),
    (lambda w: 7, TypeError, "list of arrays"),
])
def test_set_weights_checks_every_array_before_writing_any(replace, error, message):
    model = trained_model()
    snapshot = Snapshot(model)
    weights = [w + 1 for w in model.get_weights()]  # the first arrays would change the model
    with pytest.raises(error, match=message):
        model.set_weights(replace(weights))
    assert snapshot.matches()


def test_set_weights_refuses_a_negative_variance():
    inputs = Input((3,))
    model = Model(inputs, layerwise.BatchNormalization()(inputs))
    weights = model.get_weights()
    weights[-1] = -np.ones_like(weights[-1])
    with pytest.raises(ValueError, match="variance"):
        model.set_weights(weights)


@pytest.mark.parametrize("kwargs, argument", [
    ({"validation_data": (np.ones((4, 5)), np.ones((4, 2)))}, "validation_data"),
    ({"validation_data": [(np.ones((4, 3)), np.ones((4, 2))), (np.ones((4, 3)), "x")]},
     "y_batch"),
    ({"validation_data": 5}, "validation_data"),
    ({"callbacks": [EarlyStopping(monitor="val_loss")]}, "monitor"),
    ({"callbacks": [EarlyStopping(monitor="val_acuracy")],
      "validation_split": 0.25}, "monitor"),
    ({"callbacks": EarlyStopping()}, "callbacks"),
    ({"callbacks": [ModelCheckpoint("ckpt-{nope}.safetensors")]}, "filepath"),
    ({"callbacks": [ModelCheckpoint("/no/such/folder/ckpt.safetensors")]}, "folder"),
    ({"steps_per_epoch": 2}, "steps_per_epoch"),
    ({"validation_steps": 2}, "validation_steps"),
    ({"batch_size": 0}, "batch_size"),
    ({"epochs": 1.5}, "epochs"),
])
def test_fit_arguments_are_checked_before_anything_trains(kwargs, argument, tmp_path):
    model = trained_model()
    snapshot, history = Snapshot(model), dict(model.history)
    x, y = data()
    with pytest.raises((TypeError, ValueError), match=argument):
        model.fit(x, y, print_loss=False, **kwargs)
    assert snapshot.matches() and model.history == history


def test_a_zero_dimensional_target_is_named():
    model = trained_model()
    with pytest.raises(ValueError, match="y_train"):
        model.fit(np.ones((1, 3)), np.float64(1.0), print_loss=False)


@pytest.mark.parametrize("make, argument", [
    (lambda: EarlyStopping(patience=-5), "patience"),
    (lambda: EarlyStopping(min_delta=float("nan")), "min_delta"),
    (lambda: EarlyStopping(monitor=3), "monitor"),
    (lambda: EarlyStopping(restore_best_weights="yes"), "restore_best_weights"),
    (lambda: ReduceLROnPlateau(min_lr=float("nan")), "min_lr"),
    (lambda: ReduceLROnPlateau(patience=-1), "patience"),
    (lambda: ReduceLROnPlateau(factor=2), "factor"),
    (lambda: ReduceLROnPlateau(cooldown=1.5), "cooldown"),
    (lambda: ModelCheckpoint(None), "filepath"),
])
def test_callback_arguments_are_checked(make, argument):
    with pytest.raises((TypeError, ValueError), match=argument):
        make()


def test_optimizer_state_and_iterations_are_checked_before_they_change():
    model = trained_model()
    optimizer = model.optimizer
    state, iterations = optimizer.get_state(), optimizer.iterations
    key = next(k for k in state if k.endswith("/v"))
    for bad_state, bad_iterations, argument in [
        ({**state, key: -state[key] - 1}, iterations, "negative"),
        ({**state, key: state[key] * np.nan}, iterations, "NaN"),
        ({**state, "nope/m": state[key]}, iterations, "state"),
        (state, 2**60, "iterations"),
        (state, -1, "iterations"),
        (state, 1.5, "iterations"),
    ]:
        with pytest.raises((TypeError, ValueError), match=argument):
            optimizer.set_state(bad_state, bad_iterations)
        assert optimizer.iterations == iterations
        for k, v in optimizer.get_state().items():
            np.testing.assert_array_equal(v, state[k])
    with pytest.raises((TypeError, ValueError), match="iterations"):
        optimizer.iterations = float("inf")
    with pytest.raises(ValueError, match="learning_rate"):
        SGD(learning_rate=float("nan"))


def test_evaluate_and_validation_take_generators_with_steps():
    model = trained_model()
    x, y = data()

    def batches():
        while True:
            yield x[:8], y[:8]

    assert model.evaluate(batches(), steps=2)["loss"] > 0
    with pytest.raises(ValueError, match="'steps'"):
        model.evaluate(batches())
    model.fit(x, y, epochs=1, print_loss=False, validation_data=batches(), validation_steps=2)
    assert "val_loss" in model.history
    with pytest.raises(ValueError, match="validation_steps"):
        model.fit(x, y, epochs=1, print_loss=False, validation_data=batches())


def test_standalone_losses_refuse_labels_out_of_range():
    with pytest.raises(ValueError, match=r"y_true.*\[0, 1\]"):
        Loss("sparse_categorical_crossentropy").forward([5], [[0.1, 0.9]])
    with pytest.raises(ValueError, match="y_true"):
        Loss("sparse_categorical_crossentropy").forward([-1], [[0.1, 0.9]])
    with pytest.raises(ValueError, match="y_true"):
        Loss("binary_crossentropy").forward([3.0], [[0.5]])
    assert Loss("sparse_categorical_crossentropy").forward([1], [[0.1, 0.9]]) == pytest.approx(
        -np.log(0.9))
