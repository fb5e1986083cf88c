"""Compacted tick files: many small landed files' ticks in one Parquet file, each row citing its own file.

Why a format of its own: :func:`thunderline.flow.compaction.compact_landed` merges the small
files the HTTP ingress lands (one per request) so that a partition reads one file instead of
thousands. Reading the merged file must give the rows reading each member would have given,
so, unlike canonical Parquet (whose reader sets ``source``/``source_row`` to the file being
read), a compacted file *keeps* every row's ``source`` (the member's landing path) and
``source_row`` (its row there).

A compacted file has exactly TICK_SCHEMA and, in its key-value metadata, ``thunderline.members``:
the member row counts in file order. Chunks hold whole members — a member longer than
``chunk_rows`` is cut every ``chunk_rows`` rows from its own start, as the canonical reader cuts
the member file — so the per-stream checks (a stream is venue, symbol and source) see each
member exactly as they see it read alone. The format is never detected from a file's name or
bytes: only the landing index names it (a landing file cannot claim other files' rows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from thunderline.contracts import TICK_SCHEMA
from thunderline.market._build import TickChunk, const_strings

COMPACTED_FORMAT = "compacted_parquet"
MEMBERS_KEY = b"thunderline.members"
_READ_ROWS = 65_536


def compacted_schema(member_rows: Sequence[int]) -> pa.Schema:
    """TICK_SCHEMA carrying the member row counts (what the reader cuts chunks by)."""
    return TICK_SCHEMA.with_metadata({**(TICK_SCHEMA.metadata or {}),
                                      MEMBERS_KEY: json.dumps([int(n) for n in member_rows]).encode()})


def chunk_plan(member_rows: Sequence[int], chunk_rows: int) -> list[int]:
    """Rows per chunk: whole members packed up to ``chunk_rows``; a longer member cut every ``chunk_rows``."""
    plan: list[int] = []
    fill = 0
    for n in member_rows:
        pieces = [chunk_rows] * (n // chunk_rows) + ([n % chunk_rows] if n % chunk_rows else [])
        for p in pieces:
            if fill and fill + p <= chunk_rows:
                plan[-1] += p
                fill += p
            else:
                plan.append(p)
                fill = p
    return plan


def _members(path: Path, pf: pq.ParquetFile) -> list[int]:
    raw = (pf.schema_arrow.metadata or {}).get(MEMBERS_KEY)
    try:
        rows = [int(n) for n in json.loads(raw)] if raw else None
    except (ValueError, TypeError):
        rows = None
    if rows is None or sum(rows) != pf.metadata.num_rows or any(n <= 0 for n in rows):
        raise ValueError(f"{path}: not a compacted tick file: member row counts missing or not matching its rows")
    return rows


def iter_compacted_parquet(path: str | Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    """Stream a compacted file as TickChunks of whole members (see the module docstring); bounded memory."""
    path = Path(path)
    try:
        pf = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError):
        raise ValueError(f"{path}: not a readable Parquet file (footer or metadata damaged, or not Parquet)") from None
    if not pf.schema_arrow.remove_metadata().equals(TICK_SCHEMA.remove_metadata()):
        raise ValueError(f"{path}: not a compacted tick file: its columns are not exactly the tick schema")
    plan = chunk_plan(_members(path, pf), chunk_rows)
    buf: pa.Table | None = None
    batches = pf.iter_batches(batch_size=min(_READ_ROWS, chunk_rows))
    for want in plan:
        while buf is None or buf.num_rows < want:
            rb = next(batches)  # the plan sums to the file's rows: never exhausted early
            t = pa.Table.from_batches([rb])
            buf = t if buf is None else pa.concat_tables([buf, t])
        out, buf = buf.slice(0, want), buf.slice(want)
        batch = out.combine_chunks().to_batches(max_chunksize=want)[0]
        batch = batch.set_column(0, TICK_SCHEMA.field(0), const_strings(tenant_id, want))
        yield TickChunk(batch, ())
