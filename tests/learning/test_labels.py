"""Label realisation: against hand computations, gaps and pending labels, month boundaries, both backends."""

import numpy as np
import pandas as pd
import pytest

from thunderline.flow.learning_partition import realise_label_partition
from thunderline.labels.forward import forward_returns
from thunderline.labels.realise import LabelSpec, realise_labels, specs_of

from .learning_data import STEP, TENANT, WIDTH, series, store_windows

T0 = 1_706_745_600_000_000 - 1_000_000  # 2024-01-31 23:59:59 UTC: windows 8.. are in February
R = [0.0, 1e-4, 3e-4, -2e-4, 5e-4, 0.0, -1e-4, 4e-4, -3e-4, 1e-4, 2e-4, 0.0]
SPREAD = [2.0, 2.5, 3.0, 1.0, 4.0, 2.0, 1.5, 2.0, 2.0, 3.5, 1.0, 2.0]


def _frame(windows):
    return pd.DataFrame({
        "symbol": [w.key for w in windows],
        "window_start_us": [w.window_start_us for w in windows],
        "window_end_us": [w.window_end_us for w in windows],
        "available_at_us": [w.available_at_us for w in windows],
        "mid_return": [w.features["mid_return"] for w in windows],
        "spread_bps": [w.features["spread_bps"] for w in windows],
    })


def test_forward_return_is_the_sum_over_the_next_non_overlapping_windows_by_hand():
    df = _frame(series("A", T0, R, SPREAD))
    out = realise_labels(df, [LabelSpec(1), LabelSpec(2, "delta")]).set_index(["row", "spec_id"])
    h1 = out.xs("class_h1_db2bps", level="spec_id")
    h2 = out.xs("delta_h2", level="spec_id")
    # window 0 = [0, 250 ms): its next non-overlapping window starts at 250 ms = window 2 (every 2nd window)
    assert h1.loc[0, "fwd_return"] == 3e-4 and h1.loc[0, "label"] == "buy"  # 3 bps > 2 bps band
    assert h1.loc[1, "fwd_return"] == -2e-4 and h1.loc[1, "label"] == "hold"  # |−2 bps| is inside the band
    assert h1.loc[2, "fwd_return"] == 5e-4 and h1.loc[6, "label"] == "sell"  # r[8] = −3 bps
    assert h2.loc[0, "fwd_return"] == pytest.approx(3e-4 + 5e-4, abs=0) and h2.loc[0, "label"] is None
    assert h2.loc[3, "fwd_return"] == pytest.approx(0.0 + 4e-4, abs=0)
    # knowable at the end of the last window read: window 2 ends at 500 ms, window 4 at 750 ms
    assert h1.loc[0, "realised_at_us"] == T0 + 500_000 and h1.loc[0, "latency_us"] == 250_000
    assert h2.loc[0, "realised_at_us"] == T0 + 750_000 and h2.loc[0, "latency_us"] == 500_000
    # the spread crossed: entry in window 2, exit in window 2 (h1) or window 4 (h2)
    assert (h1.loc[0, "entry_spread_bps"], h1.loc[0, "exit_spread_bps"]) == (3.0, 3.0)
    assert (h2.loc[0, "entry_spread_bps"], h2.loc[0, "exit_spread_bps"]) == (3.0, 4.0)
    # the last windows have no future yet: pending, not guessed
    assert h1.loc[10, "status"] == "pending" and np.isnan(h1.loc[10, "fwd_return"]) and h1.loc[10, "label"] is None
    assert h1.loc[9, "status"] == "filled" and h1.loc[9, "fwd_return"] == 0.0  # r[11]
    # identical to the shared definition the experts are trained with
    ref = forward_returns(df, (1, 2), end_col="window_end_us")
    np.testing.assert_array_equal(h1["fwd_return"].sort_index().to_numpy(), ref["fwd_return_h1"].to_numpy())
    np.testing.assert_array_equal(h2["fwd_return"].sort_index().to_numpy(), ref["fwd_return_h2"].to_numpy())


def test_a_missing_window_is_a_gap_once_the_data_moved_past_it():
    df = _frame(series("A", T0, R, SPREAD, skip={6}))  # no ticks in [750, 1000) ms
    out = realise_labels(df, [LabelSpec(1)]).set_index("row")
    start = dict(zip(df.index, df["window_start_us"]))
    by_start = {start[i]: out.loc[i] for i in out.index}
    w4 = by_start[T0 + 4 * STEP]  # needs the window starting at 750 ms: missing
    assert w4["status"] == "gap" and np.isnan(w4["fwd_return"])
    assert by_start[T0 + 5 * STEP]["status"] == "filled"  # 875 ms → window 7 exists


def test_the_label_never_reads_the_window_itself_or_anything_overlapping_it():
    df = _frame(series("A", T0, R, SPREAD))
    base = realise_labels(df, [LabelSpec(1)]).set_index("row")["fwd_return"]
    for k in range(len(df)):
        bumped = df.copy()
        bumped.loc[k, "mid_return"] += 1.0
        changed = realise_labels(bumped, [LabelSpec(1)]).set_index("row")["fwd_return"] != base
        changed &= ~(np.isnan(base))
        # only the window whose chain starts exactly at k's start (k − 2) changes; never k, k − 1 or k + 1
        assert set(np.flatnonzero(changed.sort_index().to_numpy())) <= {k - 2}


def test_window_label_specs_and_bad_specs():
    assert specs_of(None) == (LabelSpec(1), LabelSpec(4), LabelSpec(10))
    assert specs_of({"horizon": 3, "type": "delta"}) == (LabelSpec(3, "delta"),)
    assert specs_of({"specs": [{"horizon": 2, "dead_band": 0.0005}]}) == (LabelSpec(2, "class", 5.0),)
    with pytest.raises(ValueError, match="horizon"):
        LabelSpec(0)
    with pytest.raises(ValueError, match="unknown keys"):
        LabelSpec.from_json({"horizon": 1, "band": 3})


def test_labels_are_realised_asynchronously_in_the_warehouse(warehouse):
    store_windows(warehouse, series("A", T0, R, SPREAD)[:8])  # January's 8 windows; February's not yet
    specs = [LabelSpec(1), LabelSpec(2)]
    with warehouse.session(TENANT) as s:
        first = realise_label_partition(s, "2024-01", "A", specs)
    assert first.windows == 8 and first.status == {"filled": 10, "pending": 6}  # h1: windows 6, 7; h2: 4-7
    # February's windows land; January's last labels can now be filled (and only those rows change)
    store_windows(warehouse, series("A", T0, R, SPREAD)[8:])
    with warehouse.session(TENANT) as s:
        lab = s.table("labels")
        before = {r["id"]: r for r in s.select("labels", lab.c.status == "filled")}
        second = realise_label_partition(s, "2024-01", "A", specs)
        rows = s.select("labels", lab.c.month == "2024-01")
    assert second.already_final == len(before) and second.newly_filled == first.status["pending"]
    assert len(rows) == 8 * 2 and {r["status"] for r in rows} == {"filled"} and second.windows == 8
    by = {(r["window_start"], r["spec_id"]): r for r in rows}
    w7 = by[(T0 + 7 * STEP, "class_h1_db2bps")]  # its chain (window 9) is in February
    assert w7["fwd_return"] == pytest.approx(R[9], abs=0) and w7["realised_at"] == T0 + 9 * STEP + WIDTH
    assert w7["label_type"] == "class" and w7["filled"] is True and w7["latency_us"] == 2 * STEP
    with warehouse.session(TENANT) as s:
        third = realise_label_partition(s, "2024-01", "A", specs)
        assert third.rows_written == 0 and s.count("labels") == 16
    assert second.latency_ms_p50 is not None


def test_labels_become_gaps_when_the_next_data_is_much_later(warehouse):
    march = 1_709_287_200_000_000  # 2024-03-01 10:00 UTC: a month later, not contiguous
    store_windows(warehouse, series("B", T0, R[:8], SPREAD[:8]) + series("B", march, [1e-4], [2.0]))
    with warehouse.session(TENANT) as s:
        got = realise_label_partition(s, "2024-01", "B", [LabelSpec(1)])
    # windows 0-5 chain inside January; 6 and 7 needed February windows that will never exist
    assert got.status == {"filled": 6, "gap": 2}
