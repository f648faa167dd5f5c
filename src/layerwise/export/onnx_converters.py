"""The built-in ONNX converters of layers and activations (how each is written: see the
docstring of :mod:`layerwise.export.onnx`). They register themselves when this module is
imported, which :mod:`layerwise.export.onnx` does."""

from __future__ import annotations

import math

import numpy as np

from ..layers import (
    Activation,
    Add,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Flatten,
    Input,
    Maximum,
    Minimum,
    Multiply,
    Reshape,
    Subtract,
)
from .onnx_graph import (
    ActivationConverter,
    convert_activation,
    register_activation_converter,
    register_layer_converter,
)

# Nothing to import from here: the converters register themselves when the module loads.
__all__: list[str] = []


# ---------------------------------------------------------------------------- layers
@register_layer_converter(Input)
def _input(graph, layer, inputs):
    return inputs[0]


@register_layer_converter(Dropout)
def _dropout(graph, layer, inputs):
    return graph.node("Identity", inputs, layer.name)


@register_layer_converter(Dense)
def _dense(graph, layer, inputs):
    x = inputs[0]
    weights = graph.constant(f"{layer.name}/weights", layer.weights)
    bias = [graph.constant(f"{layer.name}/bias", layer.bias)] if layer.use_bias else []
    if len(layer.input_shape) == 1:
        z = graph.node("Gemm", [x, weights, *bias], layer.name)
    else:  # Dense acts on the last axis: MatMul broadcasts over the leading ones
        z = graph.node("MatMul", [x, weights], layer.name)
        if bias:
            z = graph.node("Add", [z, *bias], layer.name)
    return convert_activation(graph, layer.activation, z, layer.name)


# ------------------------------------------------------------------ merge and shape layers
def _variadic(op_type: str):
    def convert(graph, layer, inputs):
        return graph.node(op_type, list(inputs), layer.name)

    convert.__name__ = f"_{op_type.lower()}"
    return convert


register_layer_converter(Add)(_variadic("Sum"))
register_layer_converter(Maximum)(_variadic("Max"))
register_layer_converter(Minimum)(_variadic("Min"))


@register_layer_converter(Average)
def _average(graph, layer, inputs):
    # As the layer computes it: the sum times 1/k (onnxruntime has no float64 Mean).
    total = graph.node("Sum", list(inputs), layer.name)
    return graph.node("Mul", [total, graph.constant(f"{layer.name}/scale", 1.0 / len(inputs))],
                      layer.name)


@register_layer_converter(Subtract)
def _subtract(graph, layer, inputs):
    return graph.node("Sub", list(inputs), layer.name)


@register_layer_converter(Multiply)
def _multiply(graph, layer, inputs):
    product = inputs[0]
    for other in inputs[1:]:
        product = graph.node("Mul", [product, other], layer.name)
    return product


@register_layer_converter(Concatenate)
def _concatenate(graph, layer, inputs):
    return graph.node("Concat", list(inputs), layer.name, axis=layer._axis)


@register_layer_converter(Flatten)
def _flatten(graph, layer, inputs):
    return graph.node("Flatten", [inputs[0]], layer.name, axis=1)


@register_layer_converter(Reshape)
def _reshape(graph, layer, inputs):
    # 0 copies the batch size from the input (allowzero=0, the default).
    shape = graph.onnx.numpy_helper.from_array(
        np.array([0, *layer.output_shape], dtype=np.int64), graph.unique_name(f"{layer.name}/shape")
    )
    graph.initializers.append(shape)
    return graph.node("Reshape", [inputs[0], shape.name], layer.name)


@register_layer_converter(Activation)
def _activation(graph, layer, inputs):
    return convert_activation(graph, layer.function, inputs[0], layer.name)


@register_layer_converter(BatchNormalization)
def _batch_normalization(graph, layer, inputs):
    # The inverse standard deviation is computed as the layer's forward computes it, in the
    # model's dtype, so the exported graph rounds the same way.
    variance = np.asarray(layer.moving_variance, dtype=graph.dtype)
    inverse_std = 1 / np.sqrt(variance + layer.epsilon)
    scale = inverse_std * layer.gamma if layer.scale else inverse_std
    mean = graph.constant(f"{layer.name}/moving_mean", layer.moving_mean)
    y = graph.node("Sub", [inputs[0], mean], layer.name)
    y = graph.node("Mul", [y, graph.constant(f"{layer.name}/scale", scale)], layer.name)
    if layer.center:
        y = graph.node("Add", [y, graph.constant(f"{layer.name}/beta", layer.beta)], layer.name)
    return y


# ----------------------------------------------------------------------- activations
@register_activation_converter("linear")
def _linear(graph, activation, x, scope):
    return x


def _simple(op_type: str) -> ActivationConverter:
    def convert(graph, activation, x, scope):
        return graph.node(op_type, [x], scope)

    convert.__name__ = f"_{op_type.lower()}"
    return convert


register_activation_converter("relu")(_simple("Relu"))
register_activation_converter("sigmoid")(_simple("Sigmoid"))
register_activation_converter("tanh")(_simple("Tanh"))


@register_activation_converter("softmax")
def _softmax(graph, activation, x, scope):
    return graph.node("Softmax", [x], scope, axis=-1)


def _where_positive(graph, x, negative_part: str, scope: str) -> str:
    """``x`` where ``x > 0``, else ``negative_part``."""
    positive = graph.node("Greater", [x, graph.constant(f"{scope}/zero", 0)], scope)
    return graph.node("Where", [positive, x, negative_part], scope)


@register_activation_converter("leaky_relu")
def _leaky_relu(graph, activation, x, scope):
    slope = activation.negative_slope
    if graph.exact_attribute(slope):
        return graph.node("LeakyRelu", [x], scope, alpha=slope)
    scaled = graph.node("Mul", [x, graph.constant(f"{scope}/negative_slope", slope)], scope)
    return _where_positive(graph, x, scaled, scope)


@register_activation_converter("elu")
def _elu(graph, activation, x, scope):
    alpha = activation.alpha
    if graph.dtype == np.float32:
        return graph.node("Elu", [x], scope, alpha=alpha)
    # alpha * (exp(min(x, 0)) - 1) where x <= 0: min keeps exp from overflowing elsewhere.
    negative = graph.node("Min", [x, graph.constant(f"{scope}/zero", 0)], scope)
    negative = graph.node("Exp", [negative], scope)
    negative = graph.node("Sub", [negative, graph.constant(f"{scope}/one", 1)], scope)
    negative = graph.node("Mul", [negative, graph.constant(f"{scope}/alpha", alpha)], scope)
    return _where_positive(graph, x, negative, scope)


@register_activation_converter("softplus")
def _softplus(graph, activation, x, scope):
    if graph.dtype == np.float32:
        return graph.node("Softplus", [x], scope)
    # max(x, 0) + log(1 + exp(-|x|)): exp never overflows.
    tail = graph.node("Neg", [graph.node("Abs", [x], scope)], scope)
    tail = graph.node("Exp", [tail], scope)
    tail = graph.node("Add", [tail, graph.constant(f"{scope}/one", 1)], scope)
    tail = graph.node("Log", [tail], scope)
    return graph.node("Add", [graph.node("Relu", [x], scope), tail], scope)


@register_activation_converter("swish")
def _swish(graph, activation, x, scope):
    return graph.node("Mul", [x, graph.node("Sigmoid", [x], scope)], scope)


@register_activation_converter("gelu")
def _gelu(graph, activation, x, scope):
    # onnxruntime has no float64 exact Gelu, and its float64 tanh Gelu is off by about 3e-9;
    # the formula below is exact in float64.
    if graph.opset >= 20 and graph.dtype == np.float32:
        return graph.node(
            "Gelu", [x], scope, approximate="tanh" if activation.approximate else "none"
        )
    if activation.approximate:
        # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        cube = graph.node("Mul", [x, graph.node("Mul", [x, x], scope)], scope)
        cube = graph.node("Mul", [cube, graph.constant(f"{scope}/cubic", 0.044715)], scope)
        inner = graph.node("Add", [x, cube], scope)
        scale = graph.constant(f"{scope}/sqrt_2_over_pi", math.sqrt(2 / math.pi))
        cdf_term = graph.node("Tanh", [graph.node("Mul", [inner, scale], scope)], scope)
    else:
        # 0.5 x (1 + erf(x / sqrt(2)))
        scaled = graph.node("Mul", [x, graph.constant(f"{scope}/sqrt_half", math.sqrt(0.5))], scope)
        if graph.dtype == np.float32:
            cdf_term = graph.node("Erf", [scaled], scope)
        else:
            float32 = graph.onnx.TensorProto.FLOAT
            scaled = graph.node("Cast", [scaled], scope, to=float32)
            cdf_term = graph.node(
                "Cast", [graph.node("Erf", [scaled], scope)], scope, to=graph.element_type
            )
    one_plus = graph.node("Add", [cdf_term, graph.constant(f"{scope}/one", 1)], scope)
    half_x = graph.node("Mul", [x, graph.constant(f"{scope}/half", 0.5)], scope)
    return graph.node("Mul", [half_x, one_plus], scope)
