"""Market microstructure core: tick readers, validation, synthetic ticks, window features.

No Dagster here: plain functions and classes that the assets (or a live loop, or a
notebook) call. Great Expectations is imported lazily, only by ``validation.GxTickSuite``.

Typical partition run::

    val = TickValidator(month_start_us, month_end_us)
    builder = WindowBuilder(FULL_RECIPE)
    for chunk in iter_tick_chunks(path, tenant_id):          # bounded memory
        quarantine(chunk.rejects)                              # parse rejects
        v = val.validate(chunk.batch)
        quarantine(v.rejects(chunk.batch))                     # rule rejects
        windows = builder.update(chunk.batch.filter(v.keep))   # final windows only
    windows = builder.flush()
"""

from thunderline.market._build import DEFAULT_CHUNK_ROWS, TickChunk
from thunderline.market.canonical import ticks_sha256, write_canonical_csv, write_canonical_parquet
from thunderline.market.features import (
    COARSE_RECIPE,
    FULL_RECIPE,
    BatchRef,
    Recipe,
    TickArrays,
    WindowBuilder,
    WindowResult,
    build_windows,
    market_recipe,
    tick_arrays,
    to_feature_windows,
)
from thunderline.market.readers import FORMATS, detect_format, iter_tick_chunks, read_ticks
from thunderline.market.rejects import REJECT_SCHEMA, Reject, rejects_to_table
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.market.validation import TickValidation, TickValidator, gx_validate, rule_summary, validate_ticks

__all__ = [
    "COARSE_RECIPE",
    "DEFAULT_CHUNK_ROWS",
    "FORMATS",
    "FULL_RECIPE",
    "REJECT_SCHEMA",
    "BatchRef",
    "Recipe",
    "Reject",
    "SyntheticSpec",
    "TickArrays",
    "TickChunk",
    "TickValidation",
    "TickValidator",
    "WindowBuilder",
    "WindowResult",
    "build_windows",
    "detect_format",
    "gx_validate",
    "iter_tick_chunks",
    "market_recipe",
    "read_ticks",
    "rejects_to_table",
    "rule_summary",
    "synthetic_ticks",
    "tick_arrays",
    "ticks_sha256",
    "to_feature_windows",
    "validate_ticks",
    "write_canonical_csv",
    "write_canonical_parquet",
]
