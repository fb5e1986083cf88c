"""Compiled tokenizers for LOBSTER's fixed, all-numeric layout, over a block's raw bytes.

Why: LOBSTER files are integers in a fixed number of columns (the message file's Time a decimal
with up to 9 digits), so a pass that parses, checks and converts each line straight from the bytes
does in one sweep what ``pyarrow.csv`` (a general parser, typed columns) plus a copy into one array
plus a conversion pass did in three.

What is guaranteed: a line is accepted only in the exact grammar of the row rules
(:func:`thunderline.market.lobster._row`): integers ``[+-]?[0-9]{1,18}`` (19+ digits go to the row
rule, which checks the int64 range), Time ``[0-9]{1,6}(.[0-9]{1,9})?`` below 86,400, fields
separated by ``,`` and the line ended by LF or CRLF. Every other line is marked ``bad`` and its
values are left unset: the caller sends exactly those lines to the row rule. Values are exact:
integers as parsed, Time as integer nanoseconds, prices as the correctly rounded ``int / 10⁴``.
"""

from __future__ import annotations

import numba
import numpy as np

DUMMY_ASK = 9_999_999_999
DUMMY_BID = -9_999_999_999
PRICE_SCALE = 10_000
_LF, _CR, _COMMA, _DOT, _PLUS, _MINUS, _ZERO = 10, 13, 44, 46, 43, 45, 48


@numba.njit(cache=True, inline="always")
def _skip_line(buf, pos):  # pragma: no cover - compiled
    while pos < buf.size and buf[pos] != _LF:
        pos += 1
    return pos + 1


@numba.njit(cache=True, inline="always")
def _signed_int(buf, pos, size):  # pragma: no cover - compiled
    """``[+-]?[0-9]{1,18}`` at ``pos``: (value, position after it, whether the grammar held)."""
    neg = False
    if pos < size and (buf[pos] == _MINUS or buf[pos] == _PLUS):
        neg = buf[pos] == _MINUS
        pos += 1
    x = 0
    nd = 0
    while pos < size:
        d = np.int64(buf[pos]) - _ZERO
        if d < 0 or d > 9:
            break
        x = x * 10 + d
        nd += 1
        pos += 1
    return (-x if neg else x), pos, 0 < nd <= 18


@numba.njit(cache=True)
def orderbook_rows(buf, n, apx, aszf, bpx, bszf, bad):  # pragma: no cover - compiled
    """``n`` orderbook lines of ``buf`` into (n, L) arrays: ask px, ask size, bid px, bid size (a dummy
    level is NaN price, size 0); ``bad`` marks lines off the grammar, a size below 0 or a price not > 0."""
    L = apx.shape[1]
    v = np.zeros(4, np.int64)
    pos = 0
    size = buf.size
    for i in range(n):
        ok = True
        for k in range(L):
            for f in range(4):
                x, pos, good = _signed_int(buf, pos, size)
                if not good:
                    ok = False
                    break
                v[f] = x
                if k < L - 1 or f < 3:
                    if pos < size and buf[pos] == _COMMA:
                        pos += 1
                        continue
                    ok = False
                    break
                if pos < size and buf[pos] == _CR:
                    pos += 1
                if pos < size and buf[pos] == _LF:
                    pos += 1
                else:
                    ok = False
            if not ok:
                break
            ap, asz, bp, bsz = v[0], v[1], v[2], v[3]
            if asz < 0 or bsz < 0 or (ap != DUMMY_ASK and ap <= 0) or (bp != DUMMY_BID and bp <= 0):
                bad[i] = True
            if ap == DUMMY_ASK:
                apx[i, k], aszf[i, k] = np.nan, 0.0
            else:
                apx[i, k], aszf[i, k] = ap / PRICE_SCALE, asz
            if bp == DUMMY_BID:
                bpx[i, k], bszf[i, k] = np.nan, 0.0
            else:
                bpx[i, k], bszf[i, k] = bp / PRICE_SCALE, bsz
        if not ok:
            bad[i] = True
            pos = _skip_line(buf, pos)
    return pos


@numba.njit(cache=True)
def message_rows(buf, n, ns, typ, size_, price, direction, bad):  # pragma: no cover - compiled
    """``n`` message lines of ``buf``: Time as nanoseconds after midnight, then type, size, price and
    direction (the order id is checked, not kept); ``bad`` marks lines off the grammar."""
    out = np.zeros(5, np.int64)
    pos = 0
    size = buf.size
    for i in range(n):
        ok = True
        sec = 0
        nd = 0
        while pos < size and _ZERO <= buf[pos] <= _ZERO + 9:
            sec = sec * 10 + (np.int64(buf[pos]) - _ZERO)
            nd += 1
            pos += 1
        frac = 0
        fd = 0
        if pos < size and buf[pos] == _DOT:
            pos += 1
            while pos < size and _ZERO <= buf[pos] <= _ZERO + 9:
                frac = frac * 10 + (np.int64(buf[pos]) - _ZERO)
                fd += 1
                pos += 1
            ok = 1 <= fd <= 9
        if nd == 0 or nd > 6 or sec >= 86_400 or not ok or pos >= size or buf[pos] != _COMMA:
            ok = False
        else:
            pos += 1
            for k in range(5):
                x, pos, good = _signed_int(buf, pos, size)
                if not good:
                    ok = False
                    break
                out[k] = x
                if k < 4:
                    if pos < size and buf[pos] == _COMMA:
                        pos += 1
                        continue
                    ok = False
                    break
                if pos < size and buf[pos] == _CR:
                    pos += 1
                if pos < size and buf[pos] == _LF:
                    pos += 1
                else:
                    ok = False
        if not ok:
            bad[i] = True
            pos = _skip_line(buf, pos)
            continue
        for _ in range(9 - fd):
            frac *= 10
        ns[i] = sec * 1_000_000_000 + frac
        typ[i], size_[i], price[i], direction[i] = out[0], out[2], out[3], out[4]
    return pos
