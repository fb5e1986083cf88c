"""Crypto CSV readers: Tardis.dev (trades, quotes, book_snapshot_N, incremental_book_L2) and
Binance depth snapshot / diff-update rows.

Guarantees (beyond TICK_SCHEMA's):

* numbers are decimal strings parsed exactly (Decimal) then converted to float64;
* Tardis ``timestamp`` (exchange time, epoch µs) becomes ``ts``; Binance ``timestamp`` is
  epoch **ms** → ×1000; ``venue`` is Tardis' ``exchange`` column, or ``venue=`` for Binance
  (default ``"binance-futures"``: the files do not name the market);
* ``seq``: Tardis files use the 1-based line number; Binance uses
  ``last_update_id × 100000 + index of the row within that update`` so a snapshot file
  followed by its update file stays strictly increasing;
* incremental / diff books keep an L2 state per (venue, symbol) and every input row
  emits one EVENT_QUOTE tick with the top-``depth`` book after applying it (so
  kept + rejected rows always equal input rows); a snapshot row after update rows
  (Tardis ``is_snapshot`` false→true, Binance ``snap`` with a new update id) resets
  that book first;
* Tardis trades are EVENT_TRADE with ``trade_side`` +1 buy / −1 sell / 0 unknown and no
  book; quotes are top of book with no ``book_*`` lists; book_snapshot_N fills ``book_*``
  with N levels (empty levels NaN / 0).
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

from thunderline.contracts import DEFAULT_BOOK_DEPTH, EVENT_QUOTE, EVENT_TRADE
from thunderline.market._build import (
    NAN,
    RowError,
    TickBuilder,
    TickChunk,
    data_lines,
    drive_rows,
    parse_decimal,
    parse_int,
    parse_price,
    parse_size,
    to_float,
)
from thunderline.market.book import L2Book

TARDIS_BASE = ["exchange", "symbol", "timestamp", "local_timestamp"]
TARDIS_TRADES = TARDIS_BASE + ["id", "side", "price", "amount"]
TARDIS_QUOTES = TARDIS_BASE + ["ask_amount", "ask_price", "bid_price", "bid_amount"]
TARDIS_INCREMENTAL = TARDIS_BASE + ["is_snapshot", "side", "price", "amount"]
BINANCE_DEPTH = ["symbol", "timestamp", "first_update_id", "last_update_id", "side", "update_type", "price", "qty", "pu"]
BINANCE_SEQ_FACTOR = 100_000
_SNAP_COL = re.compile(r"(asks|bids)\[(\d+)\]\.(price|amount)\Z")


def tardis_snapshot_depth(header: list[str]) -> int | None:
    """N for a Tardis book_snapshot_N header (level-interleaved asks/bids), else None."""
    if header[:4] != TARDIS_BASE or len(header) < 8 or (len(header) - 4) % 4:
        return None
    n = (len(header) - 4) // 4
    expected = []
    for i in range(n):
        expected += [f"asks[{i}].price", f"asks[{i}].amount", f"bids[{i}].price", f"bids[{i}].amount"]
    return n if header[4:] == expected else None


def _rows(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line number, raw line, fields) for each data line after the header; the header is line 1."""
    for lineno, raw in data_lines(path):
        yield lineno, raw, next(csv.reader([raw])) if '"' in raw else raw.split(",")


def _drive(path: Path, tenant_id: str, chunk_rows: int, ncols: int,
           handle: Callable[[TickBuilder, int, list[str]], None]) -> Iterator[TickChunk]:
    yield from drive_rows(_rows(path), str(path), tenant_id, chunk_rows, ncols, handle)


def _side(text: str) -> int:
    if text == "buy":
        return 1
    if text == "sell":
        return -1
    if text in ("", "unknown"):
        return 0
    raise RowError("side", f"expected buy/sell/unknown: {text!r}")


def trade_row(b: TickBuilder, row: int, f: list[str]) -> None:
    """The exact rule for one Tardis trades row (also what the columnar reader falls back on)."""
    ts = parse_int(f[2], "timestamp")
    side = _side(f[5])
    px = parse_price(f[6], "price")
    sz = parse_size(f[7], "amount")
    if sz <= 0:
        raise RowError("amount", f"trade amount must be > 0: {f[7]!r}")
    b.add(f[0], f[1], ts, row, EVENT_TRADE, NAN, NAN, NAN, NAN, px, sz, side, None, row)


def quote_row(b: TickBuilder, row: int, f: list[str]) -> None:
    """The exact rule for one Tardis quotes row."""
    ts = parse_int(f[2], "timestamp")
    asz = parse_size(f[4], "ask_amount", allow_empty=True)
    apx = parse_price(f[5], "ask_price", allow_empty=True)
    bpx = parse_price(f[6], "bid_price", allow_empty=True)
    bsz = parse_size(f[7], "bid_amount", allow_empty=True)
    b.add(f[0], f[1], ts, row, EVENT_QUOTE, bpx, bsz, apx, asz, NAN, 0.0, 0, None, row)


def snapshot_row(depth: int) -> Callable[[TickBuilder, int, list[str]], None]:
    """The exact rule for one Tardis book_snapshot_``depth`` row."""

    def handle(b: TickBuilder, row: int, f: list[str]) -> None:
        ts = parse_int(f[2], "timestamp")
        apx, asz, bpx, bsz = [], [], [], []
        for i in range(depth):
            base = 4 + 4 * i
            apx.append(parse_price(f[base], f"asks[{i}].price", allow_empty=True))
            asz.append(parse_size(f[base + 1], f"asks[{i}].amount", allow_empty=True))
            bpx.append(parse_price(f[base + 2], f"bids[{i}].price", allow_empty=True))
            bsz.append(parse_size(f[base + 3], f"bids[{i}].amount", allow_empty=True))
        b.add(f[0], f[1], ts, row, EVENT_QUOTE, bpx[0], bsz[0], apx[0], asz[0], NAN, 0.0, 0,
              (bpx, bsz, apx, asz), row)

    return handle


def iter_tardis_trades_rows(path: Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    """Row-by-row reader (the reference the columnar reader in ``tardis_columnar`` must equal)."""
    return _drive(path, tenant_id, chunk_rows, len(TARDIS_TRADES), trade_row)


def iter_tardis_quotes_rows(path: Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    return _drive(path, tenant_id, chunk_rows, len(TARDIS_QUOTES), quote_row)


def iter_tardis_book_snapshot_rows(path: Path, tenant_id: str, chunk_rows: int, depth: int) -> Iterator[TickChunk]:
    return _drive(path, tenant_id, chunk_rows, 4 + 4 * depth, snapshot_row(depth))


def tardis_l2_fields(f: list[str]) -> tuple[int, bool, bool, Decimal, Decimal]:
    """The stateless rules for one Tardis incremental_book_L2 row: (ts, is_snapshot, is_bid, price,
    amount), or a RowError naming the first field that breaks its rule (the columnar reader's exact path)."""
    ts = parse_int(f[2], "timestamp")
    if f[4] not in ("true", "false"):
        raise RowError("is_snapshot", f"expected true/false: {f[4]!r}")
    if f[5] not in ("bid", "ask"):
        raise RowError("side", f"expected bid/ask: {f[5]!r}")
    price = parse_decimal(f[6], "price")
    if price <= 0:
        raise RowError("price", f"price must be > 0: {f[6]!r}")
    amount = parse_decimal(f[7], "amount")
    if amount < 0:
        raise RowError("amount", f"size must be >= 0: {f[7]!r}")
    to_float(price, "price")
    to_float(amount, "amount")
    return ts, f[4] == "true", f[5] == "bid", price, amount


class TardisL2Rows:
    """The row rule of Tardis incremental_book_L2 with its state: one L2 book and the "inside a
    snapshot" flag per (exchange, symbol). The columnar reader hands its state over to one of these
    when a row needs exact decimal price keys (see :mod:`thunderline.market.l2_columnar`)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.books: dict[tuple[str, str], L2Book] = {}
        self.in_snapshot: dict[tuple[str, str], bool] = {}

    def handle(self, b: TickBuilder, row: int, f: list[str]) -> None:
        ts, snap, is_bid, price, amount = tardis_l2_fields(f)
        key = (f[0], f[1])
        book = self.books.setdefault(key, L2Book())
        if snap and not self.in_snapshot.get(key, False):
            book.clear()
        self.in_snapshot[key] = snap
        book.apply(is_bid, price, amount)
        bpx, bsz, apx, asz = book.top(self.depth)
        b.add(f[0], f[1], ts, row, EVENT_QUOTE, bpx[0], bsz[0], apx[0], asz[0], NAN, 0.0, 0,
              (bpx, bsz, apx, asz), row)


def iter_tardis_incremental_rows(path: Path, tenant_id: str, chunk_rows: int,
                                 depth: int = DEFAULT_BOOK_DEPTH) -> Iterator[TickChunk]:
    """Row-by-row reader (the reference the columnar reader in ``l2_columnar`` must equal)."""
    return _drive(path, tenant_id, chunk_rows, len(TARDIS_INCREMENTAL), TardisL2Rows(depth).handle)


_MS_LIMIT = ((1 << 63) - 1) // 1000  # ts = ms * 1000 must fit int64
_LUID_LIMIT = ((1 << 63) - 1) // BINANCE_SEQ_FACTOR - 1  # seq = luid * factor + k must fit int64


def binance_depth_fields(f: list[str]) -> tuple[int, int, bool, bool, Decimal, Decimal]:
    """The stateless rules for one Binance depth row: (ms, last_update_id, is_bid, is_snap, price, qty),
    or a RowError naming the first field that breaks its rule."""
    ms = parse_int(f[1], "timestamp")
    if not -_MS_LIMIT <= ms <= _MS_LIMIT:
        raise RowError("timestamp", f"milliseconds beyond what µs int64 holds: {f[1]!r}")
    parse_int(f[2], "first_update_id")
    luid = parse_int(f[3], "last_update_id")
    if luid < 0:
        raise RowError("last_update_id", f"must be >= 0: {luid}")
    if luid > _LUID_LIMIT:
        raise RowError("last_update_id", f"too large to order rows by (max {_LUID_LIMIT}): {luid}")
    if f[4] not in ("b", "a"):
        raise RowError("side", f"expected b/a: {f[4]!r}")
    if f[5] not in ("snap", "set"):
        raise RowError("update_type", f"expected snap/set: {f[5]!r}")
    price = parse_decimal(f[6], "price")
    if price <= 0:
        raise RowError("price", f"price must be > 0: {f[6]!r}")
    qty = parse_decimal(f[7], "qty")
    if qty < 0:
        raise RowError("qty", f"size must be >= 0: {f[7]!r}")
    to_float(price, "price")
    to_float(qty, "qty")
    parse_int(f[8], "pu")
    return ms, luid, f[4] == "b", f[5] == "snap", price, qty


def too_many_rows(luid: int) -> RowError:
    return RowError("last_update_id", f"more than {BINANCE_SEQ_FACTOR} rows share update id {luid}")


class BinanceDepthRows:
    """The row rule of Binance depth files with its state: per symbol one L2 book and
    [last_update_id, index within it, last update_type] of the last kept row."""

    def __init__(self, depth: int, venue: str) -> None:
        self.depth, self.venue = depth, venue
        self.books: dict[str, L2Book] = {}
        self.state: dict[str, list] = {}

    def handle(self, b: TickBuilder, row: int, f: list[str]) -> None:
        ms, luid, is_bid, is_snap, price, qty = binance_depth_fields(f)
        sym = f[0]
        st = self.state.get(sym)
        k = st[1] + 1 if st is not None and st[0] == luid else 0
        if k >= BINANCE_SEQ_FACTOR:
            raise too_many_rows(luid)
        book = self.books.setdefault(sym, L2Book())
        if is_snap and (st is None or st[2] != "snap" or st[0] != luid):
            book.clear()
        self.state[sym] = [luid, k, f[5]]
        book.apply(is_bid, price, qty)
        bpx, bsz, apx, asz = book.top(self.depth)
        b.add(self.venue, sym, ms * 1000, luid * BINANCE_SEQ_FACTOR + k, EVENT_QUOTE, bpx[0], bsz[0], apx[0],
              asz[0], NAN, 0.0, 0, (bpx, bsz, apx, asz), row)


def iter_binance_depth_rows(path: Path, tenant_id: str, chunk_rows: int, depth: int = DEFAULT_BOOK_DEPTH,
                            venue: str = "binance-futures") -> Iterator[TickChunk]:
    """Row-by-row reader (the reference the columnar reader in ``l2_columnar`` must equal)."""
    return _drive(path, tenant_id, chunk_rows, len(BINANCE_DEPTH), BinanceDepthRows(depth, venue).handle)
