"""The kernels' own exp and fma against numpy/libm."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from thunderline.routing.kernels.portable_math import NORMAL_LIMIT, exp_nonpositive, fma


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
