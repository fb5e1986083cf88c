"""One entry point for every tick file: detect the format, stream bounded TICK_SCHEMA chunks.

Two ways to consume a file, same rows either way:

* :func:`iter_tick_chunks` yields :class:`TickChunk` ``(batch, rejects)`` pairs — the
  batch holds at most ``chunk_rows`` ticks with exactly ``contracts.TICK_SCHEMA``; the
  rejects are the rows since the previous chunk that could not be parsed;
* :func:`read_ticks` yields only the RecordBatches and hands each reject to ``on_reject``
  (default: logged as a warning — never dropped silently).

Memory is bounded by ``chunk_rows`` (plus the order-book state of incremental feeds),
never by file size. For every input row, ``kept + rejected == 1``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from thunderline.market import canonical, canonical_columnar, compacted, crypto, l2_columnar, lobster, tardis_columnar
from thunderline.market._build import DEFAULT_CHUNK_ROWS, TickChunk, empty_batch, open_text, strip_eol
from thunderline.market.rejects import Reject, RejectSink
from thunderline.market.validation import screen_chunk

log = logging.getLogger(__name__)

FORMATS = (
    "lobster",
    "tardis_trades",
    "tardis_quotes",
    "tardis_book_snapshot",
    "tardis_incremental_book_L2",
    "binance_depth",
    "canonical_csv",
    "canonical_parquet",
)


def _header(path: Path) -> list[str]:
    with open_text(path) as fh:
        return strip_eol(next(fh, "")).split(",")


def detect_format(path: str | Path) -> str:
    """The format name (one of :data:`FORMATS`) of ``path``, from its name and header.

    Raises ValueError naming the file when nothing matches.
    """
    p = Path(path)
    if p.suffix == ".parquet" or p.name.endswith(".parq"):
        return "canonical_parquet"
    with open(p, "rb") as fh:
        if fh.read(4) == b"PAR1":
            return "canonical_parquet"
    if lobster.parse_lobster_name(p) is not None:
        return "lobster"
    header = _header(p)
    if header == crypto.TARDIS_TRADES:
        return "tardis_trades"
    if header == crypto.TARDIS_QUOTES:
        return "tardis_quotes"
    if header == crypto.TARDIS_INCREMENTAL:
        return "tardis_incremental_book_L2"
    if crypto.tardis_snapshot_depth(header) is not None:
        return "tardis_book_snapshot"
    if header == crypto.BINANCE_DEPTH:
        return "binance_depth"
    if canonical.is_canonical_header(header):
        return "canonical_csv"
    raise ValueError(f"{p}: unrecognised tick file (name and header match no known format); header={header[:8]}")


def iter_tick_chunks(
    path: str | Path,
    tenant_id: str,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    *,
    fmt: str | None = None,
    depth: int | None = None,
    venue: str | None = None,
) -> Iterator[TickChunk]:
    """Stream ``path`` as TickChunks. ``depth`` = book levels kept for incremental feeds
    (default ``contracts.DEFAULT_BOOK_DEPTH``); ``venue`` overrides the venue where the file
    does not name one (LOBSTER, Binance).

    Every chunk passes :func:`~thunderline.market.validation.screen_chunk`: a row whose
    venue/symbol is not a valid identifier or whose time has no partition is a reject,
    never a tick."""
    for chunk in _format_chunks(path, tenant_id, chunk_rows, fmt=fmt, depth=depth, venue=venue):
        chunk = screen_chunk(chunk)
        rejects = chunk.rejects
        while len(rejects) > chunk_rows:  # screening moved rows to rejects: keep "at most chunk_rows" of each
            yield TickChunk(empty_batch(), rejects[:chunk_rows])
            rejects = rejects[chunk_rows:]
        yield chunk if rejects is chunk.rejects else TickChunk(chunk.batch, rejects)


def _format_chunks(
    path: str | Path,
    tenant_id: str,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    *,
    fmt: str | None = None,
    depth: int | None = None,
    venue: str | None = None,
) -> Iterator[TickChunk]:
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt == "lobster":
        return lobster.iter_lobster(p, tenant_id, chunk_rows, venue=venue or lobster.LOBSTER_VENUE)
    if fmt == "tardis_trades":
        return tardis_columnar.iter_tardis_trades(p, tenant_id, chunk_rows)
    if fmt == "tardis_quotes":
        return tardis_columnar.iter_tardis_quotes(p, tenant_id, chunk_rows)
    if fmt == "tardis_book_snapshot":
        n = crypto.tardis_snapshot_depth(_header(p))
        assert n is not None
        return tardis_columnar.iter_tardis_book_snapshot(p, tenant_id, chunk_rows, n)
    if fmt == "tardis_incremental_book_L2":
        return l2_columnar.iter_tardis_incremental(p, tenant_id, chunk_rows, depth or crypto.DEFAULT_BOOK_DEPTH)
    if fmt == "binance_depth":
        return l2_columnar.iter_binance_depth(p, tenant_id, chunk_rows, depth or crypto.DEFAULT_BOOK_DEPTH,
                                              venue or "binance-futures")
    if fmt == "canonical_csv":
        return canonical_columnar.iter_canonical_csv(p, tenant_id, chunk_rows)
    if fmt == "canonical_parquet":
        return canonical.iter_canonical_parquet(p, tenant_id, chunk_rows)
    if fmt == compacted.COMPACTED_FORMAT:  # named by the landing index only, never detected
        return compacted.iter_compacted_parquet(p, tenant_id, chunk_rows)
    raise ValueError(f"{p}: unknown format {fmt!r}; expected one of {FORMATS}")


def _log_reject(r: Reject) -> None:
    log.warning("rejected tick row %s", r)


def read_ticks(
    path: str | Path,
    tenant_id: str,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    *,
    on_reject: RejectSink | None = None,
    fmt: str | None = None,
    depth: int | None = None,
    venue: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream ``path`` as TICK_SCHEMA RecordBatches of at most ``chunk_rows`` rows.

    Every row that cannot be parsed is passed to ``on_reject`` (default: a logged warning)
    before the batch that follows it is yielded. Empty batches are not yielded.
    """
    sink = on_reject or _log_reject
    for chunk in iter_tick_chunks(path, tenant_id, chunk_rows, fmt=fmt, depth=depth, venue=venue):
        for r in chunk.rejects:
            sink(r)
        if chunk.batch.num_rows:
            yield chunk.batch
