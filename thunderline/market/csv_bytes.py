"""Byte-level pieces of the compiled CSV tokenizer (:mod:`thunderline.market.csv_tokens`): decimals,
digit runs, field ends and short texts read from a block's raw bytes, several of them eight bytes at
a time (SWAR: one unaligned 64-bit load, then bit tricks instead of a branch per byte).

Why a module of their own: each is a small exact claim (a decimal's value is ``float(Decimal(text))``,
a run's value is ``int(text)``, a field ends at the first ``,`` or LF) that the tokenizer's tests check
through it, and the tokenizer reads as a sequence of these steps.

Every function assumes the block ends with LF (a sentinel: no scan runs past it); the eight-byte reads
may look up to 7 bytes beyond a field, never beyond the block (callers check ``j + 8 <= size``).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic
from numba.cpython.unsafe.numbers import trailing_zeros

LF, CR, COMMA, SEMI, QUOTE, DOT, PLUS, MINUS, ZERO = 10, 13, 44, 59, 34, 46, 43, 45, 48
POW10 = np.array([10.0 ** k for k in range(23)])  # 1e0..1e22, each exact in float64


@numba.njit(cache=True, inline="always")
def ends_number(c):  # pragma: no cover - compiled
    return c == COMMA or c == LF or c == CR or c == SEMI


@numba.njit(cache=True, inline="always")
def digit(c):  # pragma: no cover - compiled
    """``c``'s digit value, or something above 9 (unsigned wrap-around) when it is not a digit."""
    return np.uint64(c) - np.uint64(ZERO)


@numba.njit(cache=True)
def decimal_at(buf, j, pow10):  # pragma: no cover - compiled
    """The decimal at ``buf[j:]`` up to ``,`` ``;`` CR or LF: (value, status, next j, exponent seen).
    Status 0 exact, 1 empty (NaN), 2 slow (grammar holds, value left to the exact cast), 3 grammar broken.
    ``buf`` ends with LF (a sentinel: no scan runs past it). Fast path: at most 19 significant digits
    (no wrap-around of the uint64 significand), a significand of at most 2**53 (an exact float64) and a
    power of ten of at most 22 in size (exact too): one rounding, the correct one."""
    if ends_number(buf[j]):
        return np.nan, 1, j, False
    neg = False
    if buf[j] == PLUS or buf[j] == MINUS:
        neg = buf[j] == MINUS
        j += 1
    m = np.uint64(0)
    sig = 0
    j0 = j
    d = digit(buf[j])
    while d <= 9:
        m = m * np.uint64(10) + d
        sig += (sig > 0) | (m != 0)
        j += 1
        d = digit(buf[j])
    nd = j - j0
    nf = 0
    if buf[j] == DOT:
        j += 1
        j1 = j
        d = digit(buf[j])
        while d <= 9:
            m = m * np.uint64(10) + d
            sig += (sig > 0) | (m != 0)
            j += 1
            d = digit(buf[j])
        nf = j - j1
    if nd + nf == 0:
        return np.nan, 3, j, False
    e10 = -nf
    ex = False
    if (buf[j] | 32) == 101:  # e / E
        ex = True
        j += 1
        eneg = False
        if buf[j] == PLUS or buf[j] == MINUS:
            eneg = buf[j] == MINUS
            j += 1
        ed = 0
        ev = 0
        d = digit(buf[j])
        while d <= 9:
            if ev < 100_000:
                ev = ev * 10 + np.int64(d)
            ed += 1
            j += 1
            d = digit(buf[j])
        if ed == 0:
            return np.nan, 3, j, ex
        e10 += -ev if eneg else ev
    if not ends_number(buf[j]):
        return np.nan, 3, j, ex
    if sig == 0:
        return (-0.0 if neg else 0.0), 0, j, ex
    if sig > 19 or m > np.uint64(1 << 53) or e10 > 22 or e10 < -22:
        return np.nan, 2, j, ex
    x = np.float64(m) * pow10[e10] if e10 >= 0 else np.float64(m) / pow10[-e10]
    return (-x if neg else x), 0, j, ex


U = np.uint64
ONES, HIGH, ZEROS = U(0x0101010101010101), U(0x8080808080808080), U(0x3030303030303030)
COMMAS, LFS, QUOTES, X76 = U(0x2C2C2C2C2C2C2C2C), U(0x0A0A0A0A0A0A0A0A), U(0x2222222222222222), U(0x7676767676767676)
POW10_INT = np.array([10 ** k for k in range(9)], np.uint64)


@intrinsic
def load8(typingctx, arr, idx):  # pragma: no cover - compiled
    """The 8 bytes at ``arr[idx:idx+8]`` (a uint8 array) as one little-endian uint64 load, unaligned.
    Why an intrinsic: numba's byte indexing (negative-index wrap-around) keeps LLVM from merging
    eight byte loads into one."""

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        return builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)

    return types.uint64(arr, idx), codegen


@numba.njit(cache=True, inline="always")
def zero_bytes(v):  # pragma: no cover - compiled
    """High bit of each zero byte of ``v``; exact up to and including the first one (borrows only go up)."""
    return (v - ONES) & ~v & HIGH


@numba.njit(cache=True, inline="always")
def digit_run(buf, j):  # pragma: no cover - compiled
    """The run of ASCII digits at ``buf[j:]`` (8 bytes readable): (value, length) of its first 8 digits at
    most (length 8: the run may go on). Branch-free: eight bytes at once (the fast_float / simdjson SWAR
    conversion)."""
    w = load8(buf, j) ^ ZEROS  # digits are now the bytes 0..9
    mask = ((w + X76) | w) & HIGH  # the high bit of every byte that is not a digit (exact up to the first)
    nd = 8 if mask == 0 else np.int64(trailing_zeros(mask)) >> 3
    if nd == 0:
        return U(0), 0
    v = w << U(64 - 8 * nd) if nd < 8 else w  # the digits in the last nd bytes: the first are leading zeros
    v = ((v & U(0x0F0F0F0F0F0F0F0F)) * U(2561)) >> U(8)
    v = ((v & U(0x00FF00FF00FF00FF)) * U(6553601)) >> U(16)
    return ((v & U(0x0000FFFF0000FFFF)) * U(42949672960001)) >> U(32), nd


@numba.njit(cache=True, inline="always")
def number_at(buf, j, size, pow10):  # pragma: no cover - compiled
    """As :func:`decimal_at`; the common ``[+-]?d{0,7}(.d{0,7})?`` without an exponent is read eight bytes at a
    time (no branch per digit: at most 14 digits, an exact float64 significand, one division by an exact
    power of ten, so the same correctly rounded value), anything else by :func:`decimal_at`."""
    if ends_number(buf[j]):
        return np.nan, 1, j, False
    if j + 24 > size:
        return decimal_at(buf, j, pow10)
    start = j
    neg = buf[j] == MINUS
    if neg or buf[j] == PLUS:
        j += 1
    ip, nd = digit_run(buf, j)
    if nd == 8:
        return decimal_at(buf, start, pow10)
    j += nd
    fp, nf = U(0), 0
    if buf[j] == DOT:
        fp, nf = digit_run(buf, j + 1)
        if nf == 8:
            return decimal_at(buf, start, pow10)
        j += 1 + nf
    if nd + nf == 0 or not ends_number(buf[j]):
        return decimal_at(buf, start, pow10)  # an exponent, or not the grammar: the general reading decides
    x = np.float64(ip * POW10_INT[nf] + fp)
    if nf:
        x = x / pow10[nf]
    return (-x if neg else x), 0, j, False


@numba.njit(cache=True, inline="always")
def field_end(buf, pos, size, quotes_bad):  # pragma: no cover - compiled
    """The first ``,`` or LF (or ``"`` with ``quotes_bad``) at or after ``pos``, eight bytes at a time."""
    while pos + 8 <= size:
        w = load8(buf, pos)
        m = zero_bytes(w ^ COMMAS) | zero_bytes(w ^ LFS)
        if quotes_bad:
            m |= zero_bytes(w ^ QUOTES)
        if m:
            return pos + (np.int64(trailing_zeros(m)) >> 3)
        pos += 8
    while buf[pos] != COMMA and buf[pos] != LF and not (quotes_bad and buf[pos] == QUOTE):
        pos += 1
    return pos


@numba.njit(cache=True, inline="always")
def key8(buf, a, b, size):  # pragma: no cover - compiled
    """A text of at most 8 bytes as one uint64 (its bytes, zero above): equal keys, equal texts of that length."""
    L = b - a
    if L == 0:
        return U(0)
    if a + 8 <= size:
        return load8(buf, a) & (U(0xFFFFFFFFFFFFFFFF) >> U(64 - 8 * L))
    w = U(0)
    for t in range(L):
        w |= U(buf[a + t]) << U(8 * t)
    return w


@numba.njit(cache=True, inline="always")
def same_text(buf, a0, a1, b0, b1):  # pragma: no cover - compiled
    if a1 - a0 != b1 - b0:
        return False
    t = 0
    while t + 8 <= a1 - a0:  # within both texts
        if load8(buf, a0 + t) != load8(buf, b0 + t):
            return False
        t += 8
    while t < a1 - a0:
        if buf[a0 + t] != buf[b0 + t]:
            return False
        t += 1
    return True
