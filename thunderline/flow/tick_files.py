"""Tick files at the door: which month × symbol partitions a file touches, and quarantine rows for its rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thunderline.flow.landing import Classification
from thunderline.hashing import content_id
from thunderline.market import detect_format, iter_tick_chunks
from thunderline.market.rejects import Reject
from thunderline.market.validation import admissible_mask
from thunderline.partitioning import months_of_us


def classify_tick_file(path: Path, chunk_rows: int = 1_000_000) -> Classification:
    """Format and the month|symbol partitions a tick file touches (reads only symbol and ts where it can)."""
    fmt = detect_format(path)
    if fmt == "lobster":
        from thunderline.market.lobster import lobster_pair, parse_lobster_name

        if parse_lobster_name(path)["kind"] == "orderbook":
            # read together with its message file; feeds no partition by itself
            return Classification("lobster_orderbook", [])
        message, orderbook = lobster_pair(path)
        if not orderbook.exists():
            raise FileNotFoundError(f"{path}: LOBSTER orderbook partner {orderbook.name} has not arrived")
        from thunderline.market.lobster import lobster_months

        # the symbol is in the name and Time is the only column that routes: read just that
        symbol = parse_lobster_name(path)["symbol"]
        months = lobster_months(message)
        if not months:
            raise ValueError(f"{path}: no parsable ticks (lobster): no row has a valid Time")
        return Classification(fmt, [f"{m}|{symbol}" for m in months])
    parts: set[str] = set()
    first_reject: list[Reject] = []
    if fmt == "canonical_parquet":
        try:
            pf = pq.ParquetFile(path)
            names = set(pf.schema_arrow.names)
        except (pa.ArrowException, OSError, UnicodeDecodeError):
            raise ValueError(f"{path}: not a readable Parquet file (footer or metadata damaged, or not Parquet)") from None
        if not {"symbol", "ts"} <= names:
            raise ValueError(f"{path}: not a canonical tick Parquet file: needs columns symbol and ts")
        for b in pf.iter_batches(batch_size=chunk_rows, columns=["symbol", "ts"]):
            if not (pa.types.is_string(b.schema.field("symbol").type) and pa.types.is_integer(b.schema.field("ts").type)):
                raise ValueError(f"{path}: not a canonical tick Parquet file: symbol must be string, ts integer")
            _collect_parts(b.filter(pa.array(admissible_mask(b.column("symbol"), b.column("ts")))), parts)
    else:
        for chunk in iter_tick_chunks(path, "classify", chunk_rows=chunk_rows):
            _collect_parts(chunk.batch, parts)
            if chunk.rejects and not first_reject:
                first_reject.append(chunk.rejects[0])
    if not parts:
        first = f"; first problem: {first_reject[0]}" if first_reject else ""
        raise ValueError(f"{path}: no parsable ticks ({fmt}){first}")
    return Classification(fmt, sorted(parts))


def _collect_parts(batch: pa.RecordBatch, parts: set[str]) -> None:
    if batch.num_rows == 0:
        return
    sym = batch.column("symbol").to_numpy(zero_copy_only=False)
    mon = months_of_us(batch.column("ts").to_numpy())
    pairs = np.unique(np.char.add(np.char.add(mon.astype(str), "|"), sym.astype(str)))
    parts.update(pairs.tolist())


def quarantine_rows(rejects: Iterable[Reject], stage: str, partition_key: str | None) -> list[dict]:
    """Quarantine rows with content-derived ids: re-ingesting the same bad row does not duplicate it."""
    out = []
    for r in rejects:
        body = [r.stage, r.source, r.source_row, r.field, r.reason]
        out.append(dict(id=content_id("quarantine", body), stage=f"{stage}.{r.stage}", source=r.source,
                        row_number=r.source_row, field=r.field, reason=r.reason, raw=r.raw[:2000],
                        partition_key=partition_key))
    return out
