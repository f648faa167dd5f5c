"""Training checkpoints: a model file plus what resuming needs to continue bit-for-bit.

A checkpoint is a file written by :func:`~layerwise.saving.save_model` with one more metadata
entry, ``training``: the epoch, the history so far, the learning rate, the states of the random
generators that training draws from (shuffling, dropout) and the state of every callback of the
``fit`` call (``EarlyStopping``'s counters, ``ReduceLROnPlateau``'s, ...; arrays among them are
stored as tensors ``callbacks/<index>/<key>/<item>``). ``fit(resume_from=path)`` reads it back
with :func:`read_checkpoint`, which checks everything, including that the checkpoint comes from
the same architecture, loss, optimizer settings and metrics, before anything changes.
"""

from __future__ import annotations

import os
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
from .saving import compile_config, model_config, save_model

_CALLBACK_TENSORS = "callbacks/"

__all__ = ["training_state", "save_checkpoint", "read_checkpoint", "restore_checkpoint"]


def _generators(model) -> list[np.random.Generator]:
    """The random generators that training draws from: shuffling, then each layer's (dropout)."""
    return [model._rng, *(g for layer in model.layers for g in layer.random_generators())]


def _callback_states(model: Any) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Each callback's ``get_state()``, with arrays moved out into tensors."""
    states, tensors = [], {}
    for index, callback in enumerate(getattr(model, "_fit_callbacks", [])):
        state = {}
        for key, value in callback.get_state().items():
            if isinstance(value, list) and value and all(isinstance(a, np.ndarray) for a in value):
                names = [f"{_CALLBACK_TENSORS}{index}/{key}/{j}" for j in range(len(value))]
                tensors.update(zip(names, value))
                state[key] = {"tensors": names}
            else:
                state[key] = value
        states.append({"class_name": type(callback).__name__, "state": state})
    return states, tensors


def training_state(model: Any, epoch: int, logs: dict | None = None) -> dict[str, Any]:
    """What a checkpoint needs beyond the model file to resume bit-for-bit after ``epoch``."""
    history = {key: list(values) for key, values in model.history.items()}
    for key, value in (logs or {}).items():
        history.setdefault(key, []).append(value)
    return {
        "epoch": epoch,
        "history": history,
        "learning_rate": model.optimizer.get_config()["learning_rate"],
        "generators": [g.bit_generator.state for g in _generators(model)],
        "callbacks": _callback_states(model)[0],
    }


def save_checkpoint(
    model: Any,
    path: str | os.PathLike,
    epoch: int,
    logs: dict | None = None,
    *,
    allow_other_extension: bool = False,
) -> None:
    """The full training state after ``epoch``: model file plus epoch, history, generators and
    the callbacks' states. Another format's file name is refused unless
    ``allow_other_extension`` (see :func:`layerwise.saving.save_model`)."""
    _, tensors = _callback_states(model)
    save_model(model, path, include_optimizer=True, training=training_state(model, epoch, logs),
               extra_tensors=tensors, allow_other_extension=allow_other_extension)


def _without_names(config: dict) -> dict:
    """The architecture without layer and model names (automatic names differ by process)."""
    layers = []
    for entry in config.get("layers", []):
        inner = dict(entry.get("config") or {})
        inner.pop("name", None)
        layers.append({"class_name": entry.get("class_name"), "config": inner,
                       "parents": entry.get("parents")})
    return {"layers": layers, "inputs": config.get("inputs"), "outputs": config.get("outputs")}


def _compile_differences(saved: dict, model) -> list[str]:
    """What differs between a checkpoint's compile settings and the model's, in words."""
    current = compile_config(model)
    problems = []
    for key, what in (("loss", "loss"), ("metrics", "metrics"), ("dtype", "dtype"),
                      ("loss_weights", "loss weights")):
        if key in saved and saved.get(key) != current.get(key):
            problems.append(
                f"{what} {saved.get(key)!r:.120} (the model: {current.get(key)!r:.120})"
            )
    ours, theirs = dict(current["optimizer"]), dict(saved.get("optimizer") or {})
    ours_config = {k: v for k, v in (ours.get("config") or {}).items() if k != "learning_rate"}
    theirs_config = {
        k: v for k, v in (theirs.get("config") or {}).items() if k != "learning_rate"
    }
    if ours.get("class_name") != theirs.get("class_name") or ours_config != theirs_config:
        problems.append(
            f"optimizer {theirs.get('class_name')!r:.40} {theirs_config!r:.120} (the model: "
            f"{ours.get('class_name')!r} {ours_config!r:.120})"
        )
    return problems


def _check_history(history, epoch: int, path: str) -> dict[str, list]:
    if not isinstance(history, dict) or not all(
        isinstance(k, str) and isinstance(v, list)
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
        for k, v in history.items()
    ):
        raise ModelFileError(f"{path!r} holds an invalid training history.")
    if "loss" not in history:
        raise ModelFileError(f"{path!r} holds a training history without 'loss'.")
    wrong = sorted(k for k, v in history.items() if len(v) != epoch + 1)
    if wrong:
        raise ModelFileError(
            f"{path!r} is a checkpoint after epoch {epoch + 1}, but its history of {wrong[:5]} "
            "does not hold one value per epoch."
        )
    return history


def _read_callback_states(file: ModelFile, training: dict, callbacks) -> list[dict] | None:
    """The saved state for each callback of this fit (None where the checkpoint holds none):
    saved states go, in order, to this fit's callbacks of the same class; callbacks of the
    earlier fit that this one does not have are left out, and new ones start afresh."""
    saved = training.get("callbacks")
    if saved is None:
        return None
    if not isinstance(saved, list) or not all(
        isinstance(s, dict) and isinstance(s.get("state"), dict) for s in saved
    ):
        raise ModelFileError(f"{file.path!r} holds invalid callback states.")
    states: list = []
    position = 0
    for callback in callbacks:
        name = type(callback).__name__
        match = next(
            (i for i in range(position, len(saved)) if saved[i].get("class_name") == name), None
        )
        if match is None:
            states.append(None)
            continue
        position = match + 1
        entry = saved[match]
        state = {}
        for key, value in entry["state"].items():
            if key not in callback.state_keys:
                raise ModelFileError(
                    f"{file.path!r} holds a state {key!r:.40} for {name}, which has no such state."
                )
            if not (value is None or isinstance(value, (int, float, dict))):
                raise ModelFileError(f"{file.path!r} holds an invalid {name} state {key!r:.40}.")
            if isinstance(value, dict) and set(value) == {"tensors"}:
                names = value["tensors"]
                if not isinstance(names, list) or not all(
                    isinstance(n, str) and n.startswith(_CALLBACK_TENSORS) and n in file.names
                    for n in names
                ):
                    raise ModelFileError(f"{file.path!r} holds invalid callback tensors.")
                value = [file.handle.get_tensor(n) for n in names]
            elif isinstance(value, dict):
                raise ModelFileError(f"{file.path!r} holds an invalid {name} state {key!r:.40}.")
            state[key] = value
        states.append(state)
    return states


def read_checkpoint(model: Any, path: str | os.PathLike, callbacks: Any = ()) -> Any:
    """Read and check everything a resume needs, changing nothing; returns a function that
    applies it (weights, optimizer state, learning rate, generators) and returns
    ``(epoch to continue from, history, callback states or None)``."""
    file = ModelFile(path)
    with file_errors(path):
        training = file.json("training")
        settings = file.json("compile")
        if not isinstance(training, dict) or not isinstance(settings, dict):
            raise ModelFileError(f"{file.path!r} is not a training checkpoint.")
        architecture = file.json("model")
        if not isinstance(architecture, dict) or _without_names(architecture) != _without_names(
            model_config(model)
        ):
            raise ModelFileError(
                f"{file.path!r} was written by a model with another architecture (other layers, "
                "settings such as activations or sizes, or wiring); resume with the model that "
                "wrote it."
            )
        problems = _compile_differences(settings, model)
        if problems:
            raise ModelFileError(
                f"{file.path!r} was written by a model compiled with another " + "; ".join(problems)
                + "."
            )
        epoch = checked_count(training.get("epoch"), "epoch")
        iterations = checked_count(settings.get("iterations", 0), "optimizer step count")
        learning_rate = registry.deserialize(settings["optimizer"], "optimizer").learning_rate
        sources = match_names(model, file, file.json("weights_order", required=False))
        arrays = read_weights(model, file, sources)
        state = read_optimizer_state(model, file, sources)
        history = _check_history(training.get("history", {}), epoch, file.path)
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
        callback_states = _read_callback_states(file, training, callbacks)
        probe = type(model.optimizer).from_config(model.optimizer.get_config())
        probe.build(model._parameter_names(), model._parameter_arrays())
        probe.set_state(state, iterations)  # the optimizer's own checks, on a copy

    def apply():
        apply_weights(model, arrays)
        if state:
            model.optimizer.set_state(state, iterations)
        else:
            model.optimizer.iterations = iterations
        model.optimizer.learning_rate = learning_rate
        for generator, source in zip(generators, fresh):
            generator.bit_generator.state = source.bit_generator.state
        return epoch + 1, history, callback_states

    return apply


def restore_checkpoint(
    model: Any, path: str | os.PathLike
) -> tuple[int, dict[str, list]]:
    """Load a checkpoint's training state into ``model`` (same architecture and compile
    settings); returns the epoch to continue from and the history so far. Nothing changes on
    error."""
    start, history, _ = read_checkpoint(model, path)()
    return start, history
