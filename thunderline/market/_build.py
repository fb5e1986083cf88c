"""Shared edge helpers for the readers: exact number parsing and a bounded columnar tick builder.

Numbers are parsed exactly (``contracts.to_decimal`` or integer arithmetic) and only
then converted to float64, which is the correctly rounded value of the decimal text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Sequence

import pyarrow as pa

from thunderline.contracts import TICK_SCHEMA, to_decimal
from thunderline.market.rejects import Reject

NAN = float("nan")
_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_DEC_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
DEFAULT_CHUNK_ROWS = 65_536


class RowError(ValueError):
    """A bad field in one row: carries the field name so the reject can name it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def parse_int(text: str, field: str) -> int:
    """A strict base-10 integer (no spaces, underscores or decimals) that fits int64."""
    if not _INT_RE.match(text):
        raise RowError(field, f"not an integer: {text[:40]!r}")
    if len(text) > 18:  # 19+ digits may not fit int64: check exactly, and bound the work on huge text
        if len(text.lstrip("+-").lstrip("0")) > 19:
            raise RowError(field, f"integer out of int64 range: {text[:40]!r}")
        v = int(text)
        if not INT64_MIN <= v <= INT64_MAX:
            raise RowError(field, f"integer out of int64 range: {text!r}")
        return v
    return int(text)


def parse_decimal(text: str, field: str) -> Decimal:
    """An exact finite decimal; rejects NaN/inf/blank/garbage with the field named."""
    if not _DEC_RE.match(text):
        raise RowError(field, f"not a finite decimal number: {text!r}")
    try:
        return to_decimal(text, where=field)
    except ValueError as exc:  # pragma: no cover - regex already guards
        raise RowError(field, str(exc)) from exc


def to_float(d: Decimal, field: str) -> float:
    """The correctly rounded float64 of ``d``; values beyond float64's range are rejected."""
    x = float(d)
    if math.isinf(x):
        raise RowError(field, f"out of float64 range: {d}")
    return x


def parse_price(text: str, field: str, *, allow_empty: bool = False) -> float:
    """A price: exact decimal > 0, then float64. Empty → NaN when ``allow_empty``."""
    if text == "" and allow_empty:
        return NAN
    d = parse_decimal(text, field)
    if d <= 0:
        raise RowError(field, f"price must be > 0: {text!r}")
    return to_float(d, field)


def parse_size(text: str, field: str, *, allow_empty: bool = False) -> float:
    """A size: exact decimal >= 0, then float64. Empty → 0 when ``allow_empty``."""
    if text == "" and allow_empty:
        return 0.0
    d = parse_decimal(text, field)
    if d < 0:
        raise RowError(field, f"size must be >= 0: {text!r}")
    return to_float(d, field)


def open_text(path: Path) -> IO[str]:
    """Open a text file (gzip, zstd or one-member zip transparently), keeping line endings for exact raw lines.

    A leading UTF-8 byte-order mark (some Windows tools write one) is dropped, so the header
    is recognised; undecodable bytes become U+FFFD and fail the field they are in, naming the
    row, instead of aborting the file."""
    from thunderline.market.columnar import open_text as _open

    return _open(path)


def strip_eol(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


@dataclass
class TickBuilder:
    """Accumulates parsed rows column-wise; ``flush()`` returns a TICK_SCHEMA RecordBatch.

    Memory is bounded by the caller flushing every ``chunk_rows`` rows.
    """

    tenant_id: str
    source: str
    cols: dict[str, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.venue: list[str] = []
        self.symbol: list[str] = []
        self.ts: list[int] = []
        self.seq: list[int] = []
        self.event_type: list[int] = []
        self.bid_px: list[float] = []
        self.bid_sz: list[float] = []
        self.ask_px: list[float] = []
        self.ask_sz: list[float] = []
        self.trade_px: list[float] = []
        self.trade_sz: list[float] = []
        self.trade_side: list[int] = []
        self.book_bid_px: list = []
        self.book_bid_sz: list = []
        self.book_ask_px: list = []
        self.book_ask_sz: list = []
        self.source_row: list[int] = []

    def __len__(self) -> int:
        return len(self.ts)

    def add(
        self,
        venue: str,
        symbol: str,
        ts: int,
        seq: int,
        event_type: int,
        bid_px: float,
        bid_sz: float,
        ask_px: float,
        ask_sz: float,
        trade_px: float,
        trade_sz: float,
        trade_side: int,
        book: tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]] | None,
        source_row: int,
    ) -> None:
        self.venue.append(venue)
        self.symbol.append(symbol)
        self.ts.append(ts)
        self.seq.append(seq)
        self.event_type.append(event_type)
        self.bid_px.append(bid_px)
        self.bid_sz.append(bid_sz)
        self.ask_px.append(ask_px)
        self.ask_sz.append(ask_sz)
        self.trade_px.append(trade_px)
        self.trade_sz.append(trade_sz)
        self.trade_side.append(trade_side)
        if book is None:
            self.book_bid_px.append(None)
            self.book_bid_sz.append(None)
            self.book_ask_px.append(None)
            self.book_ask_sz.append(None)
        else:
            self.book_bid_px.append(list(book[0]))
            self.book_bid_sz.append(list(book[1]))
            self.book_ask_px.append(list(book[2]))
            self.book_ask_sz.append(list(book[3]))
        self.source_row.append(source_row)

    def flush(self) -> pa.RecordBatch:
        n = len(self.ts)
        lf = pa.list_(pa.float64())
        arrays = [
            pa.array([self.tenant_id] * n, pa.string()),
            pa.array(self.venue, pa.string()),
            pa.array(self.symbol, pa.string()),
            pa.array(self.ts, pa.int64()),
            pa.array(self.seq, pa.int64()),
            pa.array(self.event_type, pa.int8()),
            pa.array(self.bid_px, pa.float64()),
            pa.array(self.bid_sz, pa.float64()),
            pa.array(self.ask_px, pa.float64()),
            pa.array(self.ask_sz, pa.float64()),
            pa.array(self.trade_px, pa.float64()),
            pa.array(self.trade_sz, pa.float64()),
            pa.array(self.trade_side, pa.int8()),
            pa.array(self.book_bid_px, lf),
            pa.array(self.book_bid_sz, lf),
            pa.array(self.book_ask_px, lf),
            pa.array(self.book_ask_sz, lf),
            pa.array([self.source] * n, pa.string()),
            pa.array(self.source_row, pa.int64()),
        ]
        self._reset()
        return pa.RecordBatch.from_arrays(arrays, schema=TICK_SCHEMA)


def const_strings(value: str, n: int) -> pa.Array:
    """A string array of ``n`` copies of ``value``, built from buffers (no Python objects)."""
    import numpy as np

    b = value.encode("utf-8")
    offsets = np.arange(0, (n + 1) * len(b), len(b), dtype=np.int32)[: n + 1] if b else np.zeros(n + 1, np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b * n))


def empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=TICK_SCHEMA)


@dataclass(frozen=True)
class TickChunk:
    """One bounded chunk of a stream: the ticks parsed, and the rows rejected since the last chunk."""

    batch: pa.RecordBatch
    rejects: tuple[Reject, ...] = ()


class ChunkEmitter:
    """Cuts a row stream into TickChunks of at most ``chunk_rows`` ticks (and at most that many rejects)."""

    def __init__(self, builder: "TickBuilder", chunk_rows: int) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be >= 1")
        self.builder = builder
        self.chunk_rows = chunk_rows
        self.rejects: list[Reject] = []

    def full(self) -> bool:
        return len(self.builder) >= self.chunk_rows or len(self.rejects) >= self.chunk_rows

    def take(self) -> TickChunk:
        chunk = TickChunk(self.builder.flush(), tuple(self.rejects))
        self.rejects = []
        return chunk

    def pending(self) -> bool:
        return len(self.builder) > 0 or bool(self.rejects)


def reject(source: str, row: int, exc: RowError | str, raw: str, field_name: str = "*") -> Reject:
    if isinstance(exc, RowError):
        return Reject(source, row, exc.field, exc.reason, raw)
    return Reject(source, row, field_name, str(exc), raw)


def data_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) for each line after the header; the header is line 1."""
    with open_text(path) as fh:
        next(fh, None)
        for lineno, line in enumerate(fh, start=2):
            yield lineno, strip_eol(line)


def drive_rows(rows: Iterable[tuple[int, str, list[str]]], src: str, tenant_id: str, chunk_rows: int, ncols: int,
               handle: Callable[["TickBuilder", int, list[str]], None]) -> Iterator[TickChunk]:
    """The row readers' loop: each (line number, raw line, fields) with ``ncols`` fields goes to ``handle``;
    a wrong column count or a RowError becomes a reject naming the line; chunks of ``chunk_rows``."""
    em = ChunkEmitter(TickBuilder(tenant_id, src), chunk_rows)
    for lineno, raw, fields in rows:
        try:
            if len(fields) != ncols:
                raise RowError("*", f"expected {ncols} columns, got {len(fields)} (truncated or malformed line)")
            handle(em.builder, lineno, fields)
        except RowError as exc:
            em.rejects.append(reject(src, lineno, exc, raw))
        if em.full():
            yield em.take()
    if em.pending():
        yield em.take()
