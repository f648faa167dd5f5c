"""Cached read-only arrays of zeros and ones, and the small reductions they make fast.

NumPy's per-call cost dominates the small arrays of a training step, and some of its loops are
much slower than others for the same arithmetic (measured on a 128x10 float32 batch of class
scores: ``np.add.reduce(a, axis=1)`` 3.6 us against 0.8 us for ``a @ ones``, a BLAS
matrix-vector product; ``np.maximum(x, 0)`` over 128x256 is 2-3x slower than ``np.maximum(x,
zeros)``, because the scalar's broadcast loop is not vectorised as well as the array one). The
arrays here are those operands, shared and never written.
"""

from __future__ import annotations

import numpy as np

LIMIT = 1 << 20  # elements: at most one 4 MB (float32) or 8 MB (float64) array per value, dtype
_CACHE: dict[tuple[float, np.dtype], np.ndarray] = {}
_WIDE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def constant(value: float, size: int, dtype) -> np.ndarray | None:
    """A read-only 1-D array of ``size`` copies of ``value`` (a view of one cached array), or
    None beyond ``LIMIT`` elements."""
    if size > LIMIT:
        return None
    key = (value, np.dtype(dtype))
    array = _CACHE.get(key)
    if array is None or array.size < size:
        array = np.full(min(max(size, 1 << 15), LIMIT), value, dtype=dtype)
        array.flags.writeable = False
        _CACHE[key] = array
    return array[:size]


def zeros_like(x: np.ndarray):
    """Read-only zeros of ``x``'s shape and dtype, or the scalar 0 for small or very large
    ``x`` (below 4,096 elements the lookup costs more than the faster loop saves)."""
    if x.size < 4096:
        return 0
    zeros = constant(0.0, x.size, x.dtype)
    return 0 if zeros is None else zeros.reshape(x.shape)


def row_sums(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=-1, keepdims=True)`` of a float array, as ``a @ ones``: one BLAS call
    (below 256 values, one sample's scores, the reduction itself: 1 us less than the lookup of
    the ones and the call to BLAS)."""
    if a.size < 256:
        return np.add.reduce(a, axis=-1, keepdims=True)
    ones = constant(1.0, a.shape[-1], a.dtype)
    if ones is None or a.dtype.kind != "f":
        return np.add.reduce(a, axis=-1, keepdims=True)
    return np.dot(a, ones.reshape(-1, 1))


def column_sums(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a.sum(axis=0)`` of a 2-D float array into ``out``, as ``ones @ a``: one BLAS call."""
    ones = constant(1.0, a.shape[0], a.dtype)
    if ones is None or a.dtype.kind != "f" or out.dtype != a.dtype:
        return np.add.reduce(a, axis=0, out=out)
    return np.dot(ones, a, out=out)


def row_max_shift(x: np.ndarray):
    """A shift that makes ``exp(x - shift)`` overflow-free for softmax: the row maxima, or the
    maximum of the whole array when every value lies within 64 of it.

    Softmax is the same for any constant per row; with the global maximum every row's largest
    term is still at least ``exp(-64)``, a normal number in float32 and float64 (other dtypes
    always take the row maxima), so nothing is lost, and two flat reductions cost a third of one
    reduction along a short last axis. NaN or infinite values take the row maxima, as before.
    """
    # A few rows (predict of one sample) are cheapest with the one reduction; float16's
    # exp(-64) would underflow.
    if x.size < 256 or x.dtype not in _WIDE_FLOATS:
        return np.maximum.reduce(x, axis=-1, keepdims=True)
    high = np.maximum.reduce(x, axis=None)
    if high - np.minimum.reduce(x, axis=None) < 64:
        return high
    return np.maximum.reduce(x, axis=-1, keepdims=True)
