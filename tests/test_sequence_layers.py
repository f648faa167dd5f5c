"""The sequence layers in models: Keras' layouts, integer inputs, masks (layers, losses,
metrics), PyTorch equality, saving, checkpoints, generators and several-input graphs."""

import numpy as np
import pytest

import layerwise
from layerwise import (
    GRU,
    LSTM,
    Bidirectional,
    Concatenate,
    Dense,
    Embedding,
    Input,
    LayerNormalization,
    Masking,
    Model,
    SimpleRNN,
)
from layerwise.callbacks import ModelCheckpoint

torch = pytest.importorskip("torch")


def _text_model(cell=LSTM, mask_zero=False, **options):
    layerwise.set_seed(0)
    ids = Input((6,), dtype="int32")
    encoded = cell(4, **options)(Embedding(12, 3, mask_zero=mask_zero)(ids))
    return Model(ids, Dense(1, activation="sigmoid")(encoded))


# ------------------------------------------------------------------ Embedding, integer inputs
def test_out_of_range_id_is_refused_naming_layer_id_and_input_dim_before_any_change():
    model = _text_model()
    model.compile(loss_fn="binary_crossentropy", optimizer="adam")
    before = [w.copy() for w in model.get_weights()]
    x = np.ones((4, 6), np.int32)
    x[2, 3] = 12
    with pytest.raises(ValueError, match=r"embedding_\d+.*id 12.*input_dim.*12"):
        model.fit(x, np.ones(4), epochs=1, verbose=0)
    x[2, 3] = -1
    with pytest.raises(ValueError, match="id -1"):
        model.train_on_batch(x, np.ones(4))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_integer_input_reaches_the_embedding_as_integers_and_fractions_are_refused():
    model = _text_model()
    model.compile(loss_fn="binary_crossentropy")
    model.predict(np.arange(12).reshape(2, 6) % 12)
    embedding = model.layers[1]
    assert embedding.ids.dtype.kind == "i"
    assert model._input_arrays(np.zeros((1, 6)), "x")[0].dtype == np.int32
    with pytest.raises(ValueError, match="not whole"):
        model.predict(np.full((1, 6), 1.5))


def test_embedding_gradient_is_the_scatter_add_of_repeated_ids_as_pytorch():
    layer = Embedding(5, 3)
    layer.build((4,))
    layer.set_dtype("float64")
    ids = np.array([[1, 1, 4, 0], [4, 4, 4, 2]])
    error = np.random.default_rng(0).normal(size=(2, 4, 3))
    layer.training = True
    layer.forward(ids)
    layer._backward(error.copy())
    reference = torch.nn.Embedding(5, 3).double()
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(layer.embeddings))
    (reference(torch.tensor(ids)) * torch.tensor(error)).sum().backward()
    np.testing.assert_allclose(layer.grad_embeddings, reference.weight.grad.numpy(), atol=1e-14)
    assert np.all(layer.grad_embeddings[3] == 0)


# ------------------------------------------------------------------------- Keras layouts
@pytest.mark.parametrize("cell,k", [(SimpleRNN, 1), (LSTM, 4), (GRU, 3)])
def test_weights_in_keras_layout_and_order(cell, k):
    layer = cell(5)
    layer(Input((7, 3)))
    shapes = [w.shape for w in layer.parameters().values()]
    bias = (2, 15) if cell is GRU else (5 * k,)
    assert shapes == [(3, 5 * k), (5, 5 * k), bias]
    if cell is LSTM:  # unit_forget_bias: the forget block starts at 1, the rest at 0
        np.testing.assert_array_equal(layer.bias[5:10], 1.0)
        assert np.all(layer.bias[:5] == 0) and np.all(layer.bias[10:] == 0)
    q = layer.recurrent_kernel.astype(np.float64)
    if cell is SimpleRNN:  # orthogonal by default
        np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-5)
    if cell is GRU:
        other = GRU(2, reset_after=False)
        other.build((4, 3))
        assert other.bias.shape == (6,)


def test_return_state_and_stateful_are_refused_clearly():
    with pytest.raises(ValueError, match="return_state.*not supported"):
        LSTM(3, return_state=True)
    with pytest.raises(ValueError, match="stateful"):
        GRU(3, stateful=True)
    with pytest.raises(ValueError, match="'dropout'"):
        LSTM(3, dropout=1.0)


def test_keras_layout_weights_predict_like_pytorch_bidirectional_lstm():
    layerwise.set_seed(1)
    inputs = Input((5, 3))
    outputs = Bidirectional(LSTM(4, return_sequences=True))(inputs)
    model = Model(inputs, outputs)
    model.compile(loss_fn="mse", dtype="float64")
    reference = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    weights = model.get_weights()  # forward kernel, recurrent, bias; then backward's
    with torch.no_grad():
        for suffix, (k, r, b) in (("", weights[:3]), ("_reverse", weights[3:])):
            getattr(reference, "weight_ih_l0" + suffix).copy_(torch.tensor(k.T))
            getattr(reference, "weight_hh_l0" + suffix).copy_(torch.tensor(r.T))
            getattr(reference, "bias_ih_l0" + suffix).copy_(torch.tensor(b))
            getattr(reference, "bias_hh_l0" + suffix).zero_()
    x = np.random.default_rng(2).normal(size=(6, 5, 3))
    np.testing.assert_allclose(model.predict(x), reference(torch.tensor(x))[0].detach().numpy(),
                               atol=1e-12)


def test_layer_normalization_equals_pytorch():
    layer = LayerNormalization(epsilon=1e-3)
    layer.build((4, 6))
    layer.set_dtype("float64")
    rng = np.random.default_rng(3)
    layer.gamma[...] = rng.normal(size=6)
    layer.beta[...] = rng.normal(size=6)
    x = rng.normal(size=(2, 4, 6)) * 3 + 1
    error = rng.normal(size=x.shape)
    layer.training = True
    out = layer.forward(x)
    dx = layer._backward(error.copy())
    reference = torch.nn.LayerNorm(6, eps=1e-3).double()
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(layer.gamma))
        reference.bias.copy_(torch.tensor(layer.beta))
    xt = torch.tensor(x, requires_grad=True)
    yt = reference(xt)
    (yt * torch.tensor(error)).sum().backward()
    np.testing.assert_allclose(out, yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.grad_gamma, reference.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.grad_beta, reference.bias.grad.numpy(), atol=1e-12)


# -------------------------------------------------------------------------------- masks
@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU])
def test_mask_zero_padding_predicts_like_the_unpadded_sequences(cell):
    model = _text_model(cell, mask_zero=True)
    model.compile(loss_fn="binary_crossentropy", dtype="float64")
    rng = np.random.default_rng(4)
    lengths = [6, 2, 4]
    x = np.zeros((3, 6), np.int64)
    for j, n in enumerate(lengths):
        x[j, :n] = rng.integers(1, 12, n)
    padded = model.predict(x)
    for j, n in enumerate(lengths):  # the same weights on an unpadded model of length n
        layerwise.set_seed(0)
        ids = Input((n,), dtype="int32")
        short = Model(ids, Dense(1, activation="sigmoid")(cell(4)(Embedding(12, 3)(ids))))
        short.compile(loss_fn="binary_crossentropy", dtype="float64")
        short.set_weights(model.get_weights())
        np.testing.assert_allclose(padded[j], short.predict(x[j:j + 1, :n])[0], atol=1e-12)


def _tagger(mask_layer):
    layerwise.set_seed(5)
    inputs = Input((5, 2))
    hidden = LSTM(3, return_sequences=True)(Masking(0.0)(inputs)) if mask_layer else \
        LSTM(3, return_sequences=True)(inputs)
    model = Model(inputs, Dense(2, activation="softmax")(hidden))
    model.compile(loss_fn="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"], dtype="float64")
    return model


def test_losses_and_metrics_over_a_masked_sequence_leave_padded_steps_out():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 5, 2))
    x[0, 3:] = 0.0
    x[2, 1:] = 0.0
    keep = np.any(x != 0, axis=-1)
    y = rng.integers(0, 2, size=(4, 5))
    model = _tagger(True)
    probabilities = model.predict(x)
    picked = probabilities[keep, y[keep]]
    logs = model.evaluate(x, y)
    np.testing.assert_allclose(logs["loss"], -np.mean(np.log(picked)), rtol=1e-12)
    np.testing.assert_allclose(logs["accuracy"],
                               np.mean(probabilities[keep].argmax(-1) == y[keep]))
    # Targets at padded steps change nothing in training.
    other = y.copy()
    other[~keep] = 1 - other[~keep]
    twin = _tagger(True)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    twin.fit(x, other, epochs=2, batch_size=4, verbose=0)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ gradient clipping
@pytest.mark.parametrize("argument", ["clipnorm", "global_clipnorm", "clipvalue"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_clipping_follows_keras_and_is_saved(argument, optimizer, tmp_path):
    cls = layerwise.optimizers.get(optimizer).__class__
    opt = cls(**{argument: 0.05})
    assert opt.get_config()[argument] == 0.05
    assert type(opt).from_config(opt.get_config()).get_config() == opt.get_config()
    grads = [np.array([[3.0, 4.0]]), np.array([0.01, -0.02])]
    clipped = opt.clip_gradients(grads)
    if argument == "clipnorm":
        expected = [grads[0] * 0.05 / 5.0, grads[1] * 0.05 / max(np.sqrt(5e-4), 0.05)]
    elif argument == "global_clipnorm":
        expected = [g * 0.05 / np.sqrt(25 + 5e-4) for g in grads]
    else:
        expected = [np.clip(g, -0.05, 0.05) for g in grads]
    for a, b in zip(clipped, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    model = _text_model()
    model.compile(loss_fn="binary_crossentropy", optimizer=opt, dtype="float64")
    model.fit(np.ones((8, 6), int), np.ones(8), epochs=1, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = layerwise.load_model(tmp_path / "m.safetensors")
    assert loaded.optimizer.get_config()[argument] == 0.05


def test_only_one_clipping_argument():
    with pytest.raises(ValueError, match="Only one of 'clipnorm', 'clipvalue'"):
        layerwise.optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="'clipvalue'"):
        layerwise.optimizers.SGD(clipvalue=-1)


def test_plain_sgd_with_clipping_leaves_its_fast_path_and_clips():
    def step(optimizer):
        layerwise.set_seed(7)
        inputs = Input((3,))
        model = Model(inputs, Dense(2)(inputs))
        model.compile(loss_fn="mse", optimizer=optimizer, dtype="float64")
        x, y = np.ones((4, 3)) * 10, np.zeros((4, 2))
        start = [w.copy() for w in model.get_weights()]
        model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        return start, model.get_weights(), model

    sgd = layerwise.optimizers.SGD(0.1, clipvalue=0.01)
    assert sgd.gradient_scale() is None
    start, end, _ = step(sgd)
    for a, b in zip(start, end):  # every gradient is far above 0.01: each step is lr * 0.01
        np.testing.assert_allclose(np.abs(a - b), 0.1 * 0.01, rtol=1e-12)


# ------------------------------------------------------------ the rest of a model's life
def test_saving_checkpoints_resume_bit_for_bit_with_dropout(tmp_path):
    rng = np.random.default_rng(8)
    x, y = rng.integers(1, 12, size=(32, 6)), rng.integers(0, 2, size=32)

    def model():
        m = _text_model(GRU, mask_zero=True, dropout=0.2, recurrent_dropout=0.2, seed=3)
        m.compile(loss_fn="binary_crossentropy", optimizer="adam")
        return m

    full = model()
    full.fit(x, y, epochs=4, batch_size=8, verbose=0)
    part = model()
    path = tmp_path / "ckpt"
    part.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[ModelCheckpoint(path)])
    resumed = model()
    resumed.fit(x, y, epochs=4, batch_size=8, verbose=0, resume_from=path)
    for a, b in zip(resumed.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_summary_generators_and_two_sequence_inputs(capsys):
    layerwise.set_seed(9)
    words, signal = Input((6,), dtype="int32", name="words"), Input((4, 2), name="signal")
    a = Bidirectional(GRU(3))(Embedding(12, 3, mask_zero=True)(words))
    b = LayerNormalization()(SimpleRNN(2)(signal))
    model = Model([words, signal], Dense(1, activation="sigmoid")(Concatenate()([a, b])))
    model.compile(loss_fn="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary()
    printed = capsys.readouterr().out
    assert "Bidirectional" in printed and "SimpleRNN" in printed
    rng = np.random.default_rng(10)

    def batches():
        for _ in range(3):
            yield ([rng.integers(0, 12, size=(5, 6)), rng.normal(size=(5, 4, 2))],
                   rng.integers(0, 2, size=5))

    history = model.fit(batches(), steps_per_epoch=3, epochs=1, verbose=0)
    assert np.isfinite(history)
    out = model.predict({"words": np.ones((2, 6), int), "signal": np.zeros((2, 4, 2))})
    assert out.shape == (2, 1) and out.dtype == np.float32


def test_the_readme_sequence_example_runs_as_written():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
                if "Embedding(10000, 64, mask_zero=True)" in b]
    namespace: dict = {}
    exec(block, namespace)
    assert namespace["probabilities"].shape == (4, 1)
    assert type(namespace["model"].layers[2]).__name__ == "Bidirectional"


def test_manual_forward_backward_honours_the_mask_like_fit():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 5, 2))
    x[1, 2:] = 0.0
    y = rng.integers(0, 2, size=(3, 5))
    model = _tagger(True)
    model.forward(x)
    model.backward(y)
    manual = [g.copy() for layer in model.layers for g in layer.gradients().values()]
    twin = _tagger(True)
    other = y.copy()
    other[1, 2:] = 1 - other[1, 2:]  # padded targets must not matter
    twin.forward(x)
    twin.backward(other)
    again = [g for layer in twin.layers for g in layer.gradients().values()]
    assert len(again) == len(manual) == 5
    for a, b in zip(again, manual):
        np.testing.assert_array_equal(a, b)
