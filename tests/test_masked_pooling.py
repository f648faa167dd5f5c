"""GlobalAveragePooling1D honours a mask as Keras does: the mean over unmasked steps; a
right-padded batch gives each sequence's own result and gradients, and ONNX agrees."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise
from layerwise import Dense, Embedding, GlobalAveragePooling1D, Input, Model


def text_model(dtype="float64"):
    layerwise.set_seed(0)
    ids = Input((6,), dtype="int32")
    embedded = Embedding(20, 4, mask_zero=True)(ids)
    pooled = GlobalAveragePooling1D()(embedded)
    model = Model(ids, Dense(1, activation="sigmoid")(pooled))
    model.compile(loss="binary_crossentropy", dtype=dtype)
    return model, embedded


PADDED = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 0, 0, 0, 0], [7, 8, 9, 10, 11, 12]])


def test_the_masked_mean_is_the_mean_of_the_unmasked_steps():
    model, embedded = text_model()
    out = model.predict(PADDED)
    dense = model.output_layer
    for row, value in zip(PADDED, out):
        mean = embedded.embeddings[row[row > 0]].mean(axis=0)
        expected = 1 / (1 + np.exp(-(mean @ dense.weights + dense.bias)))
        np.testing.assert_allclose(value, expected, rtol=1e-12)


def unpadded_model(steps: int, like: Model):
    """The same network (same weights) for sequences of ``steps`` ids and no mask."""
    ids = Input((steps,), dtype="int32")
    embedded = Embedding(20, 4)(ids)
    model = Model(ids, Dense(1, activation="sigmoid")(GlobalAveragePooling1D()(embedded)))
    model.compile(loss="binary_crossentropy", dtype="float64")
    model.set_weights(like.get_weights())
    return model, embedded


def test_padding_changes_neither_outputs_nor_gradients():
    y = np.array([1.0, 0.0, 1.0])
    model, embedded = text_model()
    padded_out = model.forward(PADDED).copy()
    model.backward(y)
    total = np.zeros_like(embedded.grad_embeddings)
    for k, (row, target) in enumerate(zip(PADDED, y)):
        short = row[row > 0]
        alone, alone_embedding = unpadded_model(len(short), model)
        np.testing.assert_allclose(alone.forward(short[None]), padded_out[k:k + 1], rtol=1e-12)
        alone.backward(np.array([target]))
        # The padded batch's loss is the mean over its three sequences.
        total += alone_embedding.grad_embeddings / len(PADDED)
    np.testing.assert_allclose(embedded.grad_embeddings, total, rtol=1e-10, atol=1e-14)


def test_masked_pooling_gradient_matches_finite_differences():
    layer = GlobalAveragePooling1D()(Input((5, 3)))
    layer.set_dtype("float64")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 3))
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=bool)
    weight = rng.normal(size=(2, 3))
    layer.forward(x, mask=mask)
    grad = layer._backward(weight.copy())
    eps = 1e-6
    for index in [(0, 0, 0), (0, 3, 1), (1, 2, 2), (1, 4, 0)]:
        xp, xm = x.copy(), x.copy()
        xp[index] += eps
        xm[index] -= eps
        numeric = (np.sum(layer.forward(xp, mask=mask) * weight)
                   - np.sum(layer.forward(xm, mask=mask) * weight)) / (2 * eps)
        np.testing.assert_allclose(grad[index], numeric, rtol=1e-7, atol=1e-10)


def test_a_masked_average_exports_to_onnx(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model, _ = text_model(dtype="float32")
    path = layerwise.export_onnx(model, tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (result,) = session.run(None, {session.get_inputs()[0].name: PADDED.astype(np.int64)
                                   if session.get_inputs()[0].type == "tensor(int64)"
                                   else PADDED.astype(np.int32)})
    np.testing.assert_allclose(result, model.predict(PADDED), rtol=1e-5, atol=1e-6)
