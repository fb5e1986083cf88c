"""Market microstructure core: tick readers, validation, synthetic ticks, window features.

No Dagster here: these are plain functions and classes that the assets (and a live
loop, or a notebook) call. Heavy optional imports (Great Expectations) stay lazy.
"""

from thunderline.market._build import DEFAULT_CHUNK_ROWS, TickChunk
from thunderline.market.canonical import write_canonical_csv, write_canonical_parquet
from thunderline.market.readers import FORMATS, detect_format, iter_tick_chunks, read_ticks
from thunderline.market.rejects import REJECT_SCHEMA, Reject, rejects_to_table

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "FORMATS",
    "REJECT_SCHEMA",
    "Reject",
    "TickChunk",
    "detect_format",
    "iter_tick_chunks",
    "read_ticks",
    "rejects_to_table",
    "write_canonical_csv",
    "write_canonical_parquet",
]
