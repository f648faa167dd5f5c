"""Files that are hostile or from another model: refused with a ModelFileError that says what is
wrong, before anything is allocated or replaced; temporaries of killed saves are cleaned up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import tracemalloc

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import layerwise
from layerwise import BatchNormalization, Dense, Dropout, Input, Model
from layerwise.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from layerwise.exceptions import ModelFileError
from layerwise.model_file import remove_stale_temporaries
from layerwise.snapshot import Snapshot


def build(activation="relu", loss="categorical_crossentropy", optimizer="adam",
          metrics=("accuracy",)):
    layerwise.set_seed(0)
    inputs = Input((3,))
    h = BatchNormalization()(Dense(4, activation=activation)(inputs))
    model = Model(inputs, Dense(2, activation="softmax")(Dropout(0.2, seed=3)(h)))
    model.compile(loss=loss, optimizer=optimizer, metrics=list(metrics))
    return model


def data(n=24):
    rng = np.random.default_rng(2)
    return rng.normal(size=(n, 3)), np.eye(2)[rng.integers(0, 2, n)]


def rewrite(path, tensors=None, **metadata_changes):
    """Rewrite a model file with changed tensors and metadata entries (JSON values)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        metadata = dict(handle.metadata())
    arrays = load_file(str(path))
    arrays.update(tensors or {})
    for key, change in metadata_changes.items():
        metadata[key] = json.dumps(change(json.loads(metadata[key])))
    save_file(arrays, str(path), metadata=metadata)


@pytest.fixture
def checkpoint(tmp_path):
    model = build()
    x, y = data()
    path = tmp_path / "ckpt.safetensors"
    model.fit(x, y, epochs=2, print_loss=False, callbacks=[ModelCheckpoint(path)])
    return path


def test_a_fifo_is_refused_at_once_by_every_loader(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    model = build()
    for load in (layerwise.load_model, model.load_weights,
                 lambda p: model.fit(*data(), resume_from=p, print_loss=False)):
        result: list[str] = []
        worker = threading.Thread(target=_collect, args=(result, load, fifo), daemon=True)
        worker.start()
        worker.join(5)
        assert result and "not a regular file" in result[0]


def _collect(result: list, function, path) -> None:
    result.append(_raises(function, path))


def _raises(function, path):
    try:
        function(path)
    except ModelFileError as error:
        return str(error)
    return "loaded"


def test_a_tiny_file_cannot_make_a_layer_allocate_gigabytes(tmp_path):
    path = tmp_path / "m.safetensors"
    inputs = Input((3,))
    model = Model(inputs, BatchNormalization(center=False, scale=False)(inputs))
    model.save(path)

    def huge(config):
        config["layers"][0]["config"]["shape"] = [2**33]
        return config

    rewrite(path, model=huge)
    tracemalloc.start()
    with pytest.raises(ModelFileError):
        layerwise.load_model(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20


@pytest.mark.parametrize("tensor, value, message", [
    ("moving_variance", -1.0, "variance"),
    ("optimizer_v", -1.0, "average of squares"),
])
def test_negative_variances_and_second_moments_are_refused(checkpoint, tensor, value, message):
    names = load_file(str(checkpoint))
    if tensor == "moving_variance":
        key = next(k for k in names if k.endswith("/moving_variance"))
    else:
        key = next(k for k in names if k.startswith("optimizer/") and k.endswith("/v"))
    rewrite(checkpoint, {key: np.full_like(names[key], value)})
    with pytest.raises(ModelFileError, match=message):
        layerwise.load_model(checkpoint)
    model = build()
    snapshot = Snapshot(model)
    with pytest.raises(ModelFileError, match=message):
        model.fit(*data(), resume_from=checkpoint, print_loss=False)
    assert snapshot.matches()


@pytest.mark.parametrize("entry, change, message", [
    ("compile", lambda c: {**c, "iterations": 2**60}, "step count"),
    ("training", lambda t: {**t, "history": {k: v for k, v in t["history"].items()
                                             if k != "loss"}}, "without 'loss'"),
    ("training", lambda t: {**t, "history": {**t["history"], "loss": [0.5]}}, "one value per"),
    ("training", lambda t: {**t, "callbacks": [{"class_name": "ModelCheckpoint",
                                                "state": {"model": 1}}]}, "no such state"),
])
def test_values_that_pass_the_format_but_not_the_model_are_refused(checkpoint, entry, change,
                                                                   message):
    rewrite(checkpoint, **{entry: change})
    model = build()
    snapshot = Snapshot(model)
    with pytest.raises(ModelFileError, match=message):
        model.fit(*data(), resume_from=checkpoint, print_loss=False,
                  callbacks=[ModelCheckpoint(checkpoint)])
    assert snapshot.matches()


def test_a_layer_listing_the_same_parent_twice_is_refused(checkpoint):
    def twice(config):
        config["layers"][1]["parents"] = config["layers"][1]["parents"] * 2
        return config

    rewrite(checkpoint, model=twice)
    with pytest.raises(ModelFileError, match="invalid parents"):
        layerwise.load_model(checkpoint)


@pytest.mark.parametrize("other, message", [
    (lambda: build(activation="tanh"), "architecture"),
    (lambda: build(loss="mse"), "loss"),
    (lambda: build(optimizer=layerwise.optimizers.Adam(beta_1=0.5)), "optimizer"),
    (lambda: build(metrics=("accuracy", "precision")), "metrics"),
    (lambda: build(optimizer="sgd"), "optimizer"),
])
def test_resume_refuses_a_checkpoint_of_another_model_and_says_what_differs(checkpoint, other,
                                                                            message):
    model = other()
    snapshot = Snapshot(model)
    with pytest.raises(ModelFileError, match=message):
        model.fit(*data(), resume_from=checkpoint, print_loss=False)
    assert snapshot.matches()


@pytest.mark.parametrize("make_callbacks", [
    lambda p: [ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=10.0),
               ModelCheckpoint(p)],
    lambda p: [ModelCheckpoint(p), EarlyStopping(monitor="loss", patience=3, min_delta=10.0,
                                                 restore_best_weights=True)],
])
def test_resume_is_bit_for_bit_with_stateful_callbacks(tmp_path, make_callbacks):
    x, y = data()
    path = tmp_path / "ckpt.safetensors"
    whole = build()
    whole.fit(x, y, epochs=5, print_loss=False, callbacks=make_callbacks(tmp_path / "w.st"))
    first = build()
    first.fit(x, y, epochs=2, print_loss=False, callbacks=make_callbacks(path))
    resumed = build()
    resumed.fit(x, y, epochs=5, print_loss=False, callbacks=make_callbacks(tmp_path / "r.st"),
                resume_from=path)
    assert resumed.history == whole.history
    assert resumed.optimizer.learning_rate == whole.optimizer.learning_rate
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_temporaries_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "m.safetensors"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    leftovers = [tmp_path / f".m.safetensors.{dead}.abc{i}.tmp" for i in range(3)]
    for leftover in leftovers:
        leftover.write_bytes(b"half a save")
    mine = tmp_path / f".m.safetensors.{os.getpid()}.live.tmp"  # a save of this process
    mine.write_bytes(b"in progress")
    unrelated = tmp_path / ".other.safetensors.12345.x.tmp"
    unrelated.write_bytes(b"not ours")
    build().save(path)
    assert not any(p.exists() for p in leftovers)
    assert mine.exists() and unrelated.exists()
    assert remove_stale_temporaries(str(path)) == []
    layerwise.load_model(path)
