"""The checks of a decoded body: tenant, names, time range, market rules — a fast vectorised pass, and the
exact pass that names every row when the fast one finds anything wrong (or unusual)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thunderline.contracts import TICK_SCHEMA
from thunderline.identifiers import SYMBOL_RE, SYMBOL_RULE, VENUE_RE, VENUE_RULE, invalid_mask
from thunderline.ingress.problems import MAX_PROBLEMS, PayloadError, Problem
from thunderline.ingress.wire import (
    _BOOK_FIELDS,
    _FLOAT_FIELDS,
    _PRICE_FIELDS,
    _REQUIRED,
    _SIZE_FIELDS,
    TS_MIN_US,
    _arr,
    const_strings,
)
from thunderline.market.validation import validate_ticks
from thunderline.timebounds import supported_end_us


def _check_tenant(t: pa.Table, tenant_id: str, rows) -> None:
    col = t.column("tenant_id")
    if col.null_count == len(col):
        return
    other = pc.and_(pc.is_valid(col), pc.not_equal(col, tenant_id))
    idx = np.flatnonzero(pc.fill_null(other, False).to_numpy(zero_copy_only=False))
    if idx.size:
        i = int(idx[0])
        raise PayloadError("tenant_mismatch", [Problem(rows(i), "tenant_id",
                           f"names tenant {col[i].as_py()!r}; this key belongs to tenant {tenant_id!r} "
                           "(the tenant comes from the key, never from the payload)")], int(idx.size))


def _ints(col) -> tuple[np.ndarray, np.ndarray | None]:
    """int64 values (nulls as 0) and the null mask (None when there are none)."""
    col = _arr(col)
    if col.null_count == 0:
        return col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False), None
    return col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False), \
        col.is_null().to_numpy(zero_copy_only=False)


def _floats(col) -> pa.Array:
    col = _arr(col)
    return col if col.null_count == 0 else col.fill_null(float("nan"))


def _bad_names(col, kind: str) -> np.ndarray:
    """Rows whose (non-null) name breaks the ``kind`` identifier rule (``thunderline.identifiers``)."""
    col = _arr(col)
    bad = invalid_mask(col, kind)
    return bad & col.is_valid().to_numpy(zero_copy_only=False) if col.null_count else bad


def _stamp(t: pa.Table, tenant_id: str) -> pa.Table:
    """TICK_SCHEMA table: tenant from the key, NaN for absent prices/sizes, side 0 when absent."""
    n = t.num_rows
    arrays: dict[str, pa.Array] = {"tenant_id": const_strings(tenant_id, n)}
    for name in ("venue", "symbol"):
        c = _arr(t.column(name))
        arrays[name] = c.fill_null("") if c.null_count else c
    for name in ("ts", "seq"):
        arrays[name] = pa.array(_ints(t.column(name))[0], pa.int64())
    for name in ("event_type", "trade_side"):
        v, _ = _ints(t.column(name))
        arrays[name] = pa.array(np.where((v >= -128) & (v <= 127), v, 127).astype(np.int8), pa.int8())
    for name in _FLOAT_FIELDS:
        arrays[name] = _floats(t.column(name))
    for name in _BOOK_FIELDS:
        c = _arr(t.column(name))
        if c.null_count < n and c.values.null_count:
            c = pa.ListArray.from_arrays(c.offsets, c.values.fill_null(float("nan")), mask=c.is_null())
        arrays[name] = c
    src = _arr(t.column("source"))
    arrays["source"] = const_strings("ingress", n) if src.null_count == n else (src.fill_null("ingress") if src.null_count else src)
    srow = _arr(t.column("source_row"))
    rownum = np.arange(1, n + 1, dtype=np.int64)
    if srow.null_count == n:
        arrays["source_row"] = pa.array(rownum)
    elif srow.null_count:
        v, m = _ints(srow)
        arrays["source_row"] = pa.array(np.where(m, rownum, v))
    else:
        arrays["source_row"] = srow
    return pa.Table.from_arrays([arrays[f.name] for f in TICK_SCHEMA], schema=TICK_SCHEMA)


_VENUE_RX, _SYMBOL_RX = re.compile(VENUE_RE.strip("^$")), re.compile(SYMBOL_RE.strip("^$"))
_BOOK_SIZES, _BOOK_PRICES = ("book_bid_sz", "book_ask_sz"), ("book_bid_px", "book_ask_px")


def _f64s(col) -> np.ndarray:
    return _arr(col).to_numpy(zero_copy_only=False)


def _bad_sizes(x: np.ndarray) -> bool:
    """Any size < 0 or ±inf (NaN = absent is fine): ``fmin``/``fmax`` skip NaN, no temporaries."""
    return x.shape[0] > 0 and bool(np.fmin.reduce(x) < 0 or np.fmax.reduce(x) == np.inf)


def _bad_prices(x: np.ndarray) -> bool:
    return x.shape[0] > 0 and bool(np.fmin.reduce(x) <= 0 or np.fmax.reduce(x) == np.inf)


def _all_valid(wire: pa.Table, t: pa.Table) -> list[str] | None:
    """The sorted symbols when every rule of :func:`_check` holds; None when any may not.

    A handful of whole-column reductions instead of per-rule masks: the common case (a valid
    batch) costs tens of µs. It only ever says "valid" when :func:`_check` would find nothing;
    anything it is unsure about (a problem, mixed book presence) goes to :func:`_check`, which
    names the rows. ``tests/ingress/test_payload.py`` holds the two to agreeing.
    """
    n = t.num_rows
    if any(wire.column(c).null_count for c in _REQUIRED):
        return None
    venues = pc.unique(_arr(t.column("venue"))).to_pylist()
    symbols = pc.unique(_arr(t.column("symbol"))).to_pylist()
    if not all(_VENUE_RX.fullmatch(v) for v in venues) or not all(_SYMBOL_RX.fullmatch(v) for v in symbols):
        return None
    ts = _arr(t.column("ts")).to_numpy()
    if ts.min() < TS_MIN_US or ts.max() >= supported_end_us():
        return None
    et = _arr(t.column("event_type")).to_numpy()
    side = _arr(t.column("trade_side")).to_numpy()
    if et.min() < 0 or et.max() > 2 or side.min() < -1 or side.max() > 1:
        return None
    if any(_bad_sizes(_f64s(t.column(c))) for c in _SIZE_FIELDS):
        return None
    if any(_bad_prices(_f64s(t.column(c))) for c in _PRICE_FIELDS):
        return None
    trade = et == 1
    if trade.any():
        tpx, tsz = _f64s(t.column("trade_px"))[trade], _f64s(t.column("trade_sz"))[trade]
        if np.isnan(tpx).any() or not (tsz > 0).all():
            return None
    books = [_arr(t.column(c)) for c in _BOOK_FIELDS]
    if any(b.null_count < n for b in books):
        if any(b.null_count for b in books):  # some rows without a book: let _check sort it out
            return None
        lens = [pc.list_value_length(b).to_numpy() for b in books]
        if any(not np.array_equal(lens[0], x) for x in lens[1:]):
            return None
        for name, b in zip(_BOOK_FIELDS, books):
            vals = b.flatten().to_numpy(zero_copy_only=False)
            if (_bad_sizes if name in _BOOK_SIZES else _bad_prices)(vals):
                return None
    seq = _arr(t.column("seq")).to_numpy()
    # seq strictly rising per stream makes "ts never below an earlier row's" the same as "ts never below the row before"
    if len(venues) == 1 and len(symbols) == 1:
        if n > 1 and not ((seq[1:] > seq[:-1]).all() and (ts[1:] >= ts[:-1]).all()):
            return None
    else:  # per (venue, symbol) stream: a stable sort keeps each stream's rows in order
        v = pc.dictionary_encode(_arr(t.column("venue"))).indices.to_numpy().astype(np.int64)
        sy = pc.dictionary_encode(_arr(t.column("symbol"))).indices.to_numpy().astype(np.int64)
        code = v * len(symbols) + sy
        order = np.argsort(code, kind="stable")
        c, sq, tt = code[order], seq[order], ts[order]
        same = c[1:] == c[:-1]
        if (same & (sq[1:] <= sq[:-1])).any() or (same & (tt[1:] < tt[:-1])).any():
            return None
    return sorted(symbols)


def _check(wire: pa.Table, t: pa.Table, rows) -> list[Problem]:
    """Every contract rule over the whole table; problems sorted by row."""
    n = wire.num_rows
    found: list[tuple[int, str, str, str | None]] = []

    def mark(mask: np.ndarray, field: str, reason: str, values=None) -> None:
        for i in np.flatnonzero(mask)[:MAX_PROBLEMS]:
            v = None if values is None else values[int(i)]
            v = v.as_py() if isinstance(v, pa.Scalar) else v
            found.append((int(i), field, reason, None if v is None else str(v)[:40]))

    for name in _REQUIRED:
        c = wire.column(name)
        if c.null_count:
            mark(_arr(c).is_null().to_numpy(zero_copy_only=False), name, "required value is missing")
    mark(_bad_names(wire.column("venue"), "venue"), "venue", VENUE_RULE, wire.column("venue"))
    mark(_bad_names(wire.column("symbol"), "symbol"), "symbol", SYMBOL_RULE, wire.column("symbol"))
    ts, ts_null = _ints(wire.column("ts"))
    ts_max = supported_end_us()
    bad_ts = (ts < TS_MIN_US) | (ts >= ts_max)
    mark(bad_ts if ts_null is None else bad_ts & ~ts_null, "ts",
         f"ts must be µs since the Unix epoch, UTC, from 2010-01-01 to the end of the current month "
         f"(< {ts_max}; the months that have partitions — seconds or ms given?)", ts)
    et, et_null = _ints(wire.column("event_type"))
    bad_et = (et < 0) | (et > 2)
    mark(bad_et if et_null is None else bad_et & ~et_null, "event_type", "expected 0 (quote), 1 (trade) or 2 (status)", et)
    side, _ = _ints(wire.column("trade_side"))
    mark((side < -1) | (side > 1), "trade_side", "expected -1, 0 or 1", side)
    books = [_arr(t.column(k)) for k in _BOOK_FIELDS]
    if any(b.null_count < n for b in books):
        nulls = [b.is_null().to_numpy(zero_copy_only=False) for b in books]
        some, every = np.any(nulls, axis=0), np.all(nulls, axis=0)
        mark(some & ~every, "book", "the four book_* lists must be all present or all absent")
        lens = [pc.fill_null(pc.list_value_length(b), -1).to_numpy(zero_copy_only=False) for b in books]
        mark(~some & ((lens[0] != lens[1]) | (lens[0] != lens[2]) | (lens[0] != lens[3])), "book",
             "book_* lists differ in length")
    v = validate_ticks(t, TS_MIN_US, ts_max)  # the market rules; rows already at fault are not repeated
    if v.n_rejected:
        structural = {i for i, *_ in found}
        for i, f, why in [x for x in zip(v.reject_index.tolist(), v.reject_field, v.reject_reason)
                          if x[0] not in structural][:MAX_PROBLEMS]:
            val = t.column(f)[int(i)].as_py() if f in t.column_names else None
            found.append((int(i), f, why, None if val is None else str(val)[:40]))
    found.sort(key=lambda x: (x[0], x[1]))
    return [Problem(rows(i), f, r, v) for i, f, r, v in found]
