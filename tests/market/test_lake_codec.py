"""Lake layout 2 (:mod:`thunderline.lake_codec`): price columns as decimal ticks come back bit for bit.

Every float a lake file held is read back with the same IEEE-754 bits, validity and column types, whichever
way it was coded: decimal ticks (cents, LOBSTER's 1e-4, crypto's 1e-8), NaN stored as null, nulls kept as
nulls; a column the codec cannot give back exactly (not a decimal, ``-0.0``, ``inf``, nulls and NaN together,
a NaN with another payload) stays float64.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thunderline.lake_codec import LAKE_LAYOUT_KEY, decimal_ticks, decimals_of, decode_lake_batch
from thunderline.store.lake import Lake, read_lake_ticks, write_lake_file

N = 5_000
RNG = np.random.default_rng(11)


def _bits_equal(a: pa.ChunkedArray | pa.Array, b: pa.ChunkedArray | pa.Array) -> bool:
    a, b = (x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x for x in (a, b))
    if a.type != b.type or not np.array_equal(a.is_valid().to_numpy(zero_copy_only=False),
                                              b.is_valid().to_numpy(zero_copy_only=False)):
        return False
    va, vb = (x.fill_null(0.0).to_numpy(zero_copy_only=False) for x in (a, b))
    return np.array_equal(va.view(np.int64), vb.view(np.int64))


def _columns() -> dict[str, tuple[pa.Array, int | None]]:
    """name → (float64 column, the decimals it must be coded with, None: must stay float64)."""
    cents = RNG.integers(9_000, 11_000, N) / 100.0
    lobster = RNG.integers(2_200_000, 2_300_000, N) / 10_000.0
    sats = RNG.integers(1, 10 ** 9, N) / 1e8
    with_nan = cents.copy()
    with_nan[::7] = np.nan
    odd_nan = cents.copy()
    odd_nan[3] = -np.nan if np.signbit(-np.nan) else np.float64(np.nan) * -1  # NaN with the sign bit set
    neg_zero = cents.copy()
    neg_zero[5] = -0.0
    inf = cents.copy()
    inf[9] = np.inf
    nulls = pa.array(cents, mask=np.arange(N) % 5 == 0)
    both = pa.array(with_nan, mask=np.arange(N) % 5 == 0)
    return {
        "bid_px": (pa.array(cents), 2), "ask_px": (pa.array(lobster), 4), "trade_px": (pa.array(with_nan), 2),
        "book_bid_px_1": (pa.array(sats), 8), "book_bid_px_2": (nulls, 2), "book_ask_px_1": (both, None),
        "book_ask_px_2": (pa.array(RNG.normal(100, 1, N)), None), "book_ask_px_3": (pa.array(neg_zero), None),
        "book_ask_px_4": (pa.array(inf), None), "book_ask_px_5": (pa.array(odd_nan), None),
        "bid_sz": (pa.array(cents), None),  # sizes are not price columns: left to dictionary + zstd
    }


def test_every_price_column_reads_back_bit_for_bit(tmp_path):
    cols = _columns()
    table = pa.table({"ts": np.arange(N, dtype=np.int64) * 7, **{k: v for k, (v, _) in cols.items()}})
    path = tmp_path / "b.parquet"
    write_lake_file(table, path)
    schema = pq.read_schema(path)
    assert schema.metadata[LAKE_LAYOUT_KEY] == b"2"
    for name, (_, k) in cols.items():
        assert decimals_of(schema.field(name)) == k, name
        assert schema.field(name).type == (pa.float64() if k is None else pa.int64())
    back = decode_lake_batch(pq.read_table(path))
    assert back.schema.names == table.schema.names and LAKE_LAYOUT_KEY not in (back.schema.metadata or {})
    for name in table.column_names:
        assert _bits_equal(back.column(name), table.column(name)), name
    for rb in Lake(tmp_path).iter_batches([path], batch_rows=1_000):  # what the labels read: floats
        assert rb.schema.field("bid_px").type == pa.float64()


def test_the_window_read_path_gets_the_same_floats(tmp_path):
    """tick_arrays decodes layout 2 straight into the kernel's arrays: the values of layout 1 (floats)."""
    from thunderline.market.features import tick_arrays
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    table = pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=20_000, seed=9, depth=4), "t", 8_192)))
    path = Lake(tmp_path).write_batch("t", "2024-01", "SYM", "b0", table)
    coded = tick_arrays(pq.read_table(path), None)
    plain = tick_arrays(table, None)
    for f in ("ts", "seq", "event_type", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_px", "trade_sz", "trade_side"):
        a, b = getattr(coded, f), getattr(plain, f)
        assert a.shape == b.shape and a.dtype == b.dtype, f
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), f
    assert read_lake_ticks(path).column_names == table.column_names


@pytest.mark.parametrize("values, k", [([1.0, 2.0, 3.0], 0), ([0.1, 0.2, 0.3], 1), ([223.18, 223.95], 2),
                                       ([0.00012345], 8), ([0.1 + 0.2], None), ([2.0 ** 60], None),
                                       ([0.123456789], None)])
def test_decimal_ticks_finds_the_smallest_exact_scale(values, k):
    found = decimal_ticks(np.array(values))
    assert (found[0] if found else None) == k
    if found:
        assert np.array_equal(found[1] / 10.0 ** found[0], np.array(values))
