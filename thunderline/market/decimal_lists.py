"""``;``-separated decimal lists (canonical CSV's ``book_*`` fields) parsed from a string column's bytes.

Why: splitting a 10-level book column with Arrow (``split_pattern``, a flatten, a string→double cast,
an emptiness test per element) built four temporaries per element and cost two thirds of the canonical
reader. Here one numba pass over the column's own offsets and data buffer splits, checks and converts.

What is guaranteed, element by element, against the row rule (``canonical._num``):

* the grammar is the row rule's (``[+-]?(digits[.digits*]|.digits)([eE][+-]?digits)?``); anything
  else marks the row ``wrong`` (the caller sends it to the exact row rule);
* the value is the correctly rounded float64 of the decimal text, as ``float(Decimal(text))``: exact
  by one IEEE multiplication or division when the significand has at most 15 digits and the power
  of ten is at most 22 (Clinger's fast path: both operands exact, one rounding); any other element
  (longer significands such as ``0.30000000000000004``, large exponents) is converted by Arrow's
  correctly rounded cast instead, so the result is exact either way;
* an empty element is NaN; an empty field is "no book" (not present, no elements);
* ``wrong`` also marks a price that is not > 0 or a size below 0, and a value beyond float64; it is
  stricter than the rule only for a nonzero decimal whose float underflows to 0.0 (the row rule
  then judges the row, as for every flagged row: a size of ``-1e-400`` is below 0 for the rule).
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_OK, _EMPTY, _SLOW, _BAD = 0, 1, 2, 3
_MAX_FAST_DIGITS = 15  # 10**15 < 2**53: the significand is an exact float64
_POW10 = np.array([10.0 ** k for k in range(23)])  # 1e0..1e22, each exact in float64
_SEMI, _DOT, _PLUS, _MINUS, _ZERO = 59, 46, 43, 45, 48


@numba.njit(cache=True)
def _parse(data, offs, row0, k, price, pow10, lens, vals, slow, wrong):  # pragma: no cover - compiled
    """Split, check and convert rows row0.. (one string chunk) in one pass: elements go to vals[k:],
    their count to lens; marks slow elements and wrong rows. Returns the next free index of vals.

    Per element: status 0 exact, 1 empty (NaN), 2 slow (grammar holds, value left to the exact cast),
    3 grammar broken. The significand is accumulated over every digit; only its significant digits
    (after the leading zeros) count towards the fast path's limit, under which it cannot wrap."""
    for i in range(offs.size - 1):
        a, b = offs[i], offs[i + 1]
        r = row0 + i
        if b == a:
            lens[r] = 0
            continue
        k0 = k
        j = a
        while True:
            st = 0
            x = np.nan
            if j == b or data[j] == _SEMI:
                st = 1
            else:
                neg = False
                if data[j] == _PLUS or data[j] == _MINUS:
                    neg = data[j] == _MINUS
                    j += 1
                m = np.uint64(0)
                lead = 0
                n = 0
                nf = 0
                seen = False
                frac = False
                while j < b:
                    c = data[j]
                    d = np.uint64(c - np.uint8(_ZERO))
                    if d > 9:
                        if c == _DOT and not frac:
                            frac = True
                            j += 1
                            continue
                        break
                    m = m * np.uint64(10) + d
                    seen = seen or d != 0
                    lead += not seen
                    n += 1
                    nf += frac
                    j += 1
                e10 = -nf
                if n == 0:
                    st = 3
                elif j < b and (data[j] | 32) == 101:  # e / E
                    j += 1
                    eneg = False
                    if j < b and (data[j] == _PLUS or data[j] == _MINUS):
                        eneg = data[j] == _MINUS
                        j += 1
                    ed = 0
                    ev = 0
                    while j < b and _ZERO <= data[j] <= _ZERO + 9:
                        if ev < 100_000:
                            ev = ev * 10 + (np.int64(data[j]) - _ZERO)
                        ed += 1
                        j += 1
                    if ed == 0:
                        st = 3
                    e10 += -ev if eneg else ev
                if st == 0 and j < b and data[j] != _SEMI:
                    st = 3
                if st == 3:
                    while j < b and data[j] != _SEMI:
                        j += 1
                elif not seen:
                    x = -0.0 if neg else 0.0
                elif n - lead > _MAX_FAST_DIGITS or e10 > 22 or e10 < -22:
                    st = 2
                else:
                    x = np.float64(m) * pow10[e10] if e10 >= 0 else np.float64(m) / pow10[-e10]
                    if neg:
                        x = -x
            vals[k] = x
            if st == 2:
                slow[k] = True
            elif st == 3 or (st == 0 and (x <= 0.0 if price else x < 0.0)):
                wrong[r] = True
            k += 1
            if j >= b:
                break
            j += 1
        lens[r] = k - k0
    return k


def _buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string chunk's (data bytes, n+1 offsets), views of its Arrow buffers."""
    _, off_buf, data_buf = chunk.buffers()
    offs = np.frombuffer(off_buf, np.int32)[chunk.offset:chunk.offset + len(chunk) + 1]
    data = np.zeros(0, np.uint8) if data_buf is None else np.frombuffer(data_buf, np.uint8)
    return data, offs


def decimal_lists(col: pa.ChunkedArray, *, price: bool) -> tuple[pa.ListArray, np.ndarray, np.ndarray, np.ndarray]:
    """A non-null string column of ``;``-separated decimals as list<float64> (an empty field: null; an
    empty element: NaN), and per row: present, number of elements, rule broken (see module docstring)."""
    chunks = [c for c in col.chunks if len(c)] if isinstance(col, pa.ChunkedArray) else [col]
    n = sum(len(c) for c in chunks)
    bufs = [_buffers(c) for c in chunks]
    # a field of b bytes holds at most b + 1 elements: allocate that (untouched pages cost nothing)
    vals = np.empty(sum(int(offs[-1] - offs[0]) for _, offs in bufs) + n, np.float64)
    slow = np.zeros(vals.size, np.bool_)
    lens = np.empty(n, np.int32)
    wrong = np.zeros(n, np.bool_)
    row0 = k = 0
    for (data, offs), c in zip(bufs, chunks):
        k = _parse(data, offs, row0, k, price, _POW10, lens, vals, slow, wrong)
        row0 += len(c)
    at = np.zeros(n + 1, np.int32)
    np.cumsum(lens, out=at[1:])
    vals, slow = vals[:k], slow[:k]
    if slow.any():
        _exact(chunks, at, vals, slow, wrong, price)
    present = lens > 0
    lists = pa.ListArray.from_arrays(pa.array(at), pa.array(vals), mask=pa.array(~present))
    return lists, present, lens, wrong


def _exact(chunks: list[pa.Array], at: np.ndarray, vals: np.ndarray, slow: np.ndarray, wrong: np.ndarray,
           price: bool) -> None:
    """Elements off the fast path (grammar already checked) by Arrow's correctly rounded cast, in place;
    rows whose value overflows float64 or breaks the sign rule are marked ``wrong``."""
    rows = np.unique(np.searchsorted(at, np.flatnonzero(slow), side="right") - 1)
    text = pa.chunked_array(chunks, pa.string()).take(pa.array(rows))
    parts = pc.list_flatten(pc.split_pattern(text, ";"))
    lens = (at[rows + 1] - at[rows]).astype(np.int64)
    starts = np.repeat(at[rows].astype(np.int64) - np.cumsum(lens) + lens, lens)
    elems = starts + np.arange(int(lens.sum()))
    mine = slow[elems]
    try:
        x = pc.cast(parts.filter(pa.array(mine)), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # beyond what the cast reads: the row rule decides
        wrong[rows] = True
        return
    vals[elems[mine]] = x
    with np.errstate(invalid="ignore"):
        broken = ~np.isfinite(x) | ((x <= 0) if price else (x < 0)) | (x == 0)  # 0 here: an underflow, sign unknown
    wrong[np.searchsorted(at, elems[mine][broken], side="right") - 1] = True
