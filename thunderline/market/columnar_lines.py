"""Columnar reading of one-line-per-tick CSVs (Tardis trades / quotes / book snapshots, canonical CSV).

Why: the row readers cost ~20 µs a row in Python. Here a file is cut into blocks of ``chunk_rows``
whole lines (:class:`~thunderline.market.columnar.LineReader`, memory bounded by the chunk), each
block is typed by ``pyarrow.csv`` (or, for formats with a ``layout``, by the compiled tokenizer) and
turned into TICK_SCHEMA columns by the format's vectorised ``build``, which also flags every row it
is not sure of. Chunks are cut where the row readers cut theirs (:mod:`thunderline.market.row_chunks`):
a file lands as the same lake batches, and so the same window hashes (their provenance cites the
batches), whichever reader read it and whatever the block size. Flagged rows, and blocks pyarrow cannot type
(halved down to small pieces), go through the format's exact row rule (``handle``, the same
function the row reader calls), so ticks and rejects (file, 1-based line, field, reason) equal
the row reader's:

* a flagged row the row rule rejects is that reject;
* a flagged row the row rule *accepts* means the vectorised checks were stricter than the rule:
  the whole piece is then read by the row rule (exact, and rare);
* lines pyarrow would read differently from ``str.split(",")`` — a quote, a space or tab (pyarrow
  trims them around numbers), ``0x`` (pyarrow reads hex integers) — are always flagged.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa

from thunderline.contracts import TICK_SCHEMA
from thunderline.market._build import RowError, TickBuilder, TickChunk, const_strings, empty_batch, reject
from thunderline.market.columnar import LineReader, Piece, open_bytes, parse_block, split_lines, typed_pieces
from thunderline.market.csv_tokens import Layout, tokenize
from thunderline.market.rejects import Reject
from thunderline.market.row_chunks import RowChunks

Handle = Callable[[TickBuilder, int, list[str]], None]
_FLOATS = ("bid_px", "bid_sz", "ask_px", "ask_sz", "trade_px", "trade_sz")


@dataclass(frozen=True)
class LineFormat:
    """How to read one format: pyarrow column names and types (others stay strings), the vectorised
    ``build(table) -> (columns, flagged)`` and the exact row rule ``handle`` (the row reader's).
    With a ``layout``, blocks are read by the compiled tokenizer (:mod:`thunderline.market.csv_tokens`)
    instead of ``pyarrow.csv``, and ``build`` gets its ``Tokens``."""

    names: list[str]
    types: dict[str, pa.DataType]
    build: Callable[[Any], tuple[dict, np.ndarray]]
    handle: Handle
    csv_quotes: bool = True  # the row reader splits a line holding '"' with the csv module (else on ",")
    layout: Layout | None = None


def guarded_rows(data: bytes, n: int) -> np.ndarray:
    """Rows (of a block of ``n`` whole lines) holding a byte sequence pyarrow reads differently.

    Single bytes are found with ``in`` (memchr speed); ``0x`` only where an ``x`` occurs at all
    (symbols such as XBTUSD hold one on every line, so those are checked with numpy)."""
    hit = np.zeros(n, bool)
    singles = [g for g in (b'"', b" ", b"\t") if g in data]
    xs = [g for g in (b"x", b"X") if g in data]
    if not singles and not xs:
        return hit
    buf = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buf == 10)
    at = [np.flatnonzero(buf == g[0]) for g in singles]
    for g in xs:
        pos = np.flatnonzero(buf == g[0])
        at.append(pos[(pos > 0) & (buf[np.maximum(pos - 1, 0)] == ord("0"))])
    for pos in at:
        hit[np.searchsorted(ends, pos)] = True
    return hit


def fields_of(raw: str) -> list[str]:
    """The fields of a line, as the row readers split it."""
    return next(csv.reader([raw])) if '"' in raw else raw.split(",")


def fixed_lists(x: np.ndarray, keep: np.ndarray | None = None) -> pa.ListArray:
    """An (n, L) float array as a list<float64> column of n lists of L values (one copy, no per-row work)."""
    v = x if keep is None else x[keep]
    k, L = v.shape
    offsets = pa.array(np.arange(0, (k + 1) * L, L, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(v).reshape(-1)))


def assemble(tenant_id: str, src: str, cols: dict, rows: np.ndarray, keep: np.ndarray) -> pa.RecordBatch:
    """TICK_SCHEMA batch of the kept rows of ``cols`` (``venue``/``symbol`` a str or a string array;
    ``book`` None, or four (n, L) arrays or four list arrays: bid px, bid sz, ask px, ask sz; no ``seq``:
    the line number)."""
    k = int(keep.sum())
    every = k == keep.size
    idx = None if every else np.flatnonzero(keep)

    def pick(a):
        return a if every else a[idx]

    def text(v):
        return const_strings(v, k) if isinstance(v, str) else (v if every else v.take(pa.array(idx)))

    book = cols.get("book")
    if book is None:
        lists = [pa.nulls(k, pa.list_(pa.float64()))] * 4
    elif isinstance(book[0], pa.Array):
        lists = [text(b) for b in book]
    else:
        lists = [fixed_lists(b, None if every else keep) for b in book]
    arrays = [const_strings(tenant_id, k), text(cols["venue"]), text(cols["symbol"]),
              pa.array(pick(cols["ts"]), pa.int64()), pa.array(pick(cols.get("seq", rows)), pa.int64()),
              pa.array(pick(cols["event_type"]).astype(np.int8))]
    arrays += [pa.array(pick(cols[c]), pa.float64()) for c in _FLOATS]
    arrays += [pa.array(pick(cols["trade_side"]).astype(np.int8)), *lists,
               const_strings(src, k), pa.array(pick(rows), pa.int64())]
    return pa.RecordBatch.from_arrays(arrays, schema=TICK_SCHEMA)


def row_rule(fmt: LineFormat, tenant_id: str, src: str, lines: list[bytes],
             first_line: int) -> tuple[pa.RecordBatch, list[Reject]]:
    """The exact row path over ``lines`` (first is line ``first_line``): ticks and rejects."""
    b = TickBuilder(tenant_id, src)
    rejects: list[Reject] = []
    ncols, handle = len(fmt.names), fmt.handle
    for i, ln in enumerate(lines):
        raw = ln.decode("utf-8", "replace")
        f = fields_of(raw) if fmt.csv_quotes else raw.split(",")
        try:
            if len(f) != ncols:
                raise RowError("*", f"expected {ncols} columns, got {len(f)} (truncated or malformed line)")
            handle(b, first_line + i, f)
        except RowError as exc:
            rejects.append(reject(src, first_line + i, exc, raw))
    return b.flush(), rejects


def _piece(fmt: LineFormat, tenant_id: str, src: str, piece: Piece,
           table: Any) -> tuple[pa.RecordBatch, list[Reject]]:
    if table is None:
        return row_rule(fmt, tenant_id, src, split_lines(piece.data[0]), piece.first_line)
    cols, flagged = fmt.build(table)
    if fmt.layout is None:  # the tokenizer reads the row rule's grammar; pyarrow reads some bytes otherwise
        flagged = flagged | guarded_rows(piece.data[0], piece.n)
    rows = np.arange(piece.first_line, piece.first_line + piece.n, dtype=np.int64)
    rejects: list[Reject] = []
    lines = split_lines(piece.data[0]) if flagged.any() else []  # the lines only when a row needs its rule
    for i in np.flatnonzero(flagged):
        batch, rej = row_rule(fmt, tenant_id, src, [lines[i]], int(rows[i]))
        if batch.num_rows:  # the vectorised checks were stricter than the rule: the rule reads the piece
            return row_rule(fmt, tenant_id, src, lines, piece.first_line)
        rejects += rej
    return assemble(tenant_id, src, cols, rows, ~flagged), rejects


def cut_chunks(batch: pa.RecordBatch | None, rejects: list[Reject], chunk_rows: int) -> Iterator[TickChunk]:
    """Cut (batch, rejects) into TickChunks of at most chunk_rows ticks and chunk_rows rejects; a reject goes
    with the chunk of the first tick after it (the last chunk takes the rest)."""
    n = 0 if batch is None else batch.num_rows
    rows = batch.column("source_row").to_numpy() if n else np.zeros(0, np.int64)
    ri = 0
    for lo in range(0, max(n, 1), chunk_rows):
        hi = min(lo + chunk_rows, n)
        limit = int(rows[hi - 1]) if hi < n else None
        mine = []
        while ri < len(rejects) and (limit is None or rejects[ri].source_row < limit):
            mine.append(rejects[ri])
            ri += 1
        while len(mine) > chunk_rows:
            yield TickChunk(empty_batch(), tuple(mine[:chunk_rows]))
            mine = mine[chunk_rows:]
        part = batch.slice(lo, hi - lo) if n else empty_batch()
        if part.num_rows or mine:
            yield TickChunk(part, tuple(mine))


def iter_line_format(path: Path, tenant_id: str, chunk_rows: int, fmt: LineFormat) -> Iterator[TickChunk]:
    """Stream a one-line-per-tick CSV (header on line 1) as TickChunks, columnar (see module docstring)."""
    src = str(path)

    def parse(data: tuple[bytes, ...], n: int):
        if fmt.layout is not None:  # every line is typed or flagged: no block fails
            return (tokenize(data[0], n, fmt.layout),)
        t = parse_block(data[0], fmt.names, fmt.types, lines=n)
        return None if t is None else (t,)

    out = RowChunks(chunk_rows)  # the row readers' chunks, so the lake batches (and windows) are theirs too
    with open_bytes(path) as fh:
        lr = LineReader(fh, pooled=fmt.layout is not None)
        lr.header()
        while True:
            first = lr.next_line
            data, n = lr.lines(chunk_rows)  # a clean block is one chunk: emitted as built, never concatenated
            if n == 0:
                break
            for piece, tables in typed_pieces(Piece(first, n, (data,)), parse):
                batch, rejects = _piece(fmt, tenant_id, src, piece, None if tables is None else tables[0])
                yield from out.add(batch, rejects)
    yield from out.finish()


def column(t: pa.Table, name: str, fill) -> np.ndarray:
    """A column as numpy, nulls (empty fields) replaced by ``fill``."""
    c = t.column(name)
    if c.null_count:
        c = c.fill_null(fill)
    return c.to_numpy()


def nulls(t: pa.Table, name: str) -> np.ndarray:
    c = t.column(name)
    return c.is_null().to_numpy() if c.null_count else np.zeros(t.num_rows, bool)


def decimal(t: pa.Table, name: str, *, price: bool, empty: float | None) -> tuple[np.ndarray, np.ndarray]:
    """A price (> 0) or size (>= 0) column as float64 and the rows that break its rule: not finite, the
    wrong sign, or empty when ``empty`` is None (else an empty field is ``empty``)."""
    null = nulls(t, name)
    x = column(t, name, 1.0).astype(np.float64, copy=True)
    with np.errstate(invalid="ignore"):
        bad = (~np.isfinite(x) | ((x <= 0) if price else (x < 0))) & ~null
    if empty is None:
        bad |= null
    elif null.any():
        x[null] = empty
    return x, bad
