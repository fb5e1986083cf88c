"""Clock labels: mid as of T and as of T + h from the last quote, never a quote after T + h."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.labels.clock import (
    STATUS_FILLED,
    STATUS_GAP,
    STATUS_PENDING,
    QuoteMids,
    clock_labels,
    gap_rates,
    merge_mids,
    quote_mids,
)
from thunderline.market.readers import read_ticks

quotes = st.lists(st.tuples(st.integers(0, 5_000_000), st.integers(1, 50)), min_size=1, max_size=60)


def _mids(rows):
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    px = np.array([100.0 + r[1] * 0.01 for r in rows])
    return ts, px


@settings(max_examples=300, deadline=None)
@given(quotes, st.lists(st.integers(0, 5_000_000), min_size=1, max_size=20),
       st.sampled_from([250, 1000, 5000]), quotes)
def test_a_label_never_reads_a_quote_after_its_horizon(rows, at, h, later):
    """Changing or adding quotes strictly after T + h leaves every label of T unchanged, and
    changing quotes after T leaves the entry mid unchanged; the label equals a brute-force as-of."""
    ts, px = _mids(rows)
    at = np.array(at, dtype=np.int64)
    known = int(ts.max()) + 10_000_000
    base = clock_labels(quote_mids(ts, px, px), at, (h,), known_until_us=known)
    for k, t in enumerate(at.tolist()):
        end = t + h * 1000
        keep = ts <= end
        # the future after T + h rewritten arbitrarily
        fut_ts = np.array([end + 1 + r[0] for r in later], dtype=np.int64)
        fut_px = np.array([50.0 + r[1] for r in later])
        alt_ts, alt_px = np.r_[ts[keep], fut_ts], np.r_[px[keep], fut_px]
        alt = clock_labels(quote_mids(alt_ts, alt_px, alt_px), np.array([t]), (h,), known_until_us=known)
        a, b = base.iloc[k], alt.iloc[0]
        assert a["status"] == b["status"]
        assert (np.isnan(a["fwd_return"]) and np.isnan(b["fwd_return"])) or a["fwd_return"] == b["fwd_return"]
        # brute force: last quote (last row at equal times) at or before T and T + h
        def asof(x):
            idx = [i for i in range(ts.size) if ts[i] <= x]
            if not idx:
                return None
            tmax = max(ts[i] for i in idx)
            return px[[i for i in idx if ts[i] == tmax][-1]]
        e, x = asof(t), asof(end)
        if e is None:
            assert a["status"] == STATUS_GAP
        else:
            assert a["status"] == STATUS_FILLED
            assert a["fwd_return"] == pytest.approx(np.log(x / e), abs=1e-15)
            assert a["moved"] == (x != e)


def test_status_pending_gap_and_rates():
    m = QuoteMids(np.array([1_000_000, 2_000_000], np.int64), np.array([10.0, 10.5]))
    lab = clock_labels(m, np.array([500_000, 1_000_000, 1_900_000]), (250,))
    assert lab["status"].tolist() == [STATUS_GAP, STATUS_FILLED, STATUS_PENDING]
    assert lab["label"].tolist() == [None, "hold", None]
    lab2 = clock_labels(m, np.array([1_900_000]), (250,), known_until_us=3_000_000)
    assert lab2["label"].tolist() == ["buy"] and bool(lab2["moved"].iloc[0])
    assert gap_rates(lab) == {"250ms": pytest.approx(2 / 3)}


def test_quote_mids_drop_one_sided_rows_and_keep_last_per_time():
    m = quote_mids(np.array([5, 5, 7, 9, 9]), np.array([1.0, 2.0, np.nan, 3.0, 3.0]),
                   np.array([1.2, 2.2, 3.0, 3.2, 3.2]))
    assert m.ts.tolist() == [5, 9] and m.mid.tolist() == [2.1, 3.1]
    assert merge_mids([m, QuoteMids(np.array([9, 12]), np.array([4.0, 4.0]))]).mid.tolist() == [2.1, 4.0]


def test_real_lobster_day_has_few_clock_gaps_unlike_chained_windows(lobster_day):
    """On the real AMZN day almost every window has a clock label (the chained one does not)."""
    ts, bid, ask = lobster_day
    m = quote_mids(ts, bid, ask)
    at = np.arange(ts[0] + 250_000, ts[-1] - 5_000_000, 125_000)
    rates = gap_rates(clock_labels(m, at))
    assert max(rates.values()) < 0.01



@pytest.fixture(scope="module")
def lobster_day(datasets):
    p = datasets / "market" / "lobster" / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    if not p.is_file():
        pytest.skip(f"LOBSTER AMZN sample not found at {p}")
    import pyarrow as pa

    t = pa.Table.from_batches(list(read_ticks(p, "t", 100_000)))
    return (t.column("ts").to_numpy(), t.column("bid_px").to_numpy(zero_copy_only=False),
            t.column("ask_px").to_numpy(zero_copy_only=False))
