"""A compiled tokenizer for the vendor CSVs' rows (canonical CSV, incremental L2), over a block's raw bytes.

Why: ``pyarrow.csv`` is a general parser; the readers then split the canonical ``;`` book lists,
cast price text to float64 and code the text columns in further passes over the same bytes. One
compiled pass per line that splits, checks and converts every field does it in one sweep (as
:mod:`thunderline.market.lobster_tokens` does for LOBSTER).

Each column has a role:

* ``SKIP``: any text (not read);
* ``DICT``: text coded per block (the distinct values' byte ranges are kept; a column of few
  distinct values — venue, symbol, side — costs a comparison with the previous row's value);
* ``INT``: ``[+-]?[0-9]{1,18}`` (19+ digits go to the row rule, which checks the int64 range);
* ``DEC``: the row rules' decimal grammar ``[+-]?(digits[.digits*]|.digits)([eE][+-]?digits)?``;
* ``LIST``: ``;``-separated ``DEC`` elements (an empty element is NaN; an empty field: no list).

What is guaranteed: a line is kept only in that grammar, with the right number of fields, ended by
LF or CRLF (and, with ``quotes_bad``, without a ``"``, which the csv module would read differently);
every other line is marked ``bad`` and its values are left unset: the caller sends exactly those lines
to the row rule. A decimal is the correctly rounded float64 of its text, ``float(Decimal(text))``: by
one IEEE multiplication or division when its significand has at most 15 digits and its power of ten
is at most 22 in size (Clinger's fast path: both operands exact, one rounding); any other element is
converted by Arrow's correctly rounded cast (Python's ``float`` if the cast refuses it). ``bad`` also
marks a price not > 0 or a size below 0, and a nonzero decimal whose float is 0.0 or beyond float64
(the row rule then judges the row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic
from numba.cpython.unsafe.numbers import trailing_zeros

SKIP, DICT, INT, DEC, LIST = 0, 1, 2, 3, 4
SIZE, PRICE, EMPTY_OK = 0, 1, 2  # rule bits of an INT / DEC / LIST column
EMPTY, SLOW, EXPONENT = 1, 2, 4  # bits of a decimal's flags
_LF, _CR, _COMMA, _SEMI, _QUOTE, _DOT, _PLUS, _MINUS, _ZERO = 10, 13, 44, 59, 34, 46, 43, 45, 48
_MAX_FAST_DIGITS = 15  # 10**15 < 2**53: the significand is an exact float64
_POW10 = np.array([10.0 ** k for k in range(23)])  # 1e0..1e22, each exact in float64


@numba.njit(cache=True, inline="always")
def _ends(c):  # pragma: no cover - compiled
    return c == _COMMA or c == _LF or c == _CR or c == _SEMI


@numba.njit(cache=True, inline="always")
def _digit(c):  # pragma: no cover - compiled
    """``c``'s digit value, or something above 9 (unsigned wrap-around) when it is not a digit."""
    return np.uint64(c) - np.uint64(_ZERO)


@numba.njit(cache=True)
def _decimal(buf, j, pow10):  # pragma: no cover - compiled
    """The decimal at ``buf[j:]`` up to ``,`` ``;`` CR or LF: (value, status, next j, exponent seen).
    Status 0 exact, 1 empty (NaN), 2 slow (grammar holds, value left to the exact cast), 3 grammar broken.
    ``buf`` ends with LF (a sentinel: no scan runs past it). Fast path: at most 19 significant digits
    (no wrap-around of the uint64 significand), a significand of at most 2**53 (an exact float64) and a
    power of ten of at most 22 in size (exact too): one rounding, the correct one."""
    if _ends(buf[j]):
        return np.nan, 1, j, False
    neg = False
    if buf[j] == _PLUS or buf[j] == _MINUS:
        neg = buf[j] == _MINUS
        j += 1
    m = np.uint64(0)
    sig = 0
    j0 = j
    d = _digit(buf[j])
    while d <= 9:
        m = m * np.uint64(10) + d
        sig += (sig > 0) | (m != 0)
        j += 1
        d = _digit(buf[j])
    nd = j - j0
    nf = 0
    if buf[j] == _DOT:
        j += 1
        j1 = j
        d = _digit(buf[j])
        while d <= 9:
            m = m * np.uint64(10) + d
            sig += (sig > 0) | (m != 0)
            j += 1
            d = _digit(buf[j])
        nf = j - j1
    if nd + nf == 0:
        return np.nan, 3, j, False
    e10 = -nf
    ex = False
    if (buf[j] | 32) == 101:  # e / E
        ex = True
        j += 1
        eneg = False
        if buf[j] == _PLUS or buf[j] == _MINUS:
            eneg = buf[j] == _MINUS
            j += 1
        ed = 0
        ev = 0
        d = _digit(buf[j])
        while d <= 9:
            if ev < 100_000:
                ev = ev * 10 + np.int64(d)
            ed += 1
            j += 1
            d = _digit(buf[j])
        if ed == 0:
            return np.nan, 3, j, ex
        e10 += -ev if eneg else ev
    if not _ends(buf[j]):
        return np.nan, 3, j, ex
    if sig == 0:
        return (-0.0 if neg else 0.0), 0, j, ex
    if sig > 19 or m > np.uint64(1 << 53) or e10 > 22 or e10 < -22:
        return np.nan, 2, j, ex
    x = np.float64(m) * pow10[e10] if e10 >= 0 else np.float64(m) / pow10[-e10]
    return (-x if neg else x), 0, j, ex


_U = np.uint64
_ONES, _HIGH, _ZEROS = _U(0x0101010101010101), _U(0x8080808080808080), _U(0x3030303030303030)
_COMMAS, _LFS, _QUOTES, _X76 = _U(0x2C2C2C2C2C2C2C2C), _U(0x0A0A0A0A0A0A0A0A), _U(0x2222222222222222), _U(0x7676767676767676)
_POW10_INT = np.array([10 ** k for k in range(9)], np.uint64)


@intrinsic
def _load8(typingctx, arr, idx):  # pragma: no cover - compiled
    """The 8 bytes at ``arr[idx:idx+8]`` (a uint8 array) as one little-endian uint64 load, unaligned.
    Why an intrinsic: numba's byte indexing (negative-index wrap-around) keeps LLVM from merging
    eight byte loads into one."""

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        return builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)

    return types.uint64(arr, idx), codegen


@numba.njit(cache=True, inline="always")
def _zero_bytes(v):  # pragma: no cover - compiled
    """High bit of each zero byte of ``v``; exact up to and including the first one (borrows only go up)."""
    return (v - _ONES) & ~v & _HIGH


@numba.njit(cache=True, inline="always")
def _run(buf, j):  # pragma: no cover - compiled
    """The run of ASCII digits at ``buf[j:]`` (8 bytes readable): (value, length) of its first 8 digits at
    most (length 8: the run may go on). Branch-free: eight bytes at once (the fast_float / simdjson SWAR
    conversion)."""
    w = _load8(buf, j) ^ _ZEROS  # digits are now the bytes 0..9
    mask = ((w + _X76) | w) & _HIGH  # the high bit of every byte that is not a digit (exact up to the first)
    nd = 8 if mask == 0 else np.int64(trailing_zeros(mask)) >> 3
    if nd == 0:
        return _U(0), 0
    v = w << _U(64 - 8 * nd) if nd < 8 else w  # the digits in the last nd bytes: the first are leading zeros
    v = ((v & _U(0x0F0F0F0F0F0F0F0F)) * _U(2561)) >> _U(8)
    v = ((v & _U(0x00FF00FF00FF00FF)) * _U(6553601)) >> _U(16)
    return ((v & _U(0x0000FFFF0000FFFF)) * _U(42949672960001)) >> _U(32), nd


@numba.njit(cache=True, inline="always")
def _number(buf, j, size, pow10):  # pragma: no cover - compiled
    """As :func:`_decimal`; the common ``[+-]?d{0,7}(.d{0,7})?`` without an exponent is read eight bytes at a
    time (no branch per digit: at most 14 digits, an exact float64 significand, one division by an exact
    power of ten, so the same correctly rounded value), anything else by :func:`_decimal`."""
    if _ends(buf[j]):
        return np.nan, 1, j, False
    if j + 24 > size:
        return _decimal(buf, j, pow10)
    start = j
    neg = buf[j] == _MINUS
    if neg or buf[j] == _PLUS:
        j += 1
    ip, nd = _run(buf, j)
    if nd == 8:
        return _decimal(buf, start, pow10)
    j += nd
    fp, nf = _U(0), 0
    if buf[j] == _DOT:
        fp, nf = _run(buf, j + 1)
        if nf == 8:
            return _decimal(buf, start, pow10)
        j += 1 + nf
    if nd + nf == 0 or not _ends(buf[j]):
        return _decimal(buf, start, pow10)  # an exponent, or not the grammar: the general reading decides
    x = np.float64(ip * _POW10_INT[nf] + fp)
    if nf:
        x = x / pow10[nf]
    return (-x if neg else x), 0, j, False


@numba.njit(cache=True, inline="always")
def _field_end(buf, pos, size, quotes_bad):  # pragma: no cover - compiled
    """The first ``,`` or LF (or ``"`` with ``quotes_bad``) at or after ``pos``, eight bytes at a time."""
    while pos + 8 <= size:
        w = _load8(buf, pos)
        m = _zero_bytes(w ^ _COMMAS) | _zero_bytes(w ^ _LFS)
        if quotes_bad:
            m |= _zero_bytes(w ^ _QUOTES)
        if m:
            return pos + (np.int64(trailing_zeros(m)) >> 3)
        pos += 8
    while buf[pos] != _COMMA and buf[pos] != _LF and not (quotes_bad and buf[pos] == _QUOTE):
        pos += 1
    return pos


@numba.njit(cache=True, inline="always")
def _sign_ok(x, rule):  # pragma: no cover - compiled
    return x > 0.0 if rule & PRICE else x >= 0.0


@numba.njit(cache=True, inline="always")
def _key8(buf, a, b, size):  # pragma: no cover - compiled
    """A text of at most 8 bytes as one uint64 (its bytes, zero above): equal keys, equal texts of that length."""
    L = b - a
    if L == 0:
        return _U(0)
    if a + 8 <= size:
        return _load8(buf, a) & (_U(0xFFFFFFFFFFFFFFFF) >> _U(64 - 8 * L))
    w = _U(0)
    for t in range(L):
        w |= _U(buf[a + t]) << _U(8 * t)
    return w


@numba.njit(cache=True)
def _same(buf, a0, a1, b0, b1):  # pragma: no cover - compiled
    if a1 - a0 != b1 - b0:
        return False
    t = 0
    while t + 8 <= a1 - a0:  # within both texts
        if _load8(buf, a0 + t) != _load8(buf, b0 + t):
            return False
        t += 8
    while t < a1 - a0:
        if buf[a0 + t] != buf[b0 + t]:
            return False
        t += 1
    return True


@numba.njit(cache=True, inline="always")
def _code(buf, s, a, b, size, dict_s, dict_e, dict_w, dict_n, last):  # pragma: no cover - compiled
    """The code of text ``buf[a:b]`` in DICT slot ``s`` (added when new); -1 when the slot's table is full.
    A text of up to 8 bytes is one integer, compared with every entry without a branch (a side column
    alternates unpredictably); a longer one is tried against the previous row's value first."""
    L = b - a
    found = -1
    w = _U(0)
    if L <= 8:
        w = _key8(buf, a, b, size)
        for q in range(dict_n[s]):
            hit = (dict_w[s, q] == w) & (dict_e[s, q] - dict_s[s, q] == L)
            found = q if hit else found
    else:
        p = last[s]
        if p >= 0 and _same(buf, a, b, dict_s[s, p], dict_e[s, p]):
            found = p
        else:
            for q in range(dict_n[s]):
                if _same(buf, a, b, dict_s[s, q], dict_e[s, q]):
                    found = q
                    break
    if found < 0:
        found = dict_n[s]
        if found == dict_s.shape[1]:
            return -1
        dict_s[s, found], dict_e[s, found], dict_w[s, found] = a, b, w
        dict_n[s] = found + 1
    last[s] = found
    return found


@numba.njit(cache=True)
def tokenize_rows(buf, n, roles, slots, rules, quotes_bad, pow10, ints, decs, dflag, dwidth, codes, dict_s,
                  dict_e, dict_w, dict_n, vals, lens, bad, slow):  # pragma: no cover - compiled
    """``n`` lines of ``buf`` into the slot arrays (see the module docstring). Returns the number of slow
    decimals recorded, one per column of ``slow``: byte range, row, and where the value goes (``-1 - slot``
    for a scalar, ``list*cap + index`` for a list element); -1 when a capacity (dict table, list values, slow)
    ran out."""
    ncol = roles.size
    size = buf.size
    cap = vals.shape[1]
    k = np.zeros(vals.shape[0], np.int64)
    k_row = np.zeros(vals.shape[0], np.int64)
    last = np.full(dict_s.shape[0], -1, np.int64)
    ns = 0
    pos = 0
    for i in range(n):
        ok = True
        ns_row = ns
        for q in range(k.size):
            k_row[q] = k[q]
        for c in range(ncol):
            role, s, rule = roles[c], slots[c], rules[c]
            start = pos
            if role == SKIP or role == DICT:
                pos = _field_end(buf, pos, size, quotes_bad)
                while buf[pos] == _QUOTE:
                    ok = False
                    pos = _field_end(buf, pos + 1, size, quotes_bad)
                end = pos
                if end > start and buf[end - 1] == _CR:
                    end -= 1  # a CR is only ever the CRLF's (a lone CR ends a line upstream)
                if role == DICT:
                    q = _code(buf, s, start, end, size, dict_s, dict_e, dict_w, dict_n, last)
                    if q < 0:
                        return -1
                    codes[s, i] = q
            elif role == INT:
                neg = False
                if buf[pos] == _MINUS or buf[pos] == _PLUS:
                    neg = buf[pos] == _MINUS
                    pos += 1
                x = 0
                nd = 0
                if pos + 32 <= size:  # eight digits at a time
                    while True:
                        v, k8 = _run(buf, pos)
                        x = x * np.int64(_POW10_INT[k8]) + np.int64(v)
                        nd += k8
                        pos += k8
                        if k8 < 8 or nd > 18:
                            break
                else:
                    d = _digit(buf[pos])
                    while d <= 9 and nd <= 18:
                        x = x * 10 + np.int64(d)
                        nd += 1
                        pos += 1
                        d = _digit(buf[pos])
                if nd > 18 or (nd == 0 and (pos > start or not rule & EMPTY_OK)):
                    ok = False
                ints[s, i] = -x if neg else x
            elif role == DEC:
                x, st, pos, ex = _number(buf, pos, size, pow10)
                dwidth[s, i] = pos - start
                dflag[s, i] = EXPONENT if ex else 0
                decs[s, i] = x
                if st == 3 or (st == 0 and not _sign_ok(x, rule)) or (st == 1 and not rule & EMPTY_OK):
                    ok = False
                elif st == 1:
                    dflag[s, i] = EMPTY
                elif st == 2:
                    if ns == slow.shape[1]:
                        return -1
                    dflag[s, i] |= SLOW
                    slow[0, ns], slow[1, ns], slow[2, ns], slow[3, ns] = start, pos, i, -1 - s
                    ns += 1
            else:  # LIST
                cnt = 0
                if buf[pos] != _COMMA and buf[pos] != _LF and buf[pos] != _CR:
                    while True:
                        a = pos
                        x, st, pos, ex = _number(buf, pos, size, pow10)
                        if k[s] == cap:
                            return -1
                        vals[s, k[s]] = x
                        if st == 3 or (st == 0 and not _sign_ok(x, rule)):
                            ok = False
                            break
                        if st == 2:
                            if ns == slow.shape[1]:
                                return -1
                            slow[0, ns], slow[1, ns], slow[2, ns], slow[3, ns] = a, pos, i, s * cap + k[s]
                            ns += 1
                        k[s] += 1
                        cnt += 1
                        if buf[pos] == _SEMI:
                            pos += 1
                            continue
                        break
                lens[s, i] = cnt
            if not ok:
                break
            if c < ncol - 1:
                if buf[pos] == _COMMA:
                    pos += 1
                else:
                    ok = False
                    break
            else:
                if buf[pos] == _CR:
                    pos += 1
                if buf[pos] == _LF:
                    pos += 1
                else:
                    ok = False
        if not ok:
            bad[i] = True
            ns = ns_row
            for q in range(k.size):
                k[q] = k_row[q]
            for q in range(codes.shape[0]):
                codes[q, i] = 0  # a valid code (the values of a bad line are otherwise left unset)
            lens[:, i] = 0
            while buf[pos] != _LF:
                pos += 1
            pos += 1
    return ns


@numba.njit(cache=True)
def _gather(buf, s, e, out, offs):  # pragma: no cover - compiled
    """The byte ranges ``s[i]:e[i]`` of ``buf`` one after another in ``out``, with their offsets."""
    p = 0
    for i in range(s.size):
        offs[i] = p
        for t in range(s[i], e[i]):
            out[p] = buf[t]
            p += 1
    offs[s.size] = p


@numba.njit(cache=True)
def count_byte(buf, b):  # pragma: no cover - compiled
    n = 0
    for x in buf:
        n += x == b
    return n


def _pooled(shape: tuple[int, int], dtype) -> np.ndarray:
    """An uninitialised array in Arrow's memory pool. Why: the columns live on in the tick batch; numpy
    would map each block's arrays afresh and fault in every page, while the pool reuses the pages of
    blocks already consumed (as :func:`thunderline.market.l2_kernel._pooled`)."""
    dt = np.dtype(dtype)
    size = shape[0] * shape[1] * dt.itemsize
    return np.frombuffer(pa.allocate_buffer(max(size, 1)), dt, count=shape[0] * shape[1]).reshape(shape)


@dataclass(frozen=True)
class Layout:
    """The columns of a format, in file order: a role, and a rule for INT / DEC / LIST (PRICE, EMPTY_OK bits)."""

    roles: tuple[int, ...]
    rules: tuple[int, ...]
    quotes_bad: bool = False  # the row rule reads a line holding '"' with the csv module

    def slots(self) -> np.ndarray:
        """Each column's index among the columns of its role (the row of its output array)."""
        seen: dict[int, int] = {}
        out = []
        for r in self.roles:
            out.append(seen.get(r, 0))
            seen[r] = seen.get(r, 0) + 1
        return np.array(out, np.int64)

    def count(self, role: int) -> int:
        return sum(r == role for r in self.roles)


@dataclass
class Tokens:
    """A block's columns, one row per line (``bad`` lines' values unset). Per role, one row per column in
    file order: ``ints[j]``, ``decs[j]`` (+ ``dflag``, ``dwidth`` bytes), ``codes[j]`` into ``dicts[j]``
    (the distinct texts, decoded as the row rule decodes), ``lists[j]`` (list<float64>, null when empty)
    with ``lens[j]``."""

    ints: np.ndarray
    decs: np.ndarray
    dflag: np.ndarray
    dwidth: np.ndarray
    codes: np.ndarray
    dicts: list[list[str]]
    lists: list[pa.ListArray]
    lens: np.ndarray
    bad: np.ndarray


def tokenize(data: bytes, n: int, layout: Layout) -> Tokens:
    """The ``n`` whole lines of ``data`` as typed columns (see the module docstring). Memory: a few arrays
    of ``n`` values per column, and per list column room for one element per two bytes (pages never
    written cost nothing)."""
    if n and not data.endswith(b"\n"):
        raise ValueError("tokenize: the block must be whole lines, each ended by LF")
    buf = np.frombuffer(data, np.uint8)
    roles = np.array(layout.roles, np.int64)
    rules = np.array(layout.rules, np.int64)
    slots = layout.slots()
    nd, nl, nk = layout.count(DEC), layout.count(LIST), layout.count(DICT)
    dict_cap, slow_cap = 64, 1024
    list_cap = (count_byte(buf, _SEMI) + n + 16) if nl else 0  # a list has at most one element more than its ';'
    while True:
        ints = _pooled((layout.count(INT), n), np.int64)
        decs, dflag = _pooled((nd, n), np.float64), _pooled((nd, n), np.uint8)
        dwidth, codes = _pooled((nd, n), np.int32), _pooled((nk, n), np.int32)
        dict_s, dict_e, dict_n = np.zeros((nk, dict_cap), np.int64), np.zeros((nk, dict_cap), np.int64), np.zeros(nk, np.int64)
        dict_w = np.zeros((nk, dict_cap), np.uint64)
        vals, lens = _pooled((nl, list_cap), np.float64), _pooled((nl, n), np.int32)
        lens[:] = 0
        bad = np.zeros(n, np.bool_)
        slow = np.empty((4, slow_cap), np.int64)
        ns = tokenize_rows(buf, n, roles, slots, rules, layout.quotes_bad, _POW10, ints, decs, dflag, dwidth, codes,
                           dict_s, dict_e, dict_w, dict_n, vals, lens, bad, slow)
        if ns >= 0:
            break
        dict_cap, list_cap, slow_cap = 4 * dict_cap, 2 * list_cap, 8 * slow_cap  # a capacity ran out: read again
    if ns:
        _exact(buf, slow[:, :ns], layout, decs, vals, bad)
    dicts = [[bytes(data[dict_s[j, q]:dict_e[j, q]]).decode("utf-8", "replace") for q in range(dict_n[j])] or [""]
             for j in range(nk)]
    lists = []
    for j in range(nl):
        at = np.zeros(n + 1, np.int32)
        np.cumsum(lens[j], out=at[1:])
        lists.append(pa.ListArray.from_arrays(pa.array(at), pa.array(vals[j, :at[-1]]), mask=pa.array(lens[j] == 0)))
    return Tokens(ints, decs, dflag, dwidth, codes, dicts, lists, lens, bad)


def _exact(buf, slow, layout, decs, vals, bad) -> None:
    """Slow decimals (grammar already checked) by Arrow's correctly rounded cast, in place; their rows are
    marked ``bad`` when the value is beyond float64, breaks the sign rule, or underflowed to 0.0."""
    s, e, row, at = slow
    text = np.empty(int((e - s).sum()), np.uint8)
    offs = np.empty(s.size + 1, np.int32)
    _gather(buf, s, e, text, offs)
    arr = pa.StringArray.from_buffers(s.size, pa.py_buffer(offs), pa.py_buffer(text))
    try:
        x = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a text Arrow does not read: Python's float
        x = np.array([float(t) for t in arr.to_pylist()])
    cap = max(vals.shape[1], 1)
    scalar = at < 0
    decs[-1 - at[scalar], row[scalar]] = x[scalar]
    vals[at[~scalar] // cap, at[~scalar] % cap] = x[~scalar]
    price_dec = np.array([bool(r & PRICE) for ro, r in zip(layout.roles, layout.rules) if ro == DEC] or [False])
    price_list = np.array([bool(r & PRICE) for ro, r in zip(layout.roles, layout.rules) if ro == LIST] or [False])
    price = np.where(scalar, price_dec[np.where(scalar, -1 - at, 0)], price_list[np.where(scalar, 0, at // cap)])
    with np.errstate(invalid="ignore"):
        broken = ~np.isfinite(x) | (x == 0) | np.where(price, x <= 0, x < 0)  # 0 here: an underflow
    bad[row[broken]] = True
