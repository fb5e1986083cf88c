"""LOBSTER message + orderbook pairs (NASDAQ TotalView-ITCH reconstructions).

File names carry what the rows do not: ``{SYMBOL}_{YYYY-MM-DD}_{start}_{end}_message_{L}.csv``
and the matching ``..._orderbook_{L}.csv``. Guarantees of :func:`iter_lobster`:

* every message row becomes exactly one tick (or one reject), carrying the book
  *after* it (orderbook row i) in ``book_*`` (L levels, best first) and level 1 in
  ``bid_*``/``ask_*``; LOBSTER's dummy levels (±9999999999) become NaN price / 0 size;
* ``ts`` = UTC µs: Time (seconds after local midnight, up to 9 decimals) is parsed
  as integer nanoseconds from the text, converted to UTC with zoneinfo
  (America/New_York, i.e. US/Eastern, wall-clock) and floored to µs; sub-µs order
  is kept by ``seq`` = 1-based message row number;
* prices are integer × 10⁻⁴ (exact integer arithmetic, then the correctly rounded float);
* types 1–3 → EVENT_QUOTE, 4/5 (visible/hidden execution) → EVENT_TRADE with
  ``trade_side = -Direction`` (the aggressor is opposite to the resting order),
  7 (halt / quoting / resume) → EVENT_STATUS with NaN prices and no book, as the
  contract requires for status rows (the halt code itself has no column in
  TICK_SCHEMA and is not carried);
* venue is ``"NASDAQ"``; ``source`` is the message file path, ``source_row`` its line.
"""

from __future__ import annotations

import datetime as dt
import re
from itertools import zip_longest
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thunderline.contracts import EVENT_QUOTE, EVENT_STATUS, EVENT_TRADE, TICK_SCHEMA
from thunderline.market import lobster_tokens
from thunderline.market._build import (
    NAN,
    ChunkEmitter,
    RowError,
    TickBuilder,
    TickChunk,
    const_strings,
    parse_int,
    reject,
    strip_eol,
)
from thunderline.market.columnar import LineReader, Piece, open_bytes, open_text, parse_block, split_lines, typed_pieces
from thunderline.market.columnar_lines import cut_chunks, guarded_rows
from thunderline.market.rejects import Reject

LOBSTER_TZ = ZoneInfo("America/New_York")
LOBSTER_VENUE = "NASDAQ"
PRICE_SCALE = 10_000
DUMMY_ASK = 9_999_999_999
DUMMY_BID = -9_999_999_999
_NAME_RE = re.compile(
    r"(?P<symbol>[A-Za-z0-9.\-]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<level>\d+)\.csv(?:\.gz|\.zst|\.zstd|\.zip)?\Z"
)
_DAY_S = 86_400
_TIME_RE = re.compile(r"([0-9]+)(?:\.([0-9]{1,9}))?\Z")
_EVENT_OF_TYPE = {1: EVENT_QUOTE, 2: EVENT_QUOTE, 3: EVENT_QUOTE, 4: EVENT_TRADE, 5: EVENT_TRADE, 7: EVENT_STATUS}


def parse_lobster_name(path: str | Path) -> dict | None:
    """``{symbol, date, start_ms, end_ms, kind, level}`` from a LOBSTER file name, or None."""
    m = _NAME_RE.match(Path(path).name)
    if not m:
        return None
    return {
        "symbol": m["symbol"],
        "date": dt.date.fromisoformat(m["date"]),
        "start_ms": int(m["start"]),
        "end_ms": int(m["end"]),
        "kind": m["kind"],
        "level": int(m["level"]),
    }


def lobster_pair(path: str | Path) -> tuple[Path, Path]:
    """(message, orderbook) paths for either member of a LOBSTER pair."""
    p = Path(path)
    info = parse_lobster_name(p)
    if info is None:
        raise ValueError(f"{p}: not a LOBSTER file name (SYMBOL_YYYY-MM-DD_start_end_message_L.csv)")
    if info["kind"] == "message":
        return p, p.with_name(p.name.replace("_message_", "_orderbook_"))
    return p.with_name(p.name.replace("_orderbook_", "_message_")), p


def parse_time_ns(text: str) -> int:
    """LOBSTER Time (seconds after midnight, 0–9 decimals) → integer nanoseconds, exactly."""
    m = _TIME_RE.match(text)
    if not m:
        raise RowError("time", f"not seconds-after-midnight with <= 9 decimals: {text!r}")
    frac = m[2] or ""
    if len(m[1]) > 6 or int(m[1]) >= _DAY_S:  # a day file: seconds after its local midnight
        raise RowError("time", f"seconds after midnight must be below {_DAY_S}: {text[:40]!r}")
    return int(m[1]) * 1_000_000_000 + int(frac.ljust(9, "0") or "0")


class _LocalClock:
    """Local wall-clock nanoseconds after midnight → UTC µs; the UTC offset is cached per hour (DST changes on the hour)."""

    def __init__(self, date: dt.date, tz: ZoneInfo) -> None:
        self.date = date
        self.tz = tz
        self.midnight_utc_naive_us = (dt.datetime(date.year, date.month, date.day) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
        self._offsets: dict[int, int] = {}

    def to_utc_us(self, ns_after_midnight: int) -> int:
        hour = ns_after_midnight // 3_600_000_000_000
        off = self._offsets.get(hour)
        if off is None:
            # aware + timedelta is wall-clock arithmetic: this is the local wall time hour:00
            local = dt.datetime.combine(self.date, dt.time(), tzinfo=self.tz) + dt.timedelta(hours=hour)
            off = local.utcoffset() // dt.timedelta(microseconds=1)
            self._offsets[hour] = off
        return self.midnight_utc_naive_us + ns_after_midnight // 1000 - off


def _parse_book(fields: list[str], level: int) -> tuple[list[float], list[float], list[float], list[float]]:
    bpx: list[float] = []
    bsz: list[float] = []
    apx: list[float] = []
    asz: list[float] = []
    for k in range(level):
        ap = parse_int(fields[4 * k], f"ask_px_{k + 1}")
        aq = parse_int(fields[4 * k + 1], f"ask_sz_{k + 1}")
        bp = parse_int(fields[4 * k + 2], f"bid_px_{k + 1}")
        bq = parse_int(fields[4 * k + 3], f"bid_sz_{k + 1}")
        if aq < 0:
            raise RowError(f"ask_sz_{k + 1}", f"size must be >= 0: {aq}")
        if bq < 0:
            raise RowError(f"bid_sz_{k + 1}", f"size must be >= 0: {bq}")
        if ap == DUMMY_ASK:
            apx.append(NAN)
            asz.append(0.0)
        elif ap <= 0:
            raise RowError(f"ask_px_{k + 1}", f"price must be > 0: {ap}")
        else:
            apx.append(ap / PRICE_SCALE)
            asz.append(float(aq))
        if bp == DUMMY_BID:
            bpx.append(NAN)
            bsz.append(0.0)
        elif bp <= 0:
            raise RowError(f"bid_px_{k + 1}", f"price must be > 0: {bp}")
        else:
            bpx.append(bp / PRICE_SCALE)
            bsz.append(float(bq))
    return bpx, bsz, apx, asz


def _row(row: int, m: str, o: str, level: int, venue: str, symbol: str, clock: "_LocalClock",
         src: str) -> Reject | tuple:
    """One message/orderbook line pair by the exact row rules: a Reject, or TickBuilder.add arguments."""
    mf = m.split(",")
    try:
        if len(mf) != 6:
            raise RowError("*", f"expected 6 columns, got {len(mf)} (truncated or malformed line)")
        ns = parse_time_ns(mf[0])
        typ = parse_int(mf[1], "type")
        event = _EVENT_OF_TYPE.get(typ)
        if event is None:
            raise RowError("type", f"unknown LOBSTER event type {typ} (expected 1-5 or 7)")
        parse_int(mf[2], "order_id")
        size = parse_int(mf[3], "size")
        price = parse_int(mf[4], "price")
        direction = parse_int(mf[5], "direction")
        if size < 0:
            raise RowError("size", f"size must be >= 0: {size}")
        if event != EVENT_STATUS:
            if direction not in (1, -1):
                raise RowError("direction", f"must be 1 or -1: {direction}")
            if price <= 0:
                raise RowError("price", f"price must be > 0: {price}")
            if event == EVENT_TRADE and size <= 0:
                raise RowError("size", f"execution size must be > 0: {size}")
    except RowError as exc:
        return reject(src, row, exc, m)
    of = o.split(",")
    try:
        if len(of) != 4 * level:
            raise RowError("orderbook", f"expected {4 * level} orderbook columns, got {len(of)} (truncated or malformed line)")
        bpx, bsz, apx, asz = _parse_book(of, level)
    except RowError as exc:
        return Reject(src, row, f"orderbook.{exc.field}", exc.reason, m + " | " + o)
    ts = clock.to_utc_us(ns)
    if event == EVENT_STATUS:
        return (venue, symbol, ts, row, event, NAN, 0.0, NAN, 0.0, NAN, 0.0, 0, None, row)
    if event == EVENT_TRADE:
        tpx, tsz, side = price / PRICE_SCALE, float(size), -direction
    else:
        tpx, tsz, side = NAN, 0.0, 0
    return (venue, symbol, ts, row, event, bpx[0], bsz[0], apx[0], asz[0], tpx, tsz, side, (bpx, bsz, apx, asz), row)


def iter_lobster_rows(
    path: str | Path,
    tenant_id: str,
    chunk_rows: int,
    *,
    tz: ZoneInfo = LOBSTER_TZ,
    venue: str = LOBSTER_VENUE,
) -> Iterator[TickChunk]:
    """The row-by-row reader (the reference the columnar :func:`iter_lobster` must equal)."""
    msg_path, ob_path = lobster_pair(path)
    info = parse_lobster_name(msg_path)
    assert info is not None
    level, symbol = info["level"], info["symbol"]
    clock = _LocalClock(info["date"], tz)
    src = str(msg_path)
    em = ChunkEmitter(TickBuilder(tenant_id, src), chunk_rows)
    with open_text(msg_path) as fm, open_text(ob_path) as fo:
        for row, (mline, oline) in enumerate(zip_longest(fm, fo), start=1):
            if mline is None:
                em.rejects.append(Reject(str(ob_path), row, "*", "orderbook row has no message row (message file ended early)", strip_eol(oline)))
            elif oline is None:
                em.rejects.append(Reject(src, row, "*", "message row has no orderbook row (orderbook file ended early)", strip_eol(mline)))
            else:
                out = _row(row, strip_eol(mline), strip_eol(oline), level, venue, symbol, clock, src)
                if isinstance(out, Reject):
                    em.rejects.append(out)
                else:
                    em.builder.add(*out)
            if em.full():
                yield em.take()
    if em.pending():
        yield em.take()


_MSG_NAMES = ["time", "type", "order_id", "size", "price", "direction"]
_MSG_TYPES = {"time": pa.string(), "type": pa.int64(), "order_id": pa.int64(), "size": pa.int64(),
              "price": pa.int64(), "direction": pa.int64()}
_TIME_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,9})?$"  # the row rule: at most 6 digits of seconds
_FLOAT_TIME_LIMIT_S = _DAY_S  # a day file; below it, round(float(text) * 1e9) is the exact nanosecond count


def _ob_names(level: int) -> list[str]:
    return [f"{k}_{i}" for i in range(1, level + 1) for k in ("ap", "as", "bp", "bs")]


def iter_lobster(
    path: str | Path,
    tenant_id: str,
    chunk_rows: int,
    *,
    tz: ZoneInfo = LOBSTER_TZ,
    venue: str = LOBSTER_VENUE,
    use_threads: bool = False,
    tokenizer: str = "compiled",
) -> Iterator[TickChunk]:
    """Stream a LOBSTER pair (give either file) as TickChunks; see the module docstring for guarantees.

    Columnar: both files are read in aligned blocks of whole lines and parsed straight from their
    bytes by compiled tokenizers (``tokenizer="compiled"``, :mod:`lobster_tokens`), or typed with
    pyarrow.csv (``"pyarrow"``, the verification path) and checked column-wise; rows a check flags
    (and blocks pyarrow cannot type) go through the exact row rules (:func:`_row`), so ticks and
    rejects equal :func:`iter_lobster_rows`'s either way."""
    if tokenizer not in ("compiled", "pyarrow"):
        raise ValueError(f"tokenizer must be 'compiled' or 'pyarrow', not {tokenizer!r}")
    msg_path, ob_path = lobster_pair(path)
    info = parse_lobster_name(msg_path)
    assert info is not None
    level, symbol = info["level"], info["symbol"]
    clock = _LocalClock(info["date"], tz)
    src = str(msg_path)
    ob_names = _ob_names(level)
    ob_types = {n: pa.int64() for n in ob_names}

    def parse(data: tuple[bytes, ...], n: int):  # an empty field (or line) types as null: the row rules read it
        m = parse_block(data[0], _MSG_NAMES, _MSG_TYPES, use_threads=use_threads, lines=n)
        if m is None or any(c.null_count for c in m.columns):
            return None
        o = parse_block(data[1], ob_names, ob_types, use_threads=use_threads, lines=n)
        return None if o is None or any(c.null_count for c in o.columns) else (m, o)

    ctx = _Ctx(tenant_id, src, venue, symbol, level, clock)
    with open_bytes(msg_path) as fm, open_bytes(ob_path) as fo:
        mr, orr = LineReader(fm), LineReader(fo)
        while True:
            first = mr.next_line
            mdata, n = mr.block()
            if n == 0:
                break
            odata, got = orr.lines(n)
            tail: list[Reject] = []
            if got < n:  # the orderbook file ended early: the remaining message rows have no partner
                mlines = split_lines(mdata)
                tail = [Reject(src, first + i, "*", "message row has no orderbook row (orderbook file ended early)",
                               mlines[i].decode("utf-8", "replace")) for i in range(got, n)]
                mdata = b"".join(ln + b"\n" for ln in mlines[:got])
            if got and tokenizer == "compiled":
                yield from cut_chunks(*_tokenized(ctx, Piece(first, got, (mdata, odata))), chunk_rows)
            for piece, tables in typed_pieces(Piece(first, got, (mdata, odata)), parse) \
                    if got and tokenizer == "pyarrow" else ():
                yield from _emit(ctx, piece, tables, chunk_rows)
            if tail:
                yield from cut_chunks(None, tail, chunk_rows)
        # the message file ended early: the orderbook's remaining rows have no partner
        while True:
            first = orr.next_line
            odata, n = orr.block()
            if n == 0:
                break
            rej = [Reject(str(ob_path), first + i, "*", "orderbook row has no message row (message file ended early)",
                          ln.decode("utf-8", "replace")) for i, ln in enumerate(split_lines(odata))]
            yield from cut_chunks(None, rej, chunk_rows)


class _Ctx:
    def __init__(self, tenant_id: str, src: str, venue: str, symbol: str, level: int, clock: _LocalClock) -> None:
        self.tenant_id, self.src, self.venue, self.symbol, self.level, self.clock = tenant_id, src, venue, symbol, level, clock


def _emit(ctx: _Ctx, piece: Piece, tables, chunk_rows: int) -> Iterator[TickChunk]:
    if tables is None:  # a small run of lines pyarrow could not type: the exact row path
        b = TickBuilder(ctx.tenant_id, ctx.src)
        rejects: list[Reject] = []
        mlines, olines = split_lines(piece.data[0]), split_lines(piece.data[1])
        for i, (m, o) in enumerate(zip(mlines, olines)):
            out = _row(piece.first_line + i, m.decode("utf-8", "replace"), o.decode("utf-8", "replace"),
                       ctx.level, ctx.venue, ctx.symbol, ctx.clock, ctx.src)
            if isinstance(out, Reject):
                rejects.append(out)
            else:
                b.add(*out)
        yield from cut_chunks(b.flush(), rejects, chunk_rows)
        return
    batch, rejects = _columnar(ctx, piece, *tables)
    yield from cut_chunks(batch, rejects, chunk_rows)


def _columnar(ctx: _Ctx, piece: Piece, m: pa.Table, o: pa.Table) -> tuple[pa.RecordBatch, list[Reject]]:
    """A piece pyarrow typed: its columns checked and converted (the verification path of the tokenizer)."""
    n = piece.n
    time_txt = m.column("time")
    ok_time = pc.match_substring_regex(time_txt, _TIME_PATTERN).to_numpy(zero_copy_only=False)
    secs = pc.cast(pc.if_else(ok_time, time_txt, "0"), pa.float64()).to_numpy(zero_copy_only=False)
    bad = ~ok_time | (secs >= _FLOAT_TIME_LIMIT_S)
    bad |= guarded_rows(piece.data[0], n) | guarded_rows(piece.data[1], n)  # what pyarrow reads, the rule may not
    ns = np.rint(secs * 1e9).astype(np.int64)
    msg = [m.column(c).to_numpy() for c in ("type", "size", "price", "direction")]
    books = _book_levels(o, n, ctx.level, bad)
    return _ticks(ctx, piece, ns, *msg, books, bad)


def _tokenized(ctx: _Ctx, piece: Piece) -> tuple[pa.RecordBatch, list[Reject]]:
    """A piece parsed straight from its bytes by the compiled tokenizers (:mod:`lobster_tokens`)."""
    n, L = piece.n, ctx.level
    bad = np.zeros(n, np.bool_)
    books = tuple(np.empty((n, L)) for _ in range(4))
    lobster_tokens.orderbook_rows(np.frombuffer(piece.data[1], np.uint8), n, *books, bad)
    msg = [np.zeros(n, np.int64) for _ in range(5)]
    lobster_tokens.message_rows(np.frombuffer(piece.data[0], np.uint8), n, *msg, bad)
    return _ticks(ctx, piece, *msg, books, bad)


def _ticks(ctx: _Ctx, piece: Piece, ns: np.ndarray, typ: np.ndarray, size: np.ndarray, price: np.ndarray,
           direction: np.ndarray, books: tuple[np.ndarray, ...], bad: np.ndarray) -> tuple[pa.RecordBatch, list[Reject]]:
    """Parsed columns (``bad``: rows a parse or check could not vouch for) → the tick batch and rejects;
    flagged rows are judged by the exact row rules."""
    n = piece.n
    L = ctx.level
    apx, aszf, bpx, bszf = books
    rows = np.arange(piece.first_line, piece.first_line + n, dtype=np.int64)
    known = np.isin(typ, (1, 2, 3, 4, 5, 7))
    status = typ == 7
    trade = (typ == 4) | (typ == 5)
    bad = bad | ~known | (size < 0)
    bad |= ~status & ((direction != 1) & (direction != -1) | (price <= 0) | (trade & (size <= 0)))
    ts = _utc_us(ctx.clock, ns, bad)
    event = np.where(trade, EVENT_TRADE, np.where(status, EVENT_STATUS, EVENT_QUOTE)).astype(np.int8)
    tpx = np.where(trade, price / PRICE_SCALE, np.nan)
    tsz = np.where(trade, size.astype(np.float64), 0.0)
    side = np.where(trade, -direction, 0).astype(np.int8)
    top = [x[:, 0].copy() for x in (bpx, bszf, apx, aszf)]
    for x, fill in zip(top, (np.nan, 0.0, np.nan, 0.0)):
        x[status] = fill
    rejects: list[Reject] = []
    keep = ~bad
    if bad.any():  # the exact row rules for flagged rows: they name the field, or (rarely) accept the row
        mlines, olines = split_lines(piece.data[0]), split_lines(piece.data[1])
        for i in np.flatnonzero(bad):
            out = _row(int(rows[i]), mlines[i].decode("utf-8", "replace"), olines[i].decode("utf-8", "replace"),
                       L, ctx.venue, ctx.symbol, ctx.clock, ctx.src)
            if isinstance(out, Reject):
                rejects.append(out)
                continue
            keep[i] = True
            ts[i], event[i] = out[2], out[4]
            top[0][i], top[1][i], top[2][i], top[3][i] = out[5], out[6], out[7], out[8]
            tpx[i], tsz[i], side[i] = out[9], out[10], out[11]
            status[i] = out[4] == EVENT_STATUS
            if out[12] is not None:
                bpx[i], bszf[i], apx[i], aszf[i] = (np.asarray(v, np.float64) for v in out[12])
    return _tick_batch(ctx, keep, status, rows, ts, event, top, tpx, tsz, side, (bpx, bszf, apx, aszf)), rejects


def _book_levels(o: pa.Table, n: int, L: int, bad: np.ndarray) -> tuple[np.ndarray, ...]:
    """The orderbook file's L levels as (n, L) float arrays: ask prices, ask sizes, bid prices, bid sizes
    (a dummy level is NaN price, size 0). Rows with a negative size or non-positive price are marked in
    ``bad`` (in place) for the exact row rules.

    Why a kernel: the 4·L integer columns are copied once into one (4·L, n) array, chunk by chunk
    (pyarrow parses in 1 MB blocks), and one numba pass converts and checks them; the numpy version
    made ~10 temporaries per level and cost a fifth of the read."""
    ob = np.empty((4 * L, n), np.int64)
    for j in range(4 * L):
        lo = 0
        for chunk in o.column(j).chunks:
            ob[j, lo:lo + len(chunk)] = chunk.to_numpy()
            lo += len(chunk)
    out = tuple(np.empty((n, L)) for _ in range(4))
    _levels_kernel(ob, *out, bad)
    return out


@numba.njit(cache=True)
def _levels_kernel(ob, apx, aszf, bpx, bszf, bad):  # pragma: no cover - compiled
    n, L = apx.shape
    for i in range(n):
        for k in range(L):
            ap, asz, bp, bsz = ob[4 * k, i], ob[4 * k + 1, i], ob[4 * k + 2, i], ob[4 * k + 3, i]
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


def _utc_us(clock: _LocalClock, ns: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Nanoseconds after local midnight → UTC µs, the offset looked up once per local hour (rows marked
    ``bad`` do not ask the clock: their time may be malformed)."""
    hour = ns // 3_600_000_000_000
    off = np.zeros(ns.shape[0], np.int64)
    for h in np.unique(hour[~bad]):
        clock.to_utc_us(int(h) * 3_600_000_000_000)
        off[hour == h] = clock._offsets[int(h)]
    return clock.midnight_utc_naive_us + ns // 1000 - off


def _tick_batch(ctx: _Ctx, keep: np.ndarray, status: np.ndarray, rows: np.ndarray, ts: np.ndarray,
                event: np.ndarray, top: list[np.ndarray], tpx: np.ndarray, tsz: np.ndarray, side: np.ndarray,
                books: tuple[np.ndarray, ...]) -> pa.RecordBatch:
    """The kept rows as a tick batch; book lists are views of the (n, L) arrays (status rows carry a
    null book)."""
    L = ctx.level
    every = bool(keep.all())
    idx = np.flatnonzero(keep) if not every else slice(None)
    k = int(keep.sum())
    has_book = ~status[idx]
    if has_book.all():  # the usual block: every row carries L levels, lists are views of the (n, L) arrays
        offsets = pa.array(np.arange(0, (k + 1) * L, L, dtype=np.int32))
        mask = None
        sel = idx
    else:
        lens = np.where(has_book, L, 0).astype(np.int32)
        offs = np.zeros(k + 1, np.int32)
        np.cumsum(lens, out=offs[1:])
        offsets, mask = pa.array(offs), pa.array(~has_book)
        sel = np.flatnonzero(keep)[has_book] if not every else np.flatnonzero(has_book)

    def lists(x: np.ndarray) -> pa.Array:
        v = x if isinstance(sel, slice) else x[sel]
        return pa.ListArray.from_arrays(offsets, pa.array(v.reshape(-1)), mask=mask)

    return pa.RecordBatch.from_arrays([
        const_strings(ctx.tenant_id, k), const_strings(ctx.venue, k), const_strings(ctx.symbol, k),
        pa.array(ts[idx]), pa.array(rows[idx]), pa.array(event[idx]),
        pa.array(top[0][idx]), pa.array(top[1][idx]), pa.array(top[2][idx]), pa.array(top[3][idx]),
        pa.array(tpx[idx]), pa.array(tsz[idx]), pa.array(side[idx]),
        *(lists(x) for x in books),
        const_strings(ctx.src, k), pa.array(rows[idx]),
    ], schema=TICK_SCHEMA)


def lobster_months(path: str | Path) -> list[str]:
    """The UTC months ("YYYY-MM") a LOBSTER pair's ticks fall in, from its name and the message file's
    Time column alone (the orderbook, 4×L columns, is not read): what the landing index needs to
    route the file. Rows whose Time is malformed are ignored here and rejected by the reader."""
    import pyarrow.csv as pacsv

    from thunderline.partitioning import months_of_us

    msg_path, _ = lobster_pair(path)
    info = parse_lobster_name(msg_path)
    assert info is not None
    clock = _LocalClock(info["date"], LOBSTER_TZ)
    lo = hi = None
    with open_bytes(msg_path) as fh:
        reader = pacsv.open_csv(
            fh, read_options=pacsv.ReadOptions(column_names=_MSG_NAMES, use_threads=False),
            parse_options=pacsv.ParseOptions(quote_char=False, invalid_row_handler=lambda row: "skip"),
            convert_options=pacsv.ConvertOptions(include_columns=["time"], column_types={"time": pa.string()}))
        for b in reader:
            t = b.column(0)
            ok = pc.match_substring_regex(t, _TIME_PATTERN)
            secs = pc.cast(pc.filter(t, ok), pa.float64())
            if len(secs):
                mn, mx = pc.min_max(secs).values()
                lo = mn.as_py() if lo is None else min(lo, mn.as_py())
                hi = mx.as_py() if hi is None else max(hi, mx.as_py())
    if lo is None:
        return []
    ts = np.array([clock.to_utc_us(int(round(x * 1e9))) for x in (lo, hi)], np.int64)
    return sorted(set(months_of_us(ts).tolist()))
