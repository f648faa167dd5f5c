"""ONNX converters of the sequence layers: Embedding (Gather), SimpleRNN (RNN), LSTM, GRU,
Bidirectional, Masking and LayerNormalization.

Gate orders differ: Keras keeps LSTM gates ``i, f, c, o`` and ONNX wants ``i, o, f, c``; GRU
gates are ``z, r, h`` in both, and Keras' ``reset_after=True`` is ONNX's
``linear_before_reset=1``. ONNX's recurrent operators are time-major, so the converters
transpose in and out. A recurrent layer that receives a mask (from ``Embedding(mask_zero=True)``
or ``Masking``) is written with ``sequence_lens`` = the number of unmasked steps of each
sample: exact for right-padded batches (Keras' ``pad_sequences(padding='post')``), which is
what the exported graph assumes; a mask with gaps inside a sequence gives other results there.
"""

from __future__ import annotations

import numpy as np

from ..layers import (
    GRU,
    LSTM,
    Bidirectional,
    Embedding,
    LayerNormalization,
    Masking,
    SimpleRNN,
)
from ..ops.lstm import gate_columns
from .onnx_graph import OnnxExportError, register_layer_converter

# Nothing to import from here: the converters register themselves when the module loads.
__all__: list[str] = []


_ONNX_ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}


def _activation_name(layer, activation) -> str:
    name = _ONNX_ACTIVATIONS.get(activation.name)
    if name is None:
        raise OnnxExportError(
            f"Cannot export {type(layer).__name__} {layer.name!r} with activation "
            f"{activation.name!r}: ONNX's recurrent operators take {sorted(_ONNX_ACTIVATIONS)}."
        )
    return name


def _mask_source(layer):
    """The layer upstream that makes a mask reaching ``layer``, or None."""
    stack = list(layer.inbound)
    while stack:
        parent = stack.pop()
        if isinstance(parent, Masking) or (isinstance(parent, Embedding) and parent.mask_zero):
            return parent
        # Layers that hand their input's mask on: pass-through ones, and recurrent layers
        # returning sequences.
        passes_mask = parent.supports_masking or (
            isinstance(parent, (SimpleRNN, LSTM, GRU, Bidirectional)) and parent.return_sequences)
        if passes_mask:
            stack.extend(parent.inbound)
    return None


def _lengths(graph, layer):
    """``(sequence_lens (n,) int32, kept (n, T, 1) bool)`` of the mask reaching ``layer``, or
    ``(None, None)`` without one."""
    source = _mask_source(layer)
    if source is None:
        return None, None
    kept = getattr(graph, "sequence_masks", {}).get(source.name)
    if kept is None or (isinstance(source, Masking) and _mask_source(source) is not None):
        raise OnnxExportError(
            f"Cannot export {type(layer).__name__} {layer.name!r}: the mask of "
            f"{source.name!r} is not one ONNX sequence lengths can describe.")
    scope = layer.name
    counts = graph.node("Cast", [kept], scope, to=graph.onnx.TensorProto.INT32)
    lengths = graph.node("ReduceSum", [counts, _int64(graph, f"{scope}/axes12", [1, 2])], scope,
                         keepdims=0)
    return lengths, kept


def _check_exportable(graph, layer) -> None:
    if graph.dtype != np.float32:
        raise OnnxExportError(
            f"Cannot export {type(layer).__name__} {layer.name!r} in {graph.dtype}: onnxruntime "
            "implements ONNX's RNN, LSTM and GRU in float32 only; compile the model with "
            "dtype='float32' to export it."
        )


def _weights(layer):
    """ONNX's W, R and B (one direction, leading axis 1) and the operator's attributes."""
    u = layer.units
    kernel, recurrent = layer.kernel, layer.recurrent_kernel
    bias = getattr(layer, "bias", None)
    if isinstance(layer, LSTM):
        cols = gate_columns(u)  # i o f c: the kernels' internal order is ONNX's
        w, r = kernel[:, cols].T, recurrent[:, cols].T
        b_w = np.zeros(4 * u) if bias is None else bias[cols]
        b = np.concatenate([b_w, np.zeros(4 * u)])
        acts = [_activation_name(layer, layer.recurrent_activation),
                _activation_name(layer, layer.activation),
                _activation_name(layer, layer.activation)]
        return "LSTM", w, r, b, {"activations": acts}
    if isinstance(layer, GRU):
        w, r = kernel.T, recurrent.T
        if bias is None:
            b = np.zeros(6 * u)
        elif layer.reset_after:
            b = np.concatenate([bias[0], bias[1]])
        else:
            b = np.concatenate([bias, np.zeros(3 * u)])
        acts = [_activation_name(layer, layer.recurrent_activation),
                _activation_name(layer, layer.activation)]
        return "GRU", w, r, b, {"activations": acts,
                                "linear_before_reset": int(layer.reset_after)}
    w, r = kernel.T, recurrent.T
    b = np.concatenate([np.zeros(u) if bias is None else bias, np.zeros(u)])
    return "RNN", w, r, b, {"activations": [_activation_name(layer, layer.activation)]}


def _run(graph, layer, x_time_major: str, lengths=None):
    """One direction of ``layer`` on a time-major input: ``(Y (T, 1, n, u), Y_h (1, n, u))``,
    ``Y`` in the input's time order (zero beyond each sequence's length)."""
    op, w, r, b, attributes = _weights(layer)
    scope = layer.name
    inputs = [x_time_major, graph.constant(f"{scope}/W", w[None]),
              graph.constant(f"{scope}/R", r[None]), graph.constant(f"{scope}/B", b[None])]
    if lengths is not None:
        inputs.append(lengths)
    y_name = graph.unique_name(f"{scope}/Y")
    h_name = graph.unique_name(f"{scope}/Y_h")
    outputs = [y_name, h_name] + ([graph.unique_name(f"{scope}/Y_c")] if op == "LSTM" else [])
    node = graph.onnx.helper.make_node(
        op, inputs, outputs, name=graph.unique_name(f"{scope}/{op}"), hidden_size=layer.units,
        direction="reverse" if layer.go_backwards else "forward", **attributes)
    graph.nodes.append(node)
    return y_name, h_name


def _int64(graph, name: str, values) -> str:
    name = graph.unique_name(name)
    graph.initializers.append(
        graph.onnx.numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
    return name


def _sequence(graph, layer, y: str, processing_order: bool) -> str:
    """``Y (T, 1, n, u)`` as ``(n, T, u)``, reversed in time for ``processing_order`` when the
    layer reads backwards (a go_backwards layer's sequence comes out last step first)."""
    scope = layer.name
    y = graph.node("Squeeze", [y, _int64(graph, f"{scope}/axis1", [1])], scope)
    y = graph.node("Transpose", [y], scope, perm=[1, 0, 2])
    if processing_order and layer.go_backwards:
        y = graph.node("Slice", [y, _int64(graph, f"{scope}/start", [-1]),
                                 _int64(graph, f"{scope}/end", [-(2**62)]),
                                 _int64(graph, f"{scope}/axes", [1]),
                                 _int64(graph, f"{scope}/step", [-1])], scope)
    return y


def _direction(graph, layer, x_time_major: str, processing_order: bool, lengths=None,
               kept=None) -> str:
    y, y_h = _run(graph, layer, x_time_major, lengths)
    last = graph.node("Squeeze", [y_h, _int64(graph, f"{layer.name}/axis0", [0])], layer.name)
    if not layer.return_sequences:
        return last
    sequence = _sequence(graph, layer, y, processing_order)
    if kept is not None and not layer.zero_output_for_mask and not layer.go_backwards:
        # Keras repeats the last output on masked steps, where ONNX writes zeros; reading
        # backwards, the masked (trailing) steps come first and their outputs are zeros in both.
        last = graph.node("Unsqueeze", [last, _int64(graph, f"{layer.name}/axis1", [1])],
                          layer.name)
        sequence = graph.node("Where", [kept, sequence, last], layer.name)
    return sequence


@register_layer_converter(SimpleRNN, LSTM, GRU)
def _recurrent(graph, layer, inputs):
    _check_exportable(graph, layer)
    lengths, kept = _lengths(graph, layer)
    x = graph.node("Transpose", [inputs[0]], layer.name, perm=[1, 0, 2])
    return _direction(graph, layer, x, processing_order=True, lengths=lengths, kept=kept)


@register_layer_converter(Bidirectional)
def _bidirectional(graph, layer, inputs):
    _check_exportable(graph, layer)
    lengths, kept = _lengths(graph, layer)
    x = graph.node("Transpose", [inputs[0]], layer.name, perm=[1, 0, 2])
    # Both directions' sequences in the input's time order (Keras flips the backward one back);
    # masked steps output zeros in both (Keras' zero_output_for_mask), as ONNX writes them.
    y_f = _direction(graph, layer.forward_layer, x, False, lengths, kept)
    y_b = _direction(graph, layer.backward_layer, x, False, lengths, kept)
    if layer.merge_mode == "concat":
        return graph.node("Concat", [y_f, y_b], layer.name, axis=-1)
    if layer.merge_mode == "sum":
        return graph.node("Add", [y_f, y_b], layer.name)
    if layer.merge_mode == "mul":
        return graph.node("Mul", [y_f, y_b], layer.name)
    total = graph.node("Add", [y_f, y_b], layer.name)
    return graph.node("Mul", [total, graph.constant(f"{layer.name}/half", 0.5)], layer.name)


@register_layer_converter(Embedding)
def _embedding(graph, layer, inputs):
    table = graph.constant(f"{layer.name}/embeddings", layer.embeddings)
    ids = graph.node("Cast", [inputs[0]], layer.name, to=graph.onnx.TensorProto.INT64)
    if layer.mask_zero:  # kept steps (n, T, 1), for the recurrent layers' sequence lengths
        zero = _int64(graph, f"{layer.name}/zero", 0)
        kept = graph.node("Not", [graph.node("Equal", [ids, zero], layer.name)], layer.name)
        kept = graph.node("Unsqueeze", [kept, _int64(graph, f"{layer.name}/axis2", [2])],
                          layer.name)
        _record_mask(graph, layer, kept)
    return graph.node("Gather", [table, ids], layer.name, axis=0)


def _record_mask(graph, layer, kept: str) -> None:
    if not hasattr(graph, "sequence_masks"):
        graph.sequence_masks = {}
    graph.sequence_masks[layer.name] = kept


@register_layer_converter(Masking)
def _masking(graph, layer, inputs):
    scope = layer.name
    x = inputs[0]
    same = graph.node("Equal", [x, graph.constant(f"{scope}/mask_value", layer.mask_value)],
                      scope)
    kept = graph.node("Cast", [graph.node("Not", [same], scope)], scope,
                      to=graph.element_type)
    axes = list(range(2, len(layer.input_shape) + 1))
    keep = graph.node("ReduceMax", [kept], scope, axes=axes, keepdims=1) if graph.opset < 18 \
        else graph.node("ReduceMax", [kept, _int64(graph, f"{scope}/axes", axes)], scope,
                        keepdims=1)
    if len(layer.input_shape) == 2:  # (n, T, 1): what the recurrent layers' lengths read
        _record_mask(graph, layer, graph.node("Cast", [keep], scope,
                                              to=graph.onnx.TensorProto.BOOL))
    return graph.node("Mul", [x, keep], scope)


def _reduce_mean(graph, x: str, axes: list[int], scope: str) -> str:
    if graph.opset < 18:
        return graph.node("ReduceMean", [x], scope, axes=axes, keepdims=1)
    return graph.node("ReduceMean", [x, _int64(graph, f"{scope}/axes", axes)], scope,
                      keepdims=1)


@register_layer_converter(LayerNormalization)
def _layer_normalization(graph, layer, inputs):
    # Written out (mean, variance, scale) rather than ONNX's LayerNormalization, which
    # onnxruntime lacks in float64 and which exists only from opset 17.
    scope, x, axes = layer.name, inputs[0], list(layer._norm_axes)
    centered = graph.node("Sub", [x, _reduce_mean(graph, x, axes, scope)], scope)
    variance = _reduce_mean(graph, graph.node("Mul", [centered, centered], scope), axes, scope)
    std = graph.node("Sqrt", [graph.node("Add", [variance, graph.constant(
        f"{scope}/epsilon", layer.epsilon)], scope)], scope)
    y = graph.node("Div", [centered, std], scope)
    if layer.scale:
        y = graph.node("Mul", [y, graph.constant(f"{scope}/gamma",
                                                 layer.gamma.reshape(layer._broadcast))], scope)
    if layer.center:
        y = graph.node("Add", [y, graph.constant(f"{scope}/beta",
                                                 layer.beta.reshape(layer._broadcast))], scope)
    return y
