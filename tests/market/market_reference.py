"""Straightforward reference implementations of the window features, written from the
definitions (one window at a time, plain numpy loops) to check the numba kernel against."""

from __future__ import annotations

import math

import numpy as np


def reference_windows(a, width: int, step: int, ofi_levels: int = 5, burst_factor: float = 4.0,
                      alpha: float = 0.1) -> dict[str, np.ndarray]:
    """``a`` is a TickArrays-like object. Returns window starts and every feature by name."""
    n = len(a.ts)
    r = width // step
    t = np.maximum.accumulate(a.ts.astype(np.int64))
    D = a.bid_px.shape[1]
    L = min(D, ofi_levels)
    bpx0, apx0 = a.bid_px[:, 0], a.ask_px[:, 0]
    has_book = ~np.isnan(bpx0) | ~np.isnan(apx0)
    has_mid = ~np.isnan(bpx0) & ~np.isnan(apx0)
    mid = np.where(has_mid, (bpx0 + apx0) / 2, np.nan)
    spread = np.where(has_mid, apx0 - bpx0, np.nan)

    def side(px, sz, empty):
        p = np.where(np.isnan(px), empty, px)
        q = np.where(np.isnan(px) | np.isnan(sz), 0.0, sz)
        return p, q

    bp, bq = side(a.bid_px, a.bid_sz, -np.inf)
    ap, aq = side(a.ask_px, a.ask_sz, np.inf)
    e = np.zeros((n, 5))
    prev = None
    for i in range(n):
        if not has_book[i]:
            continue
        if prev is not None:
            for lv in range(L):
                pb, qb, pa, qa = bp[i, lv], bq[i, lv], ap[i, lv], aq[i, lv]
                lpb, lqb, lpa, lqa = bp[prev, lv], bq[prev, lv], ap[prev, lv], aq[prev, lv]
                fb = qb if pb > lpb else (qb - lqb if pb == lpb else -lqb)
                fa = qa if pa < lpa else (qa - lqa if pa == lpa else -lqa)
                e[i, lv] = fb - fa
        prev = i
    bsz1 = np.nan_to_num(a.bid_sz[:, 0])
    asz1 = np.nan_to_num(a.ask_sz[:, 0])
    den1 = bsz1 + asz1
    imb1 = np.where(den1 > 0, (bsz1 - asz1) / np.where(den1 > 0, den1, 1), 0.0)
    sb = np.nansum(a.bid_sz, axis=1)
    sa = np.nansum(a.ask_sz, axis=1)
    imbn = np.where(sb + sa > 0, (sb - sa) / np.where(sb + sa > 0, sb + sa, 1), 0.0)
    is_trade = (a.event_type == 1) & ~np.isnan(a.trade_px) & (a.trade_sz > 0)
    mids_idx = np.flatnonzero(has_mid)

    ks = sorted({k for ti in t for k in range(ti // step - r + 1, ti // step + 1)})
    out: dict[str, list] = {k: [] for k in ("start", "first_seq", "last_seq", "n", "mid_return", "spread",
                                             "spread_bps", "spread_twa", "imbalance_top1", "imbalance_topn",
                                             "ofi_1", "ofi_2", "ofi_3", "ofi_4", "ofi_5", "order_flow_imbalance",
                                             "realized_vol", "trade_count", "volume", "vwap", "signed_volume",
                                             "tick_rate", "microburst", "imbalance_top1_end",
                                             "microprice_dev_bps", "mid_age_log_ms", "ofi_1_ewm_1s",
                                             "ofi_1_ewm_5s")}
    prev_mid = np.concatenate(([np.nan], mid[mids_idx][:-1]))
    changes = mids_idx[(prev_mid != mid[mids_idx]) | (np.arange(mids_idx.size) == 0)]
    ewma = None
    for k in ks:
        w0, w1 = k * step, k * step + width
        sel = np.flatnonzero((t >= w0) & (t < w1))
        if sel.size == 0:
            continue
        out["start"].append(w0)
        out["first_seq"].append(int(a.seq[sel[0]]))
        out["last_seq"].append(int(a.seq[sel[-1]]))
        out["n"].append(sel.size)
        m = sel[has_mid[sel]]
        out["mid_return"].append(math.log(mid[m[-1]] / mid[m[0]]) if m.size else np.nan)
        out["spread"].append(spread[m].mean() if m.size else np.nan)
        out["spread_bps"].append((spread[m] / mid[m] * 1e4).mean() if m.size else np.nan)
        out["imbalance_top1"].append(imb1[m].mean() if m.size else np.nan)
        out["imbalance_topn"].append(imbn[m].mean() if m.size else np.nan)
        for lv in range(5):
            out[f"ofi_{lv + 1}"].append(e[sel, lv].sum())
        out["order_flow_imbalance"].append(e[sel].sum())
        rv = 0.0
        for j in range(1, len(mids_idx)):
            i, p = mids_idx[j], mids_idx[j - 1]
            if w0 <= t[p] and t[i] < w1:
                rv += math.log(mid[i] / mid[p]) ** 2
        out["realized_vol"].append(math.sqrt(rv))
        tr = sel[is_trade[sel]]
        out["trade_count"].append(tr.size)
        vol = a.trade_sz[tr].sum()
        out["volume"].append(vol)
        out["vwap"].append((a.trade_px[tr] * a.trade_sz[tr]).sum() / vol if vol > 0 else np.nan)
        out["signed_volume"].append((a.trade_side[tr] * a.trade_sz[tr]).sum())
        # time-weighted spread: the spread of the last book-with-mid row in force, segment by segment
        integ = cov = 0.0
        for j, i in enumerate(mids_idx):
            seg0 = t[i]
            seg1 = t[mids_idx[j + 1]] if j + 1 < len(mids_idx) else np.iinfo(np.int64).max
            lo, hi = max(seg0, w0), min(seg1, w1)
            if hi > lo:
                integ += spread[i] * (hi - lo)
                cov += hi - lo
        out["spread_twa"].append(integ / cov if cov > 0 else np.nan)
        _end_state(out, m, w1, t, mid, bpx0, apx0, bsz1, asz1, changes, e[:, 0], step)
        rate = sel.size / (width / 1e6)
        out["tick_rate"].append(rate)
        if ewma is None:
            out["microburst"].append(0.0)
            ewma = rate
        else:
            out["microburst"].append(1.0 if rate > burst_factor * ewma else 0.0)
            ewma = alpha * rate + (1 - alpha) * ewma
    return {k: np.asarray(v, dtype=np.float64 if k not in ("start", "first_seq", "last_seq", "n") else np.int64)
            for k, v in out.items()}


def _end_state(out, m, w1, t, mid, bid, ask, bsz1, asz1, changes, e1, step):
    """The window-end features from their definitions: the last book-with-mid row of the window, the last
    mid change before the window end, top-of-book OFI of every earlier tick decayed from its bucket's end."""
    if m.size:
        i = m[-1]
        den = bsz1[i] + asz1[i]
        imb = (bsz1[i] - asz1[i]) / den if den > 0 else 0.0
        micro = (ask[i] * bsz1[i] + bid[i] * asz1[i]) / den if den > 0 else mid[i]
        out["imbalance_top1_end"].append(imb)
        out["microprice_dev_bps"].append((micro - mid[i]) / mid[i] * 1e4)
    else:
        out["imbalance_top1_end"].append(np.nan)
        out["microprice_dev_bps"].append(np.nan)
    before = changes[t[changes] < w1]
    out["mid_age_log_ms"].append(math.log1p((w1 - t[before[-1]]) / 1000.0) if before.size else np.nan)
    past = np.flatnonzero(t < w1)
    age = w1 - (t[past] // step + 1) * step
    for name, tau in (("ofi_1_ewm_1s", 1e6), ("ofi_1_ewm_5s", 5e6)):
        out[name].append(float(np.sum(e1[past] * np.exp(-age / tau))))
