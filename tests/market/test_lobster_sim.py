"""Synthetic LOBSTER days (large-tick queue-reactive, small-tick): real files the real reader takes, and the
microstructure each promises (spread, queue sizes, who predicts the next mid move)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import spearmanr

from thunderline.labels.clock import clock_returns, quote_mids
from thunderline.market.features import build_windows
from thunderline.market.lobster_sim import SimDay, simulate, write_sim_day
from thunderline.market.readers import read_ticks

SHORT = dict(start_s=34_200, end_s=36_000)  # 09:30-10:00


def _read(tmp_path, day: SimDay) -> pa.Table:
    path = write_sim_day(day, tmp_path)
    assert path.name == f"{day.symbol}_2012-06-21_34200000_36000000_message_1.csv"
    return pa.Table.from_batches(list(read_ticks(path, "t", 100_000)))


@pytest.mark.parametrize("kind", ["queue_reactive", "small_tick"])
def test_a_day_is_a_lobster_pair_the_reader_takes_whole_and_is_deterministic(tmp_path, kind):
    day = SimDay(kind=kind, symbol="SIMX", seed=3, **SHORT)
    t = _read(tmp_path / "a", day)
    ev = simulate(day)
    assert t.num_rows == len(ev) > 5_000  # every message is a tick, none rejected
    bid, ask = t.column("bid_px").to_numpy(), t.column("ask_px").to_numpy()
    assert np.all(ask > bid) and np.all(t.column("bid_sz").to_numpy() > 0)
    ts = t.column("ts").to_numpy()
    assert np.all(np.diff(ts) >= 0)
    open_us = 1_340_285_400_000_000  # 2012-06-21 09:30 New York
    assert open_us <= ts[0] and ts[-1] < open_us + 1_800_000_000
    write_sim_day(day, tmp_path / "b")
    for kind_ in ("message", "orderbook"):
        name = f"SIMX_2012-06-21_34200000_36000000_{kind_}_1.csv"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not np.array_equal(simulate(SimDay(kind=kind, seed=4, **SHORT))[:100], ev[:100])


def _next_move_hit(t: pa.Table) -> tuple[float, float]:
    """Sign of the touch imbalance vs the direction of the next mid change; and the share of one-tick spreads."""
    bid, ask = t.column("bid_px").to_numpy(), t.column("ask_px").to_numpy()
    bs, as_ = t.column("bid_sz").to_numpy(), t.column("ask_sz").to_numpy()
    mid = (bid + ask) / 2
    ch = np.flatnonzero(np.diff(mid) != 0)
    nxt = np.searchsorted(ch, np.arange(mid.size))
    ok = nxt < ch.size
    move = np.sign(mid[ch[nxt[ok]] + 1] - mid[ch[nxt[ok]]])
    imb = np.sign(bs - as_)[ok]
    return float(np.mean(imb[imb != 0] == move[imb != 0])), float(np.mean(np.isclose(ask - bid, 0.01)))


def test_large_tick_book_moves_rarely_and_queue_imbalance_predicts_the_next_move(tmp_path):
    day = SimDay(kind="queue_reactive", symbol="QRLT", seed=5, start_s=34_200, end_s=41_400)  # two hours:
    t = pa.Table.from_batches(list(read_ticks(write_sim_day(day, tmp_path), "t", 200_000)))  # ~300 moves
    hit, one_tick = _next_move_hit(t)
    assert one_tick > 0.98  # spread one tick nearly always
    assert np.median(t.column("bid_sz").to_numpy()) >= 2_000  # queues of thousands of shares
    mid = (t.column("bid_px").to_numpy() + t.column("ask_px").to_numpy()) / 2
    assert np.mean(np.diff(mid) != 0) < 0.02  # the mid moves on under 2 % of events
    assert 0.58 < hit < 0.8  # queue imbalance calls the next move, far from always


def test_small_tick_book_moves_often_and_its_window_features_predict_the_mid(tmp_path):
    t = _read(tmp_path, SimDay(kind="small_tick", symbol="SMTK", seed=5, **SHORT))
    _, one_tick = _next_move_hit(t)
    bid, ask = t.column("bid_px").to_numpy(), t.column("ask_px").to_numpy()
    assert one_tick < 0.05 and np.mean(ask - bid) > 0.05  # spreads of several ticks
    assert np.mean(np.diff((bid + ask) / 2) != 0) > 0.5
    res = build_windows([t])
    f = dict(zip(res.feature_names, res.features.T))
    mids = quote_mids(t.column("ts").to_numpy(), bid, ask, t.column("seq").to_numpy())
    r = clock_returns(mids, res.window_end_us, 1000)
    k = np.isfinite(r) & np.isfinite(f["microprice_dev_bps"])
    ic = spearmanr(f["microprice_dev_bps"][k], r[k]).statistic
    assert 0.05 < ic < 0.6  # the book leans the way the mid goes, with plenty of noise
