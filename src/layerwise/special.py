"""Special functions NumPy lacks: the error function and the standard normal CDF.

Element-wise and vectorized, with W. J. Cody's rational approximations ("Rational Chebyshev
approximations for the error function", Math. Comp. 23, 1969), whose published coefficients
reach float64's precision in three ranges of ``a = |x|``:

- ``a < 0.46875``: ``erf(a) = a P(a^2) / Q(a^2)`` (degree 4 over 4);
- ``0.46875 <= a < 4``: ``erfc(a) = exp(-a^2) R(a) / S(a)`` (degree 8 over 8);
- ``a >= 4``: ``erfc(a) = exp(-a^2) / a (1/sqrt(pi) - z U(z) / V(z))``, ``z = 1/a^2``.

``erf`` and ``erfc`` are each computed where they have no cancellation, so ``normal_cdf`` keeps
its relative precision in the far negative tail. Float32 and float16 inputs are computed in
float64 and rounded once. Arrays are processed in blocks that stay in the CPU cache.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["erf", "erfc", "normal_cdf"]

_SQRT_HALF = 1 / math.sqrt(2)
_INV_SQRT_PI = 1 / math.sqrt(math.pi)
_SMALL = 0.46875  # Cody's first break point
_MIDDLE = 4.0  # and his second
_ZERO_BEYOND = 27.3  # erfc(a) is exactly 0 in float64 from about 26.6 on; clamping keeps a^2 finite
_BLOCK = 16384  # values per block: the scratch arrays of one block stay in the L2 cache

# Cody's coefficients, highest power first (monic denominators omit their leading 1).
_P_SMALL = (
    1.85777706184603153e-1, 3.16112374387056560e00, 1.13864154151050156e02,
    3.77485237685302021e02, 3.20937758913846947e03,
)
_Q_SMALL = (
    2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
    2.84423683343917062e03,
)
_P_MIDDLE = (
    2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e00,
    6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
    1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
)
_Q_MIDDLE = (
    1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
    1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
    3.43936767414372164e03, 1.23033935480374942e03,
)
_P_LARGE = (
    1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
    1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4,
)
_Q_LARGE = (
    2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
    6.05183413124413191e-2, 2.33520497626869185e-3,
)


def _as_float(x: ArrayLike) -> np.ndarray:
    """``x`` as an array; floating arrays keep their dtype, anything else becomes float64."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _polynomial(
    t: np.ndarray, coefficients: tuple[float, ...], monic: bool, out: np.ndarray
) -> np.ndarray:
    """Horner's rule in place into ``out``: ``sum c_k t^k`` (with a leading ``t^n`` term when
    ``monic``)."""
    if monic:
        np.add(t, coefficients[0], out=out)
        rest = coefficients[1:]
    else:
        np.multiply(t, coefficients[0], out=out)
        out += coefficients[1]
        rest = coefficients[2:]
    for c in rest:
        out *= t
        out += c
    return out


def _erf_small(a: np.ndarray, out: np.ndarray, z: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``erf(a)`` for ``|a| < 0.46875`` into ``out`` (odd: the sign of ``a`` carries
    through); ``z`` and ``q`` are scratch arrays of ``a``'s size."""
    np.multiply(a, a, out=z)
    _polynomial(z, _P_SMALL, False, out)
    out *= a
    out /= _polynomial(z, _Q_SMALL, True, q)
    return out


def _erfc_large(a: np.ndarray, out: np.ndarray, clipped: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``erfc(a)`` for ``a >= 0.46875`` into ``out``; ``clipped`` and ``q`` are scratch."""
    a = np.minimum(a, _ZERO_BEYOND, out=clipped)
    _polynomial(a, _P_MIDDLE, False, out)
    out /= _polynomial(a, _Q_MIDDLE, True, q)
    # exp(-a^2) of the a^2 as rounded: its relative error, a^2 * 2^-53, is below 2e-15 for
    # a < 4; beyond, the far tail splits a^2 exactly (as Cody does) to keep erfc's precision.
    factor = np.multiply(a, a, out=q)
    np.negative(factor, out=factor)
    np.exp(factor, out=factor)
    if a.size and a.max() >= _MIDDLE:
        # The few values in the far tail are recomputed with its own formula: cheaper than
        # splitting the whole array (the middle formula is finite there, just less precise).
        far = np.flatnonzero(a >= _MIDDLE)
        outside = a[far]
        z = 1 / (outside * outside)
        tail = _polynomial(z, _P_LARGE, False, np.empty_like(z))
        tail /= _polynomial(z, _Q_LARGE, True, np.empty_like(z))
        tail *= z
        out[far] = (_INV_SQRT_PI - tail) / outside
        high = np.trunc(outside * 16) / 16  # high * high is exact
        factor[far] = np.exp(-high * high) * np.exp(-(outside - high) * (outside + high))
    out *= factor
    return out


# Scratch arrays reused across calls (one set per thread): fresh temporaries of this size are
# mapped from the operating system and page-faulted on every call, which doubled erf's time.
_SCRATCH = threading.local()
_ROWS = 6


def _scratch(n: int) -> np.ndarray:
    """``(_ROWS, n)`` float64 scratch of this thread, at least ``n`` wide."""
    scratch = getattr(_SCRATCH, "array", None)
    if scratch is None or scratch.shape[1] < n:
        scratch = _SCRATCH.array = np.empty((_ROWS, max(n, _BLOCK)))
    return scratch


def _split(a: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``a < threshold`` and of the rest (NaN among the rest). Integer indices, not
    boolean masks: NumPy gathers and scatters with them several times faster."""
    below = a < threshold
    return np.flatnonzero(below), np.flatnonzero(np.logical_not(below, out=below))


def _blocks(function, x: np.ndarray) -> np.ndarray:
    """``function(block, result_block)`` over ``x`` in float64 blocks of at most ``_BLOCK``
    values, rounded to ``x``'s dtype."""
    flat = np.ravel(x)
    result = np.empty(flat.size, dtype=np.float64)
    for start in range(0, flat.size, _BLOCK):
        part = flat[start : start + _BLOCK].astype(np.float64, copy=False)
        function(part, result[start : start + _BLOCK])
    return result.astype(x.dtype, copy=False).reshape(x.shape)


def _gather(source: np.ndarray, index: np.ndarray, out: np.ndarray) -> np.ndarray:
    # mode="clip": the indices are valid by construction, and the default mode="raise" makes
    # np.take gather into a temporary and copy it.
    return np.take(source, index, out=out[: len(index)], mode="clip")


def _erf_flat(x: np.ndarray, result: np.ndarray) -> None:
    s = _scratch(len(x))
    a = np.abs(x, out=s[0, : len(x)])
    small, large = _split(a, _SMALL)
    inside = _gather(x, small, s[1])
    m = len(small)
    result[small] = _erf_small(inside, s[2, :m], s[3, :m], s[4, :m])
    k = len(large)
    if k:
        outside = _gather(a, large, s[1])
        value = _erfc_large(outside, s[2, :k], s[3, :k], s[4, :k])
        np.subtract(1.0, value, out=value)
        result[large] = np.copysign(value, _gather(x, large, s[5]), out=value)


def _erfc_flat(x: np.ndarray, result: np.ndarray) -> None:
    s = _scratch(len(x))
    a = np.abs(x, out=s[0, : len(x)])
    small, large = _split(a, _SMALL)
    m, k = len(small), len(large)
    value = _erf_small(_gather(x, small, s[1]), s[2, :m], s[3, :m], s[4, :m])
    result[small] = np.subtract(1.0, value, out=value)
    value = _erfc_large(_gather(a, large, s[1]), s[2, :k], s[3, :k], s[4, :k])
    negative = np.flatnonzero(_gather(x, large, s[5]) < 0)
    value[negative] = 2 - value[negative]
    result[large] = value


def _normal_cdf_flat(x: np.ndarray, result: np.ndarray) -> None:
    s = _scratch(len(x))
    n = len(x)
    u = np.multiply(x, _SQRT_HALF, out=s[5, :n])
    a = np.abs(u, out=s[0, :n])
    small, large = _split(a, _SMALL)
    m, k = len(small), len(large)
    part = _erf_small(_gather(u, small, s[1]), s[2, :m], s[3, :m], s[4, :m])
    part += 1
    part *= 0.5
    result[small] = part
    if k:
        positive = large[_gather(u, large, s[1]) > 0]  # before s[1] is reused
        half_tail = _erfc_large(_gather(a, large, s[1]), s[2, :k], s[3, :k], s[4, :k])
        half_tail *= 0.5  # Phi(x) for x < 0; 1 - Phi(|x|) for x > 0
        result[large] = half_tail
        result[positive] = 1 - result[positive]


def erf(x: ArrayLike) -> np.ndarray:
    """The error function, element-wise: within 2 ulps of the exact value in float64
    (relative, also for tiny ``x``), correctly rounded to float32.

    Lists and integer arrays are computed in float64; floating arrays keep their dtype.

    Example::

        erf([0.0, 0.5, 3.0])   # array([0., 0.52049988, 0.99997791])
    """
    x = _as_float(x)
    return _blocks(_erf_flat, x)


def erfc(x: ArrayLike) -> np.ndarray:
    """``1 - erf(x)`` without the cancellation: relative precision also where it is tiny
    (``erfc(10) = 2.1e-45``).

    Example::

        erfc([0.0, 10.0])   # array([1.0e+00, 2.08848758e-45])
    """
    x = _as_float(x)
    return _blocks(_erfc_flat, x)


def normal_cdf(x: ArrayLike) -> np.ndarray:
    """``Phi(x) = (1 + erf(x / sqrt(2))) / 2``, the standard normal CDF, through ``erfc`` for
    ``|x| > 0.66`` so that the far negative tail keeps its relative precision instead of
    cancelling to noise.

    Example::

        normal_cdf([0.0, -10.0])   # array([5.0e-01, 7.61985302e-24])
    """
    x = _as_float(x)
    return _blocks(_normal_cdf_flat, x)
