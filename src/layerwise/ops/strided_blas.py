"""Matrix products and transposed copies on strided 2-D views, for the recurrent kernels' loops.

A recurrent step works on small matrices (batch x units) that live inside larger arrays: one
time step of a ``(batch, steps, features)`` array, a block of rows of a per-step buffer. NumPy's
products need contiguous operands and cannot accumulate into their output, and NumPy's
element-wise passes over a view of many short rows pay a per-row cost (~25 ns a row, as much as
the arithmetic at these sizes). BLAS takes the leading dimensions of such views as they are, and
OpenBLAS's ``omatcopy`` transposes a matrix in one call. This module binds ``gemm`` and
``omatcopy`` of the OpenBLAS NumPy loaded (found as in :mod:`layerwise._blas`) and offers

- :func:`matmul`: ``c = alpha * op(a) @ op(b) + beta * c`` on strided views (NumPy fallback);
- :class:`Calls`: a list of prepared calls, built once per buffer layout and then replayed in a
  loop with no argument conversion (~0.9 us a call instead of ~1.7 us).

Everything has a NumPy fallback with the same results up to rounding; ``FORCE_NUMPY`` switches
the fast path off (tests compare both).
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import _blas

__all__ = ["available", "matmul", "transpose_into", "Calls", "FORCE_NUMPY"]

FORCE_NUMPY = os.environ.get("LAYERWISE_NO_BLAS_CALLS", "") not in ("", "0")
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_UNSEARCHED = object()
_found = _UNSEARCHED  # {dtype: (gemm, omatcopy, integer type, real type)} or None


def _search():
    for path in _blas._openblas_paths():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
            try:
                config = getattr(library, f"{prefix}openblas_get_config{suffix}")
                names = {
                    letter: (getattr(library, f"{prefix}cblas_{letter}gemm{suffix}"),
                             getattr(library, f"{prefix}cblas_{letter}omatcopy{suffix}"))
                    for letter in "sd"
                }
            except AttributeError:
                continue
            config.restype, config.argtypes = ctypes.c_char_p, []
            wide = b"USE64BITINT" in (config() or b"")
            integer = ctypes.c_int64 if wide else ctypes.c_int32
            found = {}
            for dtype, letter, real in ((np.float32, "s", ctypes.c_float),
                                        (np.float64, "d", ctypes.c_double)):
                gemm, omatcopy = names[letter]
                enum, pointer = ctypes.c_int, ctypes.c_void_p
                gemm.restype, omatcopy.restype = None, None
                gemm.argtypes = [enum, enum, enum, integer, integer, integer, real, pointer,
                                 integer, pointer, integer, real, pointer, integer]
                omatcopy.argtypes = [enum, enum, integer, integer, real, pointer, integer,
                                     pointer, integer]
                found[np.dtype(dtype)] = (gemm, omatcopy, integer, real)
            return found
    return None


def _functions(dtype):
    global _found
    if _found is _UNSEARCHED:
        _found = _search() if _blas.available() else None
    if FORCE_NUMPY or _found is None:
        return None
    return _found.get(np.dtype(dtype))


def available(dtype: DTypeLike = np.float32) -> bool:
    """Whether products and transposed copies of ``dtype`` go straight to OpenBLAS."""
    return _functions(dtype) is not None


def _leading(view: np.ndarray) -> tuple[bool, int] | None:
    """``(transposed, leading dimension)`` of a 2-D view BLAS can read as it is, else None."""
    rows, cols = view.strides
    size = view.itemsize
    if cols == size and rows % size == 0 and rows >= size * max(view.shape[1], 1):
        return False, rows // size
    if rows == size and cols % size == 0 and cols >= size * max(view.shape[0], 1):
        return True, cols // size
    return None


def _address(view: np.ndarray) -> int:
    return view.__array_interface__["data"][0]


def matmul(a: Any, b: Any, c: Any, alpha: float = 1.0, beta: float = 0.0, call: bool = True) -> Any:
    """``c = alpha * a @ b + beta * c`` for 2-D views (any of them may be strided or transposed).

    Returns the prepared call ``(function, arguments)`` when ``call`` is False (for
    :class:`Calls`); runs it otherwise. ``c`` must be writable and apart from ``a`` and ``b``.
    """
    functions = _functions(c.dtype)
    layout = [_leading(x) for x in (a, b, c)]
    if functions is None or None in layout or layout[2][0] or not (a.dtype == b.dtype == c.dtype):
        def fallback():
            product = np.matmul(a, b)
            if beta == 0.0:
                np.multiply(product, alpha, out=c) if alpha != 1.0 else np.copyto(c, product)
            else:
                c[...] = alpha * product + beta * c
        if call:
            return fallback()
        return fallback, ()
    gemm, _, integer, real = functions
    (ta, lda), (tb, ldb), (_, ldc) = layout
    m, k = a.shape
    n = b.shape[1]
    arguments = (ctypes.c_int(_ROW_MAJOR), ctypes.c_int(_TRANS if ta else _NO_TRANS),
                 ctypes.c_int(_TRANS if tb else _NO_TRANS), integer(m), integer(n), integer(k),
                 real(alpha), ctypes.c_void_p(_address(a)), integer(max(lda, 1)),
                 ctypes.c_void_p(_address(b)), integer(max(ldb, 1)), real(beta),
                 ctypes.c_void_p(_address(c)), integer(max(ldc, 1)))
    if call:
        return gemm(*arguments)
    return gemm, arguments


def transpose_into(source: Any, target: Any, call: bool = True) -> Any:
    """``target[...] = source.T`` for 2-D views (``target`` not itself transposed)."""
    functions = _functions(target.dtype)
    layout_s, layout_t = _leading(source), _leading(target)
    if (functions is None or layout_s is None or layout_t is None or layout_t[0]
            or source.dtype != target.dtype):
        def fallback():
            np.copyto(target, source.T)
        if call:
            return fallback()
        return fallback, ()
    _, omatcopy, integer, real = functions
    transposed, lds = layout_s
    rows, cols = source.shape
    if transposed:  # source is a transposed view: its rows are contiguous columns: a plain copy
        arguments = (ctypes.c_int(_ROW_MAJOR), ctypes.c_int(_NO_TRANS), integer(cols),
                     integer(rows), real(1.0), ctypes.c_void_p(_address(source)),
                     integer(max(lds, 1)), ctypes.c_void_p(_address(target)),
                     integer(max(layout_t[1], 1)))
    else:
        arguments = (ctypes.c_int(_ROW_MAJOR), ctypes.c_int(_TRANS), integer(rows),
                     integer(cols), real(1.0), ctypes.c_void_p(_address(source)),
                     integer(max(lds, 1)), ctypes.c_void_p(_address(target)),
                     integer(max(layout_t[1], 1)))
    if call:
        return omatcopy(*arguments)
    return omatcopy, arguments


class Calls:
    """Prepared calls replayed as ``calls[i]()``-free loops: ``calls.run(i)`` runs the i-th.

    Built once for a set of buffers whose addresses do not change (the kernels' workspaces);
    replaying skips the argument conversion of ctypes.
    """

    def __init__(self) -> None:
        self.functions: list = []
        self.arguments: list = []
        self.keep: list = []  # the arrays the prepared addresses point into

    def add(self, prepared: Any, *arrays: Any) -> int:
        """Append a ``(function, arguments)`` pair from ``matmul``/``transpose_into(call=False)``;
        ``arrays`` (the operands) are kept alive as long as the calls."""
        function, arguments = prepared
        self.keep.extend(arrays)
        self.functions.append(function)
        self.arguments.append(arguments)
        return len(self.functions) - 1

    def run(self, index: int) -> None:
        """Run the ``index``-th prepared call."""
        self.functions[index](*self.arguments[index])
