"""Columnar Tardis.dev readers: trades, quotes and book_snapshot_N (one tick per line, no state).

Same ticks and rejects as the row readers in :mod:`thunderline.market.crypto` (whose row rules
``trade_row`` / ``quote_row`` / ``snapshot_row`` judge every row the vectorised checks flag);
see :mod:`thunderline.market.columnar_lines` for how. ``local_timestamp`` and the trade ``id``
are not used by the row rules and are read as text, so a bad value there rejects nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from thunderline.contracts import EVENT_QUOTE, EVENT_TRADE
from thunderline.market import crypto
from thunderline.market._build import TickChunk
from thunderline.market.columnar_lines import LineFormat, column, decimal, iter_line_format, nulls

_BASE_TYPES = {"exchange": pa.string(), "symbol": pa.string(), "timestamp": pa.int64(),
               "local_timestamp": pa.string()}


def _base(t: pa.Table) -> tuple[dict, np.ndarray]:
    n = t.num_rows
    cols = {"venue": t.column("exchange").combine_chunks(), "symbol": t.column("symbol").combine_chunks(),
            "ts": column(t, "timestamp", 0), "trade_px": np.full(n, np.nan), "trade_sz": np.zeros(n),
            "trade_side": np.zeros(n, np.int8), "event_type": np.full(n, EVENT_QUOTE, np.int8)}
    return cols, nulls(t, "timestamp")


def _trades(t: pa.Table) -> tuple[dict, np.ndarray]:
    cols, bad = _base(t)
    n = t.num_rows
    side = t.column("side").to_numpy(zero_copy_only=False)
    buy, sell = side == "buy", side == "sell"
    bad |= ~(buy | sell | (side == "") | (side == "unknown"))
    px, b1 = decimal(t, "price", price=True, empty=None)
    sz, b2 = decimal(t, "amount", price=False, empty=None)
    bad |= b1 | b2 | (sz <= 0)
    nan = np.full(n, np.nan)
    cols.update(event_type=np.full(n, EVENT_TRADE, np.int8), bid_px=nan, bid_sz=nan, ask_px=nan, ask_sz=nan,
                trade_px=px, trade_sz=sz, trade_side=(buy.astype(np.int8) - sell.astype(np.int8)), book=None)
    return cols, bad


def _quotes(t: pa.Table) -> tuple[dict, np.ndarray]:
    cols, bad = _base(t)
    for key, name, price in (("ask_sz", "ask_amount", False), ("ask_px", "ask_price", True),
                             ("bid_px", "bid_price", True), ("bid_sz", "bid_amount", False)):
        cols[key], b = decimal(t, name, price=price, empty=np.nan if price else 0.0)
        bad |= b
    cols["book"] = None
    return cols, bad


def _snapshot(depth: int):
    def build(t: pa.Table) -> tuple[dict, np.ndarray]:
        cols, bad = _base(t)
        n = t.num_rows
        book = [np.empty((n, depth)) for _ in range(4)]  # bid px, bid sz, ask px, ask sz
        for i in range(depth):
            for j, (side, what, price) in enumerate((("bids", "price", True), ("bids", "amount", False),
                                                     ("asks", "price", True), ("asks", "amount", False))):
                book[j][:, i], b = decimal(t, f"{side}[{i}].{what}", price=price, empty=np.nan if price else 0.0)
                bad |= b
        cols.update(bid_px=book[0][:, 0], bid_sz=book[1][:, 0], ask_px=book[2][:, 0], ask_sz=book[3][:, 0],
                    book=book)
        return cols, bad

    return build


def _format(header: list[str], build, handle) -> LineFormat:
    types = dict(_BASE_TYPES)
    types.update({h: pa.float64() for h in header[4:] if h not in ("id", "side")})
    return LineFormat(header, types, build, handle)


def iter_tardis_trades(path: Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    return iter_line_format(path, tenant_id, chunk_rows, _format(crypto.TARDIS_TRADES, _trades, crypto.trade_row))


def iter_tardis_quotes(path: Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    return iter_line_format(path, tenant_id, chunk_rows, _format(crypto.TARDIS_QUOTES, _quotes, crypto.quote_row))


def iter_tardis_book_snapshot(path: Path, tenant_id: str, chunk_rows: int, depth: int) -> Iterator[TickChunk]:
    header = crypto.TARDIS_BASE + [f"{s}[{i}].{w}" for i in range(depth)
                                   for s in ("asks", "bids") for w in ("price", "amount")]
    return iter_line_format(path, tenant_id, chunk_rows,
                            _format(header, _snapshot(depth), crypto.snapshot_row(depth)))
