"""A model's weights as Keras presents them: ``get_weights``/``set_weights`` (Keras' order),
``trainable`` (freezing every layer), ``trainable_weights``, ``non_trainable_weights`` and
``count_params``, and the parameter lists that optimizers and ``fit`` work on (frozen layers
left out). A mixin of :class:`layerwise.Model`, which holds ``layers``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .layers._weight_lists import layer_weights, set_weight_list
from .layers.base import Layer

__all__ = ["ModelWeights"]


class ModelWeights:
    """The weight methods of :class:`layerwise.Model` (see the module's docstring)."""

    layers: list[Layer]

    def _check_unique_names(self) -> None:
        """Refuse two weighted layers of one name: weights are saved under the names."""
        seen: dict[str, Layer] = {}
        for layer in self.layers:
            if not (layer.parameters() or layer.state()):
                continue
            if layer.name in seen:
                raise ValueError(
                    f"Two layers of the model are named {layer.name!r}; layer names must be unique "
                    "because parameters are saved under them."
                )
            seen[layer.name] = layer

    def _trainable(self):
        """``(layer, name, array)`` of every parameter fit updates (frozen layers left out)."""
        return [(layer, name, p) for layer in self.layers if layer.trainable
                for name, p in layer.parameters().items()]

    def _parameter_names(self) -> list[str]:
        return [f"{layer.name}/{name}" for layer, name, _ in self._trainable()]

    def _parameter_arrays(self) -> list[np.ndarray]:
        return [p for _, _, p in self._trainable()]

    def _gradient_arrays(self) -> list[np.ndarray]:
        return [g for layer in self.layers if layer.trainable
                for g in layer.gradients().values()]

    @property
    def trainable(self) -> bool:
        """Keras' ``model.trainable``: setting it sets every layer's ``trainable`` (False
        freezes the whole model); reading it gives the last value set (True at first), as
        Keras, whatever single layers were set to since."""
        return not self.__dict__.get("_frozen", False)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"'trainable' must be True or False; received {value!r:.60}.")
        for layer in self.layers:
            layer.trainable = value
        self._frozen = not value

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weights fit updates, layer by layer (the arrays themselves, not copies)."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The weights fit leaves alone: frozen layers' parameters and every layer's state."""
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def _weights_by_layer(self) -> list[tuple[Layer, str, np.ndarray]]:
        """Every weight with its layer and name, layer by layer: parameters, then state
        (moving averages)."""
        return [item for layer in self.layers for item in layer_weights(layer)]

    def _weight_items(self) -> list[tuple[str, np.ndarray]]:
        """Every weight by its file name ``layer/weight``, in :meth:`get_weights`' order."""
        return [(f"{layer.name}/{name}", array) for layer, name, array in self._weights_by_layer()]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in layer order, ``[W1, b1, W2, b2, ...]``, as Keras: a layer's
        trainable parameters, then its non-trainable state (batch norm's moving averages)."""
        return [array.copy() for _, array in self._weight_items()]

    def set_weights(self, weights: Any) -> None:
        """Set all weights from a list in the order of :meth:`get_weights`.

        Every array is checked before any is written: the count, each shape, real numbers
        (not None, strings or complex), finite, representable in the model's dtype, and
        non-negative where the weight is a variance.

        Raises:
            ShapeMismatchError: wrong number of arrays or a wrong shape.
            TypeError, ValueError: an array that is not real numbers, or not finite.
        """
        set_weight_list(self._weights_by_layer(), weights, "the model")

    def count_params(self) -> int:
        """Number of weights, trainable and not (batch normalization's moving averages count),
        as Keras' ``count_params``: the "Total params" of :meth:`summary`, which also shows
        the trainable and non-trainable parts."""
        return int(sum(array.size for _, array in self._weight_items()))
