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

from thunderline.market.csv_bytes import (
    COMMA,
    CR,
    LF,
    MINUS,
    PLUS,
    POW10,
    POW10_INT,
    QUOTE,
    SEMI,
    U,
    digit,
    digit_run,
    field_end,
    key8,
    number_at,
    same_text,
)

SKIP, DICT, INT, DEC, LIST = 0, 1, 2, 3, 4
SIZE, PRICE, EMPTY_OK = 0, 1, 2  # rule bits of an INT / DEC / LIST column
EMPTY, SLOW, EXPONENT = 1, 2, 4  # bits of a decimal's flags


@numba.njit(cache=True, inline="always")
def _sign_ok(x, rule):  # pragma: no cover - compiled
    return x > 0.0 if rule & PRICE else x >= 0.0


@numba.njit(cache=True, inline="always")
def _code(buf, s, a, b, size, dict_s, dict_e, dict_w, dict_n, last):  # pragma: no cover - compiled
    """The code of text ``buf[a:b]`` in DICT slot ``s`` (added when new); -1 when the slot's table is full.
    A text of up to 8 bytes is one integer, compared with every entry without a branch (a side column
    alternates unpredictably); a longer one is tried against the previous row's value first."""
    L = b - a
    found = -1
    w = U(0)
    if L <= 8:
        w = key8(buf, a, b, size)
        for q in range(dict_n[s]):
            hit = (dict_w[s, q] == w) & (dict_e[s, q] - dict_s[s, q] == L)
            found = q if hit else found
    else:
        p = last[s]
        if p >= 0 and same_text(buf, a, b, dict_s[s, p], dict_e[s, p]):
            found = p
        else:
            for q in range(dict_n[s]):
                if same_text(buf, a, b, dict_s[s, q], dict_e[s, q]):
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


@numba.njit(cache=True, inline="always")
def _int_field(buf, pos, size, rule):  # pragma: no cover - compiled
    """``[+-]?[0-9]{1,18}`` at ``pos`` (empty: 0 when the rule allows it): (value, next pos, ok)."""
    start = pos
    neg = False
    if buf[pos] == MINUS or buf[pos] == PLUS:
        neg = buf[pos] == MINUS
        pos += 1
    x = 0
    nd = 0
    if pos + 32 <= size:  # eight digits at a time
        while True:
            v, k8 = digit_run(buf, pos)
            x = x * np.int64(POW10_INT[k8]) + np.int64(v)
            nd += k8
            pos += k8
            if k8 < 8 or nd > 18:
                break
    else:
        d = digit(buf[pos])
        while d <= 9 and nd <= 18:
            x = x * 10 + np.int64(d)
            nd += 1
            pos += 1
            d = digit(buf[pos])
    ok = not (nd > 18 or (nd == 0 and (pos > start or not rule & EMPTY_OK)))
    return (-x if neg else x), pos, ok


@numba.njit(cache=True, inline="always")
def _list_field(buf, pos, size, s, i, rule, vals, k, lens, slow, ns):  # pragma: no cover - compiled
    """``;``-separated decimals into ``vals[s, k[s]:]`` (an empty field: none): (next pos, ok, slow count;
    -1 when ``vals`` or ``slow`` is full)."""
    cnt = 0
    cap = vals.shape[1]
    ok = True
    if buf[pos] != COMMA and buf[pos] != LF and buf[pos] != CR:
        while True:
            a = pos
            x, st, pos, ex = number_at(buf, pos, size, POW10)
            if k[s] == cap:
                return pos, False, -1
            vals[s, k[s]] = x
            if st == 3 or (st == 0 and not _sign_ok(x, rule)):
                ok = False
                break
            if st == 2:
                if ns == slow.shape[1]:
                    return pos, False, -1
                slow[0, ns], slow[1, ns], slow[2, ns], slow[3, ns] = a, pos, i, s * cap + k[s]
                ns += 1
            k[s] += 1
            cnt += 1
            if buf[pos] != SEMI:
                break
            pos += 1
    lens[s, i] = cnt
    return pos, ok, ns


@numba.njit(cache=True)
def tokenize_rows(buf, n, roles, slots, rules, quotes_bad, ints, decs, dflag, dwidth, codes, dict_s,
                  dict_e, dict_w, dict_n, vals, lens, bad, slow):  # pragma: no cover - compiled
    """``n`` lines of ``buf`` into the slot arrays (see the module docstring). Returns the number of slow
    decimals recorded, one per column of ``slow``: byte range, row, and where the value goes (``-1 - slot``
    for a scalar, ``list*cap + index`` for a list element); -1 when a capacity (dict table, list values, slow)
    ran out."""
    ncol, size = roles.size, buf.size
    k = np.zeros(vals.shape[0], np.int64)
    k_row = np.zeros(vals.shape[0], np.int64)
    last = np.full(dict_s.shape[0], -1, np.int64)
    ns = pos = 0
    for i in range(n):
        ok = True
        ns_row = ns
        for q in range(k.size):  # (an element loop: a slice would be a new view object per line)
            k_row[q] = k[q]
        for c in range(ncol):
            role, s, rule = roles[c], slots[c], rules[c]
            start = pos
            if role == SKIP or role == DICT:
                pos = field_end(buf, pos, size, quotes_bad)
                while buf[pos] == QUOTE:
                    ok = False
                    pos = field_end(buf, pos + 1, size, quotes_bad)
                end = pos - (pos > start and buf[pos - 1] == CR)  # a CR is only ever the CRLF's
                if role == DICT:
                    q = _code(buf, s, start, end, size, dict_s, dict_e, dict_w, dict_n, last)
                    if q < 0:
                        return -1
                    codes[s, i] = q
            elif role == INT:
                x, pos, ok = _int_field(buf, pos, size, rule)
                ints[s, i] = x
            elif role == DEC:
                x, st, pos, ex = number_at(buf, pos, size, POW10)
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
            else:
                pos, ok, ns = _list_field(buf, pos, size, s, i, rule, vals, k, lens, slow, ns)
            if ns < 0:
                return -1
            if not ok:
                break
            if c < ncol - 1:
                if buf[pos] != COMMA:
                    ok = False
                    break
                pos += 1
            else:
                if buf[pos] == CR:
                    pos += 1
                if buf[pos] != LF:
                    ok = False
                    break
                pos += 1
        if not ok:  # the row rule reads this line: forget what it wrote, go past its LF
            bad[i] = True
            ns = ns_row
            for q in range(k.size):
                k[q] = k_row[q]
                lens[q, i] = 0
            for q in range(codes.shape[0]):
                codes[q, i] = 0  # a valid code (the values of a bad line are otherwise left unset)
            while buf[pos] != LF:
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


def tokenize(data: bytes | memoryview, n: int, layout: Layout) -> Tokens:
    """The ``n`` whole lines of ``data`` as typed columns (see the module docstring). Memory: a few arrays
    of ``n`` values per column, and per list column room for one element per two bytes (pages never
    written cost nothing)."""
    if n and data[-1:] != b"\n":
        raise ValueError("tokenize: the block must be whole lines, each ended by LF")
    buf = np.frombuffer(data, np.uint8)
    roles = np.array(layout.roles, np.int64)
    rules = np.array(layout.rules, np.int64)
    slots = layout.slots()
    nd, nl, nk = layout.count(DEC), layout.count(LIST), layout.count(DICT)
    dict_cap, slow_cap = 64, 1024
    # a list holds one element more than its ';' a line: room for twice the lists' mean (one list holding most of
    # them runs out, and the block is read again with twice the room)
    list_cap = (2 * (count_byte(buf, SEMI) // nl) + n + 16) if nl else 0
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
        ns = tokenize_rows(buf, n, roles, slots, rules, layout.quotes_bad, ints, decs, dflag, dwidth, codes,
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
