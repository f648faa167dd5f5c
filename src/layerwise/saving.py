"""Model files: one ``.safetensors`` file with the weights as tensors and everything else as JSON.

Layout of a file written by :func:`save_model`:

- tensors ``<layer>/<parameter>`` (e.g. ``dense_1/weights``), the layers' non-trainable state
  (e.g. ``batch_normalization_1/moving_mean``) and, unless left out, the optimizer's state as
  ``optimizer/<layer>/<parameter>/<slot>``. Any safetensors reader sees them by these names.
- metadata (strings): ``format`` = ``layerwise``, ``format_version``, ``layerwise_version``,
  ``model`` (the architecture: each layer's class, config and parents, as JSON), ``compile``
  (loss, optimizer with its step count, metrics, dtype) and, in checkpoints, ``training``
  (epoch, history, random-generator states).

Writing is atomic (temporary file in the same folder, fsync, rename), so a crash never destroys
the previous file. Reading trusts nothing: no pickle, no code, bounded header and nesting, every
name and shape checked against the architecture, and any problem is a
:class:`~layerwise.exceptions.ModelFileError`.

This module decides what goes into a file; :mod:`layerwise.model_file` writes and checks the
bytes, and :mod:`layerwise.checkpoints` (which builds on this one) adds the training state.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import registry
from ._extensions import check_extension
from .exceptions import ModelFileError
from .layers.base import Layer
from .model_file import (
    FORMAT,
    FORMAT_VERSION,
    MAX_HEADER_BYTES,  # noqa: F401  (re-exported: the limits a file must keep to)
    MAX_JSON_DEPTH,  # noqa: F401
    MAX_LAYERS,
    MAX_SAMPLE_ELEMENTS,
    ModelFile,
    allocation_budget,
    apply_weights,
    atomic_write,
    checked_count,
    file_elements,
    file_errors,
    layerwise_version,
    match_names,
    read_optimizer_state,
    read_weights,
    to_bytes,
    weight_tensors,
)

__all__ = [
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "atomic_write",
    "model_config",
    "model_from_config",
    "model_json",
    "compile_config",
]


def _writes_files(model) -> bool:
    """False on the processes of a distributed run other than rank 0 (which alone writes)."""
    dist = getattr(model, "_dist", None)
    return dist is None or dist.is_chief


def _layer_entry(layer: Layer) -> dict[str, Any]:
    """A layer's class and config; a frozen layer's config says ``"trainable": False`` (as
    Keras saves it), which ``Layer.from_config`` reads back."""
    entry = registry.serialize(layer)
    if not layer.trainable:
        entry["config"] = {**entry["config"], "trainable": False}
    return entry


def model_config(model: Any) -> dict[str, Any]:
    """The architecture: every layer's class and config, and the indices of its parents."""
    return {
        "name": model.name,
        "class_name": registry.registered_name(type(model)),
        "layers": [
            {**_layer_entry(layer), "parents": list(parents)}
            for layer, parents in zip(model.layers, model._parents)
        ],
        "inputs": list(model._graph.input_indices),
        "outputs": list(model._graph.output_indices),
        **({} if model.trainable else {"trainable": False}),
    }


def model_json(model: Any, **kwargs: Any) -> str:
    """``Model.to_json``: the class and the architecture (``model.get_config()``, which a
    subclass may extend) as a JSON string, ``kwargs`` passed to ``json.dumps``."""
    import json

    return json.dumps({"class_name": registry.registered_name(type(model)),
                       "config": model.get_config()}, **kwargs)


def compile_config(model: Any) -> dict[str, Any] | None:
    """The compile settings (loss, optimizer, step count, metrics, dtype); None if uncompiled."""
    if not model.compiled:
        return None
    several = len(model.losses) > 1
    return {
        "loss": [registry.serialize(f) for f in model.losses]
        if several
        else registry.serialize(model.loss),
        "loss_weights": list(model.loss_weights),
        "optimizer": registry.serialize(model.optimizer),
        "iterations": model.optimizer.iterations,
        "metrics": [[registry.serialize(m) for m in group] for group in model._output_metrics]
        if several
        else [registry.serialize(metric) for metric in model.metrics],
        "dtype": model.dtype.name,
    }


def save_model(
    model: Any,
    path: str | os.PathLike,
    include_optimizer: bool = True,
    training: dict | None = None,
    extra_tensors: dict[str, Any] | None = None,
    *,
    allow_other_extension: bool = False,
) -> None:
    """Write the model (architecture, weights, compile settings, optimizer state) to ``path``.

    Raises:
        ValueError: ``path`` ends in another format's extension (``.keras``, ``.h5``, ``.pt``,
            ``.pkl``, ...) and ``allow_other_extension`` is False; nothing is written.
    """
    check_extension(path, allow_other_extension)
    if not _writes_files(model):  # rank 0 alone writes in a distributed run
        return
    tensors = weight_tensors(model)
    tensors.update(extra_tensors or {})
    if include_optimizer and model.compiled:
        for key, array in model.optimizer.get_state().items():
            tensors[f"optimizer/{key}"] = array
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "layerwise_version": layerwise_version(),
        "model": model_config(model),
        "compile": compile_config(model),
        "weights_order": list(weight_tensors(model)),
    }
    if training is not None:
        metadata["training"] = training
    atomic_write(path, to_bytes(tensors, metadata))


def save_weights(
    model: Any, path: str | os.PathLike, *, allow_other_extension: bool = False
) -> None:
    """Write only the weights and layer state (no architecture, no optimizer); another
    format's file name is refused as in :func:`save_model`."""
    check_extension(path, allow_other_extension)
    if not _writes_files(model):
        return
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "layerwise_version": layerwise_version(),
        "content": "weights",
        "weights_order": list(weight_tensors(model)),
        "layer_classes": [
            registry.serialize(layer)["class_name"]
            for layer in model.layers
            if layer.parameters() or layer.state()
        ],
    }
    atomic_write(path, to_bytes(weight_tensors(model), metadata))


def _indices(value, count: int, what: str, default: list[int]) -> list[int]:
    """A list of distinct layer indices from the file, checked."""
    if value is None:
        return default
    if (
        not isinstance(value, list)
        or not value
        or len(set(map(repr, value))) != len(value)
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count for i in value)
    ):
        raise ModelFileError(f"The model config has invalid {what} {value!r:.80}.")
    return value


def model_from_config(config: dict[str, Any]) -> Any:
    """Rebuild an (uncompiled) model from :func:`model_config`'s output; files written before
    graphs (no ``inputs``/``outputs`` entries) are chains from the first layer to the last."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ModelFileError("The model config must be an object with a list of 'layers'.")
    entries = config["layers"]
    if not 0 < len(entries) <= MAX_LAYERS:
        raise ModelFileError(f"The model config lists {len(entries)} layers.")
    input_indices = _indices(config.get("inputs"), len(entries), "inputs", [0])
    output_indices = _indices(config.get("outputs"), len(entries), "outputs", [len(entries) - 1])
    layers: list[Layer] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ModelFileError(f"Layer entry {i} is not an object.")
        parents = entry.get("parents", [])
        if not isinstance(parents, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p < i for p in parents
        ) or len(set(parents)) != len(parents):
            raise ModelFileError(f"Layer entry {i} has invalid parents {parents!r:.80}.")
        layer = registry.deserialize(
            {k: entry[k] for k in ("class_name", "config") if k in entry}, "layer"
        )
        if not isinstance(layer, Layer):
            raise ModelFileError(
                f"Layer entry {i} ({entry.get('class_name')!r:.60}) is not a layer."
            )
        if parents:
            if i in input_indices:
                raise ModelFileError(f"Layer entry {i} is an input but has parents.")
            parent_layers = [layers[p] for p in parents]
            layer(parent_layers if layer.multiple_inputs else parent_layers[0])
        elif layer.output_shape is None:
            raise ModelFileError(f"Layer entry {i} has no parents and no input shape.")
        layers.append(layer)
    model_class = registry.lookup("model", config.get("class_name", "Model"))
    inputs = [layers[i] for i in input_indices]
    outputs = [layers[i] for i in output_indices]
    name = str(config.get("name", "model"))[:200]
    model = model_class._from_graph(
        inputs if len(inputs) > 1 else inputs[0],
        outputs if len(outputs) > 1 else outputs[0],
        name=name,
    )
    for shape in model.input_shapes:
        if math.prod(shape) > MAX_SAMPLE_ELEMENTS:
            raise ModelFileError(f"The model's input shape {shape} is implausibly large.")
    trainable = config.get("trainable", True)
    if not isinstance(trainable, bool):
        raise ModelFileError(f"The model's 'trainable' must be true or false; found "
                             f"{trainable!r:.40}.")
    model._frozen = not trainable  # the model's own flag; each layer's came with its config
    return model


def load_model(path: str | os.PathLike, compile: bool = True) -> Any:
    """Rebuild a model saved with ``model.save(path)``: architecture, weights and, if it was
    compiled, its loss, optimizer (with its state) and metrics.

    The loaded model predicts bit-for-bit like the saved one and can go on training.

    Raises:
        ModelFileError: the file is truncated, corrupted, of another version, or describes a
            model that does not match its tensors.
        FileNotFoundError: no file at ``path``.
    """
    file = ModelFile(path)
    with file_errors(path):
        if file.metadata.get("content") == "weights":
            raise ModelFileError(
                f"{os.fspath(path)!r} holds weights only; build the model and "
                "call model.load_weights(path)."
            )
        architecture = file.json("model")
        settings = file.json("compile", required=False)
        order = file.json("weights_order", required=False)
        with allocation_budget(file_elements(file)):
            model = model_from_config(architecture)
        if settings is not None and compile:
            _compile_from(model, settings)
        else:
            dtype = settings.get("dtype", "float32") if isinstance(settings, dict) else "float32"
            for layer in model.layers:
                layer.set_dtype(dtype)
            model.dtype = np.dtype(dtype)
        sources = match_names(model, file, order)
        arrays = read_weights(model, file, sources)
        if model.compiled:
            state = read_optimizer_state(model, file, sources)
            if state:
                model.optimizer.set_state(state, model.optimizer.iterations)
        apply_weights(model, arrays)
    return model


def _compile_from(model, settings: dict) -> None:
    if not isinstance(settings, dict):
        raise ModelFileError("The 'compile' entry must be an object.")
    saved_metrics = settings.get("metrics") or []
    saved_loss = settings["loss"]
    several = isinstance(saved_loss, list)
    if several:
        loss = [registry.deserialize(item, "loss") for item in saved_loss]
        if not isinstance(saved_metrics, list) or not all(
            isinstance(g, list) for g in saved_metrics
        ) or len(saved_metrics) not in (0, len(loss)):
            raise ModelFileError("The 'compile' entry has invalid metrics.")
        metrics = (
            dict(
                zip(
                    model.output_names,
                    [[registry.deserialize(m, "metric") for m in g] for g in saved_metrics],
                )
            )
            if saved_metrics
            else None
        )
    else:
        loss = registry.deserialize(saved_loss, "loss")
        metrics = [registry.deserialize(m, "metric") for m in saved_metrics]
    model.compile(
        loss_fn=loss,
        optimizer=registry.deserialize(settings["optimizer"], "optimizer"),
        metrics=metrics,
        dtype=settings.get("dtype", "float32"),
        loss_weights=settings.get("loss_weights"),
    )
    model.optimizer.iterations = checked_count(
        settings.get("iterations", 0), "optimizer step count"
    )


def load_weights(model: Any, path: str | os.PathLike) -> None:
    """Load weights saved by ``save_weights`` or ``save`` into ``model``, checking names and
    shapes; nothing changes if anything does not match."""
    file = ModelFile(path)
    with file_errors(path):
        sources = match_names(model, file, file.json("weights_order", required=False))
        apply_weights(model, read_weights(model, file, sources))
