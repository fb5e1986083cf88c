"""Window features: overlap algebra, hand-computed values, kernel = reference, chunked = whole."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from market_reference import reference_windows

from thunderline.contracts import EVENT_QUOTE, EVENT_STATUS, EVENT_TRADE, FeatureWindow
from thunderline.market.features import (
    COARSE_RECIPE,
    FULL_RECIPE,
    BatchRef,
    Recipe,
    TickArrays,
    WindowBuilder,
    build_windows,
    market_recipe,
    tick_arrays,
    to_feature_windows,
)
from thunderline.market.kernels import FEATURES_ALL
from thunderline.market.readers import read_ticks
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks


def arrays(ts, bid, bsz, ask, asz, et=None, tpx=None, tsz=None, side=None, seq=None) -> TickArrays:
    n = len(ts)
    two = lambda x: np.asarray(x, dtype=np.float64).reshape(n, -1)  # noqa: E731
    return TickArrays(
        ts=np.asarray(ts, np.int64),
        seq=np.asarray(seq if seq is not None else np.arange(1, n + 1), np.int64),
        event_type=np.asarray(et if et is not None else [EVENT_QUOTE] * n, np.int8),
        bid_px=two(bid), bid_sz=two(bsz), ask_px=two(ask), ask_sz=two(asz),
        trade_px=np.asarray(tpx if tpx is not None else [np.nan] * n, np.float64),
        trade_sz=np.asarray(tsz if tsz is not None else [0.0] * n, np.float64),
        trade_side=np.asarray(side if side is not None else [0] * n, np.int8),
    )


def recipe(width: int, step: int, kind: str = "full") -> Recipe:
    names = FULL_RECIPE.feature_names if kind == "full" else COARSE_RECIPE.feature_names
    return Recipe(kind, names, width_us=width, step_us=step, full=kind == "full")


def slice_arrays(a: TickArrays, lo: int, hi: int) -> TickArrays:
    return TickArrays(**{k: getattr(a, k)[lo:hi] for k in a.__dataclass_fields__})


def same(r1, r2) -> bool:
    return all(np.array_equal(getattr(r1, k), getattr(r2, k), equal_nan=True)
               for k in ("window_start_us", "window_end_us", "features", "first_seq", "last_seq", "tick_count"))


# --------------------------------------------------------------------------- hand computations
def test_features_match_hand_computation_on_three_ticks():
    a = arrays(ts=[10, 60, 120], bid=[10.0, 10.0, 10.1], bsz=[5, 5, 4], ask=[10.2, 10.2, 10.2], asz=[3, 1, 1],
               et=[EVENT_QUOTE, EVENT_TRADE, EVENT_QUOTE], tpx=[np.nan, 10.2, np.nan], tsz=[0, 2, 0], side=[0, 1, 0])
    res = build_windows([a], recipe(100, 50))
    f = {n: res.features[:, i] for i, n in enumerate(res.feature_names)}
    assert res.window_start_us.tolist() == [-50, 0, 50, 100]
    assert res.tick_count.tolist() == [1, 2, 2, 1]
    assert res.first_seq.tolist() == [1, 1, 2, 3] and res.last_seq.tolist() == [1, 2, 3, 3]
    w0 = 1  # window [0, 100): ticks at 10 and 60
    assert f["mid_return"][w0] == 0.0
    assert f["spread"][w0] == pytest.approx(0.2)
    assert f["imbalance_top1"][w0] == pytest.approx(((5 - 3) / 8 + (5 - 1) / 6) / 2)
    assert f["ofi_1"][w0] == pytest.approx(2.0)  # bid unchanged (0) − ask size 3→1 at same price (−2)
    assert f["trade_count"][w0] == 1 and f["volume"][w0] == 2 and f["vwap"][w0] == pytest.approx(10.2)
    assert f["signed_volume"][w0] == 2
    assert f["tick_rate"][w0] == pytest.approx(2 / 100e-6)
    assert f["spread_twa"][w0] == pytest.approx(0.2)
    w1 = 2  # window [50, 150): ticks at 60 and 120; spread 0.2 in force from t=10
    assert f["ofi_1"][w1] == pytest.approx(2.0 + 4.0)  # bid up to 10.1 with 4 → +4
    assert f["order_flow_imbalance"][w1] == pytest.approx(6.0)
    assert f["mid_return"][w1] == pytest.approx(math.log(10.15 / 10.1))
    assert f["realized_vol"][w1] == pytest.approx(abs(math.log(10.15 / 10.1)))
    assert f["spread_twa"][w1] == pytest.approx((0.2 * 70 + 0.1 * 30) / 100)
    assert f["spread_bps"][w1] == pytest.approx((0.2 / 10.1 + 0.1 / 10.15) / 2 * 1e4)
    assert np.isnan(f["vwap"][3]) and f["trade_count"][3] == 0


def test_status_rows_and_one_sided_books():
    nan = np.nan
    a = arrays(ts=[0, 10, 20, 30], bid=[10.0, nan, 10.0, 10.0], bsz=[1, 0, 1, 1], ask=[nan, nan, 10.1, 10.1],
               asz=[0, 0, 2, 2], et=[EVENT_QUOTE, EVENT_STATUS, EVENT_QUOTE, EVENT_QUOTE])
    res = build_windows([a], recipe(100, 100))
    f = dict(zip(res.feature_names, res.features[0]))
    assert res.tick_count.tolist() == [4]
    assert f["spread"] == pytest.approx(0.1)  # only the two two-sided rows
    # ask appears (inf → 10.1 with 2: ask flow +2 → e −2), status row skipped, then unchanged
    assert f["ofi_1"] == pytest.approx(-2.0)
    assert f["mid_return"] == 0.0


def test_multi_level_ofi_uses_each_level():
    a = arrays(ts=[0, 1], bid=[[10, 9.9], [10, 9.95]], bsz=[[1, 2], [1, 3]], ask=[[10.1, 10.2], [10.1, 10.2]],
               asz=[[1, 1], [1, 4]])
    res = build_windows([a], recipe(10, 10))
    f = dict(zip(res.feature_names, res.features[0]))
    assert (f["ofi_1"], f["ofi_2"], f["ofi_3"]) == (0.0, 3.0 - 3.0, 0.0)  # level 2: bid up (+3), ask +3
    assert f["imbalance_topn"] == pytest.approx(((3 - 2) / 5 + (4 - 5) / 9) / 2)


# --------------------------------------------------------------------------- window algebra
@pytest.mark.parametrize("width,overlap", [(250.0, 0.5), (250.0, 0.0), (250.0, 0.8), (100.0, 0.75)])
def test_each_tick_is_in_exactly_one_over_one_minus_overlap_windows(width, overlap):
    rec = market_recipe("coarse", width_ms=width, overlap=overlap)
    r = round(1 / (1 - overlap))
    assert rec.windows_per_tick == r
    batches = list(synthetic_ticks(SyntheticSpec(n_ticks=20_000, seed=1, base_rate=500), "t", 4096))
    res = build_windows(batches, rec)
    ts = np.concatenate([b.column("ts").to_numpy() for b in batches])
    assert res.tick_count.sum() == r * ts.size
    starts, ends = res.window_start_us, res.window_end_us
    assert np.all(ends - starts == rec.width_us) and np.all(starts % rec.step_us == 0)
    assert np.all(np.diff(starts) > 0)
    lo = np.searchsorted(ends, ts, side="right")  # first window ending after t
    hi = np.searchsorted(starts, ts, side="right")  # windows starting at or before t
    assert np.all(hi - lo == r)


def test_recipe_rejects_non_integer_overlap_and_versions_differ():
    with pytest.raises(ValueError):
        market_recipe("full", width_ms=250, overlap=0.3)
    with pytest.raises(ValueError):
        Recipe("x", ("nope",))
    assert FULL_RECIPE.recipe_version != COARSE_RECIPE.recipe_version
    assert market_recipe("full", overlap=0.75).recipe_version != FULL_RECIPE.recipe_version
    assert FULL_RECIPE.feature_names == FEATURES_ALL
    assert COARSE_RECIPE.feature_names == ("mid_return", "spread", "trade_count", "volume", "vwap")


# --------------------------------------------------------------------------- kernel vs reference
@st.composite
def tick_streams(draw):
    n = draw(st.integers(1, 60))
    depth = draw(st.sampled_from([1, 2, 6]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dt = rng.integers(-20, 120, n)
    dt[rng.random(n) < 0.3] = 0
    ts = 1_000 + np.cumsum(dt)  # sometimes goes back in time: the kernel clamps to the running max
    bid0 = 100 + np.cumsum(rng.integers(-2, 3, n))
    spread = rng.integers(1, 4, n)
    lv = np.arange(depth)
    bid = (bid0[:, None] - lv) / 10.0
    ask = (bid0[:, None] + spread[:, None] + lv) / 10.0
    bsz = rng.integers(0, 5, (n, depth)).astype(float)
    asz = rng.integers(0, 5, (n, depth)).astype(float)
    bid[rng.random((n, depth)) < 0.1] = np.nan
    ask[rng.random((n, depth)) < 0.1] = np.nan
    et = rng.choice([EVENT_QUOTE, EVENT_TRADE, EVENT_STATUS], n, p=[0.6, 0.3, 0.1]).astype(np.int8)
    bid[et == EVENT_STATUS] = np.nan
    ask[et == EVENT_STATUS] = np.nan
    tpx = np.where(et == EVENT_TRADE, 10.0 + rng.integers(0, 5, n) / 10.0, np.nan)
    tsz = np.where(et == EVENT_TRADE, rng.integers(0, 4, n).astype(float), 0.0)
    side = np.where(et == EVENT_TRADE, rng.choice([-1, 1], n), 0)
    return arrays(ts, bid, bsz, ask, asz, et, tpx, tsz, side)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=tick_streams(), geometry=st.sampled_from([(100, 50), (100, 100), (120, 40), (250, 125)]),
       cuts=st.lists(st.integers(0, 60), max_size=4))
def test_kernel_equals_reference_and_chunking_is_invisible(a, geometry, cuts):
    width, step = geometry
    rec = recipe(width, step)
    whole = build_windows([a], rec)
    ref = reference_windows(a, width, step, burst_factor=rec.burst_factor, alpha=rec.ewma_alpha)
    assert whole.window_start_us.tolist() == ref["start"].tolist()
    assert whole.tick_count.tolist() == ref["n"].tolist()
    assert whole.first_seq.tolist() == ref["first_seq"].tolist()
    assert whole.last_seq.tolist() == ref["last_seq"].tolist()
    for i, name in enumerate(whole.feature_names):
        np.testing.assert_allclose(whole.features[:, i], ref[name], rtol=1e-9, atol=1e-9, err_msg=name)
    bounds = sorted({0, len(a), *[c for c in cuts if c <= len(a)]})
    parts = [slice_arrays(a, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    assert same(build_windows(parts, rec), whole)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=tick_streams(), geometry=st.sampled_from([(100, 50), (250, 125)]), cut=st.integers(1, 60),
       seed=st.integers(0, 2**32 - 1))
def test_no_feature_of_a_window_reads_a_tick_after_its_end(a, geometry, cut, seed):
    """Changing every tick from ``cut`` on (sizes, prices, times pushed later) leaves every window that
    ends at or before the running max time of the ticks before ``cut`` unchanged: no look-ahead, for the
    fs-2 window-end features (end imbalance, microprice, mid age, decayed OFI) as for the rest."""
    rec = recipe(*geometry)
    cut = min(cut, len(a))
    rng = np.random.default_rng(seed)
    tail = slice(cut, len(a))
    b = TickArrays(**{k: getattr(a, k).copy() for k in a.__dataclass_fields__})
    m = len(a) - cut
    b.bid_sz[tail] = rng.integers(1, 9, b.bid_sz[tail].shape)
    b.ask_sz[tail] = rng.integers(1, 9, b.ask_sz[tail].shape)
    b.bid_px[tail] = b.bid_px[tail] - rng.integers(0, 3, (m, 1)) / 10.0
    b.ts[tail] = b.ts[tail] + rng.integers(0, 500, m)
    t_known = int(np.max(a.ts[:cut]))
    x, y = build_windows([a], rec), build_windows([b], rec)
    kx, ky = x.window_end_us <= t_known, y.window_end_us <= t_known
    assert x.window_start_us[kx].tolist() == y.window_start_us[ky].tolist()
    np.testing.assert_array_equal(x.features[kx], y.features[ky])


def test_coarse_recipe_equals_the_same_columns_of_full():
    batches = list(synthetic_ticks(SyntheticSpec(n_ticks=30_000, seed=5), "t", 7_000))
    full = build_windows(batches, FULL_RECIPE)
    coarse = build_windows(batches, COARSE_RECIPE)
    cols = [FULL_RECIPE.feature_names.index(n) for n in COARSE_RECIPE.feature_names]
    np.testing.assert_array_equal(coarse.features, full.features[:, cols])


def test_top_of_book_depth_one_uses_level_one_only():
    batches = list(synthetic_ticks(SyntheticSpec(n_ticks=5_000, seed=2, depth=4), "t", 5_000))
    a1 = tick_arrays(batches[0], depth=1)
    a4 = tick_arrays(batches[0])
    assert a1.bid_px.shape[1] == 1 and a4.bid_px.shape[1] == 4
    np.testing.assert_array_equal(a1.bid_px[:, 0], a4.bid_px[:, 0])
    r1 = build_windows([a1], FULL_RECIPE)
    r4 = build_windows([a4], FULL_RECIPE)
    i = FULL_RECIPE.feature_names.index("ofi_1")
    np.testing.assert_array_equal(r1.features[:, i], r4.features[:, i])
    assert np.all(r1.features[:, i + 1] == 0) and np.any(r4.features[:, i + 1] != 0)


# --------------------------------------------------------------------------- chunked = whole, real day
def test_lobster_day_windows_identical_for_any_chunking(lobster_message):
    whole = build_windows([pa.Table.from_batches(list(read_ticks(lobster_message, "t", 100_000)))])
    for chunk in (997, 20_000):
        assert same(build_windows(read_ticks(lobster_message, "t", chunk)), whole)
    assert whole.tick_count.sum() == 2 * 57_515
    ts0 = 1_340_285_400_017_459
    assert whole.window_start_us[0] == (ts0 // 125_000 - 1) * 125_000
    assert np.all(whole.features[:, FULL_RECIPE.feature_names.index("spread")][whole.tick_count > 0] >= 0.0099)


def test_streaming_builder_emits_only_final_windows():
    batches = list(synthetic_ticks(SyntheticSpec(n_ticks=10_000, seed=3), "t", 1_000))
    b = WindowBuilder(COARSE_RECIPE)
    seen_max_ts = -1
    for batch in batches:
        out = b.update(batch)
        seen_max_ts = max(seen_max_ts, int(batch.column("ts").to_numpy().max()))
        assert np.all(out.window_end_us <= seen_max_ts)  # final: a tick at/after the end was seen
    b.flush()
    with pytest.raises(RuntimeError):
        b.update(batches[0])


def test_to_feature_windows_provenance_and_ids():
    batches = list(synthetic_ticks(SyntheticSpec(n_ticks=3_000, seed=4), "t", 1_000))
    refs = [BatchRef(f"batch-{i}", int(b.column("seq")[0].as_py()), int(b.column("seq")[-1].as_py()))
            for i, b in enumerate(batches)]
    res = build_windows(batches, COARSE_RECIPE)
    fws = to_feature_windows(res, tenant_id="acme", symbol="SYN", batches=refs, venue="SYNTH")
    assert len(fws) == len(res) and all(isinstance(f, FeatureWindow) for f in fws)
    f0 = fws[0]
    assert (f0.kind, f0.key, f0.status, f0.available_at_us) == ("market", "SYN", "filled", f0.window_end_us)
    assert list(f0.features) == list(COARSE_RECIPE.feature_names)
    assert f0.recipe_version == COARSE_RECIPE.recipe_version
    spanning = [f for f in fws if len(f.provenance["batches"]) > 1]
    assert spanning, "some window must span a batch boundary"
    p = spanning[0].provenance
    assert p["batches"][0]["seq_min"] == p["seq_first"] and p["batches"][-1]["seq_max"] == p["seq_last"]
    assert sum(b["seq_max"] - b["seq_min"] + 1 for b in p["batches"]) == p["tick_count"]
    again = to_feature_windows(build_windows(batches, COARSE_RECIPE), tenant_id="acme", symbol="SYN",
                               batches=refs, venue="SYNTH")
    assert [f.content_hash for f in fws] == [f.content_hash for f in again]
    assert len({f.id for f in fws}) == len(fws)
