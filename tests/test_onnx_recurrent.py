"""ONNX export of the sequence layers, checked in onnxruntime (float32, 1e-5)."""

import numpy as np
import pytest

import layerwise
from layerwise import (
    GRU,
    LSTM,
    Bidirectional,
    Dense,
    Embedding,
    Flatten,
    Input,
    LayerNormalization,
    Masking,
    Model,
    Reshape,
    SimpleRNN,
)
from layerwise.export.onnx import OnnxExportError, export_onnx

onnxruntime = pytest.importorskip("onnxruntime")


def _sequence_model(layer):
    inputs = Input((5, 3))
    return Model(inputs, Dense(2)(Flatten()(layer(inputs)) if layer.return_sequences
                                  else layer(inputs)))


def _embedding_model():
    inputs = Input((6,), dtype="int32")
    return Model(inputs, Dense(2)(LSTM(3)(Embedding(9, 4)(inputs))))


def _masking_model():
    inputs = Input((5, 3))
    return Model(inputs, Dense(2)(Flatten()(Masking(0.0)(inputs))))


def _layer_norm_model():
    inputs = Input((5, 3))
    return Model(inputs, Dense(2)(Flatten()(LayerNormalization()(Reshape((5, 3))(inputs)))))


SEQUENCE_LAYER_EXPORTS = {
    SimpleRNN: lambda: _sequence_model(SimpleRNN(4, return_sequences=True, go_backwards=True)),
    LSTM: lambda: _sequence_model(LSTM(4)),
    GRU: lambda: _sequence_model(GRU(4, reset_after=False, return_sequences=True)),
    Bidirectional: lambda: _sequence_model(Bidirectional(LSTM(3, return_sequences=True))),
    Embedding: _embedding_model,
    Masking: _masking_model,
    LayerNormalization: _layer_norm_model,
}

MORE = {
    "lstm_backwards_seq_no_bias": lambda: _sequence_model(
        LSTM(3, go_backwards=True, return_sequences=True, use_bias=False)),
    "gru_reset_after_backwards": lambda: _sequence_model(GRU(3, go_backwards=True)),
    "simple_rnn_relu": lambda: _sequence_model(SimpleRNN(3, activation="relu")),
    "bidirectional_gru_sum": lambda: _sequence_model(Bidirectional(GRU(3), merge_mode="sum")),
    "bidirectional_rnn_seq_mul": lambda: _sequence_model(
        Bidirectional(SimpleRNN(3, return_sequences=True), merge_mode="mul")),
    "bidirectional_lstm_ave": lambda: _sequence_model(Bidirectional(LSTM(3), merge_mode="ave")),
}
ALL = {**{cls.__name__: make for cls, make in SEQUENCE_LAYER_EXPORTS.items()}, **MORE}


def _data(model, rng, n):
    if model.input_layer.input_dtype is not None:
        return rng.integers(0, 9, size=(n, *model.input_shape)).astype(np.int32)
    x = rng.normal(size=(n, *model.input_shape))
    x[:, 3] = 0.0  # a step equal to Masking's value
    return x


@pytest.mark.parametrize("name", list(ALL))
def test_sequence_models_export_and_run_like_predict(name, tmp_path):
    rng = np.random.default_rng(0)
    layerwise.set_seed(0)
    model = ALL[name]()
    model.compile(loss_fn="mse", optimizer="adam")
    x = _data(model, rng, 32)
    model.fit(x, rng.normal(size=(32, 2)), epochs=2, batch_size=8, verbose=0)
    path = export_onnx(model, tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x_test = _data(model, rng, 17)
    feed = x_test if x_test.dtype.kind == "i" else x_test.astype(np.float32)
    (result,) = session.run(None, {"input": feed})
    np.testing.assert_allclose(result, model.predict(x_test), rtol=0, atol=1e-5)


def _masked_model(producer, make_layer):
    layerwise.set_seed(3)
    if producer == "embedding":
        inputs = Input((6,), dtype="int32")
        hidden = Embedding(9, 4, mask_zero=True)(inputs)
    else:
        inputs = Input((6, 2))
        hidden = Masking(0.0)(inputs)
    layer = make_layer()
    out = layer(hidden)
    out = Dense(2)(Flatten()(out) if layer.return_sequences else out)
    model = Model(inputs, out)
    model.compile(loss_fn="mse")
    return model


def _right_padded(producer, rng, n=7):
    lengths = np.array([6, 1, 3, 5, 2, 6, 4])[:n]
    keep = np.arange(6)[None, :] < lengths[:, None]
    if producer == "embedding":
        return np.where(keep, rng.integers(1, 9, size=(n, 6)), 0).astype(np.int32)
    return np.where(keep[:, :, None], rng.normal(size=(n, 6, 2)), 0.0)


MASKED = {
    "lstm": lambda: LSTM(3),
    "gru_seq": lambda: GRU(3, return_sequences=True),
    "rnn_backwards": lambda: SimpleRNN(3, go_backwards=True),
    "lstm_seq_backwards": lambda: LSTM(3, return_sequences=True, go_backwards=True),
    "gru_reset_before_seq": lambda: GRU(2, reset_after=False, return_sequences=True),
    "bidirectional_lstm": lambda: Bidirectional(LSTM(3)),
    "bidirectional_gru_seq": lambda: Bidirectional(GRU(2, return_sequences=True)),
    "stacked_gru_layernorm_lstm": lambda: _Stack(),
}


class _Stack:
    """GRU sequences -> LayerNormalization -> LSTM: the mask reaches the second layer through
    the first and the normalization."""

    return_sequences = False

    def __call__(self, x):
        return LSTM(3)(LayerNormalization()(GRU(2, return_sequences=True)(x)))


@pytest.mark.parametrize("producer", ["embedding", "masking"])
@pytest.mark.parametrize("name", list(MASKED))
def test_masked_models_export_with_sequence_lengths_for_right_padded_input(producer, name,
                                                                          tmp_path):
    model = _masked_model(producer, MASKED[name])
    x = _right_padded(producer, np.random.default_rng(4))
    session = onnxruntime.InferenceSession(str(export_onnx(model, tmp_path / "m.onnx")),
                                           providers=["CPUExecutionProvider"])
    feed = x if x.dtype.kind == "i" else x.astype(np.float32)
    (result,) = session.run(None, {"input": feed})
    np.testing.assert_allclose(result, model.predict(x), rtol=0, atol=1e-5)


def test_a_mask_on_a_mask_is_refused_with_the_reason(tmp_path):
    inputs = Input((6,), dtype="int32")
    hidden = Masking(0.0)(Embedding(9, 4, mask_zero=True)(inputs))
    model = Model(inputs, Dense(1)(LSTM(3)(hidden)))
    model.compile(loss_fn="mse")
    with pytest.raises(OnnxExportError, match="sequence lengths"):
        export_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_float64_recurrent_model_is_refused_naming_float32(tmp_path):
    model = _sequence_model(GRU(2))
    model.compile(loss_fn="mse", dtype="float64")
    with pytest.raises(OnnxExportError, match="float32"):
        export_onnx(model, tmp_path / "m.onnx")


def test_float64_layer_normalization_and_embedding_export(tmp_path):
    rng = np.random.default_rng(1)
    inputs = Input((6,), dtype="int64")
    model = Model(inputs, Dense(2)(Flatten()(LayerNormalization()(Embedding(9, 4)(inputs)))))
    model.compile(loss_fn="mse", dtype="float64")
    x = rng.integers(0, 9, size=(5, 6))
    session = onnxruntime.InferenceSession(str(export_onnx(model, tmp_path / "m.onnx")),
                                           providers=["CPUExecutionProvider"])
    (result,) = session.run(None, {"input": x})
    np.testing.assert_allclose(result, model.predict(x), rtol=0, atol=1e-12)
