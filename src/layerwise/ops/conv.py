"""2-D convolution (1-D is the case of height 1) on channels-last arrays, forward and backward.

Layouts are Keras': inputs ``(n, height, width, channels)``, kernels ``(kernel_h, kernel_w,
channels, filters)``, outputs ``(n, out_h, out_w, filters)``. Three matrix products through BLAS
do the work; everything else is a few whole-array copies:

- forward: the receptive fields are gathered ("im2col") into one ``(n * out_h * out_w,
  kernel_h * kernel_w * channels + 1)`` matrix by a single copy from a strided view; its last
  column is ones, so that one product with ``[kernel; bias]`` gives the output, bias included;
- kernel and bias gradients: one product of the transposed gathered matrix (kept from the
  forward pass) with the output error (the ones column yields the bias gradient);
- input gradient, stride 1: the output error is laid out in a zero-padded array as wide as the
  (padded) input, in which shifting by a kernel offset is shifting rows of a matrix, so that
  each of the ``kernel_h * kernel_w`` offsets is one product added in place into a row window
  of the input gradient (``gemm`` with ``beta = 1``). Other strides: one product into columns
  and a strided addition per kernel offset ("col2im").
"""

from __future__ import annotations

import numpy as np

from . import _conv_columns as im2col
from .gemm import blas_available, product_into
from .geometry import ConvGeometry, conv_geometry  # noqa: F401 - their home before geometry.py
from .workspace import Workspace

__all__ = ["ConvGeometry", "conv_geometry", "conv2d_forward", "conv2d_forward_few",
           "conv2d_backward", "FEW_SAMPLE_VALUES"]

# Inference gathers at most this many values at a time (64 MB in float32), in blocks of
# samples, so that predict on a large batch needs a bounded workspace.
_INFERENCE_BLOCK_VALUES = 16 * 2**20
# Inference whose gathered matrix holds at most this many values takes conv2d_forward_few.
FEW_SAMPLE_VALUES = 2**16


def _padded_input(x: np.ndarray, geometry: ConvGeometry, workspace: Workspace) -> np.ndarray:
    """``x`` itself, or ``x`` copied into the inside of a zero-bordered workspace array."""
    if not geometry.padded:
        return x
    (top, _), (left, _) = geometry.padding
    height, width = geometry.input_size
    padded = workspace.get("padded", (len(x), *geometry.padded_size, x.shape[3]), x.dtype, True)
    padded[:, top : top + height, left : left + width] = x
    return padded


def _column_width(patch: int, with_bias: bool, dtype) -> int:
    """Columns of the gathered matrix: the patch, a ones column for the bias, and, when that
    costs under 5% more, zero columns up to a multiple of 32 bytes, the row length OpenBLAS
    multiplies fastest (a few percent: 296 float32 columns against 289)."""
    width = patch + int(with_bias)
    per_32_bytes = max(1, 32 // np.dtype(dtype).itemsize)
    rounded = -(-width // per_32_bytes) * per_32_bytes
    return rounded if (rounded - width) * 20 <= width else width


def _weight_matrix(kernel, bias, width: int, workspace: Workspace) -> np.ndarray:
    """``[kernel as (patch, filters); bias; zeros]`` (``width`` rows), the right factor of
    the forward product."""
    patch = kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
    filters = kernel.shape[3]
    matrix = workspace.get("weights", (width, filters), kernel.dtype, zeros=True)
    matrix[:patch] = kernel.reshape(patch, filters)
    if bias is not None:
        matrix[patch] = bias
    return matrix


def conv2d_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    geometry: ConvGeometry,
    workspace: Workspace,
    keep_columns: bool = True,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Convolution of ``x`` ``(n, height, width, channels)`` with ``kernel`` ``(kernel_h,
    kernel_w, channels, filters)`` plus ``bias`` ``(filters,)`` (or None): cross-correlation,
    as in Keras and PyTorch.

    Args:
        x: the input array.
        kernel: the kernel, of ``x``'s dtype.
        bias: the bias, of ``x``'s dtype, or None.
        geometry: from :func:`conv_geometry`.
        workspace: where the temporaries live between calls.
        keep_columns: return the gathered columns, which :func:`conv2d_backward` needs (they
            are in ``workspace``: valid until the next call). Without it (inference) large
            batches are gathered in blocks of samples, so that the workspace stays bounded.
        out: optional ``(n, out_h, out_w, filters)`` array for the result.

    Returns:
        ``(output, columns or None)``.

    Example:
        >>> g = conv_geometry((5, 5), 1, (3, 3))
        >>> y, _ = conv2d_forward(np.ones((2, 5, 5, 1)), np.ones((3, 3, 1, 4)), None, g,
        ...                       Workspace())
        >>> y.shape, float(y[0, 0, 0, 0])
        ((2, 3, 3, 4), 9.0)
    """
    n = len(x)
    out_h, out_w = geometry.output_size
    filters = kernel.shape[3]
    if out is None:
        out = np.empty((n, out_h, out_w, filters), dtype=x.dtype)
    width = _column_width(geometry.patch_size, bias is not None, x.dtype)
    weights = _weight_matrix(kernel, bias, width, workspace)
    per_sample = out_h * out_w * width
    block = n if keep_columns else max(1, min(n, _INFERENCE_BLOCK_VALUES // per_sample))
    out_rows = out.reshape(n * out_h * out_w, filters)
    if not keep_columns and block == n:  # inference in one pass: a gather and a product
        target, left, order = im2col.one_pass_plan(n, geometry, x.dtype, width,
                                                       bias is not None, workspace)
        fields = im2col.windows(_padded_input(x, geometry, workspace), geometry)
        np.copyto(target, fields if order is None else fields.transpose(order))
        np.matmul(left, weights, out=out_rows)
        return out, None
    cols = None
    # Inference with few channels gathers transposed (_conv_columns.gather_transposed);
    # training keeps the row-major matrix that conv2d_backward reads.
    transposed = not keep_columns and geometry.channels < 8
    for start in range(0, n, block):  # one block when training: a loop over blocks, not samples
        stop = min(n, start + block)
        padded = _padded_input(x[start:stop], geometry, workspace)
        rows = slice(start * out_h * out_w, stop * out_h * out_w)
        if transposed:
            cols_t = im2col.columns_transposed(stop - start, geometry, x.dtype, width,
                                                   bias is not None, workspace)
            im2col.gather_transposed(padded, geometry, cols_t)
            np.matmul(cols_t.T, weights, out=out_rows[rows])
            continue
        cols = im2col.columns(stop - start, geometry, x.dtype, width, bias is not None, workspace)
        im2col.gather(padded, geometry, cols)
        np.matmul(cols, weights, out=out_rows[rows])
    return out, (cols if keep_columns else None)


def conv2d_forward_few(
    x: np.ndarray,
    kernel_matrix: np.ndarray,
    bias: np.ndarray | None,
    geometry: ConvGeometry,
    workspace: Workspace,
    out_shape: tuple[int, ...],
) -> np.ndarray:
    """:func:`conv2d_forward` in inference for a few samples (a gathered matrix of at most
    ``FEW_SAMPLE_VALUES``), in four NumPy calls on views made once per batch size: copy ``x``
    in, gather, one product with ``kernel_matrix`` (the kernel as ``(patch, filters)``), add
    the bias. ``x`` is ``(n, *sample_shape)`` as the layer receives it; the result is a new
    array of ``out_shape`` (``(n, *output_shape)``). Equal to :func:`conv2d_forward` up to the
    rounding of the bias addition (added after the product instead of inside it).

    Example:
        >>> g = conv_geometry((1, 5), 1, (1, 3))
        >>> y = conv2d_forward_few(np.ones((2, 5, 1)), np.ones((3, 4)), np.full(4, 0.5), g,
        ...                        Workspace(), (2, 3, 4))
        >>> y.shape, float(y[0, 0, 0])
        ((2, 3, 4), 3.5)
    """
    source, target, fields, left = im2col.few_sample_plan(len(x), geometry, x.dtype,
                                                          x.shape[1:], workspace)
    np.copyto(source, x)
    np.copyto(target, fields)
    out = np.empty(out_shape, dtype=x.dtype)
    rows = out.reshape(-1, kernel_matrix.shape[1])
    np.matmul(left, kernel_matrix, out=rows)
    if bias is not None:
        np.add(rows, bias, out=rows)
    return out


def conv2d_backward(
    output_error: np.ndarray,
    columns: np.ndarray,
    kernel: np.ndarray,
    geometry: ConvGeometry,
    workspace: Workspace,
    grad_kernel: np.ndarray,
    grad_bias: np.ndarray | None,
    input_gradient: bool = True,
    out: np.ndarray | None = None,
) -> np.ndarray | None:
    """Gradients of a convolution from the gradient of its output.

    Args:
        output_error: ``(n, out_h, out_w, filters)``, the gradient of the loss w.r.t. the output.
        columns: what :func:`conv2d_forward` returned for this batch.
        kernel: the kernel used forward.
        geometry: as forward.
        workspace: as forward.
        grad_kernel: filled in place with the kernel's gradient (kernel's shape).
        grad_bias: filled in place with the bias' gradient, or None for no bias.
        input_gradient: also compute the gradient w.r.t. the input (else return None).
        out: optional ``(n, height, width, channels)`` array for the input gradient.

    Returns:
        The gradient w.r.t. the input ``(n, height, width, channels)``, or None. Without
        ``out`` and padding it is an array of ``workspace``, valid until its next use.
    """
    n = len(output_error)
    filters = kernel.shape[3]
    patch = geometry.patch_size
    error_rows = output_error.reshape(-1, filters)
    if columns.shape[1] == patch and grad_kernel.flags.c_contiguous:
        np.matmul(columns.T, error_rows, out=grad_kernel.reshape(patch, filters))
    else:
        both = workspace.get("weight_gradients", (columns.shape[1], filters), kernel.dtype)
        np.matmul(columns.T, error_rows, out=both)
        grad_kernel[...] = both[:patch].reshape(grad_kernel.shape)
        if grad_bias is not None:
            grad_bias[...] = both[patch]
    if not input_gradient:
        return None
    if geometry.strides == (1, 1) and blas_available(output_error.dtype):
        padded = _shifted_input_gradient(output_error, kernel, geometry, workspace)
    else:
        padded = _col2im_input_gradient(error_rows, n, kernel, geometry, workspace)
    (top, _), (left, _) = geometry.padding
    height, width = geometry.input_size
    if out is None and not geometry.padded:
        return padded  # the workspace's array: valid until the next call
    inside = padded[:, top : top + height, left : left + width]
    if out is None:
        return inside.copy()
    out[...] = inside
    return out


def _transposed_kernels(kernel: np.ndarray, workspace: Workspace) -> np.ndarray:
    """``(kernel_h * kernel_w, filters, channels)``: each offset's kernel, transposed."""
    kernel_h, kernel_w, channels, filters = kernel.shape
    transposed = workspace.get("kernel_t", (kernel_h * kernel_w, filters, channels), kernel.dtype)
    transposed[...] = kernel.reshape(kernel_h * kernel_w, channels, filters).transpose(0, 2, 1)
    return transposed


def _shifted_input_gradient(output_error, kernel, geometry: ConvGeometry, workspace):
    """Stride 1: ``padded_gradient[p + offset] += wide_error[p] @ kernel[offset].T`` for each
    kernel offset, where ``p`` runs over the rows of the padded input flattened to
    ``(n * padded_h * padded_w, channels)`` and ``wide_error`` is the output error placed at the
    top-left of a zero array of the padded input's size. For a real output position ``p`` and any
    offset, ``p + offset`` is the input position that the kernel offset read forward; the zero
    rows add nothing. The first offset (0) covers every row, so it writes (``beta = 0``)."""
    n = len(output_error)
    padded_h, padded_w = geometry.padded_size
    out_h, out_w = geometry.output_size
    kernel_h, kernel_w, channels, filters = kernel.shape
    wide = workspace.get("wide_error", (n, padded_h, padded_w, filters), kernel.dtype, True)
    wide[:, :out_h, :out_w] = output_error
    gradient = workspace.get("padded_gradient", (n, padded_h, padded_w, channels), kernel.dtype)
    transposed = _transposed_kernels(kernel, workspace)
    wide_rows = wide.reshape(-1, filters)
    gradient_rows = gradient.reshape(-1, channels)
    total = len(wide_rows)
    dil_h, dil_w = geometry.dilation
    for i in range(kernel_h):
        for j in range(kernel_w):
            offset = i * dil_h * padded_w + j * dil_w
            product_into(
                gradient_rows[offset:], wide_rows[: total - offset],
                transposed[i * kernel_w + j], accumulate=offset > 0,
            )
    return gradient


def _col2im_input_gradient(error_rows, n, kernel, geometry: ConvGeometry, workspace):
    """Any stride: gradient of the gathered columns in one product, then each kernel offset's
    columns added into a strided view of the padded input gradient."""
    kernel_h, kernel_w, channels, filters = kernel.shape
    patch = geometry.patch_size
    out_h, out_w = geometry.output_size
    column_gradient = workspace.get("column_gradient", (len(error_rows), patch), kernel.dtype)
    np.matmul(error_rows, kernel.reshape(patch, filters).T, out=column_gradient)
    per_offset = column_gradient.reshape(n, out_h, out_w, kernel_h, kernel_w, channels)
    gradient = workspace.get("padded_gradient", (n, *geometry.padded_size, channels), kernel.dtype)
    gradient[...] = 0
    (stride_h, stride_w), (dil_h, dil_w) = geometry.strides, geometry.dilation
    for i in range(kernel_h):
        for j in range(kernel_w):
            rows = slice(i * dil_h, i * dil_h + (out_h - 1) * stride_h + 1, stride_h)
            cols = slice(j * dil_w, j * dil_w + (out_w - 1) * stride_w + 1, stride_w)
            gradient[:, rows, cols] += per_offset[:, :, :, i, j]
    return gradient
