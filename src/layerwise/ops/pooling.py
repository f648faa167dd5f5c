"""Max and average pooling on channels-last arrays ``(n, height, width, channels)``.

Windows are read through strided views and reduced one window offset at a time (a loop over
the ``pool_h * pool_w`` offsets, never over samples or pixels). When the stride equals the pool
size and no padding is needed (the common ``MaxPooling2D(2)``), each row's windows are reduced
first, then across rows on views whose inner loop runs along a whole image row; in training the
position of each first maximum is recorded on the way (as float 0, 1, ...), so that the backward
pass splits the error with a product and a difference per step and never rereads the input.

Gradient rules: max pooling sends a window's gradient to one element, its first maximum in
row-major order (as PyTorch); average pooling divides by the number of real (unpadded) elements
of the window, as Keras with ``'same'`` padding.
"""

from __future__ import annotations

import numpy as np

from .geometry import ConvGeometry, strided_view
from .workspace import Workspace

__all__ = [
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "global_pool_forward",
    "global_pool_backward",
]


def _offset_view(array: np.ndarray, geometry: ConvGeometry, i: int, j: int) -> np.ndarray:
    """``(n, out_h, out_w, channels)`` view of element ``(i, j)`` of every window of the
    (padded) ``array``."""
    rows, columns = geometry.offset_slices[i * geometry.kernel_size[1] + j]
    return array[:, rows, columns]


def _tiles(geometry: ConvGeometry) -> bool:
    """Whether the windows tile the input without padding or overlap (stride == pool)."""
    return geometry.tiles


def _padded(x, geometry: ConvGeometry, workspace: Workspace, fill: float, key: str):
    if not geometry.padded:
        return x
    (top, _), (left, _) = geometry.padding
    height, width = geometry.input_size

    def border(array):  # set once: only the inside is ever written
        array[...] = fill

    padded = workspace.get(key, (len(x), *geometry.padded_size, x.shape[3]), x.dtype,
                           prepare=border)
    padded[:, top : top + height, left : left + width] = x
    return padded


def _tiled_view(x: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """``(n, out_h * pool_h, out_w, pool_w, channels)`` view of the part of ``x`` that the
    tiling windows cover (rows and columns past the last whole window are left out)."""
    (out_h, out_w), (pool_h, pool_w) = geometry.output_size, geometry.kernel_size
    s_n, s_h, s_w, s_c = x.strides
    return strided_view(
        x, (len(x), out_h * pool_h, out_w, pool_w, x.shape[3]),
        (s_n, s_h, s_w * pool_w, s_w, s_c), writeable=x.flags.writeable,
    )


def _running_maximum(candidates, maxima, choice, greater) -> None:
    """``maxima`` = the element-wise maximum of ``candidates``; with ``choice`` (a float
    array), also the index of the first maximum: a later candidate takes over only when
    strictly greater. Both are computed while the candidates are still in the caches."""
    np.copyto(maxima, candidates[0])
    for k in range(1, len(candidates)):
        if choice is not None:
            if k == 1:
                np.greater(candidates[1], maxima, out=choice)  # 0 or 1
            else:  # indices only grow: max(choice, k * greater) moves to k where greater
                np.greater(candidates[k], maxima, out=greater)
                greater *= k
                np.maximum(choice, greater, out=choice)
        np.maximum(maxima, candidates[k], out=maxima)


def _split_by_choice(remaining, choice, targets, hit) -> None:
    """``targets[k] = remaining`` where ``choice == k``, else 0; overwrites ``remaining``."""
    last = len(targets) - 1
    if last == 0:
        np.copyto(targets[0], remaining)
        return
    if last == 1:  # choice is 0 or 1: a product and a difference
        np.multiply(remaining, choice, out=targets[1])
        np.subtract(remaining, targets[1], out=targets[0])
        return
    for k in range(last):
        np.equal(choice, k, out=hit)
        np.multiply(remaining, hit, out=targets[k])
        np.subtract(remaining, targets[k], out=targets[last] if k == last - 1 else remaining)


def _maximum_of(candidates: list, out: np.ndarray) -> None:
    """``out`` = the element-wise maximum of ``candidates`` (NaN propagates, as np.maximum)."""
    if len(candidates) == 1:
        np.copyto(out, candidates[0])
        return
    np.maximum(candidates[0], candidates[1], out=out)
    for candidate in candidates[2:]:
        np.maximum(out, candidate, out=out)


def _tiled_maximum(x, geometry: ConvGeometry, workspace: Workspace, out) -> None:
    """Tiling windows without choices (inference): first the maximum of each window's
    ``pool_h`` rows, on views whose inner loop runs along a whole image row (width * channels
    values), then of its ``pool_w`` columns, on an array ``pool_h`` times smaller. (Training
    goes columns first, the order that makes its recorded choices the first maxima in
    row-major order; without choices the order does not change the maxima.)"""
    row_slices, column_slices = geometry.tile_slices
    if len(row_slices) == 1:
        row_max = x[:, row_slices[0]]
    else:
        n, _, width, channels = x.shape
        row_max = workspace.get("row_max_inference",
                                (n, geometry.output_size[0], width, channels), x.dtype)
        _maximum_of([x[:, rows] for rows in row_slices], row_max)
    _maximum_of([row_max[:, :, columns] for columns in column_slices], out)


def max_pool2d_forward(
    x: np.ndarray,
    geometry: ConvGeometry,
    workspace: Workspace,
    out: np.ndarray | None = None,
    keep_choices: bool = True,
) -> np.ndarray:
    """Maximum of each window: ``(n, height, width, channels) -> (n, out_h, out_w, channels)``;
    ``'same'`` padding pads with ``-inf`` (padded positions never win). With ``keep_choices``
    (training) the position of each window's first maximum is kept in ``workspace`` for
    :func:`max_pool2d_backward` (windows that tile the input; others compare again there).

    Example:
        >>> from layerwise.ops import conv_geometry
        >>> g = conv_geometry((4, 4), 1, (2, 2), strides=(2, 2))
        >>> max_pool2d_forward(np.arange(16.0).reshape(1, 4, 4, 1), g, Workspace())[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    n, channels = len(x), x.shape[3]
    out_h, out_w = geometry.output_size
    pool_h, pool_w = geometry.kernel_size
    if out is None:
        out = np.empty((n, out_h, out_w, channels), dtype=x.dtype)
    if _tiles(geometry) and not keep_choices:
        _tiled_maximum(x, geometry, workspace, out)
        return out
    if _tiles(geometry):
        # Maxima along each row's windows first, then across rows, where the inner loop runs
        # along a whole row of contiguous values; the choices are made on the way.
        tiled = _tiled_view(x, geometry)
        row_shape = (n, out_h * pool_h, out_w, channels)
        row_max = workspace.get("row_max", row_shape, x.dtype)
        column_choice = workspace.get("column_choice", row_shape, x.dtype) if keep_choices \
            else None
        row_choice = workspace.get("row_choice", out.shape, x.dtype) if keep_choices else None
        _running_maximum([tiled[:, :, :, j] for j in range(pool_w)], row_max, column_choice,
                         workspace.get("greater", row_shape, x.dtype) if pool_w > 2 else None)
        rows = row_max.reshape(n, out_h, pool_h, out_w, channels)
        _running_maximum([rows[:, :, i] for i in range(pool_h)], out, row_choice,
                         workspace.get("greater_rows", out.shape, x.dtype) if pool_h > 2
                         else None)
        workspace.holds["max_choices"] = x.shape if keep_choices else None
        return out
    padded = _padded(x, geometry, workspace, -np.inf, "padded_max")
    np.copyto(out, _offset_view(padded, geometry, 0, 0))
    for i in range(pool_h):
        for j in range(pool_w):
            if i or j:
                np.maximum(out, _offset_view(padded, geometry, i, j), out=out)
    return out


def max_pool2d_backward(
    output_error: np.ndarray,
    x: np.ndarray,
    output: np.ndarray,
    geometry: ConvGeometry,
    workspace: Workspace,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Gradient w.r.t. the input of :func:`max_pool2d_forward`: each window's output error goes
    to its first maximum in row-major order; ``x`` and ``output`` are the forward pass's input
    and result, ``workspace`` the one it used. May overwrite ``output_error``.

    Returns:
        ``(n, height, width, channels)``, in ``out`` if given.
    """
    n, channels = len(x), x.shape[3]
    pool_h, pool_w = geometry.kernel_size
    out_h, out_w = geometry.output_size
    if _tiles(geometry):
        gradient = out if out is not None else np.empty_like(x)
        height, width = geometry.input_size
        gradient[:, out_h * pool_h :] = 0  # rows and columns that no window reaches
        gradient[:, :, out_w * pool_w :] = 0
        if workspace.holds.get("max_choices") != x.shape:  # not kept by the forward pass
            max_pool2d_forward(x, geometry, workspace, np.empty_like(output), True)
        # The row of its window that holds the first maximum, then the element of that row,
        # as the forward pass chose them: neither x nor the row maxima are read again.
        row_shape = (n, out_h * pool_h, out_w, channels)
        row_error = workspace.get("row_error", row_shape, x.dtype)
        split_rows = row_error.reshape(n, out_h, pool_h, out_w, channels)
        _split_by_choice(
            output_error, workspace.get("row_choice", output.shape, x.dtype),
            [split_rows[:, :, i] for i in range(pool_h)],
            workspace.get("hit", output.shape, x.dtype),
        )
        tiled_gradient = _tiled_view(gradient, geometry)
        _split_by_choice(
            row_error, workspace.get("column_choice", row_shape, x.dtype),
            [tiled_gradient[:, :, :, j] for j in range(pool_w)],
            workspace.get("row_hit", row_shape, x.dtype),
        )
        return gradient
    padded = _padded(x, geometry, workspace, -np.inf, "padded_max")
    gradient = workspace.get("max_gradient", (n, *geometry.padded_size, channels), x.dtype)
    gradient[...] = 0
    hit = workspace.get("hit", output.shape, x.dtype)
    share = workspace.get("share", output.shape, x.dtype)
    remaining = output_error  # the error not yet given to an earlier maximum of its window
    last = (pool_h - 1, pool_w - 1)
    for i in range(pool_h):
        for j in range(pool_w):
            target = _offset_view(gradient, geometry, i, j)
            if (i, j) == last:  # no earlier element was the maximum: this one is
                target += remaining
                break
            np.equal(_offset_view(padded, geometry, i, j), output, out=hit)
            np.multiply(remaining, hit, out=share)
            target += share
            remaining -= share
    (top, _), (left, _) = geometry.padding
    height, width = geometry.input_size
    inside = gradient[:, top : top + height, left : left + width]
    if out is None:
        return inside.copy()
    out[...] = inside
    return out


def _window_counts(geometry: ConvGeometry, dtype) -> np.ndarray:
    """``(out_h, out_w, 1)``: the real (unpadded) elements of each window."""
    counts = []
    for length, window, stride, (before, _), size in zip(
        geometry.input_size, geometry.kernel_size, geometry.strides, geometry.padding,
        geometry.output_size,
    ):
        starts = np.arange(size) * stride - before
        counts.append(np.minimum(starts + window, length) - np.maximum(starts, 0))
    return np.multiply.outer(counts[0], counts[1]).astype(dtype)[:, :, None]


def avg_pool2d_forward(
    x: np.ndarray, geometry: ConvGeometry, workspace: Workspace, out: np.ndarray | None = None
) -> np.ndarray:
    """Mean of each window over its real elements (``'same'`` padding is not counted)."""
    n, channels = len(x), x.shape[3]
    pool_h, pool_w = geometry.kernel_size
    if out is None:
        out = np.empty((n, *geometry.output_size, channels), dtype=x.dtype)
    padded = _padded(x, geometry, workspace, 0.0, "padded_sum")
    views = [padded[:, rows, columns] for rows, columns in geometry.offset_slices]
    if len(views) == 1:
        np.copyto(out, views[0])
    else:  # the offsets summed in row-major order, the first two in one call
        np.add(views[0], views[1], out=out)
        for view in views[2:]:
            out += view
    if geometry.padded:
        out /= _window_counts(geometry, x.dtype)
    else:
        np.multiply(out, np.array(1.0 / (pool_h * pool_w), x.dtype), out=out)
    return out


def avg_pool2d_backward(
    output_error: np.ndarray,
    geometry: ConvGeometry,
    workspace: Workspace,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Gradient w.r.t. the input of :func:`avg_pool2d_forward`; may overwrite
    ``output_error``."""
    n, channels = len(output_error), output_error.shape[3]
    pool_h, pool_w = geometry.kernel_size
    if geometry.padded:
        output_error /= _window_counts(geometry, output_error.dtype)
    else:
        output_error *= output_error.dtype.type(1.0 / (pool_h * pool_w))
    gradient = workspace.get(
        "avg_gradient", (n, *geometry.padded_size, channels), output_error.dtype
    )
    gradient[...] = 0
    for i in range(pool_h):
        for j in range(pool_w):
            _offset_view(gradient, geometry, i, j)[...] += output_error
    (top, _), (left, _) = geometry.padding
    height, width = geometry.input_size
    inside = gradient[:, top : top + height, left : left + width]
    if out is None:
        return inside.copy()
    out[...] = inside
    return out


def global_pool_forward(x: np.ndarray, mode: str) -> np.ndarray:
    """``'avg'`` or ``'max'`` over every axis but the first and the last (the channels):
    ``(n, *spatial, channels) -> (n, channels)``.

    Example:
        >>> global_pool_forward(np.arange(8.0).reshape(1, 2, 2, 2), "max")
        array([[6., 7.]])
    """
    axes = tuple(range(1, x.ndim - 1))
    if mode != "avg":
        return np.maximum.reduce(x, axis=axes)
    if x.dtype not in (np.float32, np.float64):
        return x.mean(axis=axes)
    # np.mean's own steps (a sum, then a division by the count), without its Python wrapper:
    # the same values, a few microseconds less for one sample.
    total = np.add.reduce(x, axis=axes)
    return np.divide(total, x.size // (len(x) * x.shape[-1]) if x.size else 1, out=total)


def global_pool_backward(output_error: np.ndarray, x: np.ndarray, mode: str) -> np.ndarray:
    """Gradient w.r.t. ``x`` of :func:`global_pool_forward`: the mean spreads it evenly, the
    maximum gives it to the first maximum (row-major) of each channel."""
    n, channels = len(x), x.shape[-1]
    positions = int(np.prod(x.shape[1:-1]))
    if mode == "avg":
        gradient = np.empty_like(x)
        gradient.reshape(n, positions, channels)[...] = (output_error / positions)[:, None, :]
        return gradient
    flat = x.reshape(n, positions, channels)
    first = flat.argmax(axis=1)  # argmax returns the first of equal maxima
    gradient = np.zeros_like(flat)
    np.put_along_axis(gradient, first[:, None, :], output_error[:, None, :], axis=1)
    return gradient.reshape(x.shape)
