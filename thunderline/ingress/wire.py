"""The ingress wire contract: media types, field groups, name and time rules, the schema decoders produce."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from thunderline.market.canonical import CANONICAL_COLUMNS
from thunderline.timebounds import SUPPORTED_START_US

TS_MIN_US = SUPPORTED_START_US  # 2010-01-01T00:00:00Z; the end moves with the clock: supported_end_us()

JSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/x-jsonlines",
              "application/json")
CSV_TYPES = ("text/csv", "application/csv")
ARROW_STREAM_TYPES = ("application/vnd.apache.arrow.stream",)
ARROW_FILE_TYPES = ("application/vnd.apache.arrow.file",)
CONTENT_TYPES = JSON_TYPES + CSV_TYPES + ARROW_STREAM_TYPES + ARROW_FILE_TYPES

_INT_FIELDS = ("ts", "seq", "event_type", "trade_side", "source_row")
_PRICE_FIELDS = ("bid_px", "ask_px", "trade_px")
_SIZE_FIELDS = ("bid_sz", "ask_sz", "trade_sz")
_FLOAT_FIELDS = _PRICE_FIELDS + _SIZE_FIELDS
_BOOK_FIELDS = ("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz")
_STR_FIELDS = ("venue", "symbol", "source")
_REQUIRED = ("venue", "symbol", "ts", "seq", "event_type")
_ALLOWED = set(CANONICAL_COLUMNS) | {"tenant_id"}
_INT_RE = r"^[+-]?[0-9]{1,18}$"
_DEC_RE = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_LF = pa.list_(pa.float64())

#: What the decoders produce before stamping: TICK_SCHEMA's columns, ints still int64.
_WIRE = pa.schema(
    [pa.field(n, pa.string()) for n in _STR_FIELDS if n != "source"]
    + [pa.field(n, pa.int64()) for n in ("ts", "seq", "event_type")]
    + [pa.field(n, pa.float64()) for n in ("bid_px", "bid_sz", "ask_px", "ask_sz", "trade_px", "trade_sz")]
    + [pa.field("trade_side", pa.int64())]
    + [pa.field(n, _LF) for n in _BOOK_FIELDS]
    + [pa.field("source", pa.string()), pa.field("source_row", pa.int64()), pa.field("tenant_id", pa.string())]
)




def _arr(col) -> pa.Array:
    """One Array of a column: its only chunk as is (combine_chunks would copy list columns)."""
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def const_strings(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` as a string array, built from buffers (no Python objects per row)."""
    b = value.encode("utf-8")
    offsets = np.arange(0, (n + 1) * len(b), len(b) or 1, dtype=np.int32)[: n + 1] if b else np.zeros(n + 1, np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b * n))
