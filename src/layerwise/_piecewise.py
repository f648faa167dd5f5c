"""Smooth functions as tables of short Taylor polynomials, evaluated in a few NumPy passes.

A ``PiecewiseTable`` holds, for the points ``c_k = k h`` of a uniform grid (``h`` a power of 2,
so that ``x / h`` is exact), the coefficients of ``f(c_k + s h) = sum_j g_kj s^j``, ``|s| <= 1/2``,
degree 4: at ``h = 2**-10`` the truncation error is below 1e-17 relative. Evaluating a block
costs its grid index and offset ``s`` (five passes, the index rounded with the ``1.5 * 2**52``
trick that makes float addition round to an integer held in the low bits), one gather of the
five coefficient rows and Horner's rule: some sixteen passes and a gather, against the sixty of
rational approximations with their range splits. (NumPy has no faster primitive for this: each
pass costs about a seventh of ``np.tanh``, the gather about two passes per coefficient.)

Two tables are built, once, in float64:

- ``erf_ratio_table``: ``F(a) = erf(a) / a`` (even, between 1/6 and 2/sqrt(pi) where used), from
  ``math.erf`` at the points and erf's derivatives (Hermite polynomials times ``exp(-c^2)``)
  through ``a F = erf``; below ``a = 1``, where dividing by ``c`` would amplify rounding errors,
  from F's Maclaurin series;
- ``normal_tail_table``: ``q(a) = Phi(-a)`` with the factor ``exp(-c t)`` left to the caller,
  from the Mills ratio's derivatives.
"""

from __future__ import annotations

import math

import numpy as np

_ROUNDER = 1.5 * 2.0**52  # adding it rounds |u| < 2**51 to an integer, held in the low bits


def _taylor_of_f(centres: np.ndarray, degree: int) -> np.ndarray:
    """``F^(j)(c) / j!`` for ``j = 0..degree`` (rows) at non-negative ``centres``."""
    out = np.empty((degree + 1, len(centres)))
    near = centres < 1.0
    c = centres[near]
    # F(a) = sum_n b_n a^(2n); the j-th Taylor coefficient at c is sum_n b_n C(2n, j) c^(2n-j).
    # For c < 1 the terms fall like 1/n!; sixty of them are far more than float64 needs.
    b = [2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(60)]
    for j in range(degree + 1):
        total = np.zeros_like(c)
        for n in range(59, -1, -1):  # smallest terms first
            if 2 * n >= j:
                total += b[n] * math.comb(2 * n, j) * c ** (2 * n - j)
        out[j, near] = total
    c = centres[~near]
    # erf^(j)(c) = 2/sqrt(pi) exp(-c^2) (-1)^(j-1) H_(j-1)(c), H the physicists' Hermite
    # polynomials; a F = erf gives f_j = (e_j - f_(j-1)) / c, which damps errors for c >= 1.
    density = 2 / math.sqrt(math.pi) * np.exp(-c * c)
    hermite = [np.ones_like(c), 2 * c]
    for n in range(1, degree):
        hermite.append(2 * c * hermite[n] - 2 * n * hermite[n - 1])
    f = np.array([math.erf(v) for v in c]) / c
    out[0, ~near] = f
    for j in range(1, degree + 1):
        e = density * (-1) ** (j - 1) * hermite[j - 1] / math.factorial(j)
        f = (e - f) / c
        out[j, ~near] = f
    return out


class PiecewiseTable:
    """A function as Taylor polynomials of degree ``degree`` around the points ``c = k step``,
    ``first <= k <= last``: ``f(c + t) = sum_j table[j, k - first] t^j`` for ``|t| <= step / 2``,
    ``step`` a power of 2.

    Built by ``erf_ratio_table`` or ``normal_tail_table``; ``evaluate`` gives the polynomials'
    values.
    """

    def __init__(self, table: np.ndarray, first: int, step: float):
        if math.frexp(step)[0] != 0.5:
            raise ValueError(f"Argument 'step' must be a power of 2; received {step!r}.")
        self.table = np.ascontiguousarray(table)  # (degree + 1, points)
        self.degree = table.shape[0] - 1
        self.first = first
        self.last = first + table.shape[1] - 1
        # Adding 1.5 * 2**52 * step rounds |x| < 2**51 * step to a multiple of step (float
        # addition rounds to the sum's ulp, which is step there), held in the sum's low bits.
        self._rounder = _ROUNDER * step
        self._bits = int(np.array(self._rounder).view(np.int64)) + first
        self._span = self.last - first

    def evaluate(
        self, x: np.ndarray, out: np.ndarray, scratch: np.ndarray, index: np.ndarray
    ) -> np.ndarray | None:
        """The table's function at ``x`` (float64) into ``out``; ``scratch`` is float64 of
        shape ``(degree + 3, len(x))`` and ``index`` intp of ``len(x)``, both overwritten.

        Returns None when every ``x`` is inside the table's range, else the positions of those
        outside it (NaN among them), where ``out`` is meaningless, for the caller to replace. On
        return, ``scratch[0]`` holds each ``t`` and ``scratch[1]`` each ``c``.
        """
        t, centre, gathered = scratch[0], scratch[1], scratch[2:]
        np.add(x, self._rounder, out=centre)
        np.subtract(centre.view(np.int64), self._bits, out=index)
        # An x outside the range (or NaN, or infinite) gives an index outside [0, span], which
        # read as unsigned is above span: one reduction instead of clipping every value.
        unsigned = index.view(np.uint64)
        outside = None
        if unsigned.max(initial=0) > self._span:
            outside = np.flatnonzero(unsigned > self._span)
            # Valid indices for the gather (it would clip them one by one, each with a
            # mispredicted branch); the values there are the caller's to replace.
            np.minimum(unsigned, self._span, out=unsigned)
        centre -= self._rounder  # the nearest grid point, exactly
        np.subtract(x, centre, out=t)  # exactly: |t| <= step / 2 (inside the range)
        # One gather of all coefficients: a third faster than one gather per coefficient
        # (mode="clip" keeps the indices of outside values valid).
        np.take(self.table, index, axis=1, out=gathered, mode="clip")
        np.multiply(gathered[-1], t, out=out)
        for row in gathered[-2:0:-1]:
            out += row
            out *= t
        out += gathered[0]
        return outside


def _grid(lo: float, hi: float, step: float) -> np.ndarray:
    """The integers ``k`` with ``k step`` covering ``[lo, hi]``."""
    return np.arange(math.floor(lo / step), math.ceil(hi / step) + 1)


def erf_ratio_table(lo: float, hi: float, step: float) -> PiecewiseTable:
    """``F(x) = erf(x) / x`` for ``lo <= x <= hi``."""
    k = _grid(lo, hi, step)
    centres = k * step
    taylor = _taylor_of_f(np.abs(centres), 4)
    # F is even: odd coefficients change sign at negative centres.
    for j in range(1, taylor.shape[0], 2):
        taylor[j] = np.where(centres < 0, -taylor[j], taylor[j])
    return PiecewiseTable(taylor, int(k[0]), step)


def normal_tail_table(hi: float, step: float, upper_tail) -> PiecewiseTable:
    """``q(a) = Phi(-a) = exp(-c t) sum_j table[j, k] t^j`` for ``0 <= a = c + t <= hi``: the
    Gaussian factor taken out, so that degree 4 suffices where ``q`` itself changes by
    ``e^(a step)`` per step.

    ``q(c + t) = phi(c) exp(-c t - t^2 / 2) N(c + t)``, ``N = q / phi`` (the Mills ratio), whose
    derivatives follow from ``N' = a N - 1``: ``N^(n+1) = a N^(n) + n N^(n-1)``.
    ``upper_tail`` gives ``q`` at the grid points to float64's precision; ``c^2`` is exact
    there, and so is ``phi(c)`` to its rounding.
    """
    k = _grid(0.0, hi, step)
    c = k * step
    density = np.exp(-0.5 * c * c) / math.sqrt(2 * math.pi)
    mills = [upper_tail(c) / density]
    mills.append(c * mills[0] - 1)
    for n in range(1, 4):
        mills.append(c * mills[n] + n * mills[n - 1])
    taylor = np.array([density * m / math.factorial(j) for j, m in enumerate(mills)])
    # exp(-t^2 / 2) = 1 - t^2 / 2 + t^4 / 8 - ... is the same at every point: folded into the
    # polynomials (the t^5 and higher terms of the product are below 1e-30).
    folded = taylor.copy()
    folded[2:] -= taylor[:-2] / 2
    folded[4:] += taylor[:-4] / 8
    return PiecewiseTable(folded, int(k[0]), step)
