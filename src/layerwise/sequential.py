"""``Sequential``: a model that is a plain stack of layers, each called on the one before."""

from __future__ import annotations

from typing import Any

from . import registry
from .exceptions import IncompatibleLayerError
from .layers.base import Layer
from .layers.core import Input
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A stack of layers: ``Sequential([Input((4,)), Dense(8, activation='relu'), Dense(1)])``.

    The first layer is an :class:`~layerwise.layers.Input` or a layer built with its input size
    (``Dense(8, input_size=4)``); each further layer is called on the previous one, by the
    constructor or by :meth:`add`. A ``Sequential`` is a :class:`~layerwise.Model`: compile,
    fit, evaluate, predict, save and load, ONNX export and summary work the same.

    Args:
        layers: the layers in order (at least the first, which fixes the input shape).
        name: the model's name.
        seed: seed of the shuffling order in ``fit``.

    Example::

        model = Sequential([Input((4,)), Dense(8, activation='relu')])
        model.add(Dense(1))
        model.compile(loss='mse', optimizer='adam')
    """

    def __init__(
        self, layers: Any = None, name: str | None = None, seed: int | None = None
    ) -> None:
        if layers is None or isinstance(layers, Layer):
            layers = [] if layers is None else [layers]
        if not isinstance(layers, (list, tuple)):
            raise TypeError(
                f"Argument 'layers' of Sequential must be a list of layers; received "
                f"{layers!r:.80} of type {type(layers).__name__}."
            )
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Argument 'layers' of Sequential must hold layers; received {layer!r:.80} "
                    f"of type {type(layer).__name__}."
                )
        if not layers:
            raise ValueError(
                "Sequential needs at least its first layer, an Input or a layer with its input "
                "size, e.g. Sequential([Input((4,)), Dense(8)])."
            )
        first = layers[0]
        if first.output_shape is None:
            raise IncompatibleLayerError(
                f"The first layer of a Sequential ({first.name!r}) must know its input shape: "
                "start with Input(shape=...) or a Dense with input_size=..."
            )
        self._seed, self._rng = seed, None
        self._stack = [first]
        for layer in layers[1:]:
            self._stack.append(layer(self._stack[-1]))
        self._rebuild(name)

    def _rebuild(self, name: str | None) -> None:
        compiled_name = name or getattr(self, "name", None) or "sequential"
        super().__init__(self._stack[0], self._stack[-1], name=compiled_name, seed=self._seed)

    def add(self, layer: Layer) -> None:
        """Call ``layer`` on the current last layer and make it the model's output. The model
        must be compiled (again) afterwards.

        Raises:
            TypeError: ``layer`` is not a layer, or is an ``Input`` (only the first may be).
        """
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Argument 'layer' of Sequential.add must be a Layer; received {layer!r:.80} of "
                f"type {type(layer).__name__}."
            )
        if isinstance(layer, Input):
            raise TypeError("An Input can only be the first layer of a Sequential.")
        layer(self._stack[-1])
        self._stack.append(layer)
        self._rebuild(self.name)

    def pop(self) -> Layer:
        """Remove and return the last layer (not the first); compile again afterwards."""
        if len(self._stack) < 2:
            raise ValueError("A Sequential keeps at least its first layer; nothing to pop.")
        layer = self._stack.pop()
        layer.inbound = []
        self._rebuild(self.name)
        return layer

    @classmethod
    def _from_graph(cls, inputs, outputs, name: str) -> Sequential:
        """Rebuild from wired layers (a file): the chain from ``inputs`` to ``outputs``."""
        chain = Model(inputs, outputs, name=name)
        if any(len(parents) > 1 for parents in chain._parents) or len(chain.layers) != len(
            {id(layer) for layer in chain.layers}
        ):
            raise ValueError("A Sequential file must describe a chain of layers.")
        model = cls.__new__(cls)
        model._seed, model._rng = None, None
        model._stack = list(chain.layers)
        model._rebuild(name)
        return model

    def __repr__(self) -> str:
        return f"<Sequential {self.name!r}: {' -> '.join(layer.name for layer in self.layers)}>"


registry.register()(Sequential)
