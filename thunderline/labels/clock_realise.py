"""Clock labels for the learning loop's ``labels`` table: the same rows :func:`realise_labels` writes, on a clock.

Why: the chained definition (the next non-overlapping windows) leaves most labels of a sparse
real book a ``gap`` (72 % at one window on the LOBSTER AMZN day), so the loop's PnL and gate
retraining saw a quarter of the decisions. A clock spec (``LabelSpec(clock_ms=…)``) is realised
from the lake's quotes exactly as the stack is trained and evaluated
(:func:`thunderline.labels.clock.clock_labels`, decision time = the window's end):

* ``fwd_return = log(mid(T + h) / mid(T))``, mid as of the last quote; a label reads no quote
  after ``T + h`` (the property tests hold it on this path too);
* ``status``: ``filled`` once the data is known to reach ``T + h``, ``pending`` before,
  ``gap`` only when no quote exists at or before ``T``;
* ``realised_at = T + h``, ``latency_us = realised_at − available_at``;
* ``entry_spread_bps``: the window's own quoted spread; ``exit_spread_bps``: the spread of the
  symbol's last window ending at or before ``T + h`` (as of the horizon, never later), else the own.

``horizon`` keeps naming the expert horizon the label serves (1, 4, 10 windows ↔ 250 ms, 1 s, 5 s), so
PnL (``CostModel.horizon``), promotion and gate retraining ask for labels as before.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from thunderline.labels.clock import WINDOW_HORIZON_MS, QuoteMids, clock_labels
from thunderline.labels.realise import STATUS_FILLED, LabelSpec, label_records


def window_horizon_of(clock_ms: int) -> int:
    """The expert horizon (windows) a clock horizon serves: 250 ms → 1, 1 s → 4, 5 s → 10, else ms / 250."""
    inverse = {ms: h for h, ms in WINDOW_HORIZON_MS.items()}
    if clock_ms in inverse:
        return inverse[clock_ms]
    h = int(clock_ms) // 250
    if clock_ms % 250 or h < 1 or h in WINDOW_HORIZON_MS:
        raise ValueError(f"clock horizon {clock_ms} ms: no expert horizon serves it (use 250, 1000, 5000 or a "
                         f"multiple of 250 ms whose window count is not one of {sorted(WINDOW_HORIZON_MS)})")
    return h


def clock_label_specs(horizons_ms: Iterable[int], dead_band_bps: float = 0.0) -> tuple[LabelSpec, ...]:
    """Class specs on a clock, one per horizon (dead band 0: ``hold`` only when the mid did not move,
    which is what the experts are trained on)."""
    return tuple(LabelSpec(window_horizon_of(int(ms)), "class", dead_band_bps, clock_ms=int(ms))
                 for ms in sorted(set(int(m) for m in horizons_ms)))


def label_specs_for(settings, definition: str | None = None, horizons_ms: Sequence[int] | None = None
                    ) -> tuple[LabelSpec, ...]:
    """What the learning loop realises: clock specs at ``horizons_ms`` (default the settings'
    ``label_horizons_ms``), or the chained defaults when ``definition`` (default the settings'
    ``label_definition``, ``THUNDERLINE_LABELS``) is ``chained``."""
    from thunderline.labels.realise import DEFAULT_LABEL_SPECS

    definition = definition or getattr(settings, "label_definition", "clock")
    if definition not in ("clock", "chained"):
        raise ValueError(f"label definition {definition!r}: use 'clock' or 'chained'")
    if definition == "chained":
        return DEFAULT_LABEL_SPECS
    return clock_label_specs(horizons_ms or getattr(settings, "label_horizons_ms", (250, 1000, 5000)))


def realise_clock_labels(frame: pd.DataFrame, specs: Sequence[LabelSpec], mids: QuoteMids, *,
                         known_until_us: int | None = None) -> pd.DataFrame:
    """The :func:`~thunderline.labels.realise.realise_labels` rows of ``frame``'s windows (one symbol, any
    order; later windows may be included, they only supply exit spreads) for clock ``specs``."""
    if any(s.clock_ms is None for s in specs):
        raise ValueError("realise_clock_labels: every spec needs clock_ms (chained specs go to realise_labels)")
    if frame["symbol"].nunique() > 1:
        raise ValueError("realise_clock_labels: one symbol per call (the quotes are that symbol's)")
    at = frame["window_end_us"].to_numpy(np.int64)
    avail = frame["available_at_us"].to_numpy(np.int64)
    spread = frame["spread_bps"].to_numpy(np.float64)
    by_end = np.argsort(at, kind="stable")
    parts = []
    for spec in specs:
        lab = clock_labels(mids, at, (int(spec.clock_ms),), known_until_us=known_until_us)
        r = lab["fwd_return"].to_numpy()
        filled = lab["status"].to_numpy(dtype=object) == STATUS_FILLED
        horizon_end = at + int(spec.clock_ms) * 1000
        # exit spread: the last window that ended at or before the horizon (as of it, never after)
        j = np.searchsorted(at[by_end], horizon_end, side="right") - 1
        exit_ = np.where(j >= 0, spread[by_end[np.clip(j, 0, None)]], np.nan)
        exit_ = np.where(np.isfinite(exit_), exit_, spread)
        status = lab["status"].to_numpy(dtype=object)
        parts.append(label_records(frame.index.to_numpy(), spec, status, r, filled, horizon_end, avail, spread, exit_))
    return pd.concat(parts, ignore_index=True)
