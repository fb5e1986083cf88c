"""The canonical Thunderline tick format, as CSV and as Parquet.

**Canonical CSV** (``*.csv``, UTF-8, comma separated, LF line ends):

* line 1 is the header: the TICK_SCHEMA column names without ``tenant_id``, in schema order::

      venue,symbol,ts,seq,event_type,bid_px,bid_sz,ask_px,ask_sz,trade_px,trade_sz,trade_side,
      book_bid_px,book_bid_sz,book_ask_px,book_ask_sz,source,source_row

  (one line; columns are matched by name, ``source``/``source_row`` may be omitted);
* ``ts`` is an integer, microseconds since the Unix epoch, UTC; ``seq`` an integer, strictly
  increasing per (venue, symbol) within the file; ``event_type`` 0 quote / 1 trade / 2 status;
  ``trade_side`` −1 / 0 / 1;
* prices and sizes are plain decimal numbers (``123.45``, ``1e-3``); an **empty field means
  absent** (NaN). The literal text ``NaN``/``inf`` is rejected, as are negative sizes and
  non-positive prices;
* ``book_*`` hold the order-book levels best first as ``;``-separated decimals (an empty
  element is an empty level, NaN); an empty field means "no book" (null list); the four
  lists of a row must have equal length;
* the writer emits floats in shortest round-trip form, so CSV → ticks → CSV is lossless;
  text fields (venue, symbol, source) cannot contain commas (the writer refuses them).

**Canonical Parquet**: a Parquet file with the TICK_SCHEMA columns (``tenant_id`` optional).

On reading either form, ``tenant_id`` is the caller's (never taken from the file) and
``source``/``source_row`` are set to *this* file and its 1-based line (CSV; the header is
line 1) or 1-based row (Parquet), so every tick and every reject points at the input read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from thunderline.contracts import EVENT_QUOTE, EVENT_STATUS, EVENT_TRADE, TICK_SCHEMA
from thunderline.market._build import (
    NAN,
    RowError,
    TickBuilder,
    TickChunk,
    const_strings,
    data_lines,
    drive_rows,
    open_text,
    parse_decimal,
    parse_int,
    strip_eol,
    to_float,
)
from thunderline.market.rejects import Reject

CANONICAL_COLUMNS: list[str] = [f.name for f in TICK_SCHEMA if f.name != "tenant_id"]
REQUIRED_CSV_COLUMNS: list[str] = [c for c in CANONICAL_COLUMNS if c not in ("source", "source_row")]
_PRICE_FIELDS = ("bid_px", "ask_px", "trade_px")
_SIZE_FIELDS = ("bid_sz", "ask_sz", "trade_sz")
_BOOK_FIELDS = ("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz")
_EVENTS = (EVENT_QUOTE, EVENT_TRADE, EVENT_STATUS)


def _num(text: str, field: str, *, price: bool) -> float:
    if text == "":
        return NAN
    d = parse_decimal(text, field)
    if price and d <= 0:
        raise RowError(field, f"price must be > 0: {text!r}")
    if not price and d < 0:
        raise RowError(field, f"size must be >= 0: {text!r}")
    return to_float(d, field)


def _levels(text: str, field: str, *, price: bool) -> list[float] | None:
    if text == "":
        return None
    return [_num(t, field, price=price) for t in text.split(";")]


def is_canonical_header(header: list[str]) -> bool:
    return set(REQUIRED_CSV_COLUMNS) <= set(header) and set(header) <= set(CANONICAL_COLUMNS) | {"tenant_id"}


def canonical_header(path: Path) -> list[str]:
    """The header (line 1) of a canonical CSV; a clear error when it is not one."""
    with open_text(path) as fh:
        header = strip_eol(next(fh, "")).split(",")
    if not is_canonical_header(header):
        raise ValueError(f"{path}: line 1: not a canonical Thunderline tick header: {header}")
    return header


def canonical_row(header: list[str]):
    """The exact rule for one canonical CSV row (also what the columnar reader falls back on)."""
    ix = {name: i for i, name in enumerate(header)}

    def handle(b: TickBuilder, lineno: int, f: list[str]) -> None:
        venue, symbol = f[ix["venue"]], f[ix["symbol"]]
        if not venue or not symbol:
            raise RowError("venue" if not venue else "symbol", "must not be empty")
        ts = parse_int(f[ix["ts"]], "ts")
        seq = parse_int(f[ix["seq"]], "seq")
        et = parse_int(f[ix["event_type"]], "event_type")
        if et not in _EVENTS:
            raise RowError("event_type", f"expected 0, 1 or 2: {et}")
        vals = {k: _num(f[ix[k]], k, price=True) for k in _PRICE_FIELDS}
        vals.update({k: _num(f[ix[k]], k, price=False) for k in _SIZE_FIELDS})
        side = parse_int(f[ix["trade_side"]], "trade_side") if f[ix["trade_side"]] else 0
        if side not in (-1, 0, 1):
            raise RowError("trade_side", f"expected -1, 0 or 1: {side}")
        book = [_levels(f[ix[k]], k, price=k.endswith("_px")) for k in _BOOK_FIELDS]
        present = [x is not None for x in book]
        if any(present) and not all(present):
            raise RowError("book", "the four book_* lists must be all present or all empty")
        if all(present) and len({len(x) for x in book}) != 1:  # type: ignore[arg-type]
            raise RowError("book", f"book_* lists differ in length: {[len(x) for x in book]}")  # type: ignore[arg-type]
        b.add(venue, symbol, ts, seq, et, vals["bid_px"], vals["bid_sz"], vals["ask_px"], vals["ask_sz"],
              vals["trade_px"], vals["trade_sz"], side, tuple(book) if all(present) else None, lineno)  # type: ignore[arg-type]

    return handle


def iter_canonical_csv_rows(path: Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    """Row-by-row reader (the reference the columnar reader in ``canonical_columnar`` must equal)."""
    header = canonical_header(path)
    rows = ((lineno, raw, raw.split(",")) for lineno, raw in data_lines(path))
    yield from drive_rows(rows, str(path), tenant_id, chunk_rows, len(header), canonical_row(header))


def _parquet_row_checks(t: pa.Table) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Vectorised structural checks on one Parquet batch → (bad mask, (field, reason) of each bad row
    in row order; the first rule a row breaks names it)."""
    n = t.num_rows
    checks: list[tuple[np.ndarray, str, str]] = []

    def mark(mask: np.ndarray, field: str, reason: str) -> None:
        if mask.any():
            checks.append((mask, field, reason))

    def arr(name: str, fill) -> np.ndarray:
        col = t.column(name)
        if col.null_count:
            col = col.fill_null(fill)
        return col.to_numpy()

    for name in ("venue", "symbol", "ts", "seq", "event_type"):
        if t.column(name).null_count:
            mark(t.column(name).is_null().to_numpy(), name, "required value is null")
    mark(~np.isin(arr("event_type", 0), _EVENTS), "event_type", "expected 0, 1 or 2")
    with np.errstate(invalid="ignore"):
        for name in _PRICE_FIELDS:
            x = arr(name, NAN)
            mark(np.isinf(x) | (x <= 0), name, "price must be finite and > 0 (NaN = absent)")
        for name in _SIZE_FIELDS:
            x = arr(name, NAN)
            mark(np.isinf(x) | (x < 0), name, "size must be finite and >= 0")
    mark(~np.isin(arr("trade_side", 0), (-1, 0, 1)), "trade_side", "expected -1, 0 or 1")
    nulls = [t.column(k).null_count for k in _BOOK_FIELDS]
    if any(nulls) and not all(x == n for x in nulls):
        isnull = [t.column(k).is_null().to_numpy() for k in _BOOK_FIELDS]
        mark(np.any(isnull, axis=0) & ~np.all(isnull, axis=0), "book", "the four book_* lists must be all present or all null")
    if not all(x == n for x in nulls):
        lens = [pc.list_value_length(t.column(k)).fill_null(-1).to_numpy() for k in _BOOK_FIELDS]
        mark((lens[0] != lens[1]) | (lens[0] != lens[2]) | (lens[0] != lens[3]), "book", "book_* lists differ in length")
    bad = np.zeros(n, dtype=bool)
    for m, _, _ in checks:
        bad |= m
    why: list[tuple[str, str]] = []
    for i in np.flatnonzero(bad):
        why.append(next((f, r) for m, f, r in checks if m[i]))
    return bad, why


def _batches(pf: pq.ParquetFile, path: Path, chunk_rows: int, cols: list[str]) -> Iterator[pa.RecordBatch]:
    """Row groups as batches; a damaged page or a column of the wrong type refuses the file, naming it."""
    it = pf.iter_batches(batch_size=chunk_rows, columns=cols)
    while True:
        try:
            rb = next(it)
        except StopIteration:
            return
        except (pa.ArrowException, OSError, UnicodeDecodeError):
            raise ValueError(f"{path}: Parquet data damaged after {pf.metadata.num_rows} rows were announced "
                             f"(a page or column chunk cannot be decoded)") from None
        yield rb


def iter_canonical_parquet(path: Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    src = str(path)
    # pre_buffer=False: with pre-buffering, iter_batches keeps read-ahead buffers for every row
    # group it has visited, so memory grows with the file (measured); without it, memory stays flat.
    try:
        pf = pq.ParquetFile(path, pre_buffer=False)
        names = set(pf.schema_arrow.names)
    except (pa.ArrowException, OSError, UnicodeDecodeError):  # damaged footer/metadata: the file as a whole
        raise ValueError(f"{path}: not a readable Parquet file (footer or metadata damaged, or not Parquet)") from None
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"{path}: not a canonical Thunderline tick Parquet file: missing columns {missing}")
    cols = [c for c in REQUIRED_CSV_COLUMNS]
    offset = 0
    for rb in _batches(pf, path, chunk_rows, cols):
        n = rb.num_rows
        t = pa.Table.from_batches([rb])
        try:
            t = t.cast(pa.schema([TICK_SCHEMA.field(c).with_nullable(True) for c in cols]))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise ValueError(f"{path}: columns do not have the canonical tick types "
                             f"({', '.join(f'{f.name}: {f.type}' for f in rb.schema)})") from None
        for c in ("venue", "symbol"):
            try:
                t.column(c).validate(full=True)  # Parquet readers pass string bytes through unchecked
            except pa.ArrowInvalid:
                raise ValueError(f"{path}: column {c} holds text that is not valid UTF-8 (damaged file)") from None
        rows = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
        offset += n
        bad, why = _parquet_row_checks(t)
        rejects: list[Reject] = []
        if bad.any():
            idx = np.flatnonzero(bad)
            raw_rows = t.take(pa.array(idx)).to_pylist()
            for i, w, r in zip(idx, why, raw_rows):
                rejects.append(Reject(src, int(rows[i]), w[0], w[1], json.dumps(r, default=str, allow_nan=True)))
            keep = pa.array(~bad)
            t = t.filter(keep)
            rows = rows[~bad]
        m = t.num_rows
        arrays = [const_strings(tenant_id, m)]
        arrays += [t.column(c).combine_chunks() for c in cols]
        arrays += [const_strings(src, m), pa.array(rows, pa.int64())]
        batch = pa.RecordBatch.from_arrays(arrays, schema=TICK_SCHEMA)
        yield TickChunk(batch, tuple(rejects))


# --------------------------------------------------------------------------- writers
def _fmt(x: float) -> str:
    return "" if x is None or math.isnan(x) else repr(float(x))


def _fmt_list(v: list[float] | None) -> str:
    return "" if v is None else ";".join(_fmt(x) for x in v)


def write_canonical_csv(batches: Iterable[pa.RecordBatch], path: str | Path) -> int:
    """Write tick batches as canonical CSV (see module docstring); returns rows written."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(CANONICAL_COLUMNS) + "\n")
        for b in batches:
            for name in ("venue", "symbol", "source"):
                if pc.any(pc.match_substring(b.column(name), ",")).as_py():
                    raise ValueError(f"{path}: column {name!r} holds a comma, which canonical CSV cannot carry")
            d = b.to_pydict()
            for i in range(b.num_rows):
                out = [
                    d["venue"][i], d["symbol"][i], str(d["ts"][i]), str(d["seq"][i]), str(d["event_type"][i]),
                    _fmt(d["bid_px"][i]), _fmt(d["bid_sz"][i]), _fmt(d["ask_px"][i]), _fmt(d["ask_sz"][i]),
                    _fmt(d["trade_px"][i]), _fmt(d["trade_sz"][i]), str(d["trade_side"][i] or 0),
                    _fmt_list(d["book_bid_px"][i]), _fmt_list(d["book_bid_sz"][i]),
                    _fmt_list(d["book_ask_px"][i]), _fmt_list(d["book_ask_sz"][i]),
                    d["source"][i], str(d["source_row"][i]),
                ]
                fh.write(",".join(out) + "\n")
            n += b.num_rows
    return n


def write_canonical_parquet(batches: Iterable[pa.RecordBatch], path: str | Path, *,
                            row_group_rows: int = 1 << 20) -> int:
    """Write tick batches to one Parquet file with TICK_SCHEMA, streaming (bounded memory); returns rows."""
    n = 0
    with pq.ParquetWriter(path, TICK_SCHEMA, compression="zstd") as w:
        for b in batches:
            w.write_batch(b, row_group_size=row_group_rows)
            n += b.num_rows
    return n


def ticks_sha256(batches: Iterable[pa.RecordBatch | pa.Table]) -> str:
    """sha256 of tick rows, independent of how they are cut into batches.

    One hasher per column over an element-wise canonical encoding (floats big-endian IEEE-754
    with NaN folded to one value and −0.0 to 0.0, as in ``thunderline.hashing``; strings and
    lists length-prefixed; nulls marked), then a digest of the column digests in schema order.
    """
    import hashlib

    parts = ("valid", "len", "val")
    hs = {(f.name, p): hashlib.sha256() for f in TICK_SCHEMA for p in parts}
    for b in batches:
        for f in TICK_SCHEMA:
            col = b.column(f.name)
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks()
            h = hs[(f.name, "val")]
            hs[(f.name, "valid")].update(col.is_valid().to_numpy(zero_copy_only=False).tobytes())
            if pa.types.is_list(f.type):
                lens = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False).astype(">i8")
                hs[(f.name, "len")].update(lens.tobytes())
                vals = col.flatten().to_numpy(zero_copy_only=False)
                h.update(_canon_floats(vals))
            elif pa.types.is_string(f.type):
                for s in col.to_pylist():
                    e = (s or "").encode("utf-8")
                    h.update(len(e).to_bytes(8, "big") + e)
            elif pa.types.is_floating(f.type):
                h.update(_canon_floats(col.fill_null(np.nan).to_numpy(zero_copy_only=False)))
            else:
                h.update(col.fill_null(0).to_numpy(zero_copy_only=False).astype(">i8").tobytes())
    top = hashlib.sha256()
    for f in TICK_SCHEMA:
        for p in parts:
            top.update(f"{f.name}.{p}=".encode() + hs[(f.name, p)].digest())
    return top.hexdigest()


def _canon_floats(x: np.ndarray) -> bytes:
    y = np.array(x, dtype=">f8", copy=True)
    y[np.isnan(y)] = np.nan
    y[y == 0.0] = 0.0
    return y.tobytes()
