"""The gathered-column matrices of :mod:`layerwise.ops.conv` ("im2col"): the receptive fields
of a (padded) input as a row-major matrix (training, which keeps it for backward), as its
transpose for few channels (inference: one copy), and the views of a one-pass inference forward
made once per batch size. ``ConvGeometry`` (:mod:`layerwise.ops.geometry`) holds the shapes."""

from __future__ import annotations

import numpy as np

from .geometry import ConvGeometry, strided_view
from .workspace import Workspace

__all__ = ["windows", "gather", "columns", "gather_transposed", "columns_transposed",
           "one_pass_plan", "few_sample_plan"]




def windows(padded: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """Read-only view ``(n, out_h, out_w, kernel_h, kernel_w, channels)`` of the receptive
    fields of ``padded`` (no copy)."""
    n, _, _, channels = padded.shape
    s_n, s_h, s_w, s_c = padded.strides
    (stride_h, stride_w), (dil_h, dil_w) = geometry.strides, geometry.dilation
    return strided_view(
        padded,
        (n, *geometry.output_size, *geometry.kernel_size, channels),
        (s_n, s_h * stride_h, s_w * stride_w, s_h * dil_h, s_w * dil_w, s_c),
        writeable=False,
    )


def gather(padded: np.ndarray, geometry: ConvGeometry, cols: np.ndarray) -> None:
    """Copy the receptive fields of ``padded`` into the first ``patch_size`` columns of
    ``cols`` (``(n * out_h * out_w, >= patch_size)``)."""
    n = len(padded)
    out_h, out_w = geometry.output_size
    kernel_h, kernel_w = geometry.kernel_size
    target = cols[:, : geometry.patch_size].reshape(n, out_h, out_w, kernel_h, kernel_w, -1)
    fields = windows(padded, geometry)
    if geometry.channels >= 8:
        np.copyto(target, fields)  # one pass; NumPy's inner loop runs over the channels
    else:
        # Few channels: an inner loop of 1-7 values is mostly overhead; copying one kernel
        # offset at a time makes the inner loop run along the output width instead.
        for i in range(kernel_h):
            for j in range(kernel_w):
                target[:, :, :, i, j] = fields[:, :, :, i, j]


def columns(n: int, geometry: ConvGeometry, dtype, width: int, with_bias: bool, workspace):
    """The workspace's gathered-column matrix for ``n`` samples, its constant columns set."""
    rows = n * geometry.output_size[0] * geometry.output_size[1]
    patch = geometry.patch_size

    def constant_columns(array):  # set once: the gathers only ever write the patch columns
        array[:, patch:] = 0
        if with_bias:
            array[:, patch] = 1

    return workspace.get("cols", (rows, width), dtype, prepare=constant_columns)


def gather_transposed(padded: np.ndarray, geometry: ConvGeometry,
                      cols_t: np.ndarray) -> None:
    """The receptive fields of ``padded`` as the first ``patch_size`` rows of ``cols_t``
    (``(>= patch_size, n * out_h * out_w)``, the transpose of the training gather's matrix) in
    one copy whose inner loop runs along the output width: for few channels, where a row-major
    gather's inner loop would hold 1-7 values (or take a copy per kernel offset)."""
    n = len(padded)
    (kernel_h, kernel_w), channels = geometry.kernel_size, geometry.channels
    target = cols_t[: geometry.patch_size].reshape(kernel_h, kernel_w, channels, n,
                                                   *geometry.output_size)
    np.copyto(target, windows(padded, geometry).transpose(3, 4, 5, 0, 1, 2))


def columns_transposed(n: int, geometry: ConvGeometry, dtype, width: int,
                       with_bias: bool, workspace: Workspace) -> np.ndarray:
    """The transposed gathered matrix ``(width, n * out_h * out_w)``, its constant rows set (a
    new array when the number of rows changes: the workspace grows along the first axis)."""
    rows = n * geometry.output_size[0] * geometry.output_size[1]
    patch = geometry.patch_size

    def constant_rows(array):  # set once: the gathers only ever write the patch rows
        array[patch:] = 0
        if with_bias:
            array[patch] = 1

    return workspace.get("cols_t", (width, rows), dtype, prepare=constant_rows)


def one_pass_plan(n: int, geometry: ConvGeometry, dtype, width: int, with_bias: bool,
                  workspace: Workspace) -> tuple:
    """Inference of ``n`` samples in one pass: ``(target, left, order)``, the view of the
    gathered matrix the windows are copied into (after ``transpose(order)`` when not None), and
    the product's left factor. Made once per batch size and kept in the workspace: at one sample
    the shape work around the gather and the product costs as much as they do."""
    key = (geometry, n, np.dtype(dtype), width, with_bias)
    held = workspace.holds.get("one_pass_plan")
    if held is not None and held[0] == key:
        return held[1]
    (kernel_h, kernel_w), channels = geometry.kernel_size, geometry.channels
    patch = geometry.patch_size
    if channels < 8:  # few channels: gathered transposed (see gather_transposed)
        cols_t = columns_transposed(n, geometry, dtype, width, with_bias, workspace)
        target = cols_t[:patch].reshape(kernel_h, kernel_w, channels, n, *geometry.output_size)
        plan = (target, cols_t.T, (3, 4, 5, 0, 1, 2))
    else:
        cols = columns(n, geometry, dtype, width, with_bias, workspace)
        target = cols[:, :patch].reshape(n, *geometry.output_size, kernel_h, kernel_w, channels)
        plan = (target, cols, None)
    # The plan keeps its arrays alive: should a training batch make the workspace allocate
    # new ones, this plan's stay valid (and their constant columns set).
    workspace.holds["one_pass_plan"] = (key, plan)
    return plan


def few_sample_plan(n: int, geometry: ConvGeometry, dtype, sample_shape: tuple,
                    workspace: Workspace) -> tuple:
    """Inference of a few samples: ``(source, target, fields, left)``. The input is copied
    into ``source`` (shaped ``(n, *sample_shape)``, the layer's own input shape: inside the
    zero border of the padded buffer, or a buffer of its own), whose receptive fields
    ``fields`` (a view made once, transposed for few channels) are copied into ``target``;
    ``left`` is the patch part of the gathered matrix, the product's left factor against the
    kernel itself (the bias is added after, so no ``[kernel; bias]`` matrix is rebuilt at
    every call). Kept in the workspace: at one sample, making views costs as much as the
    copies and the product."""
    key = (geometry, n, np.dtype(dtype), sample_shape)
    held = workspace.holds.get("few_sample_plan")
    if held is not None and held[0] == key:
        return held[1]
    height, width = geometry.input_size
    if geometry.padded:
        (top, _), (left_pad, _) = geometry.padding
        padded = workspace.get("padded", (n, *geometry.padded_size, geometry.channels), dtype,
                               True)[:n]
        inside = padded[:, top : top + height, left_pad : left_pad + width]
    else:
        padded = inside = np.empty((n, height, width, geometry.channels), dtype)
    source = inside if len(sample_shape) == 3 else inside[:, 0]  # 1-D: height 1
    patch = geometry.patch_size
    target, left, order = one_pass_plan(n, geometry, dtype, patch, False, workspace)
    fields = windows(padded, geometry)
    if order is not None:
        fields = fields.transpose(order)
    plan = (source, target, fields, left[:, :patch])
    workspace.holds["few_sample_plan"] = (key, plan)
    return plan
