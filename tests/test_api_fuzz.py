"""A property-based fuzzer over the public API: every public callable gets generated hostile
values for one argument, or for a pair of them, the others valid. Each call either succeeds
with finite results or raises TypeError/ValueError whose message names an argument it was given
a hostile value for; in both cases a refused call leaves the model's weights, layer state and
optimizer state exactly as they were (and a successful predict or evaluate changes nothing).

``LAYERWISE_FUZZ_EXAMPLES`` (default 60 per callable) sets the length of the run:

    LAYERWISE_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_api_fuzz.py
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerwise
from layerwise import (
    BatchNormalization,
    Dense,
    Dropout,
    Input,
    Model,
    callbacks,
    optimizers,
    schedules,
)
from layerwise.exceptions import ModelFileError, TrainingDivergedError
from layerwise.snapshot import Snapshot, non_finite

EXAMPLES = int(os.environ.get("LAYERWISE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**20), max_value=2**20),  # larger sizes would allocate gigabytes
    st.sampled_from([0, -1, 1, 2**31, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 1e-320]),
    st.text(max_size=8),
    st.sampled_from(["", "adam", "mse", "relu", "val_loss", "{epoch}", "\x00", "x" * 300]),
    st.lists(st.integers(-3, 3), max_size=4),
    st.lists(st.lists(st.floats(-2, 2), max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([
        np.zeros((0, 3)), np.ones((4, 7)), np.ones((4, 3), dtype=complex),
        np.array(["a", "b"]), np.array([[np.nan, 1, 2]] * 4), np.ones(()), np.ones((4, 3, 1)),
        np.full((4, 3), 1e300), np.ones((4, 3), dtype=object), np.ones((2, 2)),
        np.eye(2), np.arange(8),
    ]),
    st.sampled_from([object(), print, lambda *a: 1, type, Ellipsis, b"bytes", (1, 2)]),
)

BOUNDED = HOSTILE.filter(
    lambda v: not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 3)
)


def model_and_data():
    layerwise.set_seed(0)
    inputs = Input((3,), name="x_in")
    h = BatchNormalization()(Dense(4, activation="relu")(inputs))
    model = Model(inputs, Dense(2, activation="softmax", name="out")(Dropout(0.1, seed=1)(h)))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), np.eye(2)[rng.integers(0, 2, 8)]
    model.fit(x, y, epochs=1, print_loss=False)
    return model, x, y


# Each entry: valid keyword arguments, and the call (given the model and the training data).
CALLS = {
    "compile": ({"loss_fn": "categorical_crossentropy", "optimizer": "sgd",
                 "metrics": ["accuracy"], "dtype": "float32"},
                lambda m, X, Y, **kw: m.compile(**kw)),
    "fit": ({"x_train": "X", "y_train": "Y", "epochs": 1, "learning_rate": 0.01,
             "print_loss": False, "batch_size": 4, "shuffle": True, "validation_split": 0.0,
             "validation_data": None, "callbacks": None, "verbose": 0,
             "steps_per_epoch": None, "validation_steps": None},
            lambda m, X, Y, **kw: m.fit(**kw)),
    "evaluate": ({"x": "X", "y": "Y", "batch_size": 4, "verbose": 0, "steps": None},
                 lambda m, X, Y, **kw: m.evaluate(**kw)),
    "predict": ({"x": "X", "batch_size": 4}, lambda m, X, Y, **kw: m.predict(**kw)),
    "train_on_batch": ({"x": "X", "y": "Y", "return_dict": False},
                       lambda m, X, Y, **kw: m.train_on_batch(**kw)),
    "set_weights": ({"weights": "W"}, lambda m, X, Y, **kw: m.set_weights(**kw)),
    "get_layer": ({"name": "out"}, lambda m, X, Y, **kw: m.get_layer(**kw)),
    "EarlyStopping": ({"monitor": "loss", "patience": 1, "min_delta": 0.0, "mode": "auto",
                       "restore_best_weights": False},
                      lambda m, X, Y, **kw: m.fit(X, Y, epochs=2, print_loss=False,
                                            callbacks=[callbacks.EarlyStopping(**kw)])),
    "ReduceLROnPlateau": ({"monitor": "loss", "factor": 0.5, "patience": 1, "min_delta": 0.0,
                           "mode": "auto", "min_lr": 0.0, "cooldown": 0},
                          lambda m, X, Y, **kw: m.fit(X, Y, epochs=2, print_loss=False,
                                                callbacks=[callbacks.ReduceLROnPlateau(**kw)])),
    "ModelCheckpoint": ({"filepath": "CKPT", "monitor": "loss", "save_best_only": False,
                         "mode": "auto", "save_weights_only": False},
                        lambda m, X, Y, **kw: m.fit(X, Y, epochs=1, print_loss=False,
                                              callbacks=[callbacks.ModelCheckpoint(**kw)])),
    "LearningRateScheduler": ({"schedule": lambda epoch, rate: rate},
                              lambda m, X, Y, **kw: m.fit(X, Y, epochs=1, print_loss=False,
                                                    callbacks=[callbacks.LearningRateScheduler(
                                                        **kw)])),
    "Adam": ({"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
             lambda m, X, Y, **kw: m.compile("categorical_crossentropy", optimizers.Adam(**kw))),
    "SGD": ({"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
            lambda m, X, Y, **kw: m.compile("categorical_crossentropy", optimizers.SGD(**kw))),
    "set_state": ({"state": "STATE", "iterations": 3},
                  lambda m, X, Y, **kw: m.optimizer.set_state(**kw)),
    "iterations": ({"iterations": 3},
                   lambda m, X, Y, iterations: setattr(m.optimizer, "iterations", iterations)),
    "ExponentialDecay": ({"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9},
                         lambda m, X, Y, **kw: m.compile("categorical_crossentropy", optimizers.SGD(
                             schedules.ExponentialDecay(**kw)))),
    "StepDecay": ({"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
                  lambda m, X, Y, **kw: m.compile("categorical_crossentropy", optimizers.SGD(
                      schedules.StepDecay(**kw)))),
    "CosineDecay": ({"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.0},
                    lambda m, X, Y, **kw: m.compile("categorical_crossentropy", optimizers.SGD(
                        schedules.CosineDecay(**kw)))),
    "PiecewiseConstantDecay": ({"boundaries": [5, 10], "values": [0.1, 0.05, 0.01]},
                               lambda m, X, Y, **kw: m.compile(
                                   "categorical_crossentropy",
                                   optimizers.SGD(schedules.PiecewiseConstantDecay(**kw)))),
    "RMSprop": ({"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7},
                lambda m, X, Y, **kw: m.compile("categorical_crossentropy",
                                                optimizers.RMSprop(**kw))),
    "AdamW": ({"learning_rate": 0.001, "weight_decay": 0.004},
              lambda m, X, Y, **kw: m.compile("categorical_crossentropy",
                                              optimizers.AdamW(**kw))),
    "load_weights": ({"path": "WFILE"}, lambda m, X, Y, **kw: m.load_weights(**kw)),
    "Dense": ({"output_size": 3, "activation": "relu", "input_size": 3},
              lambda m, X, Y, **kw: Dense(**kw)),
    "Input": ({"shape": (3,), "name": "a"}, lambda m, X, Y, **kw: Input(**kw)),
}


def _resolve(value, x, y, model, folder):
    """Placeholders of the valid arguments: the data, the weights, the optimizer state."""
    if isinstance(value, str):
        if value == "X":
            return x
        if value == "Y":
            return y
        if value == "W":
            return model.get_weights()
        if value == "STATE":
            return model.optimizer.get_state()
        if value == "CKPT":
            return str(folder / "ckpt-{epoch}.safetensors")
        if value == "WFILE":
            model.save_weights(folder / "weights.safetensors")
            return folder / "weights.safetensors"
    return value


def _finite(result) -> bool:
    if isinstance(result, dict):
        return all(_finite(v) for v in result.values())
    if isinstance(result, (list, tuple)):
        return all(_finite(v) for v in result)
    if isinstance(result, (float, np.floating)):
        return math.isfinite(result)
    if isinstance(result, np.ndarray) and result.dtype.kind == "f":
        return bool(np.isfinite(result).all())
    return True


MUTATING = {"StepDecay", "CosineDecay", "PiecewiseConstantDecay", "RMSprop", "AdamW",
            "load_weights", "compile", "fit", "train_on_batch", "set_weights", "EarlyStopping",
            "ReduceLROnPlateau", "ModelCheckpoint", "LearningRateScheduler", "Adam", "SGD",
            "set_state", "iterations", "ExponentialDecay"}


@pytest.mark.parametrize("name", sorted(CALLS))
@FUZZ
@given(data=st.data())
def test_hostile_arguments_are_refused_cleanly_or_handled(name, data, tmp_path_factory):
    valid, call = CALLS[name]
    model, x, y = model_and_data()
    folder = tmp_path_factory.mktemp("fuzz")
    arguments = sorted(valid)
    count = data.draw(st.integers(1, min(2, len(arguments))), label="how many")
    chosen = data.draw(st.lists(st.sampled_from(arguments), min_size=count, max_size=count,
                                unique=True), label="arguments")
    kwargs = {k: _resolve(v, x, y, model, folder) for k, v in valid.items()}
    for argument in chosen:
        # A huge but valid number of epochs would only make the run long, not test anything.
        strategy = BOUNDED if argument == "epochs" else HOSTILE
        kwargs[argument] = data.draw(strategy, label=argument)
    snapshot = Snapshot(model)
    history = dict(model.history)
    here = os.getcwd()
    os.chdir(folder)  # hostile file names (ModelCheckpoint("adam")) land in the test folder
    try:
        with np.errstate(all="ignore"):
            result = call(model, x, y, **kwargs)
    except TrainingDivergedError:
        # Legal values can diverge (learning_rate=2**63): then everything must be finite.
        assert non_finite(model) == [] and np.isfinite(model.predict(x)).all()
        return
    except (FileNotFoundError, ModelFileError) as error:
        # A path naming no file (Python's own error) or no readable model file: both name it.
        assert name == "load_weights" and snapshot.matches(), f"{name}: {error}"
        return
    except (TypeError, ValueError) as error:
        message = str(error)
        assert any(f"'{a}'" in message or a in message for a in chosen) or any(
            isinstance(kwargs[a], (list, dict, np.ndarray)) for a in chosen
        ) and ("x_batch" in message or "y_batch" in message or "Argument" in message), (
            f"{name}({chosen}): {type(error).__name__}: {message}"
        )
        assert snapshot.matches(), f"{name}({chosen}) was refused but changed the model"
        assert model.history == history
        return
    except Exception as error:  # noqa: BLE001 - anything else is a defect of the API
        pytest.fail(f"{name}({chosen}={[kwargs[a] for a in chosen]!r:.200}) raised "
                    f"{type(error).__name__}: {error}")
    finally:
        os.chdir(here)
    assert _finite(result), f"{name}({chosen}) returned non-finite {result!r:.200}"
    if name not in MUTATING:
        assert snapshot.matches(), f"{name} changed the model"
