"""ONNX export: ``export_onnx(model, path)`` writes a model as a standard ONNX graph.

The ``onnx`` package (``pip install layerwise[onnx]``) is imported only when :func:`export_onnx`
runs, so importing this module, or ``layerwise``, stays light.

The graph has one input ``"input"`` of shape ``(batch, *model.input_shape)`` and one output
``"output"`` of shape ``(batch, *model.output_shape)``, the batch size left free; weights are
initializers in the model's dtype (float32 or float64). Layers and activations are written as:

- ``Input``: nothing (the graph input); ``Dropout``: ``Identity`` (inference);
- ``Dense``: ``Gemm`` (``input @ weights + bias``), after ``Flatten`` when the input has several
  feature axes, then its activation;
- ``BatchNormalization``: the inference form ``(x - moving_mean) * scale + beta`` with
  ``scale = gamma / sqrt(moving_variance + epsilon)``, broadcast over the last axis (ONNX's own
  ``BatchNormalization`` normalizes axis 1, which is the last axis only for 2-D inputs);
- activations: the ONNX operator of the same name where there is one (``Relu``, ``Sigmoid``,
  ``Tanh``, ``Softmax`` over the last axis, ``LeakyRelu``, ``Elu``, ``Softplus``, and ``Gelu``
  in float32 graphs from opset 20), otherwise their formula in elementary operators
  (``swish = x * sigmoid(x)``, GELU through ``Erf`` or ``Tanh``).

Float64 graphs avoid operators onnxruntime's CPU provider implements only for float32: ``Elu``
and ``Softplus`` are written as formulas, and the exact GELU's ``Erf`` is computed in float32
(``Cast``, ``Erf``, ``Cast``), within about ``1e-7 * |x|`` of the float64 value. ONNX stores
operator attributes as float32, so a float64 graph writes ``LeakyRelu`` / ``Elu`` with a formula
whenever the parameter is not exactly a float32 number.

New layers and activations become exportable by registering a converter::

    @register_layer_converter(Scale)
    def convert_scale(graph, layer, inputs):
        factor = graph.constant(f"{layer.name}/factor", layer.factor)
        return graph.node("Mul", [inputs[0], factor], layer.name)

A layer converter receives the :class:`OnnxGraph`, the layer and the names of its inputs (one per
parent) and returns the name of its output; an activation converter receives the graph, the
activation object, the name of its input and the scope (the layer's name) for node names.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from ..layers import Activation, BatchNormalization, Dense, Dropout, Input, Layer
from ..model import Model
from ..saving import atomic_write

__all__ = [
    "export_onnx",
    "OnnxGraph",
    "OnnxExportError",
    "LAYER_CONVERTERS",
    "ACTIVATION_CONVERTERS",
    "register_layer_converter",
    "register_activation_converter",
    "convert_activation",
    "DEFAULT_OPSET",
    "MIN_OPSET",
]

DEFAULT_OPSET = 17  # run by onnxruntime >= 1.13 and most other runtimes of the last years
MIN_OPSET = 13  # Softmax on one axis, Erf and Greater on all float types
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


def register_layer_converter(*layer_classes: type):
    """Decorator: use the function to export layers of exactly these classes."""

    def decorator(function: LayerConverter) -> LayerConverter:
        for cls in layer_classes:
            LAYER_CONVERTERS[cls] = function
        return function

    return decorator


def register_activation_converter(*names: str):
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

    def __init__(self, onnx_module, dtype, opset: int) -> None:
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

    def constant(self, name: str, value) -> str:
        """Add ``value`` (array or number) as an initializer in the graph's dtype; its name."""
        name = self.unique_name(name)
        array = np.asarray(value, dtype=self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op_type: str, inputs: list[str], scope: str, **attributes) -> str:
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


def _convert_layer(graph: OnnxGraph, layer: Layer, inputs: list[str]) -> str:
    converter = LAYER_CONVERTERS.get(type(layer))
    if converter is None:
        supported = ", ".join(sorted(cls.__name__ for cls in LAYER_CONVERTERS))
        raise OnnxExportError(
            f"Cannot export layer {layer.name!r} of type {type(layer).__name__} to ONNX: it has "
            f"no converter. Exportable layers: {supported}. Register one with "
            f"@layerwise.export.onnx.register_layer_converter({type(layer).__name__})."
        )
    return converter(graph, layer, inputs)


def convert_activation(graph: OnnxGraph, activation, x: str, scope: str) -> str:
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
    if len(layer.input_shape) > 1:
        x = graph.node("Flatten", [x], layer.name, axis=1)
    weights = graph.constant(f"{layer.name}/weights", layer.weights)
    bias = graph.constant(f"{layer.name}/bias", layer.bias)
    z = graph.node("Gemm", [x, weights, bias], layer.name)
    return convert_activation(graph, layer.activation, z, layer.name)


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


# -------------------------------------------------------------------------- export
def _import_onnx():
    try:
        import onnx
    except ImportError as error:
        raise ImportError(
            "Exporting to ONNX needs the 'onnx' package: pip install layerwise[onnx]"
        ) from error
    return onnx


def _check_opset(opset, latest: int) -> int:
    if opset is None:
        return min(DEFAULT_OPSET, latest)
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(
            f"Argument 'opset' must be an integer from {MIN_OPSET} to {latest} or None; "
            f"received {opset!r} of type {type(opset).__name__}."
        )
    if not MIN_OPSET <= opset <= latest:
        raise ValueError(
            f"Argument 'opset' must be from {MIN_OPSET} to {latest} (the newest the installed "
            f"onnx package knows); received {opset}."
        )
    return int(opset)


def _build_model_proto(onnx, model: Model, opset: int):
    graph = OnnxGraph(onnx, model.dtype, opset)
    outputs: list[str] = []
    for layer, parents in zip(model.layers, model._parents):
        inputs = [outputs[p] for p in parents] if parents else [INPUT_NAME]
        outputs.append(_convert_layer(graph, layer, inputs))
    final = outputs[-1]
    produced = {name for node in graph.nodes for name in node.output}
    if final in produced:
        # Rename rather than add an Identity: the last node writes the graph's output.
        for node in graph.nodes:
            node.input[:] = [OUTPUT_NAME if n == final else n for n in node.input]
            node.output[:] = [OUTPUT_NAME if n == final else n for n in node.output]
    else:
        graph.nodes.append(onnx.helper.make_node("Identity", [final], [OUTPUT_NAME]))
    helper = onnx.helper
    onnx_graph = helper.make_graph(
        graph.nodes,
        model.name,
        [
            helper.make_tensor_value_info(
                INPUT_NAME, graph.element_type, ["batch", *model.input_shape]
            )
        ],
        [
            helper.make_tensor_value_info(
                OUTPUT_NAME, graph.element_type, ["batch", *model.output_shape]
            )
        ],
        initializer=graph.initializers,
    )
    opset_ids = [helper.make_opsetid("", opset)]
    from .. import __version__

    return helper.make_model(
        onnx_graph,
        opset_imports=opset_ids,
        # The oldest IR version that carries this opset, so older runtimes can load the file.
        ir_version=helper.find_min_ir_version_for(opset_ids),
        producer_name="layerwise",
        producer_version=__version__,
        doc_string=f"{model.name}: {' -> '.join(layer.name for layer in model.layers)}",
    )


def export_onnx(model: Model, path: str | os.PathLike, opset: int | None = None):
    """Write ``model`` to ``path`` as an ONNX graph, for onnxruntime and other runtimes.

    The graph computes ``model.predict`` (inference: dropout off, batch normalization with its
    moving statistics) on an input named ``"input"`` of shape ``(batch, *model.input_shape)``,
    any batch size, giving ``"output"`` of shape ``(batch, *model.output_shape)``, in the
    model's dtype. The graph is validated with ``onnx.checker`` and written atomically: a
    failure leaves any previous file at ``path`` untouched.

    Args:
        model: the :class:`~layerwise.Model` to export (trained or not).
        path: the file to write, e.g. ``'model.onnx'``.
        opset: the ONNX opset version (default 17, the lowest allowed 13); from 20 on, GELU in
            float32 models is
            written as ONNX's ``Gelu`` operator.

    Returns:
        ``path``.

    Raises:
        ImportError: the ``onnx`` package is not installed (``pip install layerwise[onnx]``).
        OnnxExportError: a layer or activation has no converter (see
            :func:`register_layer_converter`); nothing is written then.

    Example::

        layerwise.export_onnx(model, 'model.onnx')
        session = onnxruntime.InferenceSession('model.onnx')
        (outputs,) = session.run(None, {'input': x.astype(np.float32)})
    """
    onnx = _import_onnx()
    if not isinstance(model, Model):
        raise TypeError(
            f"Argument 'model' must be a layerwise Model; received {model!r:.80} of type "
            f"{type(model).__name__}."
        )
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"Argument 'path' must be a file path (str or os.PathLike); received {path!r:.80} "
            f"of type {type(path).__name__}."
        )
    opset = _check_opset(opset, onnx.defs.onnx_opset_version())
    proto = _build_model_proto(onnx, model, opset)
    onnx.checker.check_model(proto, full_check=True)
    atomic_write(os.fspath(path), proto.SerializeToString())
    return path
