"""Training checkpoints: a model file plus what resuming needs to continue bit-for-bit.

A checkpoint is a file written by :func:`~layerwise.saving.save_model` with one more metadata
entry, ``training``: the epoch, the history so far, the learning rate and the states of the
random generators that training draws from (shuffling, dropout). ``fit(resume_from=path)``
reads it back with :func:`restore_checkpoint`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import registry
from .exceptions import ModelFileError
from .model_file import (
    ModelFile,
    apply_weights,
    checked_count,
    file_errors,
    match_names,
    read_optimizer_state,
    read_weights,
)
from .saving import save_model


def _generators(model) -> list[np.random.Generator]:
    """The random generators that training draws from: shuffling, then each layer's (dropout)."""
    return [model._rng, *(g for layer in model.layers for g in layer.random_generators())]


def training_state(model, epoch: int, logs: dict | None = None) -> dict[str, Any]:
    """What a checkpoint needs beyond the model file to resume bit-for-bit after ``epoch``."""
    history = {key: list(values) for key, values in model.history.items()}
    for key, value in (logs or {}).items():
        history.setdefault(key, []).append(value)
    return {
        "epoch": epoch,
        "history": history,
        "learning_rate": model.optimizer.get_config()["learning_rate"],
        "generators": [g.bit_generator.state for g in _generators(model)],
    }


def save_checkpoint(model, path, epoch: int, logs: dict | None = None) -> None:
    """The full training state after ``epoch``: model file plus epoch, history and generators."""
    save_model(model, path, include_optimizer=True, training=training_state(model, epoch, logs))


def restore_checkpoint(model, path) -> tuple[int, dict[str, list]]:
    """Load a checkpoint's training state into ``model`` (same architecture, compiled with the
    same optimizer class); returns the epoch to continue from and the history so far. Nothing
    changes on error."""
    file = ModelFile(path)
    with file_errors(path):
        training = file.json("training")
        settings = file.json("compile")
        if not isinstance(training, dict) or not isinstance(settings, dict):
            raise ModelFileError(f"{file.path!r} is not a training checkpoint.")
        epoch = checked_count(training.get("epoch"), "epoch")
        saved_optimizer = settings.get("optimizer") or {}
        if saved_optimizer.get("class_name") != registry.serialize(model.optimizer)["class_name"]:
            raise ModelFileError(
                f"{file.path!r} was written while training with "
                f"{saved_optimizer.get('class_name')!r:.40}, but the model is compiled with "
                f"{type(model.optimizer).__name__}."
            )
        iterations = checked_count(settings.get("iterations", 0), "optimizer step count")
        learning_rate = registry.deserialize(saved_optimizer, "optimizer").learning_rate
        sources = match_names(model, file, file.json("weights_order", required=False))
        arrays = read_weights(model, file, sources)
        state = read_optimizer_state(model, file, sources)
        history = training.get("history", {})
        if not isinstance(history, dict) or not all(
            isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
            for v in history.values()
        ):
            raise ModelFileError(f"{file.path!r} holds an invalid training history.")
        generators = _generators(model)
        states = training.get("generators", [])
        if not isinstance(states, list) or len(states) != len(generators):
            raise ModelFileError(
                f"{file.path!r} holds {len(states)} random-generator states; "
                f"the model has {len(generators)}."
            )
        fresh = [np.random.Generator(np.random.PCG64()) for _ in generators]
        for generator, saved in zip(fresh, states):
            generator.bit_generator.state = saved  # validated by NumPy before anything changes
        # Everything was read and checked: now change the model.
        apply_weights(model, arrays)
        if state:
            model.optimizer.set_state(state, iterations)
        else:
            model.optimizer.iterations = iterations
        model.optimizer.learning_rate = learning_rate
        for generator, source in zip(generators, fresh):
            generator.bit_generator.state = source.bit_generator.state
    return epoch + 1, history
