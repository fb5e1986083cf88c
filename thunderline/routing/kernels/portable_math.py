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


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64, as an int64."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _from_bits(typingctx, bits):
    """The float64 with these IEEE-754 bits."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def exp_normal(v):
    """exp(max(v, NORMAL_LIMIT)) for v ≤ 0, branch-free so loops over it vectorise.

    Elements below NORMAL_LIMIT need :func:`exp_tiny` instead; callers check.
    """
    poly, shifted = _reduced(max(v, NORMAL_LIMIT))
    # low mantissa bits of `shifted` hold k; (k + 1023) << 52 is the double 2^k
    return poly * _from_bits((_bits(shifted) + 1023) << 52)


@njit(cache=True, nogil=True, inline="always")
def exp_tiny(v):
    """exp(v) for v < NORMAL_LIMIT (subnormal or zero results)."""
    poly, shifted = _reduced(max(v, _ZERO_LIMIT))
    return math.ldexp(poly, int(shifted - _ROUND_SHIFT))


@njit(cache=True, nogil=True)
def exp_nonpositive(x, out, scratch):
    """out[i] = exp(x[i]) for x[i] ≤ 0; ``scratch`` is unused (kept for callers)."""
    size = x.shape[0]
    tiny = False
    for i in range(size):
        v = x[i]
        tiny |= v < NORMAL_LIMIT
        out[i] = exp_normal(v)
    if tiny:
        for i in range(size):
            if x[i] < NORMAL_LIMIT:
                out[i] = exp_tiny(x[i])


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


# fdlibm's log1p: ln 2 split in two, and the minimax coefficients of
# log(1+f) = f − f²/2 + s·(f²/2 + R(s²)), s = f/(2+f).
_LN2_HI_LOG = 6.93147180369123816490e-01
_LN2_LO_LOG = 1.90821492927058770002e-10
(_LG1, _LG2, _LG3, _LG4, _LG5, _LG6, _LG7) = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
#: Adding this to the bits of u ≥ 1 moves the binade boundary to √2/2, so the
#: reduced mantissa m lies in [√2/2, √2) and f = m − 1 is small both ways.
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_ONE_BITS = 0x3FF0000000000000
_MANTISSA = 0x000FFFFFFFFFFFFF


@njit(cache=True, nogil=True, inline="always")
def log1p_nonnegative(x):
    """ln(1 + x) for finite x ≥ 0, within about 1 ulp, branch-free so loops over it vectorise.

    Why not ``math.log1p``: libm is called once per element (no SIMD), and the
    entropy needs one per token. fdlibm's method: u = 1 + x = 2^k·m with
    m ∈ [√2/2, √2), the rounding error of u carried as c/u, log(m) from its
    minimax polynomial in s = f/(2+f).
    """
    u = 1.0 + x
    bits = _bits(u) + (_ONE_BITS - _SQRT_HALF_BITS)
    k = float((bits >> 52) - 1023)
    f = _from_bits((bits & _MANTISSA) + _SQRT_HALF_BITS) - 1.0
    # the part of x lost in 1 + x, relative to u (zero once u is beyond 2^53)
    c = (1.0 - (u - x) if u >= 2.0 else x - (u - 1.0)) / u  # each difference is exact on its side
    c = c if u < 2.0**54 else 0.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    R = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    hfsq = 0.5 * f * f
    return k * _LN2_HI_LOG - ((hfsq - (s * (hfsq + R) + (k * _LN2_LO_LOG + c))) - f)
