"""Special functions NumPy lacks: the error function, the standard normal CDF and GELU.

``erf``, ``normal_cdf`` and ``gelu`` come from tables of short Taylor polynomials
(``_piecewise.py``), some twenty passes over cache-sized blocks:

- ``erf(x) = x F(x)``, ``F(a) = erf(a) / a`` tabulated on ``|x| <= 5.6``: relative precision
  also for tiny ``x``, no sign handling;
- ``normal_cdf`` and ``gelu`` from ``q(a) = Phi(-a)`` tabulated on ``a <= 9`` with its Gaussian
  factor apart: ``Phi(x) = H(x) - copysign(q(|x|), x)`` and ``x Phi(x) = max(x, 0) - |x| q(|x|)``
  keep the relative precision of the lower tail, where ``(1 + erf(x / sqrt 2)) / 2`` cancels.

``erfc``, and the few values beyond the tables, use W. J. Cody's rational approximations
("Rational Chebyshev approximations for the error function", Math. Comp. 23, 1969), whose
published coefficients reach float64's precision in three ranges of ``a = |x|``:

- ``a < 0.46875``: ``erf(a) = a P(a^2) / Q(a^2)`` (degree 4 over 4);
- ``0.46875 <= a < 4``: ``erfc(a) = exp(-a^2) R(a) / S(a)`` (degree 8 over 8);
- ``a >= 4``: ``erfc(a) = exp(-a^2) / a (1/sqrt(pi) - z U(z) / V(z))``, ``z = 1/a^2``;

with ``exp(-a^2)`` from ``a^2`` split into an exact part and a small one. Float32 and float16
inputs are computed in float64 and rounded once. Arrays are processed in blocks that stay in the
CPU cache, with scratch arrays reused across calls.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
from numpy.typing import ArrayLike

from ._piecewise import PiecewiseTable, erf_ratio_table, normal_tail_table

__all__ = ["erf", "erfc", "gelu", "normal_cdf"]

_SQRT_HALF = 1 / math.sqrt(2)
_INV_SQRT_PI = 1 / math.sqrt(math.pi)
_SMALL = 0.46875  # Cody's first break point
_MIDDLE = 4.0  # and his second
_ZERO_BEYOND = 27.3  # erfc(a) is exactly 0 in float64 from about 26.6 on; clamping keeps a^2 finite
_BLOCK = 16384  # values per block: the scratch arrays of one block stay in the L2 cache
_HALF_EXP_MINUS_128 = 0.5 * math.exp(-128.0)
_HIGHEST = 9.0  # the end of the normal CDF's table
_TAIL_STEP = 2.0**-10

# Cody's coefficients, highest power first (monic denominators omit their leading 1).
_P_SMALL = (
    1.85777706184603153e-1,
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
)
_Q_SMALL = (
    2.36012909523441209e01,
    2.44024637934444173e02,
    1.28261652607737228e03,
    2.84423683343917062e03,
)
_P_MIDDLE = (
    2.15311535474403846e-8,
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
)
_Q_MIDDLE = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
_P_LARGE = (
    1.63153871373020978e-2,
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
)
_Q_LARGE = (
    2.56852019228982242e00,
    1.87295284992346047e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
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


def _erfc_ratio(a: np.ndarray, out: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``erfc(a) exp(a^2)`` for ``0.46875 <= a <= 27.3`` (or NaN) into ``out``; ``q`` is
    scratch. Its relative sensitivity to ``a`` is below 1, so a rounded ``a`` costs nothing."""
    _polynomial(a, _P_MIDDLE, False, out)
    out /= _polynomial(a, _Q_MIDDLE, True, q)
    far = np.flatnonzero(a >= _MIDDLE)
    if len(far):
        # The few values in the far tail are recomputed with its own formula: cheaper than
        # splitting the whole array (the middle formula is finite there, just less precise).
        outside = a[far]
        z = 1 / (outside * outside)
        tail = _polynomial(z, _P_LARGE, False, np.empty_like(z))
        tail /= _polynomial(z, _Q_LARGE, True, np.empty_like(z))
        tail *= z
        out[far] = (_INV_SQRT_PI - tail) / outside
    return out


def _exp_minus_square(v: np.ndarray, scale: float, shift: float = 0.0) -> np.ndarray:
    """``exp(shift - scale v^2)`` (``scale`` 1 or 1/2, ``|v| <= 40``, ``shift`` an integer)
    with ``v^2`` split as Cody does: ``v = h + l`` with ``h`` a multiple of 1/16, so that
    ``shift - scale h^2`` is exact and the rounding of ``v^2`` (a relative error of
    ``v^2 2^-53`` in the result) does not happen."""
    high = np.trunc(v * 16)
    high /= 16
    result = np.exp(shift - high * high * scale)
    result *= np.exp((v - high) * (v + high) * -scale)
    return result


def _erfc_large(a: np.ndarray, out: np.ndarray, clipped: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``erfc(a)`` for ``a >= 0.46875`` into ``out``; ``clipped`` and ``q`` are scratch."""
    a = np.minimum(a, _ZERO_BEYOND, out=clipped)  # erfc is 0 beyond; a * a stays finite
    _erfc_ratio(a, out, q)
    out *= _exp_minus_square(a, 1.0)
    return out


def _cdf_lower_tail(x: np.ndarray) -> np.ndarray:
    """``Phi(x)`` for a few ``x <= -1`` (or NaN), relative precision kept: ``erfc(-x / sqrt 2)
    / 2`` with ``exp(-x^2 / 2)`` from ``x`` itself (the rounding of ``x / sqrt 2`` would cost
    ``x^2`` ulps there)."""
    x = np.maximum(x, -40.0)  # Phi is 0 in float64 from -38.5 on
    a = x * -_SQRT_HALF
    result = _erfc_ratio(a, np.empty_like(a), np.empty_like(a))
    # Scaled by e^128 until the last multiplication, so that a Phi below float64's smallest
    # normal number (x < -37.5) is rounded once, not lost in an underflowing factor.
    result *= _exp_minus_square(x, 0.5, shift=128.0)
    result *= _HALF_EXP_MINUS_128
    return result


# Scratch arrays reused across calls (one set per thread): fresh temporaries of this size are
# mapped from the operating system and page-faulted on every call, which doubled erf's time.
_SCRATCH = threading.local()
_ROWS = 8  # a table's evaluation needs degree + 3 = 7, the CDF one more


def _scratch(n: int) -> np.ndarray:
    """``(_ROWS, n)`` float64 scratch of this thread, at least ``n`` wide."""
    scratch = getattr(_SCRATCH, "array", None)
    if scratch is None or scratch.shape[1] < n:
        scratch = _SCRATCH.array = np.empty((_ROWS, max(n, _BLOCK)))
        _SCRATCH.index = np.empty(max(n, _BLOCK), dtype=np.intp)
    return scratch


def _index(n: int) -> np.ndarray:
    """``n`` intp scratch of this thread (after ``_scratch(n)``)."""
    return _SCRATCH.index[:n]


def _split(a: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``a < threshold`` and of the rest (NaN among the rest). Integer indices, not
    boolean masks: NumPy gathers and scatters with them several times faster."""
    below = a < threshold
    return np.flatnonzero(below), np.flatnonzero(np.logical_not(below, out=below))


def _blocks(function, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``function(block, result_block)`` over ``x`` in float64 blocks of at most ``_BLOCK``
    values, rounded to ``x``'s dtype (into ``out`` if given)."""
    flat = np.ravel(x)
    direct = (
        x.dtype == np.float64
        and out is not None
        and out.dtype == np.float64
        and out.flags.c_contiguous
        and not np.may_share_memory(out, x)  # a block is read after its result is written
    )
    if direct:
        result = out.reshape(-1)
    else:
        result = np.empty(flat.size, dtype=np.float64)

    # x / step overflows for |x| near 1e308 and inf - inf is NaN: values the table reports as
    # outside its range, and that are computed again; underflow is the right answer.
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for start in range(0, flat.size, _BLOCK):
            stop = min(start + _BLOCK, flat.size)
            part = flat[start:stop].astype(np.float64, copy=False)
            function(part, result[start:stop])
    if out is not None:
        if not direct:
            out[...] = result.reshape(x.shape)
        return out
    return result.astype(x.dtype, copy=False).reshape(x.shape)


def _gather(source: np.ndarray, index: np.ndarray, out: np.ndarray) -> np.ndarray:
    # mode="clip": the indices are valid by construction, and the default mode="raise" makes
    # np.take gather into a temporary and copy it.
    return np.take(source, index, out=out[: len(index)], mode="clip")


@functools.cache
def _erf_table() -> PiecewiseTable:
    """erf(x) = x F(x) up to |x| = 5.6, where erfc (1.2e-15) is still above the table's error,
    so that no value rounds above 1; beyond (rarely), 1 - erfc. The step is a power of 2, so
    that each x's grid point and offset are exact. Built on first use (10 ms), not at import."""
    return erf_ratio_table(-5.6, 5.6, 2.0**-10)


@functools.cache
def _tail_table() -> PiecewiseTable:
    """Phi(-a) for 0 <= a <= 9 with its Gaussian factor apart (``normal_tail_table``), from
    erf near 0 and Cody's erfc beyond at the grid points; above 9 (Phi(-9) = 1.1e-19), Cody's
    erfc itself."""

    def upper_tail(a: np.ndarray) -> np.ndarray:
        near = np.array([0.5 * (1.0 - math.erf(v * _SQRT_HALF)) for v in a])
        return np.where(a < 1, near, _cdf_lower_tail(-np.maximum(a, 1.0)))

    return normal_tail_table(_HIGHEST, _TAIL_STEP, upper_tail)


def _complement(a: np.ndarray) -> np.ndarray:
    """``erfc(a)`` for a few ``a >= 0.46875`` (or NaN), in fresh arrays."""
    return _erfc_large(a, np.empty_like(a), np.empty_like(a), np.empty_like(a))


def _erf_flat(x: np.ndarray, result: np.ndarray) -> None:
    n = len(x)
    table = _erf_table()
    scratch = _scratch(n)[: table.degree + 3, :n]
    index = _index(n)
    far = table.evaluate(x, result, scratch, index)
    result *= x
    if far is not None:
        outside = x[far]
        result[far] = np.copysign(1.0 - _complement(np.abs(outside)), outside)


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


def _upper_tail(x: np.ndarray, result: np.ndarray, scratch: np.ndarray) -> np.ndarray | None:
    """``q(|x|) = Phi(-|x|)`` into ``result`` from its table, ``|x|`` left in ``scratch[7]``;
    returns the positions of values beyond the table (see ``PiecewiseTable.evaluate``)."""
    table = _tail_table()
    a = np.abs(x, out=scratch[7])
    far = table.evaluate(a, result, scratch[:7], _index(len(x)))
    # times exp(-c t), a = c + t (exp(-t^2 / 2) is in the table)
    factor = np.multiply(scratch[0], scratch[1], out=scratch[2])
    np.negative(factor, out=factor)
    result *= np.exp(factor, out=factor)
    return far


def _normal_cdf_flat(x: np.ndarray, result: np.ndarray) -> None:
    # Phi(x) = q(|x|) for x < 0 and 1 - q(|x|) for x >= 0, q(a) = Phi(-a): relative precision
    # in the lower tail, no cancellation, no split of the array. Without branches (a masked
    # copy takes 7 times as long): Phi = H(x) - copysign(q, x), H(x) = 1/2 + copysign(1/2, x).
    scratch = _scratch(len(x))[:, : len(x)]
    far = _upper_tail(x, result, scratch)
    np.copysign(result, x, out=result)
    step = np.copysign(0.5, x, out=scratch[3])
    step += 0.5
    np.subtract(step, result, out=result)
    if far is not None:
        result[far] = _cdf_outside(x[far])


def _cdf_outside(x: np.ndarray) -> np.ndarray:
    """Phi beyond the table (|x| > 9) and at NaN, from Cody's erfc."""
    lower = x < 0
    values = np.empty_like(x)
    values[lower] = _cdf_lower_tail(x[lower])
    upper = np.logical_not(lower, out=lower)  # above the table, or NaN
    values[upper] = 1.0 - 0.5 * _complement(x[upper] * _SQRT_HALF)
    return values


def _gelu_flat(x: np.ndarray, result: np.ndarray) -> None:
    # x Phi(x) = max(x, 0) - |x| q(|x|): x q for x < 0 exactly, x (1 - q) for x >= 0.
    scratch = _scratch(len(x))[:, : len(x)]
    far = _upper_tail(x, result, scratch)
    result *= scratch[7]
    np.subtract(np.maximum(x, 0.0, out=scratch[3]), result, out=result)
    if far is not None:
        result[far] = x[far] * _cdf_outside(x[far])


def erf(x: ArrayLike) -> np.ndarray:
    """The error function, element-wise: within 3 ulps of the exact value in float64
    (relative error below 5e-16, also for tiny ``x``), correctly rounded to float32.

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
    ``x < -1`` so that the far negative tail keeps its relative precision instead of
    cancelling to noise (relative error below 1e-15 everywhere).

    Example::

        normal_cdf([0.0, -10.0])   # array([5.0e-01, 7.61985302e-24])
    """
    x = _as_float(x)
    return _blocks(_normal_cdf_flat, x)


def gelu(x: ArrayLike, out: np.ndarray | None = None) -> np.ndarray:
    """The exact GELU, ``x * Phi(x)`` (PyTorch's ``gelu`` with ``approximate='none'``), in one
    pass over ``x``: relative error below 1e-15, also in the negative tail where it is tiny.

    Args:
        x: any array-like; floating arrays keep their dtype.
        out: optional array of ``x``'s shape to write into.

    Example::

        gelu([-1.0, 0.0, 2.0])   # array([-0.15865525, 0., 1.95449974])
    """
    x = _as_float(x)
    return _blocks(_gelu_flat, x, out)
