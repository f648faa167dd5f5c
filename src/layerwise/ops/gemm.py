"""One matrix product NumPy does not offer: ``c (+)= a @ b`` on row views that overlap.

The input gradient of a stride-1 convolution is a sum of products whose outputs are row-shifted
windows of one array (see :func:`layerwise.ops.conv.conv2d_backward`). BLAS's ``gemm`` adds a
product into ``c`` (``beta = 1``) as it computes it; NumPy's products always overwrite. So this
calls the ``?gemm`` of the OpenBLAS that NumPy loaded (found by :mod:`layerwise._blas`), and
falls back to a NumPy product plus an addition when that library is not reachable.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from .. import _blas

__all__ = ["blas_available", "product_into"]

_ROW_MAJOR, _NO_TRANS = 101, 111


def blas_available(dtype: DTypeLike) -> bool:
    """Whether :func:`product_into` calls BLAS directly for arrays of ``dtype``."""
    routines = _blas._functions()
    return routines is not None and np.dtype(dtype) in routines


def product_into(c: np.ndarray, a: np.ndarray, b: np.ndarray, accumulate: bool) -> None:
    """``c = a @ b`` or, with ``accumulate``, ``c += a @ b``, for 2-D ``a (m, k)``, ``b (k, n)``
    and ``c (m, n)``, each C-contiguous (row slices of contiguous arrays are).

    Example:
        >>> c = np.ones((2, 2)); product_into(c, np.eye(2), np.eye(2), accumulate=True); c
        array([[2., 1.],
               [1., 2.]])
    """
    routines = _blas._functions()
    m, k = a.shape
    n = b.shape[1]
    if (
        routines is None
        or c.dtype not in routines
        or not (a.dtype == b.dtype == c.dtype)
        or not (a.flags.c_contiguous and b.flags.c_contiguous and c.flags.c_contiguous)
        or max(a.size, b.size, c.size) >= 2**31
        or m == 0
    ):
        if accumulate:
            c += a @ b
        else:
            np.matmul(a, b, out=c)
        return
    routines[c.dtype]["gemm"](
        _ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, 1.0, _blas._address(a), k,
        _blas._address(b), n, 1.0 if accumulate else 0.0, _blas._address(c), n,
    )
