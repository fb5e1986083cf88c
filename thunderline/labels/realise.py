"""Realising a window's label once the future exists: forward return, class, when it became known.

Definition (chosen over re-reading lake ticks, so labels need only the
warehouse's feature windows and agree exactly with what experts are trained on,
:func:`thunderline.labels.forward.forward_returns` with ``end_col``):

* the forward return over horizon ``h`` of window ``t`` is the sum of the
  ``mid_return`` (log last mid / first mid) of the chain of ``h`` windows of the
  same symbol and recipe that follow ``t`` without overlap: the first starts
  exactly where ``t`` ends, each next one where the previous ends. With the
  default 50 % overlap that is every second window. The mid moves between the
  last tick of one chained window and the first tick of the next (one tick
  interval each) are not in the sum;
* a ``class`` spec turns it into ``buy`` (> +band), ``sell`` (< −band) or
  ``hold``; a ``delta`` spec's label is the return itself;
* ``status``: ``filled`` when every chained window exists with a finite return;
  ``pending`` while the data has not reached ``t``'s end + ``h`` window widths;
  ``gap`` when it has, but a chained window is missing (no ticks there) or has
  no return — such a label is never realised;
* ``realised_at`` is the end of the last chained window (the data time the
  label became knowable, always after the window's ``available_at``) and
  ``latency_us = realised_at − available_at``;
* ``entry_spread_bps`` / ``exit_spread_bps`` are the mean quoted spreads of the
  first and last chained windows: where a position taken at ``t``'s end would
  cross the spread to enter and to leave (the window's own spread when a chained
  window has none). The paper-PnL harness charges them.

Labels are written to their own table and nothing on the decision path reads
it: a label can never feed the decision it labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from thunderline.labels.forward import LABEL_BUY, LABEL_HOLD, LABEL_SELL, forward_returns, return_column

LABEL_TYPES = ("class", "delta")
STATUS_PENDING, STATUS_FILLED, STATUS_GAP = "pending", "filled", "gap"
#: Columns :func:`realise_labels` needs in its frame.
REQUIRED_COLUMNS = ("symbol", "window_start_us", "window_end_us", "available_at_us", "mid_return", "spread_bps")


@dataclass(frozen=True)
class LabelSpec:
    """How a window's label is realised: horizon in non-overlapping windows, type and dead band.

    ``dead_band_bps`` (class labels only) is in basis points of log return:
    2.0 means |forward return| ≤ 0.0002 is ``hold``. ``clock_ms``: realise the label on a clock
    instead (mid as of the window's end and ``clock_ms`` later, from the lake's quotes:
    :mod:`thunderline.labels.clock_realise`); ``horizon`` then names the expert horizon it serves
    (1 → 250 ms, 4 → 1 s, 10 → 5 s by default), which is how consumers ask for it.
    """

    horizon: int = 1
    type: str = "class"
    dead_band_bps: float = 2.0
    clock_ms: int | None = None

    def __post_init__(self) -> None:
        if self.clock_ms is not None and (isinstance(self.clock_ms, bool) or int(self.clock_ms) != self.clock_ms
                                          or self.clock_ms < 1):
            raise ValueError(f"label spec: clock_ms {self.clock_ms!r} must be a whole number of milliseconds >= 1")
        if isinstance(self.horizon, bool) or not isinstance(self.horizon, (int, np.integer)) or self.horizon < 1:
            raise ValueError(f"label spec: horizon {self.horizon!r} must be a whole number of windows >= 1")
        if self.type not in LABEL_TYPES:
            raise ValueError(f"label spec: type {self.type!r} must be one of {LABEL_TYPES}")
        if not (math.isfinite(self.dead_band_bps) and self.dead_band_bps >= 0):
            raise ValueError(f"label spec: dead_band_bps {self.dead_band_bps!r} must be finite and >= 0")

    @property
    def id(self) -> str:
        """Short stable name, e.g. ``class_h1_db2bps`` or ``delta_h4``; a clock spec adds its horizon:
        ``class_h1_c250ms_db0bps``."""
        clock = "" if self.clock_ms is None else f"_c{int(self.clock_ms)}ms"
        if self.type == "delta":
            return f"delta_h{self.horizon}{clock}"
        return f"class_h{self.horizon}{clock}_db{self.dead_band_bps:g}bps"

    @property
    def definition(self) -> str:
        return "chained" if self.clock_ms is None else "clock"

    @property
    def dead_band(self) -> float:
        return self.dead_band_bps * 1e-4

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"horizon": int(self.horizon), "type": self.type}
        if self.type == "class":
            out["dead_band_bps"] = float(self.dead_band_bps)
        if self.clock_ms is not None:
            out["clock_ms"] = int(self.clock_ms)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "LabelSpec":
        """Accepts ``dead_band_bps`` or ``dead_band`` (return units); unknown keys are an error."""
        unknown = set(d) - {"horizon", "type", "dead_band_bps", "dead_band", "clock_ms"}
        if unknown:
            raise ValueError(f"label spec {dict(d)!r}: unknown keys {sorted(unknown)}")
        band = d.get("dead_band_bps")
        if band is None and d.get("dead_band") is not None:
            band = float(d["dead_band"]) * 1e4
        clock = d.get("clock_ms")
        return cls(horizon=int(d.get("horizon", 1)), type=str(d.get("type", "class")),
                   dead_band_bps=float((2.0 if clock is None else 0.0) if band is None else band),
                   clock_ms=None if clock is None else int(clock))


#: What every market window is labelled with when its ``label_spec`` says nothing: the
#: horizons the default experts predict (1, 4 and 10 windows), as classes with a 2 bps band.
DEFAULT_LABEL_SPECS: tuple[LabelSpec, ...] = (LabelSpec(1), LabelSpec(4), LabelSpec(10))


def specs_of(label_spec: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
             default: Sequence[LabelSpec] = DEFAULT_LABEL_SPECS) -> tuple[LabelSpec, ...]:
    """The specs a window asks for: its ``label_spec`` (one spec, a list, or ``{"specs": [...]}``), else ``default``."""
    if not label_spec:
        return tuple(default)
    if isinstance(label_spec, Mapping) and "specs" in label_spec:
        label_spec = label_spec["specs"]
    items = [label_spec] if isinstance(label_spec, Mapping) else list(label_spec)
    return tuple(dict.fromkeys(LabelSpec.from_json(x) for x in items))


def _chain_next(start: np.ndarray, end: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Row of the window starting exactly where each row's window ends, same group (-1: none).

    Rows must be sorted by (group, start) with start strictly increasing inside a group.
    """
    n = start.size
    nxt = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return nxt
    bounds = np.flatnonzero(np.diff(group)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, n]):
        s = start[lo:hi]
        j = np.searchsorted(s, end[lo:hi], side="left")
        hit = (j < s.size) & (s[np.minimum(j, s.size - 1)] == end[lo:hi])
        nxt[lo:hi] = np.where(hit, lo + j, -1)
    return nxt


def _chain_order(frame: pd.DataFrame, group_col: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame's rows ordered by (symbol[, group], start): the order, each row's group code and start.
    Two windows of one group starting at the same time is an error (a chain must be unambiguous)."""
    keys = frame["symbol"].astype(str)
    if group_col is not None:
        keys = keys + "\x1f" + frame[group_col].astype(str)
    codes = pd.factorize(keys, sort=False)[0].astype(np.int64)
    start_all = frame["window_start_us"].to_numpy(np.int64)
    order = np.lexsort((start_all, codes))
    g = codes[order]
    start = start_all[order]
    same = g[1:] == g[:-1]
    if (same & ~(start[1:] > start[:-1])).any():
        k = int(np.flatnonzero(same & ~(start[1:] > start[:-1]))[0]) + 1
        raise ValueError(f"realise_labels: two windows of symbol {keys.iloc[order[k]]!r} start at {int(start[k])}")
    return order, g, start


def _class_labels(spec: LabelSpec, r: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """buy/hold/sell by the spec's dead band where the return is filled (None elsewhere and for
    non-class specs)."""
    lab = np.full(r.shape[0], None, dtype=object)
    if spec.type == "class":
        lab[filled] = LABEL_HOLD
        lab[filled & (r > spec.dead_band)] = LABEL_BUY
        lab[filled & (r < -spec.dead_band)] = LABEL_SELL
    return lab


def label_records(index: np.ndarray, spec: LabelSpec, status: np.ndarray, r: np.ndarray, filled: np.ndarray,
                  realised: np.ndarray, avail: np.ndarray, entry: np.ndarray, exit_: np.ndarray) -> pd.DataFrame:
    """The output rows of one spec (shared by the chained and the clock definitions): unfilled labels carry
    no return, class, realisation time or spreads."""
    return pd.DataFrame({
        "row": index,
        "spec_id": spec.id,
        "horizon": int(spec.horizon),
        "label_type": spec.type,
        "status": pd.Series(status, dtype=object),
        "fwd_return": np.where(filled, r, np.nan),
        "label": pd.Series(_class_labels(spec, r, filled), dtype=object),
        "realised_at_us": np.where(filled, realised, -1),
        "latency_us": np.where(filled, realised - avail, -1),
        "entry_spread_bps": np.where(filled, entry, np.nan),
        "exit_spread_bps": np.where(filled, exit_, np.nan),
    })


def realise_labels(frame: pd.DataFrame, specs: Iterable[LabelSpec] = DEFAULT_LABEL_SPECS, *,
                   group_col: str | None = None, known_until_us: int | None = None) -> pd.DataFrame:
    """One row per (frame row, spec): status, forward return, label, realised_at, latency, spreads.

    ``frame`` holds windows of one or more symbols, *including the windows after
    the ones to label* (the future the labels read); see the module docstring for
    the definition. ``group_col`` (e.g. the recipe version) keeps chains inside a
    group as well as inside a symbol. ``known_until_us`` says the data is known to reach at least that
    time even where ``frame`` stops (later windows exist but were not loaded): a label whose horizon ends
    before it and has no chain is a ``gap``, not ``pending``. Output columns: ``row`` (the frame's index
    label), ``spec_id``, ``horizon``, ``label_type``, ``status``, ``fwd_return``,
    ``label``, ``realised_at_us``, ``latency_us``, ``entry_spread_bps``, ``exit_spread_bps``.
    """
    specs = tuple(specs)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"realise_labels: frame lacks columns {missing} (needs {list(REQUIRED_COLUMNS)})")
    if not specs:
        raise ValueError("realise_labels: give at least one label spec")
    n = len(frame)
    order, g, start = _chain_order(frame, group_col)
    end = frame["window_end_us"].to_numpy(np.int64)[order]
    avail = frame["available_at_us"].to_numpy(np.int64)[order]
    ret = frame["mid_return"].to_numpy(np.float64)[order]
    spread = frame["spread_bps"].to_numpy(np.float64)[order]
    nxt = _chain_next(start, end, g)
    width = end - start
    # the latest data time seen per group: a chain needing data beyond it is still pending
    last_end = pd.Series(end).groupby(g).transform("max").to_numpy(np.int64)
    if known_until_us is not None:
        last_end = np.maximum(last_end, int(known_until_us))

    # forward returns through the shared definition (identical to what experts train on)
    sorted_frame = pd.DataFrame({"k": g, "window_start_us": start, "window_end_us": end, "mid_return": ret})
    hs = sorted({s.horizon for s in specs})
    fwd = forward_returns(sorted_frame, hs, key_col="k", time_col="window_start_us", end_col="window_end_us")

    parts = []
    index = frame.index.to_numpy()[order]
    for h in hs:
        pos = np.arange(n)
        first = nxt.copy()
        for _ in range(h):
            pos = np.where(pos >= 0, nxt[np.clip(pos, 0, None)], -1)
        last = pos
        r = fwd[return_column(h)].to_numpy()
        filled = np.isfinite(r)
        realised = np.where(filled, end[np.clip(last, 0, None)], -1)
        horizon_end = end + h * width  # with contiguous windows, where the chain would end
        status = np.where(filled, STATUS_FILLED, np.where(last_end >= horizon_end, STATUS_GAP, STATUS_PENDING))
        own = spread
        entry = np.where(first >= 0, spread[np.clip(first, 0, None)], np.nan)
        exit_ = np.where(last >= 0, spread[np.clip(last, 0, None)], np.nan)
        entry = np.where(np.isfinite(entry), entry, own)
        exit_ = np.where(np.isfinite(exit_), exit_, own)
        for spec in (s for s in specs if s.horizon == h):
            parts.append(label_records(index, spec, status, r, filled, realised, avail, entry, exit_))
    return pd.concat(parts, ignore_index=True)
