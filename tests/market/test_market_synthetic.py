"""The synthetic generator: deterministic, chunking-invariant, realistic enough to exercise the features."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from thunderline.contracts import EVENT_QUOTE, EVENT_TRADE, TICK_SCHEMA
from thunderline.market.canonical import ticks_sha256
from thunderline.market.features import COARSE_RECIPE, build_windows
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.market.validation import TickValidator


def test_same_seed_gives_byte_identical_ticks_for_any_chunking():
    spec = SyntheticSpec(n_ticks=150_000, seed=123)
    h = ticks_sha256(synthetic_ticks(spec, "t", 65_536))
    assert ticks_sha256(synthetic_ticks(spec, "t", 65_536)) == h
    assert ticks_sha256(synthetic_ticks(spec, "t", 9_999)) == h
    assert ticks_sha256(synthetic_ticks(SyntheticSpec(n_ticks=150_000, seed=124), "t", 65_536)) != h
    a = pa.Table.from_batches(list(synthetic_ticks(spec, "t", 70_000)))
    b = pa.Table.from_batches(list(synthetic_ticks(spec, "t", 1_000)))
    for name in ("ts", "seq", "bid_px", "ask_sz", "trade_side", "book_ask_px"):
        assert a.column(name).combine_chunks().equals(b.column(name).combine_chunks())


def test_schema_sizes_and_invariants():
    spec = SyntheticSpec(n_ticks=100_000, seed=5, depth=7)
    batches = list(synthetic_ticks(spec, "acme", 30_000))
    assert [b.num_rows for b in batches] == [30_000, 30_000, 30_000, 10_000]
    t = pa.Table.from_batches(batches)
    assert t.schema.equals(TICK_SCHEMA)
    assert set(t.column("tenant_id").to_pylist()) == {"acme"}
    seq = t.column("seq").to_numpy()
    assert np.array_equal(seq, np.arange(1, 100_001))
    ts = t.column("ts").to_numpy()
    assert np.all(np.diff(ts) >= 0)
    bid, ask = t.column("bid_px").to_numpy(), t.column("ask_px").to_numpy()
    assert np.all(ask > bid) and np.all(bid > 0)
    books = t.column("book_bid_px").combine_chunks()
    assert set(pa.compute.list_value_length(books).to_numpy()) == {7}
    lv = books.flatten().to_numpy().reshape(-1, 7)
    assert np.all(np.diff(lv, axis=1) < 0)  # best first
    et = t.column("event_type").to_numpy()
    side = t.column("trade_side").to_numpy()
    tr = et == EVENT_TRADE
    assert 0.1 < tr.mean() < 0.2 and set(side[tr]) == {-1, 1} and set(side[et == EVENT_QUOTE]) == {0}
    tp = t.column("trade_px").to_numpy()
    assert np.all((tp[tr] == bid[tr]) | (tp[tr] == ask[tr]))
    v = TickValidator(int(ts[0]), int(ts[-1]) + 1).validate(t)
    assert v.n_rejected == 0 and v.flag_counts == {"crossed": 0, "locked": 0}


def test_regimes_bursts_and_spikes_show_in_the_features():
    spec = SyntheticSpec(n_ticks=400_000, seed=9, regime_switch_prob=5e-5, spike_prob=5e-5)
    res = build_windows(synthetic_ticks(spec, "t", 65_536), COARSE_RECIPE)
    rate = res.tick_count / (COARSE_RECIPE.width_us / 1e6)
    # 10x spikes and 20x microbursts: the busiest windows run far above the median rate
    assert np.percentile(rate, 99.9) > 8 * np.median(rate)
    spread = res.features[:, COARSE_RECIPE.feature_names.index("spread")]
    assert spread.max() > 2.5 * 0.01 and np.nanmin(spread) >= 0.01 - 1e-12  # volatile regime widens spreads
