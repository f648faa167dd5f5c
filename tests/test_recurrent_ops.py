"""The recurrent kernels against PyTorch (float64, 1e-10), finite differences and masking."""

import numpy as np
import pytest

from layerwise.ops import recurrent as R
from layerwise.ops import strided_blas

torch = pytest.importorskip("torch")

N, T, F, U = 5, 7, 4, 3


def _keras_to_torch(cell, a):
    """Keras' gate blocks (last axis) in PyTorch's order: LSTM i f c o = i f g o; GRU z r h ->
    r z n."""
    if cell == "gru":
        return np.concatenate([a[..., U:2 * U], a[..., :U], a[..., 2 * U:]], axis=-1)
    return a


def _weights(cell, rng):
    k = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    kernel = rng.standard_normal((F, k * U)) * 0.5
    recurrent = rng.standard_normal((U, k * U)) * 0.5
    bias = rng.standard_normal((2, k * U) if cell == "gru" else (k * U,)) * 0.5
    return kernel, recurrent, bias


def _torch_module(cell, kernel, recurrent, bias, bidirectional=False, weights2=None):
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    module = cls(F, U, batch_first=True, bidirectional=bidirectional).double()
    sets = [("", (kernel, recurrent, bias))]
    if bidirectional:
        sets.append(("_reverse", weights2))
    with torch.no_grad():
        for suffix, (k, r, b) in sets:
            getattr(module, "weight_ih_l0" + suffix).copy_(torch.tensor(_keras_to_torch(cell, k).T))
            getattr(module, "weight_hh_l0" + suffix).copy_(torch.tensor(_keras_to_torch(cell, r).T))
            b_ih, b_hh = (b[0], b[1]) if cell == "gru" else (b, np.zeros_like(b))
            getattr(module, "bias_ih_l0" + suffix).copy_(torch.tensor(_keras_to_torch(cell, b_ih)))
            getattr(module, "bias_hh_l0" + suffix).copy_(torch.tensor(_keras_to_torch(cell, b_hh)))
    return module


def _run(cell, x, weights, output_error=None, **options):
    forward = {"rnn": R.simple_rnn_forward, "lstm": R.lstm_forward, "gru": R.gru_forward}[cell]
    backward = {"rnn": R.simple_rnn_backward, "lstm": R.lstm_backward, "gru": R.gru_backward}[cell]
    out, cache = forward(x, *weights, training=True, **options)
    if output_error is None:
        return out
    grads = [np.full_like(w, np.nan) for w in weights]
    dx = backward(cache, output_error.copy(), *grads)
    return out, dx, grads


CELLS = ["rnn", "lstm", "gru"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_forward_and_gradients_equal_pytorch(cell, return_sequences, go_backwards):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, T, F))
    weights = _weights(cell, rng)
    gy = rng.standard_normal((N, T, U) if return_sequences else (N, U))
    out, dx, grads = _run(cell, x, weights, gy, return_sequences=return_sequences,
                          go_backwards=go_backwards)
    module = _torch_module(cell, *weights)
    xt = torch.tensor(x[:, ::-1].copy() if go_backwards else x, requires_grad=True)
    yt = module(xt)[0]
    yt = yt if return_sequences else yt[:, -1]
    (yt * torch.tensor(gy)).sum().backward()
    expected_dx = xt.grad.numpy()[:, ::-1] if go_backwards else xt.grad.numpy()
    np.testing.assert_allclose(out, yt.detach().numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(dx, expected_dx, atol=1e-10, rtol=0)
    np.testing.assert_allclose(grads[0], _keras_to_torch(cell, module.weight_ih_l0.grad.numpy().T),
                               atol=1e-10, rtol=0)
    np.testing.assert_allclose(grads[1], _keras_to_torch(cell, module.weight_hh_l0.grad.numpy().T),
                               atol=1e-10, rtol=0)
    bias_grad = _keras_to_torch(cell, module.bias_ih_l0.grad.numpy())
    if cell == "gru":
        np.testing.assert_allclose(grads[2][0], bias_grad, atol=1e-10, rtol=0)
        recurrent_bias = _keras_to_torch(cell, module.bias_hh_l0.grad.numpy())
        np.testing.assert_allclose(grads[2][1], recurrent_bias, atol=1e-10, rtol=0)
    else:
        np.testing.assert_allclose(grads[2], bias_grad, atol=1e-10, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_pair_equals_pytorch_bidirectional(cell):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, T, F))
    forward_w, backward_w = _weights(cell, rng), _weights(cell, rng)
    gy = rng.standard_normal((N, T, 2 * U))
    out_f, dx_f, grads_f = _run(cell, x, forward_w, gy[..., :U], return_sequences=True)
    # The backward layer's sequence comes out last step first; flipped back to align (Keras).
    out_b, dx_b, grads_b = _run(cell, x, backward_w, gy[:, ::-1, U:], return_sequences=True,
                                go_backwards=True)
    module = _torch_module(cell, *forward_w, bidirectional=True, weights2=backward_w)
    xt = torch.tensor(x, requires_grad=True)
    yt = module(xt)[0]
    (yt * torch.tensor(gy)).sum().backward()
    np.testing.assert_allclose(np.concatenate([out_f, out_b[:, ::-1]], -1), yt.detach().numpy(),
                               atol=1e-10, rtol=0)
    np.testing.assert_allclose(dx_f + dx_b, xt.grad.numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(
        grads_b[1], _keras_to_torch(cell, module.weight_hh_l0_reverse.grad.numpy().T), atol=1e-10)


def _numeric_gradient(loss, array, eps=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + eps
        plus = loss()
        array[index] = old - eps
        minus = loss()
        array[index] = old
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("cell,options", [
    ("rnn", {}), ("lstm", {}), ("gru", {}), ("gru", {"reset_after": False}),
    ("lstm", {"activation": "relu", "recurrent_activation": "tanh"}),
    ("gru", {"reset_after": False, "go_backwards": True}),
])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_equal_finite_differences_with_dropout_masks(cell, options, return_sequences):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, F))
    weights = list(_weights(cell, rng))
    if options.get("reset_after") is False:
        weights[2] = weights[2][0]
    drop_in = (rng.random((3, F)) > 0.3) / 0.7
    drop_rec = (rng.random((3, U)) > 0.3) / 0.7
    options = dict(options, return_sequences=return_sequences, input_dropout_mask=drop_in,
                   recurrent_dropout_mask=drop_rec)
    gy = rng.standard_normal((3, 4, U) if return_sequences else (3, U))
    _, dx, grads = _run(cell, x, weights, gy, **options)

    def loss():
        return float((_run(cell, x, weights, **options) * gy).sum())

    np.testing.assert_allclose(dx, _numeric_gradient(loss, x), atol=1e-7)
    for weight, grad in zip(weights, grads):
        np.testing.assert_allclose(grad, _numeric_gradient(loss, weight), atol=1e-7)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_right_padded_batch_equals_each_sequence_alone(cell, go_backwards):
    rng = np.random.default_rng(4)
    lengths = [7, 3, 5, 1]
    x = rng.standard_normal((len(lengths), T, F))
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    x[~mask] = 99.0  # padding values must not matter
    weights = _weights(cell, rng)
    gy = rng.standard_normal((len(lengths), U))
    out, dx, grads = _run(cell, x, weights, gy, mask=mask, go_backwards=go_backwards)
    totals = [np.zeros_like(w) for w in weights]
    for j, length in enumerate(lengths):
        o, d, g = _run(cell, x[j:j + 1, :length], weights, gy[j:j + 1],
                       go_backwards=go_backwards)
        np.testing.assert_allclose(out[j], o[0], atol=1e-12)
        np.testing.assert_allclose(dx[j, :length], d[0], atol=1e-12)
        assert np.all(dx[j, length:] == 0)
        for total, grad in zip(totals, g):
            total += grad
    for total, grad in zip(totals, grads):
        np.testing.assert_allclose(grad, total, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_masked_sequences_keep_output_or_zero_it(cell):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, F))
    mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], bool)
    weights = _weights(cell, rng)
    kept = _run(cell, x, weights, mask=mask, return_sequences=True)
    np.testing.assert_array_equal(kept[0, 2], kept[0, 1])
    np.testing.assert_array_equal(kept[0, 4], kept[0, 3])
    zeroed = _run(cell, x, weights, mask=mask, return_sequences=True, zero_output_for_mask=True)
    np.testing.assert_array_equal(zeroed[0, 2], 0.0)
    np.testing.assert_allclose(zeroed[0, 3], kept[0, 3])


@pytest.mark.parametrize("cell", CELLS)
def test_blas_path_and_numpy_fallback_agree(cell, monkeypatch):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    weights = [w.astype(np.float32) for w in _weights(cell, rng)]
    gy = rng.standard_normal((N, T, U)).astype(np.float32)
    fast = _run(cell, x, weights, gy, return_sequences=True)
    monkeypatch.setattr(strided_blas, "FORCE_NUMPY", True)
    slow = _run(cell, x, weights, gy, return_sequences=True)
    np.testing.assert_allclose(fast[0], slow[0], atol=1e-5)
    np.testing.assert_allclose(fast[1], slow[1], atol=1e-5)
    for a, b in zip(fast[2], slow[2]):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert fast[0].dtype == np.float32


def test_activation_that_needs_its_input_is_refused():
    rng = np.random.default_rng(7)
    with pytest.raises(ValueError, match="activation"):
        R.simple_rnn_forward(rng.standard_normal((1, 2, F)), *_weights("rnn", rng),
                             activation="gelu")
