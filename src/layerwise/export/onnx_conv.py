"""ONNX converters of the convolutional family. ONNX's Conv and pooling operators are
channels-first, layerwise (like Keras) channels-last: each operator is wrapped in two
Transposes, ``(n, *spatial, c) -> (n, c, *spatial)`` before and back after, so that every
tensor between layers keeps the layerwise layout (a following Flatten or Dense then reads the
values in the model's order). Padding is written out explicitly (``pads``), with the odd
padded pixel at the end, as the layers compute ``'same'``. Global pooling is a ReduceMean or
ReduceMax over the spatial axes, which needs no transposes."""

from __future__ import annotations

import numpy as np

from ..layers import (
    AveragePooling1D,
    AveragePooling2D,
    Conv1D,
    Conv2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .onnx_graph import OnnxExportError, convert_activation, register_layer_converter
from .onnx_recurrent import _mask_source

# Nothing to import from here: the converters register themselves when the module loads.
__all__: list[str] = []


def _to_channels_first(graph, name: str, rank: int, scope: str) -> str:
    return graph.node("Transpose", [name], scope, perm=[0, rank + 1, *range(1, rank + 1)])


def _to_channels_last(graph, name: str, rank: int, scope: str) -> str:
    return graph.node("Transpose", [name], scope, perm=[0, *range(2, rank + 2), 1])


def _window_attributes(layer, kernel_size, strides, dilation=None) -> dict:
    """``kernel_shape``, ``strides``, ``pads`` (begins then ends) and ``dilations`` of the
    layer's last ``rank`` axes (its geometry is 2-D, with height 1 for 1-D layers)."""
    rank = layer.rank
    padding = layer.geometry.padding[2 - rank :]
    attributes = {
        "kernel_shape": list(kernel_size),
        "strides": list(strides),
        "pads": [before for before, _ in padding] + [after for _, after in padding],
    }
    if dilation is not None:
        attributes["dilations"] = list(dilation)
    return attributes


@register_layer_converter(Conv1D, Conv2D)
def _conv(graph, layer, inputs):
    rank = layer.rank
    # ONNX's weight layout is (filters, channels, *kernel); Keras' (*kernel, channels, filters).
    weight = np.transpose(layer.kernel, (rank + 1, rank, *range(rank)))
    operands = [_to_channels_first(graph, inputs[0], rank, layer.name),
                graph.constant(f"{layer.name}/kernel", weight)]
    if layer.use_bias:
        operands.append(graph.constant(f"{layer.name}/bias", layer.bias))
    z = graph.node("Conv", operands, layer.name,
                   **_window_attributes(layer, layer.kernel_size, layer.strides,
                                        layer.dilation_rate))
    z = _to_channels_last(graph, z, rank, layer.name)
    return convert_activation(graph, layer.activation, z, layer.name)


@register_layer_converter(MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D)
def _pool(graph, layer, inputs):
    rank = layer.rank
    x = _to_channels_first(graph, inputs[0], rank, layer.name)
    attributes = _window_attributes(layer, layer.pool_size, layer.strides)
    if layer.mode == "max":  # ONNX pads MaxPool with -inf: padding never wins, as here
        pooled = graph.node("MaxPool", [x], layer.name, **attributes)
    else:  # padded positions are not counted in the mean, as Keras
        pooled = graph.node("AveragePool", [x], layer.name, count_include_pad=0, **attributes)
    return _to_channels_last(graph, pooled, rank, layer.name)


@register_layer_converter(
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D
)

def _global_pool(graph, layer, inputs):
    if isinstance(layer, GlobalAveragePooling1D) and _mask_source(layer) is not None:
        return _masked_average(graph, layer, inputs[0])
    # A reduction over the spatial axes of the channels-last tensor needs no transposes.
    axes = list(range(1, layer.rank + 1))
    op_type = "ReduceMean" if layer.mode == "avg" else "ReduceMax"
    keepdims = int(layer.keepdims)
    if graph.opset >= 18:  # the axes became an input in opset 18
        name = graph.unique_name(f"{layer.name}/axes")
        graph.initializers.append(
            graph.onnx.numpy_helper.from_array(np.array(axes, dtype=np.int64), name)
        )
        return graph.node(op_type, [inputs[0], name], layer.name, keepdims=keepdims)
    return graph.node(op_type, [inputs[0]], layer.name, axes=axes, keepdims=keepdims)


def _masked_average(graph, layer, x: str) -> str:
    """The mean over the unmasked steps: sum(x * kept) / max(sum(kept), 1), as the layer."""
    source = _mask_source(layer)
    kept = getattr(graph, "sequence_masks", {}).get(source.name)
    if kept is None:
        raise OnnxExportError(
            f"Cannot export {layer.name!r}: the mask of {source.name!r} is not one this exporter "
            "can describe."
        )
    scope = layer.name
    weights = graph.node("Cast", [kept], scope, to=graph.element_type)  # (n, steps, 1)
    axes = graph.onnx.numpy_helper.from_array(np.array([1], dtype=np.int64),
                                              graph.unique_name(f"{scope}/axes"))
    graph.initializers.append(axes)
    keepdims = int(layer.keepdims)
    total = graph.node("ReduceSum", [graph.node("Mul", [x, weights], scope), axes.name], scope,
                       keepdims=keepdims)
    count = graph.node("ReduceSum", [weights, axes.name], scope, keepdims=keepdims)
    count = graph.node("Max", [count, graph.constant(f"{scope}/one", 1.0)], scope)
    return graph.node("Div", [total, count], scope)
