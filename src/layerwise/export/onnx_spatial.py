"""ONNX converters of the layers that move values (``layerwise.layers.spatial``), on the
channels-last tensors the other converters keep: ``Tile`` after ``Unsqueeze`` for RepeatVector,
``Transpose`` for Permute, ``Pad`` for zero padding, ``Slice`` for cropping, and for
up-sampling a ``Reshape`` that gives each repeated axis a unit axis after it, a ``Tile`` along
those and a ``Reshape`` back (rather than ``Resize``, which onnxruntime runs in float32 only)."""

from __future__ import annotations

import numpy as np

from ..layers import (
    Cropping1D,
    Cropping2D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from .onnx_graph import register_layer_converter

# Nothing to import from here: the converters register themselves when the module loads.
__all__: list[str] = []


def _int64(graph, name: str, values) -> str:
    tensor = graph.onnx.numpy_helper.from_array(np.array(values, dtype=np.int64),
                                                graph.unique_name(name))
    graph.initializers.append(tensor)
    return tensor.name


@register_layer_converter(RepeatVector)
def _repeat_vector(graph, layer, inputs):
    column = graph.node("Unsqueeze", [inputs[0], _int64(graph, f"{layer.name}/axis", [1])],
                        layer.name)
    return graph.node("Tile", [column, _int64(graph, f"{layer.name}/repeats", [1, layer.n, 1])],
                      layer.name)


@register_layer_converter(Permute)
def _permute(graph, layer, inputs):
    return graph.node("Transpose", [inputs[0]], layer.name, perm=[0, *layer.dims])


@register_layer_converter(ZeroPadding1D, ZeroPadding2D)
def _zero_padding(graph, layer, inputs):
    before = [0, *(a for a, _ in layer.padding), 0]
    after = [0, *(b for _, b in layer.padding), 0]
    return graph.node("Pad", [inputs[0], _int64(graph, f"{layer.name}/pads", before + after)],
                      layer.name, mode="constant")


@register_layer_converter(Cropping1D, Cropping2D)
def _cropping(graph, layer, inputs):
    axes = list(range(1, layer.rank + 1))
    starts = [a for a, _ in layer.cropping]
    ends = [s - b for s, (_, b) in zip(layer.input_shape, layer.cropping)]
    return graph.node("Slice", [inputs[0], _int64(graph, f"{layer.name}/starts", starts),
                                _int64(graph, f"{layer.name}/ends", ends),
                                _int64(graph, f"{layer.name}/axes", axes)], layer.name)


@register_layer_converter(UpSampling1D, UpSampling2D)
def _up_sampling(graph, layer, inputs):
    spread = [d for s in layer.input_shape[:-1] for d in (s, 1)]  # (n, h, 1, w, 1, c)
    repeats = [1, *(d for k in layer.size for d in (1, k)), 1]
    x = graph.node("Reshape", [inputs[0], _int64(graph, f"{layer.name}/spread",
                                                 [-1, *spread, layer.input_shape[-1]])],
                   layer.name)
    x = graph.node("Tile", [x, _int64(graph, f"{layer.name}/repeats", repeats)], layer.name)
    return graph.node("Reshape", [x, _int64(graph, f"{layer.name}/shape",
                                            [-1, *layer.output_shape])], layer.name)
