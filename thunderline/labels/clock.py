"""Labels on a clock: the mid as of a window's end and as of ``h`` later, as-of the last quote.

Why a clock and not the next window: a real book at 250 ms often has no tick in the
next window, so a label chained to "the window starting where this one ends" is a
``gap`` for most windows of a sparse symbol (73 % on a LOBSTER AMZN day). The mid
does not stop existing when nobody quotes: it is the last quote's mid. So the label
of a decision available at ``T`` (its window's end) over horizon ``h`` is

    fwd_return = log(mid(T + h) / mid(T)),   mid(t) = mid of the last quote with ts ≤ t

Guarantees (the property tests hold them):

* **no look-ahead**: a label reads no quote after ``T + h``; its entry mid reads no
  quote after ``T`` (the decision's own time);
* ``status`` is ``filled`` when the data is known to reach ``T + h`` (default: the
  last quote's time; ``known_until_us`` when more data exists beyond what was
  loaded), ``pending`` when it does not yet, and ``gap`` when there is no quote at
  or before ``T`` (nothing to enter at) — the gap rate a spec reports;
* ``moved``: the mid at ``T + h`` differs from the mid at ``T`` (hit rates are
  measured on these windows only: an unmoved mid is neither right nor wrong);
* quotes are rows with a finite, positive bid and ask (crossed or one-sided rows
  are not a mid); ties in time keep the last row (the book after the last event).

Vectorised: two ``searchsorted`` calls over the quote times, whatever the number of windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from thunderline.labels.forward import LABEL_BUY, LABEL_HOLD, LABEL_SELL

#: The default clock horizons, milliseconds.
DEFAULT_CLOCK_HORIZONS_MS: tuple[int, ...] = (250, 1000, 5000)
#: Clock horizon (ms) of an expert horizon given in windows: 1 window → 250 ms, 4 → 1 s, 10 → 5 s
#: (the default clock label horizons); otherwise 250 ms per window.
WINDOW_HORIZON_MS: dict[int, int] = {1: 250, 4: 1000, 10: 5000}
STATUS_PENDING, STATUS_FILLED, STATUS_GAP = "pending", "filled", "gap"


@dataclass(frozen=True)
class QuoteMids:
    """Change points of the mid of one symbol: strictly increasing ``ts`` (µs), ``mid`` in force from it."""

    ts: np.ndarray
    mid: np.ndarray

    def __post_init__(self) -> None:
        if self.ts.shape != self.mid.shape or self.ts.ndim != 1:
            raise ValueError(f"QuoteMids: ts {self.ts.shape} and mid {self.mid.shape} must be equal 1-D arrays")
        if self.ts.size > 1 and not (np.diff(self.ts) > 0).all():
            raise ValueError("QuoteMids: ts must be strictly increasing")

    def __len__(self) -> int:
        return int(self.ts.size)

    def at(self, t_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mid as of each time, index of the quote used; -1 = no quote at or before it)."""
        t = np.asarray(t_us, dtype=np.int64)
        i = np.searchsorted(self.ts, t, side="right") - 1
        mid = np.where(i >= 0, self.mid[np.clip(i, 0, None)] if self.mid.size else np.nan, np.nan)
        return mid, i


def quote_mids(ts: np.ndarray, bid_px: np.ndarray, ask_px: np.ndarray, seq: np.ndarray | None = None) -> QuoteMids:
    """Mid change points from quote/book rows (any order; sorted by (ts, seq) here, last row per ts wins)."""
    ts = np.asarray(ts, dtype=np.int64)
    bid = np.asarray(bid_px, dtype=np.float64)
    ask = np.asarray(ask_px, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > 0) & (ask >= bid)
    order = np.lexsort((np.arange(ts.size) if seq is None else np.asarray(seq), ts))
    order = order[ok[order]]
    t, m = ts[order], (bid[order] + ask[order]) / 2.0
    if t.size == 0:
        return QuoteMids(np.zeros(0, np.int64), np.zeros(0))
    last_of_ts = np.r_[t[1:] != t[:-1], True]  # the book after the last event at that time
    t, m = t[last_of_ts], m[last_of_ts]
    change = np.r_[True, m[1:] != m[:-1]]  # only where the mid changes: the as-of mid is the same
    return QuoteMids(t[change], m[change])


def merge_mids(parts: Iterable[QuoteMids]) -> QuoteMids:
    """One QuoteMids from chunks in time order (a later chunk's row wins a tie in time)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return QuoteMids(np.zeros(0, np.int64), np.zeros(0))
    t = np.concatenate([p.ts for p in parts])
    m = np.concatenate([p.mid for p in parts])
    return quote_mids(t, m, m, seq=np.arange(t.size))


def clock_labels(mids: QuoteMids, at_us: np.ndarray, horizons_ms: Sequence[int] = DEFAULT_CLOCK_HORIZONS_MS, *,
                 known_until_us: int | None = None, dead_band_bps: float = 0.0) -> pd.DataFrame:
    """Per decision time and horizon: ``at_us``, ``horizon_ms``, ``status``, ``entry_mid``, ``exit_mid``,
    ``fwd_return`` (log; NaN unless filled), ``moved``, ``label`` (buy/sell/hold beyond ``dead_band_bps``,
    None unless filled), ``realised_at_us`` (``at + h``). Rows: horizon-major, decision order inside."""
    at = np.asarray(at_us, dtype=np.int64)
    hs = [int(h) for h in horizons_ms]
    if not hs or any(h <= 0 for h in hs):
        raise ValueError(f"horizons_ms {horizons_ms!r}: give positive horizons in milliseconds")
    if not (np.isfinite(dead_band_bps) and dead_band_bps >= 0):
        raise ValueError(f"dead_band_bps {dead_band_bps!r} must be finite and >= 0")
    until = int(known_until_us) if known_until_us is not None else (int(mids.ts[-1]) if len(mids) else -1)
    entry, i0 = mids.at(at)
    parts = []
    band = dead_band_bps * 1e-4
    for h in hs:
        end = at + h * 1000
        exit_, _ = mids.at(end)
        gap = i0 < 0
        filled = ~gap & (end <= until)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(filled, np.log(exit_ / entry), np.nan)
        status = np.where(gap, STATUS_GAP, np.where(filled, STATUS_FILLED, STATUS_PENDING)).astype(object)
        lab = np.full(at.size, None, dtype=object)
        lab[filled] = LABEL_HOLD
        lab[filled & (r > band)] = LABEL_BUY
        lab[filled & (r < -band)] = LABEL_SELL
        parts.append(pd.DataFrame({
            "at_us": at, "horizon_ms": h, "status": status, "entry_mid": np.where(gap, np.nan, entry),
            "exit_mid": np.where(filled, exit_, np.nan), "fwd_return": r, "moved": filled & (exit_ != entry),
            "label": pd.Series(lab, dtype=object), "realised_at_us": end}))
    return pd.concat(parts, ignore_index=True)


def clock_returns(mids: QuoteMids, at_us: np.ndarray, horizon_ms: int, *,
                  known_until_us: int | None = None) -> np.ndarray:
    """Just the forward log returns over one horizon (NaN unless filled)."""
    return clock_labels(mids, at_us, (horizon_ms,), known_until_us=known_until_us)["fwd_return"].to_numpy()


def gap_rates(labels: pd.DataFrame) -> dict[str, float]:
    """Share of ``gap`` (and ``pending``) labels per horizon: ``{"250ms": 0.01, ...}``."""
    out = {}
    for h, g in labels.groupby("horizon_ms", sort=True):
        out[f"{int(h)}ms"] = float((g["status"] != STATUS_FILLED).mean()) if len(g) else float("nan")
    return out


def load_quote_mids(lake, tenant_id: str, months: Sequence[str], symbol: str, *,
                    lo_us: int | None = None, hi_us: int | None = None, batch_rows: int = 262_144) -> QuoteMids:
    """The mid change points of ``symbol`` from the lake's tick batches of ``months``, streamed in chunks
    (only change points are kept, so memory follows how often the mid moves, not the tick count)."""
    cols = ["ts", "seq", "bid_px", "ask_px"]
    parts = []
    for m in months:
        for rb in lake.iter_batches(lake.batch_files(tenant_id, m, symbol), columns=cols, batch_rows=batch_rows):
            t = rb.column("ts").to_numpy(zero_copy_only=False).astype(np.int64)
            keep = np.ones(t.size, bool)
            if lo_us is not None:
                keep &= t >= lo_us
            if hi_us is not None:
                keep &= t <= hi_us
            if not keep.any():
                continue
            parts.append(quote_mids(t[keep], rb.column("bid_px").to_numpy(zero_copy_only=False)[keep],
                                    rb.column("ask_px").to_numpy(zero_copy_only=False)[keep],
                                    rb.column("seq").to_numpy(zero_copy_only=False)[keep]))
    return merge_mids(parts)
