"""erf, erfc and the normal CDF against mpmath (40 digits) and SciPy, over dense grids, the
break points between Cody's ranges, the tails, and every dtype."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import special as scipy_special

from layerwise.special import erf, erfc, gelu, normal_cdf

mpmath.mp.dps = 40
BREAKS = [0.46875, 4.0, 1.0, 5.6, 7.5]  # Cody's ranges, the CDF's tail, the tables' ends


def exact(function, x: np.ndarray) -> np.ndarray:
    return np.array([float(function(mpmath.mpf(float(v)))) for v in x])


def grid() -> np.ndarray:
    around = [b + d for b in BREAKS for d in (-1e-12, 0.0, 1e-12)]
    x = np.concatenate([np.linspace(-7, 7, 2801), np.geomspace(1e-300, 2, 300), around])
    return np.concatenate([x, -x])


def test_erf_is_within_3_ulps_of_mpmath_absolute_and_relative():
    x = grid()
    got, want = erf(x), exact(mpmath.erf, x)
    assert np.max(np.abs(got - want)) <= 3.4e-16  # 3 ulps just below 1
    nonzero = want != 0
    assert np.max(np.abs(got - want)[nonzero] / np.abs(want[nonzero])) <= 1e-15


def test_erf_matches_scipy_on_a_dense_grid_to_1e_15():
    x = np.linspace(-12, 12, 1_200_001)  # also exercises the block-by-block path
    np.testing.assert_allclose(erf(x), scipy_special.erf(x), rtol=0, atol=1e-15)


def test_erfc_and_the_normal_cdf_keep_relative_precision_in_the_tails():
    x = np.linspace(-3, 26.5, 1500)
    np.testing.assert_allclose(erfc(x), exact(mpmath.erfc, x), rtol=2e-15, atol=0)
    np.testing.assert_array_equal(erfc(np.array([30.0, 1e300])), [0.0, 0.0])
    z = -np.linspace(0.5, 37, 1500)
    np.testing.assert_allclose(normal_cdf(z), exact(mpmath.ncdf, z), rtol=5e-13, atol=0)
    y = np.linspace(-8, 8, 3001)
    np.testing.assert_allclose(normal_cdf(y), scipy_special.ndtr(y), rtol=0, atol=2.3e-16)


def test_special_values_shapes_and_dtypes():
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf, 1e300, 0.0])), [1, -1, 1, 0])
    np.testing.assert_array_equal(erfc(np.array([np.inf, -np.inf])), [0.0, 2.0])
    np.testing.assert_array_equal(normal_cdf(np.array([np.inf, -np.inf])), [1.0, 0.0])
    assert np.isnan(erf(np.array([np.nan]))).all() and np.isnan(normal_cdf([np.nan])).all()
    assert math.copysign(1, erf(np.array([-0.0]))[0]) == -1
    assert erf(np.float64(0.5)).shape == () and erf([[0.5, 1.0]]).shape == (1, 2)
    x32 = np.linspace(-6, 6, 5001, dtype=np.float32)
    got = erf(x32)
    assert got.dtype == np.float32
    # computed in float64 and rounded once: the float32 nearest the exact value
    np.testing.assert_array_equal(got, scipy_special.erf(x32.astype(np.float64)).astype(np.float32))
    assert erf([1, 2]).dtype == np.float64


@pytest.mark.parametrize("function", [erf, erfc, normal_cdf])
def test_no_floating_point_warnings_on_extreme_inputs(function):
    x = np.array([-1e308, -50.0, -27.0, 27.0, 50.0, 1e308, np.inf, -np.inf, 1e-310, -5e-324])
    # Underflow (exp(-2500) rounding to 0) is the right answer, and is not raised even when
    # the caller asks NumPy to raise on everything.
    with np.errstate(all="raise"):
        assert np.isfinite(function(x)).all()
    with np.errstate(all="raise"):
        assert np.isfinite(gelu(x[np.isfinite(x)])).all()


def test_exact_gelu_gradient_against_mpmath_including_zero_and_the_tails():
    from layerwise.activations import GELU

    x = np.concatenate([np.linspace(-30, 30, 3001), [0.0, -0.0, 1e-300, -1e-300]])
    exact = np.array(
        [float(mpmath.ncdf(mpmath.mpf(v)) + mpmath.mpf(v) * mpmath.npdf(mpmath.mpf(v)))
         for v in x]
    )
    gelu = GELU()
    got = gelu.derivative(x, np.ones_like(x))
    scale = np.maximum(np.abs(exact), 1e-300)
    assert np.max(np.abs(got - exact) / scale) < 5e-13
    # float32: within a few float32 ulps of the exact value
    x32 = np.linspace(-9, 9, 2001, dtype=np.float32)
    got32 = gelu.derivative(x32, np.ones_like(x32))
    want32 = np.array(
        [float(mpmath.ncdf(mpmath.mpf(float(v))) + mpmath.mpf(float(v)) * mpmath.npdf(
            mpmath.mpf(float(v)))) for v in x32]
    )
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want32, rtol=0, atol=4e-7 * np.abs(want32).max())


def test_threads_each_get_their_own_scratch_arrays():
    from concurrent.futures import ThreadPoolExecutor

    arrays = [np.random.default_rng(seed).normal(scale=3, size=50_000) for seed in range(8)]
    expected = [erf(a) for a in arrays]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda a: (erf(a), normal_cdf(a)), arrays * 3))
    for k, (got, cdf) in enumerate(results):
        np.testing.assert_array_equal(got, expected[k % 8])
        np.testing.assert_array_equal(cdf, normal_cdf(arrays[k % 8]))


def test_erf_never_leaves_minus_one_to_one_and_is_odd():
    # Around the end of the table (5.6), on grid points and midway between them (2**-11).
    x = np.concatenate([np.linspace(5.0, 6.5, 30001), 5.6 + np.arange(-50, 50) * 2.0**-11])
    x = np.concatenate([x, -x])
    got = erf(x)
    assert np.all(np.abs(got) <= 1.0)
    np.testing.assert_array_equal(erf(-x), -got)
    np.testing.assert_allclose(got, exact(mpmath.erf, x), rtol=0, atol=3.4e-16)


def test_gelu_is_within_1e_15_relative_of_mpmath_also_in_the_tails():
    x = np.concatenate([
        np.linspace(-38, 10, 4801), np.geomspace(1e-300, 1, 200), -np.geomspace(1e-300, 1, 200),
        [b + d for b in (-9.0, -5.6, 5.6, 9.0) for d in (-1e-12, 0.0, 1e-12)],
    ])
    want = np.array([float(mpmath.mpf(float(v)) * mpmath.ncdf(mpmath.mpf(float(v)))) for v in x])
    got = gelu(x)
    normal = np.abs(want) >= 1e-300  # near and below underflow, fewer digits exist
    assert np.max(np.abs(got - want)[normal] / np.abs(want[normal])) < 1e-15
    tiny = ~normal
    assert np.all(np.abs(got - want)[tiny] <= 1e-15 * np.abs(want[tiny]) + 1e-322)


def test_gelu_writes_into_out_even_when_out_is_x():
    x = np.random.default_rng(3).normal(scale=3, size=(70, 600))  # several blocks
    want = gelu(x)
    out = np.empty_like(x)
    assert gelu(x, out=out) is out
    np.testing.assert_array_equal(out, want)
    y = x.copy()
    gelu(y, out=y)  # in place, as the recurrent layers call activations
    np.testing.assert_array_equal(y, want)
    x32 = x.astype(np.float32)
    out32 = np.empty_like(x32)
    gelu(x32, out=out32)  # computed in float64, rounded once
    np.testing.assert_array_equal(out32, gelu(x32.astype(np.float64)).astype(np.float32))
