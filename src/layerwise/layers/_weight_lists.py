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

__all__ = ["LayerWeights", "layer_weights", "set_weight_list"]


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


class LayerWeights:
    """What ``Layer`` offers about its weights as Keras names it: ``trainable`` (freezing),
    ``trainable_weights``, ``non_trainable_weights``, ``get_weights``, ``set_weights`` and
    ``count_params``. A mixin of ``Layer``, which declares the weights (``add_weight``) and
    lists them (``parameters``, ``state``)."""

    name: str
    parameters: Any
    state: Any
    _weights: dict

    @property
    def trainable(self) -> bool:
        """Whether ``fit`` updates this layer's weights (Keras' ``layer.trainable``, True by
        default). Set it to False to freeze the layer: its weights count as non-trainable
        (``summary``, :attr:`trainable_weights`), optimizers and regularizers leave them alone,
        a frozen ``BatchNormalization`` normalizes with its moving statistics and stops
        updating them, and backpropagation stops where nothing before is trainable. Takes
        effect at the next ``compile`` or ``fit``; saved with the model."""
        return not self.__dict__.get("_frozen", False)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(
                f"Layer {self.name!r}: 'trainable' must be True or False; received {value!r:.60}."
            )
        self._frozen = not value

    def _check_trainable(self) -> None:
        """Raise ``ValueError`` when this layer cannot train as its ``trainable`` flags say
        (compile and fit call it before anything changes); nothing to check here."""

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weights ``fit`` updates (the layer's own arrays, not copies): its parameters,
        or none when the layer is frozen."""
        return list(self.parameters().values()) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The weights ``fit`` leaves alone: a frozen layer's parameters, then the state
        (moving averages), as Keras orders them."""
        frozen = [] if self.trainable else list(self.parameters().values())
        return frozen + list(self.state().values())

    def get_weights(self) -> list[np.ndarray]:
        """Copies of this layer's weights, as Keras lists them: its trainable parameters, then
        its state (batch normalization's moving averages); ``[]`` before it is built or for a
        layer without weights. ``model.get_weights()`` is these lists, layer after layer.

        Example:
            >>> import layerwise
            >>> inputs = layerwise.Input((3,))
            >>> dense = layerwise.Dense(2)
            >>> _ = dense(inputs)
            >>> kernel, bias = dense.get_weights()
            >>> kernel.shape, bias.shape
            ((3, 2), (2,))
        """
        return [array.copy() for _, _, array in layer_weights(self)]

    def set_weights(self, weights: Any) -> None:
        """Set this layer's weights from a list in the order of :meth:`get_weights`, with the
        checks of ``Model.set_weights``: all of them pass before any array is written.

        Raises:
            ShapeMismatchError: wrong number of arrays or a wrong shape.
            TypeError, ValueError: an array that is not real numbers, or not finite.
        """
        set_weight_list(layer_weights(self), weights, f"layer {self.name!r}")

    def count_params(self) -> int:
        """Number of scalars in the layer's weights, trainable and not (as Keras counts)."""
        return int(sum(getattr(self, name).size for name in self._weights))
