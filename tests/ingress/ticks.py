"""Tick request bodies in the three wire formats, from deterministic synthetic ticks."""

from __future__ import annotations

import io
import json
import math

import pyarrow as pa
import pyarrow.ipc as ipc

from thunderline.market.canonical import CANONICAL_COLUMNS
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

JSONL = "application/x-ndjson"
CSV = "text/csv"
ARROW = "application/vnd.apache.arrow.stream"
BOOK = ("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz")


def ticks(n: int = 50, *, seed: int = 0, symbol: str = "SYN", depth: int = 0) -> pa.Table:
    b = next(synthetic_ticks(SyntheticSpec(n_ticks=n, seed=seed, symbol=symbol, depth=max(depth, 1)), chunk_rows=n))
    t = pa.Table.from_batches([b])
    if depth == 0:
        for c in BOOK:
            t = t.set_column(t.schema.get_field_index(c), c, pa.nulls(n, pa.list_(pa.float64())))
    return t


def _clean(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def rows_of(t: pa.Table) -> list[dict]:
    return [{k: _clean(v) for k, v in r.items() if k != "tenant_id"} for r in t.to_pylist()]


def jsonl(rows: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(_fmt(x) for x in v)
    return repr(v) if isinstance(v, float) else str(v)


def csv(rows: list[dict], columns=CANONICAL_COLUMNS) -> bytes:
    lines = [",".join(columns)] + [",".join(_fmt(r.get(c)) for c in columns) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def arrow(t: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    return sink.getvalue()


def body(fmt: str, t: pa.Table) -> tuple[bytes, str]:
    if fmt == "jsonl":
        return jsonl(rows_of(t)), JSONL
    if fmt == "csv":
        return csv(rows_of(t)), CSV
    return arrow(t.drop_columns(["tenant_id"])), ARROW
