"""The NumPy engine of layerwise.sklearn: its gradients against central finite differences of
its own loss, for every hidden activation, loss, sample weights, L2 and dropout."""

import numpy as np
import pytest

from layerwise.sklearn._engine import Layout, Network, predict_output
from layerwise.sklearn._params import activation_names

LOSSES = [("log_loss", "softmax", 3), ("binary_log_loss", "logistic", 2),
          ("squared_error", "identity", 1), ("poisson", "exp", 2)]


def problem(loss, k, seed=0, n=7):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    if loss == "log_loss":
        y = np.eye(k)[rng.integers(0, k, n)]
    elif loss == "binary_log_loss":
        y = rng.integers(0, 2, (n, k)).astype(float)
    else:
        y = rng.uniform(0.5, 2.0, (n, k))
    return x, y, rng.uniform(0.5, 2.0, n), rng


def numerical_gradient(network, loss_of, h=1e-6):
    params = network.params
    result = np.zeros_like(params)
    for i in range(params.size):
        old = params[i]
        params[i] = old + h
        plus = loss_of()
        params[i] = old - h
        minus = loss_of()
        params[i] = old
        result[i] = (plus - minus) / (2 * h)
    return result


@pytest.mark.parametrize("activation", activation_names())
@pytest.mark.parametrize("loss, out_activation, k", LOSSES)
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_differences(activation, loss, out_activation, k, weighted):
    x, y, weights, rng = problem(loss, k)
    layout = Layout([4, 5, 3, k])
    params = rng.normal(size=layout.size) * 0.5
    network = Network(layout, params, activation, out_activation, loss, alpha=0.3)
    sw = weights if weighted else None
    network.loss_and_gradient(x, y, sw)
    analytic = network.grad.copy()
    numeric = numerical_gradient(network, lambda: network.loss_and_gradient(x, y, sw))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_squared_error_gradient_sums_over_outputs_as_scikit_learn():
    # scikit-learn's loss averages the squared error over outputs but its gradient,
    # (output - y) / n, is that of the sum: with k outputs the data gradient is k times the
    # loss's. Kept as it is, so that the same network is trained.
    x, y, _, rng = problem("squared_error", 3)
    layout = Layout([4, 5, 3])
    params = rng.normal(size=layout.size) * 0.5
    network = Network(layout, params, "tanh", "identity", "squared_error", alpha=0.0)
    network.loss_and_gradient(x, y)
    analytic = network.grad.copy()
    numeric = numerical_gradient(network, lambda: network.loss_and_gradient(x, y))
    np.testing.assert_allclose(analytic, 3 * numeric, rtol=1e-5, atol=1e-7)


def test_dropout_gradient_matches_finite_differences_with_fixed_masks():
    x, y, _, rng = problem("log_loss", 3)
    layout = Layout([4, 6, 5, 3])
    params = rng.normal(size=layout.size) * 0.5
    network = Network(layout, params, "tanh", "softmax", "log_loss", alpha=0.1, dropout=0.4)

    def loss():
        network.rng = np.random.default_rng(7)  # the same masks at every evaluation
        return network.loss_and_gradient(x, y)

    loss()
    analytic = network.grad.copy()
    masks = [m[: len(x)].copy() for m in network._mask]
    assert all(set(np.unique(m)) <= {0.0, 1 / 0.6} for m in masks)
    assert any((m == 0).any() for m in masks)
    numeric = numerical_gradient(network, loss)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_predict_output_in_chunks_equals_the_training_forward_pass():
    x, y, _, rng = problem("log_loss", 3, n=50)
    layout = Layout([4, 8, 3])
    params = rng.normal(size=layout.size)
    network = Network(layout, params, "relu", "softmax", "log_loss", alpha=0.0)
    expected = network.forward(x).copy()
    coefs, intercepts = layout.views(params)
    for chunk in (1, 7, 50, 4096):
        np.testing.assert_allclose(
            predict_output(coefs, intercepts, x, "relu", "softmax", chunk=chunk), expected,
            rtol=1e-13, atol=1e-15,
        )
    # an independent NumPy forward pass
    hidden = np.maximum(x @ coefs[0] + intercepts[0], 0)
    logits = hidden @ coefs[1] + intercepts[1]
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(expected, probabilities, rtol=1e-12)


@pytest.mark.parametrize("activation", ["gelu", "elu", "logistic", "relu"])
@pytest.mark.parametrize("loss, out_activation, k", LOSSES)
def test_loss_and_gradient_match_pytorch_float64(activation, loss, out_activation, k):
    torch = pytest.importorskip("torch")
    x, y, weights, rng = problem(loss, k, seed=3, n=9)
    layout = Layout([4, 6, 5, k])
    params = rng.normal(size=layout.size) * 0.5
    alpha = 0.2
    network = Network(layout, params, activation, out_activation, loss, alpha=alpha)
    value = network.loss_and_gradient(x, y, weights)

    # The same loss written in PyTorch: scikit-learn's data term, weighted by sample, plus
    # 0.5 * alpha * |W|^2 / sum(w); autograd gives the reference gradient.
    theta = torch.tensor(params, dtype=torch.float64, requires_grad=True)
    coefs = [theta[s:e].reshape(shape) for s, e, shape in layout.coef_slices]
    intercepts = [theta[s:e] for s, e in layout.intercept_slices]
    hidden = {"gelu": torch.nn.functional.gelu, "elu": torch.nn.functional.elu,
              "logistic": torch.sigmoid, "relu": torch.relu}[activation]
    a = torch.tensor(x)
    for i, (w, b) in enumerate(zip(coefs, intercepts)):
        a = a @ w + b
        if i < len(coefs) - 1:
            a = hidden(a)
    t, sw = torch.tensor(y), torch.tensor(weights)
    if loss == "log_loss":
        per_sample = -(t * torch.log_softmax(a, dim=1)).sum(1)
    elif loss == "binary_log_loss":
        per_sample = torch.nn.functional.binary_cross_entropy_with_logits(
            a, t, reduction="none").sum(1)
    elif loss == "squared_error":
        per_sample = 0.5 * ((a - t) ** 2).mean(1)
    else:  # half Poisson deviance with log link, summed over outputs
        per_sample = (torch.xlogy(t, t) - t * a - t + torch.exp(a)).sum(1)
    penalty = sum((w**2).sum() for w in coefs)
    reference = (sw * per_sample).sum() / sw.sum() + 0.5 * alpha * penalty / sw.sum()
    reference.backward()
    assert value == pytest.approx(reference.item(), rel=1e-10)
    np.testing.assert_allclose(network.grad, theta.grad.numpy(), rtol=1e-8, atol=1e-12)
