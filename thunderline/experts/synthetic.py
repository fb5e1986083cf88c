"""Planted-signal feature windows: a known answer for checking that experts learn.

This is **not** a market simulator — :mod:`thunderline.market.synthetic` is, and
its price is a driftless random walk, so no expert can learn a *direction*
from it (only the volatility regime). Here each family's features carry a
known, independent piece of the next window's return, in units of the current
volatility, under the producers' feature names (:mod:`thunderline.experts.catalog`):

* order flow: ``+0.5 · z · 2/spread_bps`` where ``z`` is the latent order-flow
  state behind ``order_flow_imbalance``, ``ofi_1``, ``imbalance_top1``,
  ``imbalance_topn``, ``signed_volume`` and the window-end book features (``imbalance_top1_end``,
  ``microprice_dev_bps``, the decayed OFI; ``mid_age_log_ms`` is noise) (persistent: AR(1), φ = 0.6);
* momentum / mean reversion: ``±0.6 · tanh(mid_return / realized_vol)``,
  continuing when trading is busy (``tick_rate`` above its median) and
  reversing when it is quiet — an interaction a linear model cannot see;
* filing: after each filing, drift ``0.7 · s · exp(−age / filing_decay)``; the
  surprise ``s`` rises with revenue / net-income growth and with the similarity
  of the risk-factor and MD&A text to last year's, and falls when the
  risk-factor section grows (post-filing drift, "lazy prices").

Everything else is noise. Windows are adjacent and non-overlapping
(``window_end_us`` = next ``window_start_us``). Seeded: the same arguments give
the same frame. Used by tests, and by the demo to bootstrap an expert pool
before real feature windows exist.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from thunderline.experts.catalog import FILING_FEATURES, MOMENTUM_FEATURES, ORDER_FLOW_FEATURES

#: 2024-01-02T14:30:00Z in µs (09:30 New York).
DEFAULT_START_US = 1_704_205_800_000_000


def planted_feature_windows(
    n_symbols: int = 4,
    n_windows: int = 1500,
    seed: int = 0,
    *,
    window_us: int = 250_000,
    filing_every: int = 30,
    filing_decay: float = 12.0,
    start_us: int = DEFAULT_START_US,
) -> pd.DataFrame:
    """``n_symbols × n_windows`` rows: ``symbol``, ``window_start_us``, ``window_end_us``, every catalog feature.

    Rows are ordered by symbol, then time. Filing features are NaN before a
    symbol's first filing (nothing was public yet).
    """
    if n_symbols < 1 or n_windows < 10:
        raise ValueError("planted_feature_windows: need n_symbols >= 1 and n_windows >= 10")
    rng = np.random.default_rng(seed)
    S, T = n_symbols, n_windows
    # the generators draw from one rng in a fixed order (order flow, activity, filings, returns): the seed
    # reproduces the frame only while that order holds
    flow, z = _order_flow(rng, S, T)
    flow.update(_book_end(np.random.default_rng([seed, 2]), z, flow["spread_bps"]))  # own rng: the other
    # columns stay what they were before these features existed
    activity, vol, busy = _activity(rng, S, T, window_us)
    filing, age, surprise = _filings(rng, S, T, filing_every)
    eps = rng.normal(0.0, 1.0, (S, T))
    r = _returns(eps, vol, z, flow["spread_bps"], busy, activity["realized_vol"], age, surprise, filing_decay)
    cols = {
        **flow,
        "mid_return": r,
        **activity,
        **filing,
    }
    missing = (set(ORDER_FLOW_FEATURES) | set(MOMENTUM_FEATURES) | set(FILING_FEATURES)) - set(cols)
    if missing:  # pragma: no cover - guards the catalog and this generator drifting apart
        raise RuntimeError(f"planted_feature_windows does not produce catalog features {sorted(missing)}")
    frame = pd.DataFrame({k: v.reshape(-1) for k, v in cols.items()})
    starts_us = start_us + np.arange(T, dtype=np.int64) * window_us
    frame.insert(0, "window_end_us", np.tile(starts_us + window_us, S))
    frame.insert(0, "window_start_us", np.tile(starts_us, S))
    frame.insert(0, "symbol", np.repeat([f"SYN{i}" for i in range(S)], T))
    return frame


def _order_flow(rng: np.random.Generator, S: int, T: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The latent AR(1) order-flow state z (φ = 0.6) and its noisy views, plus the spread; returns the
    feature columns and z."""
    z = np.zeros((S, T))
    shocks = rng.normal(0.0, 0.8, (S, T))
    for t in range(1, T):
        z[:, t] = 0.6 * z[:, t - 1] + shocks[:, t]
    order_flow_imbalance = np.round(1e5 * (z + rng.normal(0.0, 0.3, (S, T))))
    ofi_1 = np.round(0.4 * order_flow_imbalance + 1e5 * rng.normal(0.0, 0.5, (S, T)))
    imbalance_top1 = np.tanh(0.05 * z + rng.normal(0.0, 0.04, (S, T)))
    imbalance_topn = np.tanh(0.01 * z + rng.normal(0.0, 0.01, (S, T)))
    signed_volume = np.round(1e4 * (0.6 * z + rng.normal(0.0, 0.7, (S, T))))
    spread_bps = np.exp(rng.normal(np.log(2.0), 0.3, (S, T)))
    cols = {"order_flow_imbalance": order_flow_imbalance, "ofi_1": ofi_1, "imbalance_top1": imbalance_top1,
            "imbalance_topn": imbalance_topn, "signed_volume": signed_volume, "spread_bps": spread_bps}
    return cols, z


def _book_end(rng: np.random.Generator, z: np.ndarray, spread_bps: np.ndarray) -> dict[str, np.ndarray]:
    """The window-end views of the order-flow state (fs-2 features): noisy like the window means."""
    shape = z.shape
    imb_end = np.tanh(0.06 * z + rng.normal(0.0, 0.05, shape))
    return {"imbalance_top1_end": imb_end, "microprice_dev_bps": 0.5 * spread_bps * imb_end,
            "mid_age_log_ms": np.log1p(rng.exponential(500.0, shape)),
            "ofi_1_ewm_1s": np.round(1e5 * (0.5 * z + rng.normal(0.0, 0.6, shape))),
            "ofi_1_ewm_5s": np.round(1e5 * (0.8 * z + rng.normal(0.0, 1.0, shape)))}


def _activity(rng: np.random.Generator, S: int, T: int,
              window_us: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A persistent volatility regime and the activity it drives; returns the feature columns, the
    volatility and where trading is busy (tick rate above its median)."""
    log_vol = np.full((S, T), np.log(1e-3))
    vol_shocks = rng.normal(0.0, 0.08, (S, T))
    for t in range(1, T):
        log_vol[:, t] = np.log(1e-3) + 0.97 * (log_vol[:, t - 1] - np.log(1e-3)) + vol_shocks[:, t]
    vol = np.exp(log_vol)
    tick_rate = np.exp(rng.normal(np.log(2000.0), 0.4, (S, T)) + 2.0 * (log_vol - np.log(1e-3)))
    busy = tick_rate > np.median(tick_rate)
    trade_count = rng.poisson(0.15 * tick_rate * window_us / 1e6).astype(np.float64)
    volume = trade_count * 100.0 * rng.integers(1, 20, (S, T))
    microburst = (rng.random((S, T)) < 0.01).astype(np.float64)
    realized_vol = vol * np.exp(rng.normal(0.0, 0.05, (S, T)))
    cols = {"realized_vol": realized_vol, "tick_rate": tick_rate, "trade_count": trade_count, "volume": volume,
            "microburst": microburst}
    return cols, vol, busy


def _filings(rng: np.random.Generator, S: int, T: int,
             filing_every: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A new filing every ~``filing_every`` windows, the first after a random offset; returns the filing
    feature columns (NaN before the first), each window's age since its filing and the filing's surprise."""
    filing = {f: np.full((S, T), np.nan) for f in FILING_FEATURES}
    age = np.full((S, T), np.nan)
    surprise = np.zeros((S, T))
    for s in range(S):
        t0 = int(rng.integers(5, max(6, filing_every // 2)))
        starts = list(range(t0, T, filing_every))
        for i, a in enumerate(starts):
            b = starts[i + 1] if i + 1 < len(starts) else T
            draws = {
                "fund_revenue_yoy_pct": rng.normal(0.05, 0.10),
                "fund_net_income_yoy_pct": rng.normal(0.05, 0.20),
                "text_risk_factors_sim_yoy": rng.beta(8.0, 2.0),
                "text_mdna_sim_yoy": rng.beta(8.0, 2.0),
                "text_risk_factors_log_words_change": rng.normal(0.05, 0.10),
            }
            for f, v in draws.items():
                filing[f][s, a:b] = v
            age[s, a:b] = np.arange(b - a)
            surprise[s, a:b] = (
                0.5 * (draws["fund_revenue_yoy_pct"] - 0.05) / 0.10
                + 0.3 * (draws["fund_net_income_yoy_pct"] - 0.05) / 0.20
                + 0.4 * (draws["text_risk_factors_sim_yoy"] - 0.8) / 0.12
                + 0.2 * (draws["text_mdna_sim_yoy"] - 0.8) / 0.12
                - 0.3 * (draws["text_risk_factors_log_words_change"] - 0.05) / 0.10
            )
    return filing, age, surprise


def _returns(eps: np.ndarray, vol: np.ndarray, z: np.ndarray, spread_bps: np.ndarray, busy: np.ndarray,
             realized_vol: np.ndarray, age: np.ndarray, surprise: np.ndarray, filing_decay: float) -> np.ndarray:
    """Returns window by window (the momentum signal reads the previous window's return): the features of
    window t-1 drive the return of window t, in units of its volatility, plus the noise ``eps``."""
    S, T = eps.shape
    r = np.zeros((S, T))
    r[:, 0] = vol[:, 0] * eps[:, 0]
    for t in range(1, T):
        p = t - 1
        flow = 0.5 * z[:, p] * (2.0 / spread_bps[:, p])
        mom = np.where(busy[:, p], 0.6, -0.6) * np.tanh(r[:, p] / realized_vol[:, p])
        decay = np.exp(-np.nan_to_num(age[:, p], nan=np.inf) / filing_decay)
        fil = 0.7 * surprise[:, p] * decay
        r[:, t] = vol[:, t] * (flow + mom + fil + eps[:, t])
    return r
