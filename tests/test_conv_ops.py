"""The convolution and pooling kernels (layerwise.ops) against PyTorch in float64, to 1e-10,
over a grid of kernel sizes, strides, paddings and dilations, plus finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from layerwise.ops import (
    Workspace,
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_forward,
    conv_geometry,
    conv_output_length,
    global_pool_backward,
    global_pool_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    padding_amounts,
)
from layerwise.ops import conv as conv_module

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOLERANCE = 1e-10


def tf_same_padding(length, window, stride, dilation):
    """TensorFlow's documented rule, written out here independently of layerwise.ops."""
    effective = (window - 1) * dilation + 1
    out = (length + stride - 1) // stride
    total = max((out - 1) * stride + effective - length, 0)
    return total // 2, total - total // 2


def torch_nchw(x):
    return torch.from_numpy(x).permute(0, 3, 1, 2)


def torch_pads(height, width, kernel, strides, dilation, padding):
    if padding == "valid":
        return (0, 0, 0, 0)
    top, bottom = tf_same_padding(height, kernel[0], strides[0], dilation[0])
    left, right = tf_same_padding(width, kernel[1], strides[1], dilation[1])
    return (left, right, top, bottom)  # F.pad's order: last axis first


def reference_conv(x, kernel, bias, strides, dilation, padding, error):
    """Output and gradients (input, kernel, bias) by PyTorch autograd, in NHWC/Keras layouts."""
    xt = torch_nchw(x).clone().requires_grad_(True)
    wt = torch.from_numpy(kernel).permute(3, 2, 0, 1).clone().requires_grad_(True)
    bt = torch.from_numpy(bias).clone().requires_grad_(True)
    pads = torch_pads(x.shape[1], x.shape[2], kernel.shape[:2], strides, dilation, padding)
    y = F.conv2d(F.pad(xt, pads), wt, bt, stride=strides, dilation=dilation)
    (y * torch_nchw(error)).sum().backward()
    return (
        y.detach().permute(0, 2, 3, 1).numpy(),
        xt.grad.permute(0, 2, 3, 1).numpy(),
        wt.grad.permute(2, 3, 1, 0).numpy(),
        bt.grad.numpy(),
    )


CONV_GRID = [
    (kernel, strides, dilation, padding, channels)
    for kernel, strides, dilation, padding, channels in itertools.product(
        [(1, 1), (2, 3), (3, 3), (5, 2)],
        [(1, 1), (2, 2), (1, 3)],
        [(1, 1), (2, 1), (2, 2)],
        ["valid", "same"],
        [1, 3, 8],
    )
]


def test_output_length_and_padding_follow_tensorflow():
    # Worked examples: 'same' gives ceil(input / stride) and puts the odd pixel after.
    assert conv_output_length(28, 3, 1, 1, "valid") == 26
    assert conv_output_length(28, 3, 2, 1, "valid") == 13
    assert conv_output_length(28, 3, 2, 1, "same") == 14
    assert conv_output_length(7, 3, 1, 2, "valid") == 3
    assert padding_amounts(5, 2, 2, 1, "same") == (0, 1)
    assert padding_amounts(4, 4, 1, 1, "same") == (1, 2)
    assert padding_amounts(7, 3, 1, 3, "same") == (3, 3)
    assert padding_amounts(9, 3, 3, 1, "same") == (0, 0)
    for length, window, stride, dilation in itertools.product(
        range(1, 12), range(1, 6), range(1, 4), range(1, 3)
    ):
        assert padding_amounts(length, window, stride, dilation, "same") == tf_same_padding(
            length, window, stride, dilation
        )


@pytest.mark.parametrize("kernel,strides,dilation,padding,channels", CONV_GRID)
def test_conv2d_matches_torch(kernel, strides, dilation, padding, channels):
    rng = np.random.default_rng(CONV_GRID.index((kernel, strides, dilation, padding, channels)))
    height, width, filters = 9, 11, 4
    try:
        geometry = conv_geometry((height, width), channels, kernel, strides, dilation, padding)
    except ValueError:
        assert padding == "valid"
        fits = [(k - 1) * d + 1 <= size for k, d, size in zip(kernel, dilation, (height, width))]
        assert not all(fits)
        return
    x = rng.standard_normal((3, height, width, channels))
    w = rng.standard_normal((*kernel, channels, filters))
    b = rng.standard_normal(filters)
    error = rng.standard_normal((3, *geometry.output_size, filters))
    expected = reference_conv(x, w, b, strides, dilation, padding, error)
    workspace = Workspace()
    y, cols = conv2d_forward(x, w, b, geometry, workspace)
    np.testing.assert_allclose(y, expected[0], rtol=0, atol=TOLERANCE)
    grad_w, grad_b = np.empty_like(w), np.empty_like(b)
    dx = conv2d_backward(error.copy(), cols, w, geometry, workspace, grad_w, grad_b)
    np.testing.assert_allclose(dx, expected[1], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(grad_w, expected[2], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(grad_b, expected[3], rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 2)])
def test_input_gradient_without_blas_equals_the_blas_path(monkeypatch, padding, dilation):
    rng = np.random.default_rng(3)
    geometry = conv_geometry((8, 10), 5, (3, 2), (1, 1), dilation, padding)
    x = rng.standard_normal((4, 8, 10, 5))
    w = rng.standard_normal((3, 2, 5, 6))
    error = rng.standard_normal((4, *geometry.output_size, 6))
    _, cols = conv2d_forward(x, w, None, geometry, Workspace())
    fast = conv2d_backward(error.copy(), cols, w, geometry, Workspace(), np.empty_like(w), None)
    monkeypatch.setattr(conv_module, "blas_available", lambda dtype: False)
    slow = conv2d_backward(error.copy(), cols, w, geometry, Workspace(), np.empty_like(w), None)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=TOLERANCE)


def test_workspace_reuse_across_batch_sizes_gives_fresh_results():
    # A larger batch first, then smaller ones: sliced buffers must not leak earlier values.
    rng = np.random.default_rng(4)
    geometry = conv_geometry((6, 6), 2, (3, 3), (1, 1), (1, 1), "same")
    w, b = rng.standard_normal((3, 3, 2, 3)), rng.standard_normal(3)
    workspace = Workspace()
    for n in (5, 2, 5, 1):
        x = rng.standard_normal((n, 6, 6, 2))
        error = rng.standard_normal((n, 6, 6, 3))
        y, cols = conv2d_forward(x, w, b, geometry, workspace)
        gw, gb = np.empty_like(w), np.empty_like(b)
        dx = conv2d_backward(error.copy(), cols, w, geometry, workspace, gw, gb)
        expected = reference_conv(x, w, b, (1, 1), (1, 1), "same", error)
        for got, want in zip((y, dx, gw, gb), expected):
            np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)


def test_inference_blocks_equal_one_pass(monkeypatch):
    rng = np.random.default_rng(5)
    geometry = conv_geometry((7, 7), 3, (3, 3), (2, 2), (1, 1), "same")
    x, w, b = rng.standard_normal((9, 7, 7, 3)), rng.standard_normal((3, 3, 3, 4)), np.ones(4)
    whole, _ = conv2d_forward(x, w, b, geometry, Workspace())
    monkeypatch.setattr(conv_module, "_INFERENCE_BLOCK_VALUES", 2 * 16 * 28)  # 2 samples
    blocked, cols = conv2d_forward(x, w, b, geometry, Workspace(), keep_columns=False)
    assert cols is None
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=TOLERANCE)


def test_conv2d_gradients_match_finite_differences():
    rng = np.random.default_rng(6)
    geometry = conv_geometry((5, 6), 2, (3, 2), (2, 1), (1, 2), "same")
    x, w = rng.standard_normal((2, 5, 6, 2)), rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)
    error = rng.standard_normal((2, *geometry.output_size, 3))

    def loss(x_, w_, b_):
        return float((conv2d_forward(x_, w_, b_, geometry, Workspace())[0] * error).sum())

    _, cols = conv2d_forward(x, w, b, geometry, Workspace())
    gw, gb = np.empty_like(w), np.empty_like(b)
    dx = conv2d_backward(error.copy(), cols, w, geometry, Workspace(), gw, gb)
    step = 1e-6
    for array, gradient, index in ((x, dx, (1, 2, 3, 0)), (w, gw, (2, 1, 1, 2)), (b, gb, (1,))):
        plus, minus = array.copy(), array.copy()
        plus[index] += step
        minus[index] -= step
        args_plus = [plus if a is array else a for a in (x, w, b)]
        args_minus = [minus if a is array else a for a in (x, w, b)]
        numeric = (loss(*args_plus) - loss(*args_minus)) / (2 * step)
        assert abs(numeric - gradient[index]) < 1e-7


def test_float32_forward_and_backward_keep_float32():
    rng = np.random.default_rng(7)
    geometry = conv_geometry((6, 6), 3, (3, 3))
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b = np.zeros(4, np.float32)
    y, cols = conv2d_forward(x, w, b, geometry, Workspace())
    gw, gb = np.empty_like(w), np.empty_like(b)
    dx = conv2d_backward(np.ones_like(y), cols, w, geometry, Workspace(), gw, gb)
    assert y.dtype == dx.dtype == gw.dtype == np.float32
    expected = reference_conv(*(a.astype(np.float64) for a in (x, w, b)), (1, 1), (1, 1),
                              "valid", np.ones(y.shape))
    np.testing.assert_allclose(y, expected[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, expected[1], rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------ pooling
POOL_GRID = list(
    itertools.product(
        [(2, 2), (3, 3), (2, 3), (1, 2)],
        [None, (1, 1), (2, 1), (3, 3)],
        ["valid", "same"],
        [(7, 8), (8, 8)],
    )
)


def pool_geometry(size, pool, strides, padding, channels=3):
    return conv_geometry(size, channels, pool, strides or pool, (1, 1), padding)


def reference_pool(mode, x, pool, strides, padding, error):
    strides = strides or pool
    xt = torch_nchw(x).clone().requires_grad_(True)
    pads = torch_pads(x.shape[1], x.shape[2], pool, strides, (1, 1), padding)
    if mode == "max":
        y = F.max_pool2d(F.pad(xt, pads, value=-np.inf), pool, strides)
    else:  # sums of real elements over counts of real elements: padding not counted
        sums = F.avg_pool2d(F.pad(xt, pads), pool, strides, divisor_override=1)
        ones = F.pad(torch.ones_like(xt[:1, :1]), pads)
        y = sums / F.avg_pool2d(ones, pool, strides, divisor_override=1)
    (y * torch_nchw(error)).sum().backward()
    return y.detach().permute(0, 2, 3, 1).numpy(), xt.grad.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("pool,strides,padding,size", POOL_GRID)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_matches_torch(mode, pool, strides, padding, size):
    rng = np.random.default_rng(8)
    geometry = pool_geometry(size, pool, strides, padding)
    x = rng.standard_normal((2, *size, 3))
    error = rng.standard_normal((2, *geometry.output_size, 3))
    y_ref, dx_ref = reference_pool(mode, x, pool, strides, padding, error)
    workspace = Workspace()
    if mode == "max":
        y = max_pool2d_forward(x, geometry, workspace)
        dx = max_pool2d_backward(error.copy(), x, y, geometry, workspace)
    else:
        y = avg_pool2d_forward(x, geometry, workspace)
        dx = avg_pool2d_backward(error.copy(), geometry, workspace)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(
    "pool,strides",
    [((2, 2), None), ((3, 3), None), ((2, 3), None), ((3, 3), (1, 1)), ((2, 2), (2, 1))],
)
def test_max_pool_gradient_goes_to_the_first_maximum_like_torch(pool, strides):
    # Ties everywhere: integers 0-2, so most windows hold several equal maxima.
    rng = np.random.default_rng(9)
    x = rng.integers(0, 3, (2, 6, 6, 2)).astype(np.float64)
    geometry = pool_geometry((6, 6), pool, strides, "valid", channels=2)
    error = rng.standard_normal((2, *geometry.output_size, 2))
    y_ref, dx_ref = reference_pool("max", x, pool, strides, "valid", error)
    workspace = Workspace()
    y = max_pool2d_forward(x, geometry, workspace)
    dx = max_pool2d_backward(error.copy(), x, y, geometry, workspace)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=0)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=TOLERANCE)
    # A constant window gives everything to its top-left element.
    constant = np.ones((1, 2, 2, 1))
    g = pool_geometry((2, 2), (2, 2), None, "valid", channels=1)
    grad = max_pool2d_backward(np.ones((1, 1, 1, 1)), constant,
                               max_pool2d_forward(constant, g, Workspace()), g, Workspace())
    assert grad[0, :, :, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_pooling_with_a_reused_workspace_and_smaller_batches():
    rng = np.random.default_rng(10)
    geometry = pool_geometry((7, 7), (3, 3), (2, 2), "same")
    workspace = Workspace()
    for n in (4, 1, 3):
        x = rng.standard_normal((n, 7, 7, 3))
        error = rng.standard_normal((n, *geometry.output_size, 3))
        for mode in ("max", "avg"):
            y_ref, dx_ref = reference_pool(mode, x, (3, 3), (2, 2), "same", error)
            if mode == "max":
                y = max_pool2d_forward(x, geometry, workspace)
                dx = max_pool2d_backward(error.copy(), x, y, geometry, workspace)
            else:
                y = avg_pool2d_forward(x, geometry, workspace)
                dx = avg_pool2d_backward(error.copy(), geometry, workspace)
            np.testing.assert_allclose(y, y_ref, rtol=0, atol=TOLERANCE)
            np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("shape", [(3, 7, 4), (2, 5, 6, 3)])
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_global_pooling_matches_torch(mode, shape):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape)
    error = rng.standard_normal((shape[0], shape[-1]))
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    flat = xt.reshape(shape[0], -1, shape[-1]).transpose(1, 2)  # (n, channels, positions)
    if mode == "avg":
        y_ref = flat.mean(dim=2)
    else:  # adaptive max pooling: the gradient goes to one (the first) maximum
        y_ref = F.adaptive_max_pool1d(flat, 1)[:, :, 0]
    (y_ref * torch.from_numpy(error)).sum().backward()
    y = global_pool_forward(x, mode)
    dx = global_pool_backward(error, x, mode)
    np.testing.assert_allclose(y, y_ref.detach().numpy(), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOLERANCE)


def test_global_max_gradient_goes_to_the_first_maximum():
    x = np.array([[[1.0], [3.0], [3.0], [2.0]]])  # (1, 4 steps, 1 channel)
    grad = global_pool_backward(np.array([[5.0]]), x, "max")
    assert grad[0, :, 0].tolist() == [0.0, 5.0, 0.0, 0.0]


@pytest.mark.parametrize("pool", [(2, 2), (3, 2)])
def test_max_pool_backward_after_an_inference_forward_still_matches_torch(pool):
    # Without kept choices (an inference-mode forward), the backward pass works them out.
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 7, 6, 2))
    geometry = pool_geometry((7, 6), pool, None, "valid", channels=2)
    error = rng.standard_normal((3, *geometry.output_size, 2))
    workspace = Workspace()
    max_pool2d_forward(x, geometry, workspace)  # keeps choices ...
    y = max_pool2d_forward(x[::-1].copy(), geometry, workspace, keep_choices=False)  # ... gone
    y = max_pool2d_forward(x, geometry, workspace, keep_choices=False)
    dx = max_pool2d_backward(error.copy(), x, y, geometry, workspace)
    _, dx_ref = reference_pool("max", x, pool, None, "valid", error)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=TOLERANCE)
