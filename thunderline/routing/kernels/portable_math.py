"""Fused multiply-add and exp(x ≤ 0) with the same bits on every machine.

Why not ``math.exp``: libm is called once per element (no SIMD) and its last
bit differs between C libraries, so gate scores - which decision traces hash -
would differ between machines. This exp uses only IEEE operations and fma,
is within about 1 ulp of the correctly rounded value, and vectorises.

Why an explicit fma: letting the compiler contract a·b + c (fast-math) makes
the result depend on the target CPU; ``llvm.fma`` always rounds once, in
hardware where available and in software otherwise.

Method: x = k·ln2 + r with |r| ≤ ln2/2 (Cody-Waite split of ln2), exp(r) by
its Taylor polynomial of degree 13 (truncation < 5e-18), times 2^k built
directly as the bits of a double.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
#: Adding 1.5·2^52 rounds to an integer and leaves it in the low mantissa bits.
_ROUND_SHIFT = 6755399441055744.0
#: Below this, 2^k is no longer a normal double; such elements take the ldexp path.
NORMAL_LIMIT = -708.0
#: exp(-800) is 0 in float64; clamping keeps k far from integer overflow.
_ZERO_LIMIT = -800.0

(_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13) = (
    1.0 / math.factorial(i) for i in range(14)
)


@intrinsic
def fma(typingctx, a, b, c):
    """a·b + c rounded once (IEEE 754 fusedMultiplyAdd)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        f64 = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [f64], ir.FunctionType(f64, [f64, f64, f64]))
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _reduced(v):
    """(exp(r), rounding-shifted k) for v = k·ln2 + r."""
    shifted = fma(v, _LOG2E, _ROUND_SHIFT)
    k = shifted - _ROUND_SHIFT
    r = fma(-k, _LN2_LO, fma(-k, _LN2_HI, v))
    poly = fma(_C13, r, _C12)
    poly = fma(poly, r, _C11)
    poly = fma(poly, r, _C10)
    poly = fma(poly, r, _C9)
    poly = fma(poly, r, _C8)
    poly = fma(poly, r, _C7)
    poly = fma(poly, r, _C6)
    poly = fma(poly, r, _C5)
    poly = fma(poly, r, _C4)
    poly = fma(poly, r, _C3)
    poly = fma(poly, r, _C2)
    poly = fma(poly, r, _C1)
    poly = fma(poly, r, _C0)
    return poly, shifted


@njit(cache=True, nogil=True)
def exp_nonpositive(x, out, scratch):
    """out[i] = exp(x[i]) for x[i] ≤ 0; ``scratch`` is caller-owned, same length as x."""
    size = x.shape[0]
    scale_bits = scratch.view(np.int64)
    tiny = False
    for i in range(size):
        v = x[i]
        tiny |= v < NORMAL_LIMIT
        poly, shifted = _reduced(max(v, NORMAL_LIMIT))
        out[i] = poly
        scratch[i] = shifted
    for i in range(size):
        # low mantissa bits of `shifted` hold k; (k + 1023) << 52 is the double 2^k
        scale_bits[i] = (scale_bits[i] + 1023) << 52
    for i in range(size):
        out[i] *= scratch[i]
    if tiny:
        for i in range(size):
            if x[i] < NORMAL_LIMIT:
                poly, shifted = _reduced(max(x[i], _ZERO_LIMIT))
                out[i] = math.ldexp(poly, int(shifted - _ROUND_SHIFT))


#: Below this dividend, ``quotient`` may not round correctly (its remainder could
#: underflow); callers divide such elements directly.
QUOTIENT_MIN = 2.0**-900


@njit(cache=True, nogil=True, inline="always")
def quotient(a, b, inv_b):
    """a/b correctly rounded, given inv_b = 1/b (an IEEE division), for QUOTIENT_MIN ≤ a and 1 ≤ b ≤ 2^100.

    Why: one division per token and fmas per score instead of a division per
    score - vector division is several times slower than fma. Markstein's
    theorem (y within ½ ulp of 1/b, q within 1 ulp of a/b, remainder exact:
    then q + (a − b·q)·y rounds to a/b) gives the bits of a/b; the first
    correction brings a·y within 1 ulp, the second rounds exactly.
    """
    q = a * inv_b
    q = fma(fma(-q, b, a), inv_b, q)
    return fma(fma(-q, b, a), inv_b, q)
