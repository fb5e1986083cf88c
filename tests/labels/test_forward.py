"""Forward-return labels: against a per-row reference, no look-ahead into the window itself, order and gaps."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.labels import (
    balanced_dead_band,
    balanced_forward_labels,
    forward_labels,
    forward_returns,
    label_column,
    return_column,
)

T0 = 1_704_205_800_000_000


def frame(returns_by_symbol, step=250_000, width=250_000, starts=None):
    rows = []
    for sym, rets in returns_by_symbol.items():
        for i, r in enumerate(rets):
            s = T0 + (starts[sym][i] if starts else i * step)
            rows.append({"symbol": sym, "window_start_us": s, "window_end_us": s + width, "mid_return": r})
    return pd.DataFrame(rows)


def reference_by_rows(df, h):
    """Plain loop: sum of the next h rows' returns of the same symbol (NaN if any is missing)."""
    out = np.full(len(df), np.nan)
    for sym, g in df.groupby("symbol", sort=False):
        idx = list(g.index)
        r = g["mid_return"].to_list()
        for k, i in enumerate(idx):
            nxt = r[k + 1 : k + 1 + h]
            if len(nxt) == h and not any(math.isnan(x) for x in nxt):
                acc = 0.0
                for x in nxt:
                    acc += x
                out[df.index.get_loc(i)] = acc
    return out


def reference_by_time(df, h):
    """Plain loop: chain windows whose start equals the previous window's end."""
    by_start = {(r.symbol, r.window_start_us): r for r in df.itertuples()}
    out = np.full(len(df), np.nan)
    for pos, r in enumerate(df.itertuples()):
        acc, cur, ok = 0.0, r, True
        for _ in range(h):
            cur = by_start.get((cur.symbol, cur.window_end_us))
            if cur is None or math.isnan(cur.mid_return):
                ok = False
                break
            acc += cur.mid_return
        if ok:
            out[pos] = acc
    return out


def test_forward_returns_match_a_per_row_reference_and_never_include_the_window_itself():
    rng = np.random.default_rng(0)
    df = frame({"A": rng.normal(0, 1e-3, 30), "B": rng.normal(0, 1e-3, 17)})
    df.loc[5, "mid_return"] = np.nan
    df = df.sample(frac=1.0, random_state=1).sort_values("window_start_us", kind="stable")  # interleave symbols
    got = forward_returns(df, (1, 3, 7))
    for h in (1, 3, 7):
        np.testing.assert_array_equal(got[return_column(h)].to_numpy(), reference_by_rows(df, h))
    # window t's own return never enters its label: changing it changes only earlier windows' labels
    bumped = df.copy()
    bumped.loc[10, "mid_return"] += 1.0
    diff = forward_returns(bumped, (1,))[return_column(1)] != got[return_column(1)]
    assert not diff.loc[10]
    assert got.index.equals(df.index)


def test_overlapping_windows_chain_by_time_without_overlap_or_double_counting():
    # 250 ms windows every 125 ms, with a gap (no ticks) in the middle
    starts = [i * 125_000 for i in range(12)] + [i * 125_000 for i in range(14, 30)]
    rng = np.random.default_rng(3)
    df = frame({"A": rng.normal(0, 1e-3, len(starts))}, width=250_000, starts={"A": starts})
    got = forward_returns(df, (1, 2), end_col="window_end_us")
    for h in (1, 2):
        np.testing.assert_array_equal(got[return_column(h)].to_numpy(), reference_by_time(df, h))
    # window 0 [0, 250ms) → next is the window starting at 250 ms (row 2), not the overlapping row 1
    assert got[return_column(1)].iloc[0] == df["mid_return"].iloc[2]
    # window 10 ends at 1.5 s, where no window starts (the gap): unknown
    assert np.isnan(got[return_column(1)].iloc[10])


def test_labels_use_the_dead_band_and_leave_unrealised_rows_unknown():
    df = frame({"A": [0.0, 0.002, -0.002, 0.0005, -0.0005, 0.001, 0.0]})
    lab = forward_labels(df, (1,), dead_band=0.001)
    labels = lab[label_column(1)]
    assert labels.iloc[:6].tolist() == ["buy", "sell", "hold", "hold", "hold", "hold"]
    assert labels.isna().tolist() == [False] * 6 + [True]
    # strictly outside the band: 0.001 itself is hold
    assert lab[return_column(1)].iloc[4] == 0.001
    per_row = forward_labels(df, (1,), dead_band=np.r_[np.full(6, 0.0001), np.nan])
    assert per_row[label_column(1)].iloc[:6].tolist() == ["buy", "sell", "buy", "sell", "buy", "hold"]
    assert per_row[label_column(1)].isna().iloc[6]


def test_simple_returns_compound():
    df = frame({"A": [0.0, 0.1, 0.1, 0.0]})
    got = forward_returns(df, (2,), kind="simple")[return_column(2)]
    assert got.iloc[0] == pytest.approx(1.1 * 1.1 - 1.0, rel=1e-15)
    assert np.isnan(got.iloc[2])


def test_errors_name_the_key_row_and_column():
    df = frame({"A": [0.0, 0.1, 0.2]})
    df.loc[2, "window_start_us"] = df.loc[1, "window_start_us"]
    with pytest.raises(ValueError, match=r"strictly increasing .*key 'A' row 2 has window_start_us=1704205800250000 after"):
        forward_returns(df, (1,))
    with pytest.raises(ValueError, match="key column 'symbol'"):
        forward_returns(df.drop(columns="symbol"), (1,))
    with pytest.raises(ValueError, match="return column 'mid'"):
        forward_returns(df, (1,), return_col="mid")
    with pytest.raises(ValueError, match="horizons"):
        forward_returns(df, (0,))
    with pytest.raises(ValueError, match="dead_band"):
        forward_labels(frame({"A": [0.0, 0.1]}), (1,), dead_band=-1.0)


def test_balanced_band_and_vol_scaled_labels():
    rng = np.random.default_rng(5)
    vol = np.repeat([1e-4, 1e-2], 600)  # a calm and a wild half
    df = frame({"A": rng.normal(0, 1, 1200) * vol})
    df["realized_vol"] = vol
    fixed = balanced_forward_labels(df, (1,))
    scaled = balanced_forward_labels(df, (1,), scale_col="realized_vol")
    assert scaled.attrs["dead_band"][1] > 0
    for part in (slice(0, 600), slice(600, 1199)):
        holds_fixed = (fixed[label_column(1)].iloc[part] == "hold").mean()
        holds_scaled = (scaled[label_column(1)].iloc[part] == "hold").mean()
        assert abs(holds_scaled - 1 / 3) < 0.1  # stable across regimes
        assert holds_fixed in (pytest.approx(0.66, abs=0.1), pytest.approx(0.0, abs=0.05))  # not stable
    band = balanced_dead_band(np.array([1.0, -2.0, 3.0, np.nan]), hold_fraction=0.5)
    assert band == 2.0


@settings(max_examples=40, deadline=None)
@given(
    rets=st.lists(st.floats(-0.01, 0.01, allow_nan=False), min_size=2, max_size=25),
    split=st.integers(0, 25),
    seed=st.integers(0, 1000),
)
def test_row_order_of_keys_does_not_matter(rets, split, seed):
    """Shuffling how two symbols interleave (keeping each one's time order) never changes a row's label."""
    a, b = rets[: split % len(rets)], rets[split % len(rets):]
    df = frame({"A": a, "B": b}) if a else frame({"B": b})
    base = forward_labels(df, (1, 2), dead_band=0.002)
    shuffled = df.sample(frac=1.0, random_state=seed).sort_values(["window_start_us"], kind="stable")
    again = forward_labels(shuffled, (1, 2), dead_band=0.002).loc[df.index]
    pd.testing.assert_frame_equal(base, again)
