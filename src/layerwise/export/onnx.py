"""ONNX export: ``export_onnx(model, path)`` writes a model as a standard ONNX graph.

The ``onnx`` package (``pip install "layerwise[onnx]"``) is imported only when
:func:`export_onnx` runs, so importing this module, or ``layerwise``, stays light.

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

import os

import numpy as np

from .._optional import require
from .._version import __version__
from ..model import Model
from ..model_file import atomic_write
from . import (  # noqa: F401  (importing them registers the built-in converters)
    onnx_conv,
    onnx_converters,
    onnx_recurrent,
    onnx_spatial,
)
from .onnx_graph import (
    ACTIVATION_CONVERTERS,
    INPUT_NAME,
    LAYER_CONVERTERS,
    OUTPUT_NAME,
    ActivationConverter,  # noqa: F401  (re-exported: the converters' type hints)
    LayerConverter,  # noqa: F401
    OnnxExportError,
    OnnxGraph,
    convert_activation,
    convert_layer,
    register_activation_converter,
    register_layer_converter,
)

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


# -------------------------------------------------------------------------- export
def _import_onnx():
    return require("onnx", "onnx", "Exporting to ONNX")


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


def _io_names(layers, default: str) -> list[str]:
    """``default`` for a single input or output, else the layers' names."""
    return [default] if len(layers) == 1 else [layer.name for layer in layers]


def _input_type(helper, layer, graph) -> int:
    """An integer Input (token ids) keeps its dtype; every other input has the model's."""
    dtype = getattr(layer, "input_dtype", None)
    return graph.element_type if dtype is None else helper.np_dtype_to_tensor_dtype(dtype)


def _build_model_proto(onnx, model: Model, opset: int):
    graph = OnnxGraph(onnx, model.dtype, opset)
    graph_graph = model._graph
    input_names = _io_names(model.input_layers, INPUT_NAME)
    output_names = _io_names(model.output_layers, OUTPUT_NAME)
    graph._names.update(input_names + output_names)
    results: list = [None] * len(model.layers)
    for k, i in enumerate(graph_graph.input_indices):
        results[i] = input_names[k]
    for i, (layer, parents) in enumerate(zip(model.layers, model._parents)):
        inputs = [results[p] for p in parents] if parents else [results[i]]
        results[i] = convert_layer(graph, layer, inputs)
    produced = {name for node in graph.nodes for name in node.output}
    finals = [results[i] for i in graph_graph.output_indices]
    for final, name in zip(finals, output_names):
        if final in produced and finals.count(final) == 1:
            # Rename rather than add an Identity: the last node writes the graph's output.
            for node in graph.nodes:
                node.input[:] = [name if n == final else n for n in node.input]
                node.output[:] = [name if n == final else n for n in node.output]
        else:
            graph.nodes.append(onnx.helper.make_node("Identity", [final], [name]))
    helper = onnx.helper
    onnx_graph = helper.make_graph(
        graph.nodes,
        model.name,
        [
            helper.make_tensor_value_info(
                name, _input_type(helper, layer, graph), ["batch", *shape]
            )
            for name, shape, layer in zip(input_names, model.input_shapes, model.input_layers)
        ],
        [
            helper.make_tensor_value_info(name, graph.element_type, ["batch", *shape])
            for name, shape in zip(output_names, model.output_shapes)
        ],
        initializer=graph.initializers,
    )
    opset_ids = [helper.make_opsetid("", opset)]
    return helper.make_model(
        onnx_graph,
        opset_imports=opset_ids,
        # The oldest IR version that carries this opset, so older runtimes can load the file.
        ir_version=helper.find_min_ir_version_for(opset_ids),
        producer_name="layerwise",
        producer_version=__version__,
        doc_string=f"{model.name}: {' -> '.join(layer.name for layer in model.layers)}",
    )


def export_onnx(
    model: Model, path: str | os.PathLike, opset: int | None = None
) -> str | os.PathLike:
    """Write ``model`` to ``path`` as an ONNX graph, for onnxruntime and other runtimes.

    The graph computes ``model.predict`` (inference: dropout off, batch normalization with its
    moving statistics) on an input named ``"input"`` of shape ``(batch, *model.input_shape)``,
    any batch size, giving ``"output"`` of shape ``(batch, *model.output_shape)``, in the
    model's dtype. The graph is validated with ``onnx.checker`` and written atomically: a
    failure leaves any previous file at ``path`` untouched.

    Args:
        model: the :class:`~layerwise.Model` to export (trained or not), or a fitted
            ``layerwise.sklearn`` estimator (its ``model_`` is exported).
        path: the file to write, e.g. ``'model.onnx'``.
        opset: the ONNX opset version (default 17, the lowest allowed 13); from 20 on, GELU in
            float32 models is
            written as ONNX's ``Gelu`` operator.

    Returns:
        ``path``.

    Raises:
        ImportError: the ``onnx`` package is not installed (``pip install "layerwise[onnx]"``).
        OnnxExportError: a layer or activation has no converter (see
            :func:`register_layer_converter`); nothing is written then.

    Example::

        layerwise.export_onnx(model, 'model.onnx')
        session = onnxruntime.InferenceSession('model.onnx')
        (outputs,) = session.run(None, {'input': x.astype(np.float32)})
    """
    onnx = _import_onnx()
    if not isinstance(model, Model) and hasattr(type(model), "model_"):
        # A layerwise.sklearn estimator: its fitted network (NotFittedError before fit).
        model = model.model_
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
