"""The one BLAS operation NumPy does not expose: ``c -= a.T @ b``, in place, in one call.

With plain SGD the weight update of a dense layer is ``w -= x.T @ delta`` (``delta`` already
carries the learning rate). NumPy's products always overwrite their output, so it takes two
steps: the product into a gradient buffer, then a pass that subtracts the buffer from ``w``.
BLAS's ``gemm`` computes ``c = alpha * op(a) @ op(b) + beta * c``; with ``alpha = -1`` and
``beta = 1`` it adds the product straight into ``w`` as it computes it, which saves writing the
gradient and reading it back. For a 784x256 layer that pass costs about a third of the product
itself at batch 32, and it runs on one thread between two multi-threaded products.

So this module calls ``?gemm`` of the OpenBLAS that NumPy itself has loaded (found in the
process's memory map: the same library, hence the same thread pool and thread settings, e.g.
``threadpoolctl``) through ``ctypes``. Anything else (another BLAS, another platform, arrays
that BLAS cannot take as they are) gets :func:`subtract_transposed_product`'s fallback: the
same update as a NumPy product into ``scratch`` and a subtraction, equal up to rounding.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS enums
_UNSEARCHED = object()
# {dtype: {"gemm": f, "axpby": f, "axpy": f}} once searched; None when no usable BLAS was found.
_routines = _UNSEARCHED
# (get, set) of that OpenBLAS's thread count, found with the routines; None when unavailable.
_thread_count = None


def _openblas_paths() -> list[str]:
    """Files of the OpenBLAS libraries mapped into this process (Linux), NumPy's first."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    paths = {line.split(None, 5)[5] for line in lines if len(line.split(None, 5)) == 6}
    # NumPy's own first (its wheel's numpy.libs/ or numpy/.libs/): SciPy may bring another.
    numpy_prefix = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy")
    found = [p for p in paths if "openblas" in os.path.basename(p).lower()]
    return sorted(found, key=lambda p: (not p.startswith(numpy_prefix), p))


def _load(path: str):
    """The routines of the OpenBLAS at ``path`` by dtype (see ``_routines``), or None.

    OpenBLAS builds differ in symbol names (NumPy's wheels prefix ``scipy_`` and, with 64-bit
    integers, suffix ``64_``) and in the width of their integer arguments, which
    ``openblas_get_config`` reports (``USE64BITINT``): a wrong width would pass garbage sizes.
    """
    try:
        library = ctypes.CDLL(path)  # already loaded: this only returns its handle
    except OSError:
        return None
    for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
        try:
            config = getattr(library, f"{prefix}openblas_get_config{suffix}")
            found = {
                np.dtype(dtype): {
                    name: getattr(library, f"{prefix}cblas_{letter}{name}{suffix}")
                    for name in ("gemm", "axpby", "axpy")
                }
                for dtype, letter in ((np.float32, "s"), (np.float64, "d"))
            }
        except AttributeError:
            continue
        config.restype, config.argtypes = ctypes.c_char_p, []
        integer = ctypes.c_int64 if b"USE64BITINT" in (config() or b"") else ctypes.c_int32
        enum, pointer = ctypes.c_int, ctypes.c_void_p
        _find_thread_count(library, prefix, suffix)
        for dtype, routines in found.items():
            real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
            signatures = {  # C = alpha op(A) op(B) + beta C;  y = alpha x + beta y;  y += alpha x
                "gemm": [enum, enum, enum, integer, integer, integer, real, pointer, integer,
                         pointer, integer, real, pointer, integer],
                "axpby": [integer, real, pointer, integer, real, pointer, integer],
                "axpy": [integer, real, pointer, integer, pointer, integer],
            }
            for name, routine in routines.items():
                routine.restype, routine.argtypes = None, signatures[name]
        return found
    return None


def _find_thread_count(library, prefix: str, suffix: str) -> None:
    """Remember ``openblas_get/set_num_threads`` of ``library`` (named as its routines are)."""
    global _thread_count
    try:
        get = getattr(library, f"{prefix}openblas_get_num_threads{suffix}")
        put = getattr(library, f"{prefix}openblas_set_num_threads{suffix}")
    except AttributeError:
        return
    get.restype, get.argtypes = ctypes.c_int, []
    put.restype, put.argtypes = None, [ctypes.c_int]  # an int in every build
    _thread_count = (get, put)


def _functions():
    global _routines
    if _routines is _UNSEARCHED:
        _routines = None
        if sys.platform.startswith("linux"):
            for path in _openblas_paths():
                _routines = _load(path)
                if _routines is not None:
                    break
    return _routines


def available() -> bool:
    """Whether NumPy's OpenBLAS was found, so that the functions below call it directly."""
    return _functions() is not None


# Below this many elements the saved passes are worth less than the ctypes call's overhead
# (about 5 us against NumPy's 1 us). Measured in a training step, where a pass over an array
# costs 2-3 times its stand-alone time: a 256x128 layer (32,768) gains 4-8% of an epoch of the
# benchmark MLP; stand-alone it only breaks even.
MIN_SIZE = 32_768


def _blas_ready(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Arrays BLAS can take as they are: C-contiguous (row slices of contiguous arrays are),
    one dtype, ``c`` writable and apart from ``a`` and ``b``."""
    return (
        a.dtype == b.dtype == c.dtype
        and a.flags.c_contiguous
        and b.flags.c_contiguous
        and c.flags.c_contiguous
        and c.flags.writeable
        and not np.may_share_memory(c, a)
        and not np.may_share_memory(c, b)
        and max(a.size, b.size, c.size) < 2**31  # fits 32-bit BLAS integers too
    )


def _address(array: np.ndarray) -> int:
    # ctypes' view of a writable buffer is three times cheaper than ndarray.ctypes.data.
    if array.flags.writeable:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))
    return array.ctypes.data


def subtract_transposed_product(c: np.ndarray, a: np.ndarray, b: np.ndarray, scratch) -> None:
    """``c -= a.T @ b`` in place, for 2-D ``a`` ``(n, k)``, ``b`` ``(n, m)`` and ``c`` ``(k, m)``.

    One ``gemm`` with ``beta = 1`` when NumPy's OpenBLAS is reachable, ``c`` is large enough for
    it to pay off and the arrays suit it; otherwise ``np.dot(a.T, b, out=scratch)`` and
    ``c -= scratch`` (``scratch`` has ``c``'s shape and dtype and is overwritten).
    """
    routines = _functions() if c.size >= MIN_SIZE else None
    gemm = routines[c.dtype]["gemm"] if routines is not None and c.dtype in routines else None
    n, k = a.shape
    if gemm is None or n == 0 or not _blas_ready(c, a, b):
        np.dot(a.T, b, out=scratch)
        np.subtract(c, scratch, out=c)
        return
    m = b.shape[1]
    gemm(_ROW_MAJOR, _TRANS, _NO_TRANS, k, m, n, -1.0, _address(a), k, _address(b), m,
         1.0, _address(c), m)


def vectors_ready(*arrays: np.ndarray) -> bool:
    """Whether :func:`blend` and :func:`add_scaled` run as BLAS calls on these arrays (all
    C-contiguous, of one size of at least ``MIN_SIZE`` and one dtype BLAS has). The caller
    makes sure that they do not overlap."""
    first = arrays[0]
    routines = _functions() if first.size >= MIN_SIZE else None
    return (
        routines is not None
        and first.dtype in routines
        and all(
            a.dtype == first.dtype and a.size == first.size and a.flags.c_contiguous
            for a in arrays
        )
        and arrays[-1].flags.writeable
        and first.size < 2**31
    )


def blend(alpha: float, x, beta: float, y, scratch, direct: bool) -> None:
    """``y = alpha * x + beta * y``: one ``axpby`` pass when ``direct`` (as
    :func:`vectors_ready` says), else three NumPy passes through ``scratch`` (which may be
    ``x`` itself, then overwritten)."""
    if direct:
        _routines[y.dtype]["axpby"](y.size, alpha, _address(x), 1, beta, _address(y), 1)
        return
    y *= beta
    np.multiply(x, alpha, out=scratch)
    y += scratch


def add_scaled(y, alpha: float, x, scratch, direct: bool) -> None:
    """``y += alpha * x``: one ``axpy`` pass when ``direct``, else two NumPy passes through
    ``scratch`` (which may be ``x`` itself, then overwritten)."""
    if direct:
        _routines[y.dtype]["axpy"](y.size, alpha, _address(x), 1, _address(y), 1)
        return
    np.multiply(x, alpha, out=scratch)
    y += scratch


def blas_threads() -> int:
    """The threads NumPy's OpenBLAS runs a product on now (as set by ``OPENBLAS_NUM_THREADS``,
    threadpoolctl or :func:`one_thread`), or 0 when that library was not found."""
    _functions()
    return int(_thread_count[0]()) if _thread_count is not None else 0


_one_thread_lock = threading.Lock()
_one_thread_blocks = 0  # blocks of one_thread open now, in any Python thread
_saved_threads = 0


@contextmanager
def one_thread() -> Iterator[None]:
    """Run NumPy's OpenBLAS on one thread inside the block, for work that Python threads split
    between them, each running its own products. The count found by the first of the blocks open
    at a time is restored when the last one closes (also after an exception), so blocks open in
    several threads at once cannot leave it at one. Does nothing when the library was not found.

    Example:
        >>> with one_thread():
        ...     inside = blas_threads()
        >>> inside in (0, 1)
        True
    """
    global _one_thread_blocks, _saved_threads
    _functions()
    if _thread_count is None:
        yield
        return
    get, put = _thread_count
    with _one_thread_lock:
        if _one_thread_blocks == 0:
            _saved_threads = get()
            put(1)
        _one_thread_blocks += 1
    try:
        yield
    finally:
        with _one_thread_lock:
            _one_thread_blocks -= 1
            if _one_thread_blocks == 0:
                put(_saved_threads)
