"""The kernels' own exp, fma, division and log1p against numpy/libm."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from thunderline.routing.kernels.portable_math import (
    NORMAL_LIMIT,
    QUOTIENT_MIN,
    exp_nonpositive,
    fma,
    log1p_nonnegative,
    quotient,
)


@njit
def _fma_all(a, b, c):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = fma(a[i], b[i], c[i])
    return out


def test_fma_rounds_once():
    a = np.array([0.1, 1 + 2**-30, 3.0])
    b = np.array([10.0, 1 - 2**-30, 0.5])
    c = np.array([-1.0, -1.0, 0.25])
    out = _fma_all(a, b, c)
    assert out[0] == 2**-54  # 0.1·10 − 1 exactly; a·b + c separately gives 0
    assert out[1] == -(2**-60)
    assert out[2] == 1.75


def test_exp_is_within_one_ulp_of_libm_and_handles_underflow():
    rng = np.random.default_rng(5)
    x = np.concatenate(
        [
            -np.abs(rng.standard_normal(200_000)) * 4,
            -rng.uniform(0, 800, 20_000),
            [0.0, -0.0, -1e-300, -5e-324, NORMAL_LIMIT, NORMAL_LIMIT - 1e-9, -744.4, -745.2, -1e300],
        ]
    )
    out = np.empty_like(x)
    exp_nonpositive(x, out, np.empty_like(x))
    ref = np.array([math.exp(v) for v in x])
    normal = ref >= 2.2250738585072014e-308
    ulp = np.spacing(ref[normal])
    assert (np.abs(out[normal] - ref[normal]) <= 1.01 * ulp).all()
    assert (np.abs(out[~normal] - ref[~normal]) <= 2 * 4.9406564584124654e-324).all()
    assert out[-1] == 0.0 and out[-9] == 1.0
    assert (out >= 0).all()


def test_exp_is_monotone_on_a_fine_grid():
    x = np.linspace(-3.0, 0.0, 1_000_001)
    out = np.empty_like(x)
    exp_nonpositive(x, out, np.empty_like(x))
    assert (np.diff(out) >= 0).all()


@njit
def _quotients(a, b):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = quotient(a[i], b[i], 1.0 / b[i])
    return out


def test_quotient_rounds_exactly_like_division():
    """Markstein-corrected reciprocal products must give the bits of a/b (the scores depend on it)."""
    rng = np.random.default_rng(11)
    a = rng.random(400_000) ** rng.uniform(0.1, 40, 400_000)
    b = 1.0 + rng.random(400_000) * rng.choice([1.0, 15.0, 1e3], 400_000)
    ones = (1 << 52) - 1 - rng.integers(0, 2**16, 400_000)  # mantissas near all-ones: the hard cases
    a[::3] = (a[::3].view(np.int64) | ones[::3]).view(np.float64)
    b[1::3] = (b[1::3].view(np.int64) | ones[1::3]).view(np.float64)
    a = np.concatenate([np.maximum(a, QUOTIENT_MIN), [QUOTIENT_MIN, 1.0, 0.5, 1 - 2**-53]])
    b = np.concatenate([b, [1.0, 3.0, 1 + 2**-52, 16.0]])
    assert np.array_equal(_quotients(a, b), a / b)
    assert _quotients(np.array([0.0]), np.array([7.0]))[0] == 0.0


@njit
def _log1ps(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = log1p_nonnegative(x[i])
    return out


def test_log1p_is_within_one_ulp_of_libm():
    rng = np.random.default_rng(2)
    x = np.concatenate(
        [rng.random(200_000) * 15, rng.random(50_000) * 1e-3, 10 ** rng.uniform(-300, 300, 50_000),
         [0.0, 5e-324, 2.0**-53, 2.0**-52, 0.41421356237309503, 1.0, 2.0, 2.0**53, 2.0**54, 1e300]]
    )
    out = _log1ps(x)
    ref = np.array([math.log1p(v) for v in x])
    assert (np.abs(out - ref) <= np.spacing(np.abs(ref))).all()
    assert out[-10] == 0.0
