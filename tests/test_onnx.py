"""ONNX export: every layer and activation, run by onnxruntime, gives what ``predict`` gives."""

import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import numpy_helper

import layerwise
from conv_models import CONV_LAYER_MODELS, SPATIAL_LAYER_MODELS
from layerwise import (
    Activation,
    Add,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Flatten,
    Input,
    Layer,
    Maximum,
    Minimum,
    Model,
    Multiply,
    Reshape,
    Subtract,
    activations,
    registry,
)
from layerwise.activations import ELU, GELU, ActivationFunction, LeakyReLU
from layerwise.export.onnx import (
    ACTIVATION_CONVERTERS,
    LAYER_CONVERTERS,
    OnnxExportError,
    export_onnx,
)

FLOAT32_TOLERANCE = 1e-5
FLOAT64_TOLERANCE = 1e-12
# onnxruntime has no float64 Erf, so the exported exact GELU computes erf in float32.
FLOAT64_ERF_TOLERANCE = 1e-6


def builtin_activation_names():
    """Every activation the library registers (by canonical name), not users' test classes."""
    names = set()
    for alias in registry.valid_names("activation"):
        function = activations.get(alias)
        if type(function).__module__ == "layerwise.activations":
            names.add(function.name)
    return sorted(names)


# Defaults of every built-in activation, plus parameter values that take other export paths
# (0.25 is exact in float32, so float64 graphs may use LeakyRelu's float32 attribute).
ACTIVATIONS = [
    *builtin_activation_names(),
    LeakyReLU(negative_slope=0.25),
    ELU(alpha=0.7),
    GELU(approximate=True),
]


def activation_id(activation):
    return activation if isinstance(activation, str) else repr(activation)


def trained(model, x, y, loss="mse", dtype="float32", epochs=3):
    """``model`` compiled and trained a few steps, so that weights and statistics move."""
    model.compile(loss_fn=loss, optimizer="adam", dtype=dtype)
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    return model


def run_onnx(path, x):
    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    (outputs,) = session.run(None, {"input": x})
    return outputs


def assert_runs_like_predict(model, path, x, tolerance, reference=False):
    """``reference``: run in ONNX's own reference evaluator instead of onnxruntime."""
    expected = model.predict(x)
    if reference:
        from onnx.reference import ReferenceEvaluator

        (outputs,) = ReferenceEvaluator(os.fspath(path)).run(
            None, {"input": np.asarray(x, dtype=model.dtype)}
        )
    else:
        outputs = run_onnx(path, np.asarray(x, dtype=model.dtype))
    assert outputs.dtype == model.dtype
    assert outputs.shape == expected.shape
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=tolerance)


def activation_model(activation, seed=0):
    """Input -> Dense with the activation -> Activation layer of it -> linear Dense."""
    layerwise.set_seed(seed)
    inputs = Input(shape=(4,))
    # Xavier weights keep values of order 1, where activations differ from their look-alikes
    # (the exact and tanh GELU differ by up to 5e-4 near |x| = 2, by 1e-6 near 0).
    hidden = Dense(
        8,
        activation=activation,
        weights_initializer="xavier_normal",
        bias_initializer="random_normal",
    )(inputs)
    hidden = Activation(activation)(hidden)
    return Model(inputs, Dense(3)(hidden))


def data(rng, n=64, shape=(4,), outputs=3):
    # Scaled so that activations see both signs and their curved regions.
    return 3 * rng.normal(size=(n, *shape)), rng.normal(size=(n, outputs))


# ------------------------------------------------------------------ activations
@pytest.mark.parametrize("opset", [None, 20])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=activation_id)
def test_every_activation_in_dense_and_activation_layers_matches_predict_float32(
    activation, opset, tmp_path
):
    rng = np.random.default_rng(1)
    x, y = data(rng)
    model = trained(activation_model(activation), x, y)
    path = export_onnx(model, tmp_path / "model.onnx", opset=opset)
    assert_runs_like_predict(model, path, 3 * rng.normal(size=(50, 4)), FLOAT32_TOLERANCE)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=activation_id)
def test_every_activation_matches_predict_float64(activation, tmp_path):
    rng = np.random.default_rng(2)
    x, y = data(rng)
    model = trained(activation_model(activation), x, y, dtype="float64")
    path = export_onnx(model, tmp_path / "model.onnx")
    exact_gelu = activations.get(activation).name == "gelu" and not getattr(
        activations.get(activation), "approximate", True
    )
    tolerance = FLOAT64_ERF_TOLERANCE if exact_gelu else FLOAT64_TOLERANCE
    assert_runs_like_predict(model, path, 3 * rng.normal(size=(50, 4)), tolerance)


def test_every_builtin_activation_has_a_converter():
    missing = [name for name in builtin_activation_names() if name not in ACTIVATION_CONVERTERS]
    assert missing == []


@pytest.mark.parametrize("opset", [13, 20])
def test_all_activations_chained_match_predict_at_lowest_and_gelu_opsets(opset, tmp_path):
    rng = np.random.default_rng(3)
    layerwise.set_seed(3)
    inputs = x_layer = Input(shape=(4,))
    for activation in ACTIVATIONS:
        x_layer = Dense(6, activation=activation, weights_initializer="xavier_normal")(x_layer)
    model = trained(Model(inputs, Dense(2)(x_layer)), *data(rng, outputs=2))
    path = export_onnx(model, tmp_path / "model.onnx", opset=opset)
    proto = onnx.load(path)
    assert proto.opset_import[0].version == opset
    operators = {node.op_type for node in proto.graph.node}
    # From opset 20 on GELU is ONNX's own operator; below, its formula with Erf and Tanh.
    assert ("Gelu" in operators) == (opset >= 20)
    assert ("Erf" in operators) == (opset < 20)
    assert_runs_like_predict(model, path, 3 * rng.normal(size=(30, 4)), FLOAT32_TOLERANCE)


# ---------------------------------------------------------------------- layers
def dropout_model():
    inputs = Input(shape=(5,))
    hidden = Dropout(0.5, seed=0)(Dense(16, activation="relu")(inputs))
    return Model(inputs, Dense(3)(hidden))


def batch_normalization_model(center=True, scale=True):
    inputs = Input(shape=(5,))
    # Straight after the input, so that its statistics learn the data's (mean 1.5, variance 4).
    hidden = BatchNormalization(momentum=0.5, center=center, scale=scale)(inputs)
    return Model(inputs, Dense(3, activation="tanh")(Dense(6)(hidden)))


def activation_layer_model():
    inputs = Input(shape=(5,))
    return Model(inputs, Dense(3)(Activation("tanh")(Dense(6)(inputs))))


def merge_model(merge_class):
    def build():
        inputs = Input(shape=(5,))
        a = Dense(4, activation="tanh")(inputs)
        b = Dense(4, activation="sigmoid")(inputs)
        layers = [a, b] if merge_class is Subtract else [a, b, Dense(4)(inputs)]
        return Model(inputs, Dense(3)(merge_class()(layers)))

    return build


def shape_model():
    inputs = Input(shape=(5,))
    hidden = Reshape((2, 3))(Dense(6, activation="tanh")(inputs))
    hidden = Dense(4, activation="relu")(hidden)  # on the last axis: (n, 2, 4)
    return Model(inputs, Dense(3)(Flatten()(hidden)))


from test_onnx_recurrent import SEQUENCE_LAYER_EXPORTS  # noqa: E402  (their own file)

LAYER_MODELS = {
    **{cls: merge_model(cls) for cls in (Add, Subtract, Multiply, Average, Maximum, Minimum)},
    Concatenate: merge_model(Concatenate),
    Flatten: shape_model,
    Reshape: shape_model,
    Input: activation_layer_model,
    Dense: activation_layer_model,
    Activation: activation_layer_model,
    Dropout: dropout_model,
    BatchNormalization: batch_normalization_model,
    **CONV_LAYER_MODELS,
    **SPATIAL_LAYER_MODELS,
}


def test_every_layer_class_has_a_converter_and_an_export_test():
    classes = {getattr(layerwise.layers, name) for name in layerwise.layers.__all__} - {Layer}
    assert classes - set(LAYER_CONVERTERS) == set()
    assert classes - set(LAYER_MODELS) - set(SEQUENCE_LAYER_EXPORTS) == set()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layer_class", list(LAYER_MODELS), ids=lambda c: c.__name__)
def test_every_layer_matches_predict(layer_class, dtype, tmp_path):
    rng = np.random.default_rng(4)
    layerwise.set_seed(4)
    x = 2 * rng.normal(size=(64, 5)) + 1.5
    model = trained(LAYER_MODELS[layer_class](), x, rng.normal(size=(64, 3)), dtype=dtype)
    path = export_onnx(model, tmp_path / "model.onnx")
    tolerance = FLOAT32_TOLERANCE if dtype == "float32" else FLOAT64_TOLERANCE
    # onnxruntime has no float64 Conv or pooling kernels; ONNX's reference evaluator has.
    reference = dtype == "float64" and layer_class in CONV_LAYER_MODELS
    assert_runs_like_predict(model, path, 2 * rng.normal(size=(40, 5)) + 1.5, tolerance,
                             reference=reference)


@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False)])
def test_batch_normalization_uses_trained_moving_statistics(center, scale, tmp_path):
    rng = np.random.default_rng(5)
    layerwise.set_seed(5)
    x = 2 * rng.normal(size=(64, 5)) + 1.5
    model = trained(batch_normalization_model(center, scale), x, rng.normal(size=(64, 3)))
    norm = next(layer for layer in model.layers if isinstance(layer, BatchNormalization))
    # The statistics must have left their initial values (0 and 1) for the test to mean much.
    assert np.abs(norm.moving_mean).max() > 0.3
    assert np.abs(norm.moving_variance - 1).max() > 0.3
    path = export_onnx(model, tmp_path / "model.onnx")
    assert_runs_like_predict(model, path, 2 * rng.normal(size=(40, 5)) + 1.5, FLOAT32_TOLERANCE)


def test_dropout_is_an_identity_node(tmp_path):
    rng = np.random.default_rng(6)
    model = trained(dropout_model(), rng.normal(size=(32, 5)), rng.normal(size=(32, 3)))
    operators = [node.op_type for node in onnx.load(export_onnx(model, tmp_path / "m")).graph.node]
    assert operators == ["Gemm", "Relu", "Identity", "Gemm"]


# ----------------------------------------------------------------- shapes, dtypes
def test_image_shaped_input_is_flattened_before_dense(tmp_path):
    rng = np.random.default_rng(7)
    layerwise.set_seed(7)
    inputs = Input(shape=(28, 28))
    hidden = BatchNormalization(momentum=0.5)(inputs)  # over the last axis, as predict does
    hidden = Dropout(0.5)(Dense(16, activation="relu")(Flatten()(hidden)))
    model = Model(inputs, Dense(3, activation="softmax")(hidden))
    x = 2 * rng.normal(size=(48, 28, 28)) + 1
    y = np.eye(3)[rng.integers(0, 3, size=48)]
    trained(model, x, y, loss="categorical_crossentropy")
    path = export_onnx(model, tmp_path / "image.onnx")
    graph_input = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in graph_input[1:]] == [28, 28]
    assert_runs_like_predict(model, path, 2 * rng.normal(size=(20, 28, 28)) + 1, FLOAT32_TOLERANCE)


def test_dense_with_input_size_as_first_layer(tmp_path):
    rng = np.random.default_rng(8)
    layerwise.set_seed(8)
    first = Dense(8, activation="tanh", input_size=5)
    model = trained(
        Model(first, Dense(2)(first)), rng.normal(size=(32, 5)), rng.normal(size=(32, 2))
    )
    path = export_onnx(model, tmp_path / "model.onnx")
    assert_runs_like_predict(model, path, rng.normal(size=(10, 5)), FLOAT32_TOLERANCE)


def test_one_file_serves_batches_of_1_and_100(tmp_path):
    rng = np.random.default_rng(9)
    model = trained(activation_model("relu"), *data(rng))
    path = export_onnx(model, tmp_path / "model.onnx")
    batch_axis = onnx.load(path).graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_axis.dim_param and not batch_axis.dim_value
    for n in (1, 100):
        assert_runs_like_predict(model, path, 3 * rng.normal(size=(n, 4)), FLOAT32_TOLERANCE)


@pytest.mark.parametrize(
    "dtype, element_type",
    [("float32", onnx.TensorProto.FLOAT), ("float64", onnx.TensorProto.DOUBLE)],
)
def test_weights_are_stored_exactly_in_the_models_dtype(dtype, element_type, tmp_path):
    rng = np.random.default_rng(10)
    model = trained(activation_model("relu"), *data(rng), dtype=dtype)
    proto = onnx.load(export_onnx(model, tmp_path / "model.onnx"))
    stored = {tensor.name: tensor for tensor in proto.graph.initializer}
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    for layer in dense:
        for name in ("weights", "bias"):
            tensor = stored[f"{layer.name}/{name}"]
            assert tensor.data_type == element_type
            np.testing.assert_array_equal(numpy_helper.to_array(tensor), getattr(layer, name))
    assert proto.graph.input[0].type.tensor_type.elem_type == element_type
    assert proto.graph.output[0].type.tensor_type.elem_type == element_type


def test_model_without_weights_exports_as_identity(tmp_path):
    inputs = Input(shape=(3,))
    model = Model(inputs, Activation("linear")(inputs))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(run_onnx(export_onnx(model, tmp_path / "m.onnx"), x), x)


# ---------------------------------------------------------------------- errors
class Doubling(Layer):
    """A user's layer that the exporter has never heard of."""

    def forward(self, input_data):
        self.output = 2 * input_data
        return self.output

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        return 2 * output_error if input_gradient else None


class Cube(ActivationFunction):
    """A user's activation that the exporter has never heard of."""

    name = "cube"

    def forward(self, x, out=None):
        return np.power(x, 3, out=out)


def test_unsupported_layer_is_named_and_leaves_the_old_file(tmp_path):
    inputs = Input(shape=(3,))
    model = Model(inputs, Dense(2)(Doubling(name="doubling_layer")(inputs)))
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous file")
    with pytest.raises(OnnxExportError, match=r"'doubling_layer' of type Doubling"):
        export_onnx(model, path)
    assert path.read_bytes() == b"previous file"
    assert os.listdir(tmp_path) == ["model.onnx"]  # no temporary file left behind


def test_unsupported_activation_names_the_activation_and_the_layer(tmp_path):
    inputs = Input(shape=(3,))
    model = Model(inputs, Dense(2, activation=Cube(), name="cubed")(inputs))
    with pytest.raises(OnnxExportError, match=r"'cube' \(Cube\) of layer 'cubed'"):
        export_onnx(model, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize(
    "opset, error", [(12, ValueError), (10_000, ValueError), ("17", TypeError), (True, TypeError)]
)
def test_invalid_opset_is_refused(opset, error, tmp_path):
    with pytest.raises(error, match="'opset'"):
        export_onnx(activation_model("relu"), tmp_path / "model.onnx", opset=opset)


def test_non_model_is_refused(tmp_path):
    with pytest.raises(TypeError, match="'model'"):
        export_onnx(Dense(2, input_size=3), tmp_path / "model.onnx")


def test_missing_onnx_package_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ImportError, match=r'pip install "layerwise\[onnx\]"'):
        export_onnx(activation_model("relu"), tmp_path / "model.onnx")


def test_package_face_exports_and_import_stays_light(tmp_path):
    assert layerwise.export_onnx is export_onnx
    code = (
        "import sys, layerwise, layerwise.export, layerwise.export.onnx; "
        "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules, "
        "sorted(m for m in sys.modules if 'onnx' in m)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
