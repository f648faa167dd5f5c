"""Keras' ``keras.models`` names in one place: the model classes, loading, rebuilding a model
from its JSON description and cloning one.

Example:
    >>> import layerwise
    >>> from layerwise.models import Sequential, clone_model
    >>> model = Sequential([layerwise.Input((3,)), layerwise.Dense(2)])
    >>> twin = clone_model(model)
    >>> [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]
    True
"""

from __future__ import annotations

import json

from .exceptions import ModelFileError
from .model import Model
from .saving import load_model, model_from_config
from .sequential import Sequential

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json"]


def model_from_json(json_string: str) -> Model:
    """A new, uncompiled model (fresh weights) from :meth:`Model.to_json`'s string.

    Raises:
        ModelFileError: the string is not JSON of a model's architecture.
    """
    if not isinstance(json_string, (str, bytes)):
        raise TypeError(
            f"Argument 'json_string' must be a string, as Model.to_json() returns; received "
            f"{type(json_string).__name__}."
        )
    try:
        description = json.loads(json_string)
    except ValueError as error:
        raise ModelFileError(f"Argument 'json_string' is not valid JSON: {error}") from None
    config = description.get("config") if isinstance(description, dict) else None
    if not isinstance(config, dict):
        raise ModelFileError(
            "Argument 'json_string' does not describe a model: expected an object with a "
            "'config', as Model.to_json() writes."
        )
    return model_from_config(config)


def clone_model(model: Model) -> Model:
    """A new model of the same architecture, with freshly initialized weights and
    uncompiled, as Keras' ``clone_model`` (layer names, configs and ``trainable`` flags are
    kept). Copy the weights with ``clone.set_weights(model.get_weights())``."""
    if not isinstance(model, Model):
        raise TypeError(
            f"Argument 'model' must be a layerwise Model; received {type(model).__name__}."
        )
    return model_from_config(model.get_config())
