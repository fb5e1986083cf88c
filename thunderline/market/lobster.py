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

from thunderline.contracts import EVENT_QUOTE, EVENT_STATUS, EVENT_TRADE
from thunderline.market._build import (
    NAN,
    ChunkEmitter,
    RowError,
    TickBuilder,
    TickChunk,
    open_text,
    parse_int,
    reject,
    strip_eol,
)
from thunderline.market.rejects import Reject

LOBSTER_TZ = ZoneInfo("America/New_York")
LOBSTER_VENUE = "NASDAQ"
PRICE_SCALE = 10_000
DUMMY_ASK = 9_999_999_999
DUMMY_BID = -9_999_999_999
_NAME_RE = re.compile(
    r"(?P<symbol>[A-Za-z0-9.\-]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<level>\d+)\.csv(?:\.gz)?\Z"
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


def iter_lobster(
    path: str | Path,
    tenant_id: str,
    chunk_rows: int,
    *,
    tz: ZoneInfo = LOBSTER_TZ,
    venue: str = LOBSTER_VENUE,
) -> Iterator[TickChunk]:
    """Stream a LOBSTER pair (give either file) as TickChunks; see the module docstring for guarantees."""
    msg_path, ob_path = lobster_pair(path)
    info = parse_lobster_name(msg_path)
    assert info is not None
    level = info["level"]
    symbol = info["symbol"]
    clock = _LocalClock(info["date"], tz)
    src = str(msg_path)
    em = ChunkEmitter(TickBuilder(tenant_id, src), chunk_rows)
    b = em.builder
    n_ob_cols = 4 * level
    with open_text(msg_path) as fm, open_text(ob_path) as fo:
        for row, (mline, oline) in enumerate(zip_longest(fm, fo), start=1):
            if mline is None:
                em.rejects.append(Reject(str(ob_path), row, "*", "orderbook row has no message row (message file ended early)", strip_eol(oline)))
            elif oline is None:
                em.rejects.append(Reject(src, row, "*", "message row has no orderbook row (orderbook file ended early)", strip_eol(mline)))
            else:
                m = strip_eol(mline)
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
                    em.rejects.append(reject(src, row, exc, m))
                    if em.full():
                        yield em.take()
                    continue
                o = strip_eol(oline)
                of = o.split(",")
                try:
                    if len(of) != n_ob_cols:
                        raise RowError("orderbook", f"expected {n_ob_cols} orderbook columns, got {len(of)} (truncated or malformed line)")
                    bpx, bsz, apx, asz = _parse_book(of, level)
                except RowError as exc:
                    em.rejects.append(Reject(src, row, f"orderbook.{exc.field}", exc.reason, m + " | " + o))
                    if em.full():
                        yield em.take()
                    continue
                ts = clock.to_utc_us(ns)
                if event == EVENT_STATUS:
                    b.add(venue, symbol, ts, row, event, NAN, 0.0, NAN, 0.0, NAN, 0.0, 0, None, row)
                else:
                    if event == EVENT_TRADE:
                        tpx, tsz, side = price / PRICE_SCALE, float(size), -direction
                    else:
                        tpx, tsz, side = NAN, 0.0, 0
                    b.add(venue, symbol, ts, row, event, bpx[0], bsz[0], apx[0], asz[0], tpx, tsz, side,
                          (bpx, bsz, apx, asz), row)
            if em.full():
                yield em.take()
    if em.pending():
        yield em.take()
