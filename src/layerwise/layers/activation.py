"""``Activation``: an activation function as a layer of its own."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations
from ..registry import register, serialize
from .base import Layer

__all__ = ["Activation"]


@register("activation")
class Activation(Layer):
    """Applies an activation function as a layer of its own.

    Args:
        activation_function: activation name (``'relu'``, ``'softmax'``, ...) or object.
        name: optional layer name (default: the activation's name).

    Attributes:
        activation: the function, ``activation(x) -> y``.
        activation_derivative: ``activation_derivative(x, output_error)``, the gradient with
            respect to ``x`` (arguments are not modified).
        function: the :class:`~layerwise.activations.ActivationFunction` object.

    Shapes: output has the input's shape ``(n, ...)``; softmax acts on the last axis.

    Example::

        hidden = Activation('relu')(Dense(16)(inputs))
    """

    def __init__(self, activation_function: Any, name: str | None = None) -> None:
        function = activations.get(activation_function, argument="activation_function")
        # An Activation layer is named after its function; such layers hold no parameters,
        # so repeated names are harmless (models refer to layers by position, not by name).
        super().__init__(name or function.name)
        self.function = function
        self.activation = function.__call__
        self.activation_derivative = function.derivative

    supports_masking = True

    @property
    def output_activation(self) -> Any:
        """The activation function this layer applies."""
        return self.function

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """The activation of ``input_data``, element-wise (softmax per sample)."""
        self.input = input_data
        # Never in place: the previous layer may still need its output for its own backward.
        out = self._buffer("y", input_data.shape)
        self.output = self.function.forward(input_data, out=out)
        return self.output

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return self.function.forward(input_data, out=out)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """See :meth:`Layer._backward`; no parameters, so nothing to do without an input
        gradient, and with ``pre_activation`` the error already is the input's gradient."""
        if not input_gradient:
            return None
        if pre_activation:
            return output_error
        return self.function.backward(self.input, self.output, output_error)

    def get_config(self) -> dict[str, Any]:
        """``{'activation_function': <activation config>, 'name': ...}``."""
        return {"activation_function": serialize(self.function), "name": self.name}
