"""Lake column codec (layout 2): prices as exact decimal ticks, integers delta-coded, both uncompressed.

Why: decoding, not the window kernel, bounded lake → windows. Dictionary + zstd float64 columns cost
~4-16 ns a value to decode (``ts`` the most: ~16 ns, every value distinct); the same values as Parquet
``DELTA_BINARY_PACKED`` integers without a compression pass decode in ~2-3.5 ns and take less disk
(measured: ``bench/market_features.py --only-lake``, README Performance).

What a file in layout 2 holds (schema metadata ``thunderline.lake_layout = 2``):

* ``ts``, ``seq``, ``source_row``, ``event_type``, ``trade_side``: their own types, delta-coded;
* every price column (``*_px``, ``book_*_px_L``) whose values are all ``ticks / 10**k`` *bitwise* for one
  ``k`` in 0..8 (``|ticks| < 2**53``): int64 ``ticks``, delta-coded, field metadata
  ``thunderline.decimals = k``. Decoding divides by ``10**k``: IEEE division is correctly rounded, so
  the float comes back bit for bit (checked when writing; a column that does not come back, e.g. one
  holding ``-0.0`` or ``inf``, stays float64). NaN is stored as null when the column has no nulls
  (``thunderline.null_is_nan = 1``); a column with both nulls and NaN stays float64;
* everything else as before (dictionary where it pays, zstd).

Files without the marker (layout 1: float columns, list or level book columns) are read unchanged.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa

LAKE_LAYOUT_KEY = b"thunderline.lake_layout"
LAKE_LAYOUT = b"2"
DECIMALS_KEY = b"thunderline.decimals"
NULL_IS_NAN_KEY = b"thunderline.null_is_nan"
NULLABLE_KEY = b"thunderline.float_nullable"
DELTA_COLUMNS = ("ts", "seq", "source_row", "event_type", "trade_side")
MAX_DECIMALS = 8
_SAFE = float(2 ** 53)
_NAN_BITS = np.array([np.nan]).view(np.int64)[0]


def is_price_column(name: str) -> bool:
    return name.endswith("_px") or "_px_" in name


def decimal_ticks(x: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``(k, ticks)`` with ``ticks / 10**k`` bitwise equal to ``x`` where ``x`` is not NaN (ticks 0 there),
    for the smallest such ``k`` in 0..8; None when there is none."""
    nan = np.isnan(x)
    vals = x[~nan] if nan.any() else x
    if not np.isfinite(vals).all():
        return None
    sample = vals[:4096]
    for k in range(MAX_DECIMALS + 1):
        s = 10.0 ** k
        if not _exact(sample, s):  # cheap screen on a sample, then the whole column
            continue
        if _exact(vals, s):
            q = np.round(x * s)
            q[nan] = 0.0
            return k, q.astype(np.int64)
    return None


def _exact(vals: np.ndarray, s: float) -> bool:
    """True when the int64 ticks of ``vals`` divide back to their bits (``-0.0`` does not: ticks are 0)."""
    q = np.round(vals * s)
    if q.size and np.abs(q).max() >= _SAFE:
        return False
    return bool(np.array_equal((q.astype(np.int64) / s).view(np.int64), vals.view(np.int64)))


def encode_lake_table(table: pa.Table) -> tuple[pa.Table, dict[str, str]]:
    """``table`` in layout 2 and the Parquet ``column_encoding`` for it (delta-coded columns)."""
    fields, arrays, enc = [], [], {}
    for f in table.schema:
        col = table.column(f.name).combine_chunks()
        if is_price_column(f.name) and pa.types.is_float64(f.type):
            coded = _price_ticks(f, col)
            if coded is not None:
                fields.append(coded[0])
                arrays.append(coded[1])
                enc[f.name] = "DELTA_BINARY_PACKED"
                continue
        if f.name in DELTA_COLUMNS and pa.types.is_integer(f.type):
            enc[f.name] = "DELTA_BINARY_PACKED"
        fields.append(f)
        arrays.append(col)
    meta = dict(table.schema.metadata or {})
    meta[LAKE_LAYOUT_KEY] = LAKE_LAYOUT
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta)), enc


def _price_ticks(f: pa.Field, col: pa.Array) -> tuple[pa.Field, pa.Array] | None:
    x = col.to_numpy(zero_copy_only=False)  # nulls come back as NaN
    vals = col.fill_null(0.0).to_numpy(zero_copy_only=False) if col.null_count else x
    nan = np.isnan(vals)
    if nan.any() and (col.null_count or (vals[nan].view(np.int64) != _NAN_BITS).any()):
        return None  # nulls and NaN both, or a NaN with another payload: only the float column keeps them
    found = decimal_ticks(x)
    if found is None:
        return None
    k, ticks = found
    mask = np.isnan(x) if (col.null_count or nan.any()) else None
    meta = {DECIMALS_KEY: str(k).encode(), NULL_IS_NAN_KEY: b"1" if nan.any() else b"0",
            NULLABLE_KEY: b"1" if f.nullable else b"0"}
    return pa.field(f.name, pa.int64(), nullable=True, metadata=meta), pa.array(ticks, mask=mask)


def decimals_of(field: pa.Field) -> int | None:
    """``k`` for a price column stored as decimal ticks (layout 2), None for any other column."""
    raw = (field.metadata or {}).get(DECIMALS_KEY)
    return int(raw) if raw is not None else None


def decimal_floats(arr: pa.Array, k: int, out: np.ndarray | None = None, null: float = np.nan) -> np.ndarray:
    """float64 values of a decimal-ticks column (``null`` where it is null), written into ``out`` if given."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    ticks = np.frombuffer(arr.buffers()[1], np.int64, count=len(arr), offset=arr.offset * 8)
    out = np.empty(ticks.shape[0]) if out is None else out
    _divide(ticks, 10.0 ** k, out)
    if arr.null_count:
        out[np.asarray(arr.is_null())] = null
    return out


@nb.njit(cache=True, nogil=True)
def _divide(ticks: np.ndarray, scale: float, out: np.ndarray) -> None:
    """``out = ticks / scale`` in one pass (numpy's int64 / float64 casts through a buffer first: ~2.4x the
    CPU); a true division, correctly rounded, so decimal ticks come back as the floats they were."""
    for i in range(ticks.shape[0]):
        out[i] = ticks[i] / scale


def decode_lake_batch(batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
    """A batch read from a lake file of any layout with its columns in their TICK_SCHEMA types
    (layout 2 price columns back to float64, nulls and NaN as written); other batches unchanged."""
    meta = batch.schema.metadata or {}
    if meta.get(LAKE_LAYOUT_KEY) is None:
        return batch
    fields, arrays = [], []
    for i, f in enumerate(batch.schema):
        col = batch.column(i)
        k = decimals_of(f)
        if k is not None:
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            vals = decimal_floats(col, k)
            keep_nulls = col.null_count and f.metadata.get(NULL_IS_NAN_KEY) != b"1"
            col = pa.array(vals, mask=col.is_null().to_numpy(zero_copy_only=False) if keep_nulls else None)
            f = pa.field(f.name, pa.float64(), nullable=f.metadata.get(NULLABLE_KEY) == b"1")
        fields.append(f)
        arrays.append(col)
    out_meta = {key: v for key, v in meta.items() if key != LAKE_LAYOUT_KEY}
    schema = pa.schema(fields, metadata=out_meta)
    if isinstance(batch, pa.Table):
        return pa.Table.from_arrays(arrays, schema=schema)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
