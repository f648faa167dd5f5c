"""Weights as Keras hands them out and takes them back: a list of arrays, a layer's trainable
parameters first and then its state (batch normalization's moving averages), in declaration
order. ``Model.get_weights``/``set_weights`` walk every layer; ``Layer.get_weights``/
``set_weights`` one. Setting checks every array before it writes any, so a refused list changes
nothing."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ShapeMismatchError

Layer = Any  # layerwise.layers.base.Layer, which imports this module (no cycle)

__all__ = ["layer_weights", "set_weight_list"]


def layer_weights(layer: Layer) -> list[tuple[Layer, str, np.ndarray]]:
    """``(layer, name, array)`` for each weight of ``layer``: parameters, then state."""
    return [
        (layer, name, array)
        for group in (layer.parameters(), layer.state())
        for name, array in group.items()
    ]


def set_weight_list(items: list[tuple[Layer, str, np.ndarray]], weights: Any, owner: str) -> None:
    """Copy ``weights`` (a list of arrays) into the arrays of ``items``, in place (optimizers
    and packed buffers keep their references), after checking all of them: the count, each
    shape, real numbers (not None, strings or complex), finite, representable in the target's
    dtype, and what the layer asks of the weight (a variance is not negative).

    ``owner`` names the holder in messages (``"the model"``, ``"layer 'dense_1'"``).

    Raises:
        ShapeMismatchError: wrong number of arrays or a wrong shape.
        TypeError, ValueError: an array that is not real numbers, or not finite.
    """
    if isinstance(weights, (str, bytes, np.ndarray)) or not hasattr(weights, "__iter__"):
        raise TypeError(
            f"Argument 'weights' must be a list of arrays in the order of get_weights(); "
            f"received {type(weights).__name__}."
        )
    weights = list(weights)
    if len(weights) != len(items):
        names = ", ".join(f"{layer.name}/{name}" for layer, name, _ in items) or "none"
        raise ShapeMismatchError(
            f"Argument 'weights' holds {len(weights)} arrays, but {owner} has {len(items)} "
            f"weights ({names})."
        )
    arrays = []
    for index, ((layer, short, target), value) in enumerate(zip(items, weights)):
        where = f"Argument 'weights': item {index} ({layer.name}/{short})"
        if value is None or isinstance(value, (str, bytes)):
            raise TypeError(f"{where} must be an array; received {value!r:.60}.")
        try:
            value = np.asarray(value)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where} cannot be read as an array: {error}") from None
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where} must hold real numbers; received dtype {value.dtype}.")
        if value.shape != target.shape:
            raise ShapeMismatchError(f"{where} has shape {value.shape}, expected {target.shape}.")
        with np.errstate(over="ignore", invalid="ignore"):
            cast = value.astype(target.dtype)
        if not np.isfinite(cast).all():
            raise ValueError(
                f"{where} holds NaN or infinity, or values too large for {target.dtype}."
            )
        problem = layer.check_weight(short, cast)
        if problem:
            raise ValueError(f"{where} {problem}.")
        arrays.append(cast)
    for (_, _, target), value in zip(items, arrays):
        np.copyto(target, value)
