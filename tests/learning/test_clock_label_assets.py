"""Clock labels on the learning loop's path (labels table → PnL → gate retraining): realised from the lake's
quotes, never reading a quote after the horizon, the chained definition still an option, gap rate per spec;
on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.config import ConfigError, load_settings
from thunderline.labels.clock import quote_mids
from thunderline.labels.clock_realise import clock_label_specs, label_specs_for, realise_clock_labels
from thunderline.labels.realise import DEFAULT_LABEL_SPECS, LabelSpec
from thunderline.store.label_rows import load_labels
from thunderline.store.lake import Lake

from .learning_data import TENANT, series, store_windows

T0 = 1_707_125_400_000_000  # 2024-02-05 09:30 UTC


def test_clock_specs_ids_json_and_settings():
    specs = clock_label_specs((1000, 250, 5000))
    assert [s.id for s in specs] == ["class_h1_c250ms_db0bps", "class_h4_c1000ms_db0bps", "class_h10_c5000ms_db0bps"]
    assert all(LabelSpec.from_json(s.to_json()) == s for s in specs)
    assert LabelSpec(1).id == "class_h1_db2bps" and LabelSpec(1).definition == "chained"
    assert label_specs_for(load_settings({}, create_dirs=False)) == specs  # the default: clock, 250 ms / 1 s / 5 s
    chained = load_settings({"THUNDERLINE_LABELS": "chained"}, create_dirs=False)
    assert label_specs_for(chained) == DEFAULT_LABEL_SPECS
    two = load_settings({"THUNDERLINE_LABEL_HORIZONS_MS": "500,250"}, create_dirs=False)
    assert [s.clock_ms for s in label_specs_for(two)] == [250, 500] and label_specs_for(two)[1].horizon == 2
    with pytest.raises(ConfigError, match="THUNDERLINE_LABELS"):
        load_settings({"THUNDERLINE_LABELS": "next"}, create_dirs=False)
    with pytest.raises(ConfigError, match="THUNDERLINE_LABEL_HORIZONS_MS"):
        load_settings({"THUNDERLINE_LABEL_HORIZONS_MS": "300"}, create_dirs=False)
    with pytest.raises(ValueError, match="no expert horizon"):
        clock_label_specs((2500,))  # 10 windows already means 5 s


quotes = st.lists(st.tuples(st.integers(0, 4_000_000), st.integers(1, 40)), min_size=1, max_size=50)


@settings(max_examples=150, deadline=None)
@given(quotes, quotes, st.lists(st.integers(0, 30), min_size=1, max_size=12, unique=True),
       st.sampled_from([250, 1000, 5000]))
def test_asset_path_never_reads_a_quote_or_a_window_after_the_horizon(rows, later, starts, h):
    """realise_clock_labels (what the labels asset writes): rewriting every quote after T + h and every window
    ending after T + h leaves each label of T — status, return, class, exit spread — unchanged."""
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    px = np.array([100.0 + r[1] * 0.01 for r in rows])
    win = pd.DataFrame({"symbol": "S", "window_start_us": np.array(sorted(starts)) * 125_000})
    win["window_end_us"] = win["window_start_us"] + 250_000
    win["available_at_us"] = win["window_end_us"]
    win["spread_bps"] = np.arange(len(win), dtype=float) + 1.0
    spec = clock_label_specs((h,))
    known = int(ts.max()) + 10_000_000
    base = realise_clock_labels(win, spec, quote_mids(ts, px, px), known_until_us=known)
    for k in range(len(win)):
        end = int(win["window_end_us"].iloc[k]) + h * 1000
        keep = ts <= end
        fut_ts = np.array([end + 1 + r[0] for r in later], dtype=np.int64)
        fut_px = np.array([50.0 + r[1] for r in later])
        alt_mids = quote_mids(np.r_[ts[keep], fut_ts], np.r_[px[keep], fut_px], np.r_[px[keep], fut_px])
        alt_win = win.copy()
        later_rows = alt_win["window_end_us"] > end
        alt_win.loc[later_rows, "spread_bps"] = 999.0  # the future's windows rewritten too
        alt = realise_clock_labels(alt_win, spec, alt_mids, known_until_us=known)
        a, b = base.iloc[k], alt.iloc[k]
        assert a["status"] == b["status"] and a["label"] == b["label"]
        assert (np.isnan(a["fwd_return"]) and np.isnan(b["fwd_return"])) or a["fwd_return"] == b["fwd_return"]
        assert (np.isnan(a["exit_spread_bps"]) and np.isnan(b["exit_spread_bps"])) or \
            a["exit_spread_bps"] == b["exit_spread_bps"]
        if a["status"] == "filled":
            assert a["realised_at_us"] == end and a["latency_us"] == end - int(win["available_at_us"].iloc[k])


def _write_quotes(lake: Lake, symbol: str, ts: np.ndarray, mid: np.ndarray) -> None:
    half = 0.005
    table = pa.table({"ts": ts.astype(np.int64), "seq": np.arange(ts.size, dtype=np.int64),
                      "bid_px": mid - half, "ask_px": mid + half})
    lake.write_batch(TENANT, "2024-02", symbol, "q0", table)


def test_labels_pnl_and_gate_evidence_read_clock_labels(warehouse, tmp_path):
    from thunderline.flow.learning_partition import realise_label_partition

    # sparse windows (every fourth has ticks): the chained definition leaves most labels a gap
    n = 400
    wins = series("CLK", T0, [0.0] * n, skip=set(range(n)) - set(range(0, n, 4)))
    store_windows(warehouse, wins)
    rng = np.random.default_rng(0)
    ts = T0 + np.sort(rng.choice(n * 125_000 + 6_000_000, 600, replace=False))
    mid = 100 + np.cumsum(rng.choice([-0.01, 0.0, 0.01], ts.size))
    lake = Lake(tmp_path / "lake")
    _write_quotes(lake, "CLK", ts, mid)
    specs = clock_label_specs((250, 1000, 5000))
    with warehouse.session(TENANT) as s:
        with pytest.raises(ValueError, match="need the lake's quotes"):
            realise_label_partition(s, "2024-02", "CLK", specs)
        clock = realise_label_partition(s, "2024-02", "CLK", specs, lake=lake)
        chained = realise_label_partition(s, "2024-02", "CLK", DEFAULT_LABEL_SPECS)
    assert set(clock.by_spec) == {sp.id for sp in specs}
    assert all(rate == 0.0 for rate in clock.gap_rate_by_spec.values())  # every window has a quote before it
    assert chained.gap_rate_by_spec["class_h1_db2bps"] > 0.9  # the next window is missing
    # the label equals log(mid(T + h) / mid(T)) as of the last quote
    w = wins[10]
    with warehouse.session(TENANT) as s:
        got = load_labels(s, [w.id], 4)[w.id]  # the expert horizon 4 ↔ 1 s; the clock spec wins over chained
    t = w.window_end_us
    asof = lambda x: mid[np.searchsorted(ts, x, side="right") - 1]  # noqa: E731
    assert got["spec_id"] == "class_h4_c1000ms_db0bps"
    assert got["fwd_return"] == pytest.approx(np.log(asof(t + 1_000_000) / asof(t)))
    # re-running: filled labels are final, only the last windows' pending ones (horizon past the data) are looked at
    with warehouse.session(TENANT) as s:
        again = realise_label_partition(s, "2024-02", "CLK", specs, lake=lake)
    pending = sum(v.get("pending", 0) for v in again.by_spec.values())
    assert pending > 0 and again.newly_filled == 0 and again.rows_written == pending
    assert again.already_final == sum(sum(v.values()) for v in again.by_spec.values()) - pending
