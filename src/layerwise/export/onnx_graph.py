"""The ONNX graph under construction and the converter registries: what a converter receives
(:class:`OnnxGraph`), how it is registered, and how layers and activations find theirs.

The built-in converters are in :mod:`layerwise.export.onnx_converters`; :func:`export_onnx` in
:mod:`layerwise.export.onnx` (which re-exports everything here) assembles and writes the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..layers import Layer

__all__ = [
    "OnnxGraph",
    "OnnxExportError",
    "LAYER_CONVERTERS",
    "ACTIVATION_CONVERTERS",
    "register_layer_converter",
    "register_activation_converter",
    "convert_layer",
    "convert_activation",
    "INPUT_NAME",
    "OUTPUT_NAME",
]

INPUT_NAME = "input"
OUTPUT_NAME = "output"

LayerConverter = Callable[["OnnxGraph", Layer, list[str]], str]
ActivationConverter = Callable[["OnnxGraph", object, str, str], str]

#: Converter of each layer class (exact class: a subclass may compute something else).
LAYER_CONVERTERS: dict[type, LayerConverter] = {}
#: Converter of each activation, by the activation's ``name``.
ACTIVATION_CONVERTERS: dict[str, ActivationConverter] = {}


class OnnxExportError(ValueError):
    """The model holds a layer or activation that has no ONNX converter."""


def register_layer_converter(
    *layer_classes: type,
) -> Callable[[LayerConverter], LayerConverter]:
    """Decorator: use the function to export layers of exactly these classes."""

    def decorator(function: LayerConverter) -> LayerConverter:
        for cls in layer_classes:
            LAYER_CONVERTERS[cls] = function
        return function

    return decorator


def register_activation_converter(
    *names: str,
) -> Callable[[ActivationConverter], ActivationConverter]:
    """Decorator: use the function to export activations with these ``name`` attributes."""

    def decorator(function: ActivationConverter) -> ActivationConverter:
        for name in names:
            ACTIVATION_CONVERTERS[name] = function
        return function

    return decorator


# ----------------------------------------------------------------------------- the graph
class OnnxGraph:
    """The ONNX graph under construction, handed to converters.

    Attributes:
        dtype: the model's NumPy dtype; every constant and tensor of the graph has it.
        opset: the ONNX opset version being written.
        nodes, initializers: the ``NodeProto`` and ``TensorProto`` objects so far.
    """

    def __init__(self, onnx_module: Any, dtype: DTypeLike, opset: int) -> None:
        self.onnx = onnx_module
        self.dtype = np.dtype(dtype)
        self.opset = opset
        self.element_type = onnx_module.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = {INPUT_NAME, OUTPUT_NAME}

    def unique_name(self, hint: str) -> str:
        """``hint``, or ``hint_2``, ``hint_3``, ... if it is taken."""
        name, count = hint, 1
        while name in self._names:
            count += 1
            name = f"{hint}_{count}"
        self._names.add(name)
        return name

    def constant(self, name: str, value: Any) -> str:
        """Add ``value`` (array or number) as an initializer in the graph's dtype; its name."""
        name = self.unique_name(name)
        array = np.asarray(value, dtype=self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op_type: str, inputs: list[str], scope: str, **attributes: Any) -> str:
        """Add one ``op_type`` node reading ``inputs``; returns the name of its output."""
        output = self.unique_name(f"{scope}/{op_type}")
        node = self.onnx.helper.make_node(op_type, inputs, [output], name=output, **attributes)
        self.nodes.append(node)
        return output

    def exact_attribute(self, value: float) -> bool:
        """True when ``value`` as a (float32) ONNX attribute computes what the model computes:
        always in float32 graphs (NumPy rounds the parameter to float32 too), and in float64
        graphs when ``value`` is exactly a float32 number."""
        return self.dtype == np.float32 or float(np.float32(value)) == float(value)


def convert_layer(graph: OnnxGraph, layer: Layer, inputs: list[str]) -> str:
    """Write ``layer`` reading the tensors ``inputs``; returns the output's name."""
    converter = LAYER_CONVERTERS.get(type(layer))
    if converter is None:
        supported = ", ".join(sorted(cls.__name__ for cls in LAYER_CONVERTERS))
        raise OnnxExportError(
            f"Cannot export layer {layer.name!r} of type {type(layer).__name__} to ONNX: it has "
            f"no converter. Exportable layers: {supported}. Register one with "
            f"@layerwise.export.onnx.register_layer_converter({type(layer).__name__})."
        )
    return converter(graph, layer, inputs)


def convert_activation(graph: OnnxGraph, activation: Any, x: str, scope: str) -> str:
    """Write ``activation`` applied to the tensor ``x``; returns the output's name."""
    converter = ACTIVATION_CONVERTERS.get(getattr(activation, "name", None))
    if converter is None:
        supported = ", ".join(sorted(ACTIVATION_CONVERTERS))
        raise OnnxExportError(
            f"Cannot export the activation {getattr(activation, 'name', activation)!r} "
            f"({type(activation).__name__}) of layer {scope!r} to ONNX: it has no converter. "
            f"Exportable activations: {supported}. Register one with "
            "@layerwise.export.onnx.register_activation_converter(name)."
        )
    return converter(graph, activation, x, scope)
