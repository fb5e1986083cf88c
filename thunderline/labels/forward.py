"""Forward-return class labels (buy / sell / hold with a dead band) for time-ordered windows.

Why this module exists: an expert is trained to say what the *next* windows
will do, so the label of window ``t`` must be built only from windows strictly
after ``t`` — never from ``t`` itself, whose return the features already saw.
Guarantees:

* ``fwd_return_h{h}`` of window ``t`` is the return realised over the next
  ``h`` windows of the same key (symbol), summed for log returns, compounded
  for simple returns; the sum is sequential per row, so results are bitwise
  reproducible and do not drift over long series the way a cumulative-sum
  difference would;
* "next window" means the next row of that key by default. Market windows
  overlap (250 ms wide, 125 ms step) and skip spans without ticks, so for them
  pass ``end_col="window_end_us"``: the next window of ``t`` is then the one of
  the same key that *starts where ``t`` ends*, and the chain of ``h`` such
  windows covers ``[end of t, end of t + h·width)`` with no overlap with ``t``
  (whose return its features already contain) and no double counting; a
  missing link (no window starting exactly there) makes the label unknown;
* it is NaN (and the label missing) when fewer than ``h`` later windows of the
  same key exist in the frame, or when any of them has a NaN return: a label
  that has not been realised yet is unknown, never guessed;
* the label is ``buy`` when the forward return is above ``+dead_band``, ``sell``
  when below ``-dead_band``, else ``hold`` (the band absorbs costs and noise);
* output rows align with the input index, whatever order the keys interleave in.

Everything is vectorised over the frame; the only Python loops are over the
``h`` steps of a horizon and, for ``end_col``, over keys.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

LABEL_BUY = "buy"
LABEL_SELL = "sell"
LABEL_HOLD = "hold"


def return_column(horizon: int) -> str:
    """Name of the forward-return column for ``horizon`` windows."""
    return f"fwd_return_h{int(horizon)}"


def label_column(horizon: int) -> str:
    """Name of the class-label column for ``horizon`` windows."""
    return f"label_h{int(horizon)}"


def _check_horizons(horizons: Iterable[int]) -> tuple[int, ...]:
    hs = tuple(horizons)
    if not hs:
        raise ValueError("horizons: give at least one horizon (in windows)")
    for h in hs:
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
            raise ValueError(f"horizons: {h!r} is not a whole number of windows >= 1")
    return tuple(int(h) for h in hs)


def _sorted_layout(frame: pd.DataFrame, key_col: str | None, time_col: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(order, group codes in that order): rows grouped by key, original order kept inside a key.

    Raises ValueError naming the key and the row when time does not strictly increase within a key.
    """
    n = len(frame)
    if key_col is None:
        codes = np.zeros(n, dtype=np.int64)
    else:
        if key_col not in frame.columns:
            raise ValueError(
                f"key column {key_col!r} is not in the frame (columns: {list(frame.columns)}); "
                "pass key_col=None if the frame holds one series"
            )
        keys = frame[key_col]
        if keys.isna().any():
            row = frame.index[int(np.flatnonzero(keys.isna().to_numpy())[0])]
            raise ValueError(f"key column {key_col!r} is empty at row {row!r}")
        codes = pd.factorize(keys, sort=False)[0].astype(np.int64)
    order = np.argsort(codes, kind="stable")
    g = codes[order]
    if time_col is not None:
        if time_col not in frame.columns:
            raise ValueError(f"time column {time_col!r} is not in the frame; pass time_col=None to skip the order check")
        t = frame[time_col].to_numpy()[order]
        same = g[1:] == g[:-1]
        bad = np.flatnonzero(same & ~(t[1:] > t[:-1]))
        if bad.size:
            pos = order[bad[0] + 1]
            key = frame[key_col].iloc[pos] if key_col is not None else "<single series>"
            raise ValueError(
                f"windows must be in strictly increasing {time_col!r} within each key: key {key!r} "
                f"row {frame.index[pos]!r} has {time_col}={np.asarray(t[bad[0] + 1]).item()!r} "
                f"after {np.asarray(t[bad[0]]).item()!r}"
            )
    return order, g


def forward_returns(
    frame: pd.DataFrame,
    horizons: Iterable[int] = (1,),
    *,
    return_col: str = "mid_return",
    key_col: str | None = "symbol",
    time_col: str | None = "window_start_us",
    end_col: str | None = None,
    kind: str = "log",
) -> pd.DataFrame:
    """Forward returns over each horizon: one ``fwd_return_h{h}`` float64 column per horizon.

    ``return_col`` holds each window's own return (log return for ``kind="log"``,
    simple return for ``kind="simple"``). See the module docstring for guarantees.
    """
    hs = _check_horizons(horizons)
    if kind not in ("log", "simple"):
        raise ValueError(f"kind={kind!r}: use 'log' (summed) or 'simple' (compounded)")
    if return_col not in frame.columns:
        raise ValueError(f"return column {return_col!r} is not in the frame (columns: {list(frame.columns)})")
    try:
        r_all = frame[return_col].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"return column {return_col!r} is not numeric ({exc})") from None
    if np.isinf(r_all).any():
        row = frame.index[int(np.flatnonzero(np.isinf(r_all))[0])]
        raise ValueError(f"return column {return_col!r} is infinite at row {row!r}")
    order, g = _sorted_layout(frame, key_col, time_col)
    r = r_all[order]
    n = r.size
    nxt = _next_positions(frame, order, g, time_col, end_col)
    out = {}
    for h in hs:
        acc = np.zeros(n) if kind == "log" else np.ones(n)
        valid = np.ones(n, dtype=bool)
        pos = np.arange(n)
        for _ in range(h):
            pos = np.where(pos >= 0, nxt[np.clip(pos, 0, None)], -1)
            step_r = np.where(pos >= 0, r[np.clip(pos, 0, None)], np.nan)
            valid &= (pos >= 0) & ~np.isnan(step_r)
            step = np.where(valid, step_r, 0.0)
            acc = acc + step if kind == "log" else acc * (1.0 + step)
        fwd = acc if kind == "log" else acc - 1.0
        fwd = np.where(valid, fwd, np.nan)
        col = np.empty(n)
        col[order] = fwd
        out[return_column(h)] = col
    return pd.DataFrame(out, index=frame.index)


def _next_positions(frame: pd.DataFrame, order: np.ndarray, g: np.ndarray, time_col: str | None,
                    end_col: str | None) -> np.ndarray:
    """For each row in sorted layout, the sorted position of its next window (-1: none)."""
    n = order.size
    if end_col is None:
        nxt = np.arange(1, n + 1)
        nxt[-1:] = -1
        same = np.zeros(n, dtype=bool)
        same[:-1] = g[1:] == g[:-1]
        return np.where(same, nxt, -1)
    if time_col is None:
        raise ValueError("end_col needs time_col: the next window is the one starting where this one ends")
    if end_col not in frame.columns:
        raise ValueError(f"end column {end_col!r} is not in the frame")
    start = frame[time_col].to_numpy()[order]
    end = frame[end_col].to_numpy()[order]
    nxt = np.full(n, -1, dtype=np.int64)
    bounds = np.flatnonzero(np.diff(g)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, n]):  # one vectorised lookup per key
        s_key = start[lo:hi]  # strictly increasing (checked)
        j = np.searchsorted(s_key, end[lo:hi], side="left")
        hit = (j < s_key.size) & (s_key[np.minimum(j, s_key.size - 1)] == end[lo:hi])
        nxt[lo:hi] = np.where(hit, lo + j, -1)
    return nxt


def _band_for(dead_band, h: int, n: int) -> np.ndarray:
    band = dead_band.get(h) if isinstance(dead_band, Mapping) else dead_band
    if band is None:
        raise ValueError(f"dead_band: no band given for horizon {h}")
    arr = np.broadcast_to(np.asarray(band, dtype=np.float64), (n,))
    if np.isinf(arr).any() or (arr < 0).any():
        raise ValueError(f"dead_band for horizon {h} must be finite and >= 0 (NaN: label unknown for that row)")
    return arr


def forward_labels(
    frame: pd.DataFrame,
    horizons: Iterable[int] = (1,),
    *,
    dead_band: float | Mapping[int, float] | np.ndarray,
    return_col: str = "mid_return",
    key_col: str | None = "symbol",
    time_col: str | None = "window_start_us",
    end_col: str | None = None,
    kind: str = "log",
) -> pd.DataFrame:
    """Forward returns and their class labels: ``fwd_return_h{h}`` and ``label_h{h}`` per horizon.

    ``dead_band`` is in return units: one float for every horizon, a mapping
    horizon → band, or a per-row array (e.g. a multiple of realised volatility);
    a NaN band makes that row's label unknown.
    Labels are strings (``buy``/``sell``/``hold``), missing (NA; pandas' string
    dtype) where the forward return is not realised.
    """
    hs = _check_horizons(horizons)
    fwd = forward_returns(frame, hs, return_col=return_col, key_col=key_col, time_col=time_col, end_col=end_col,
                          kind=kind)
    out = {}
    for h in hs:
        x = fwd[return_column(h)].to_numpy()
        band = _band_for(dead_band, h, x.size)
        lab = np.full(x.size, None, dtype=object)
        known = ~np.isnan(x) & ~np.isnan(band)
        lab[known] = LABEL_HOLD
        lab[known & (x > band)] = LABEL_BUY
        lab[known & (x < -band)] = LABEL_SELL
        out[return_column(h)] = x
        out[label_column(h)] = lab
    return pd.DataFrame(out, index=frame.index)


def balanced_dead_band(
    fwd_returns: pd.Series | np.ndarray,
    hold_fraction: float = 1.0 / 3.0,
    *,
    scale: pd.Series | np.ndarray | None = None,
) -> float:
    """The band that labels ``hold_fraction`` of the realised forward returns ``hold``.

    With ``scale`` (e.g. ``realized_vol · sqrt(h)`` per row) the result is a
    multiplier ``k`` such that ``k · scale`` is that band row by row — a
    volatility-scaled dead band, which keeps the class balance stable across
    calm and volatile periods. Compute it on the training slice only (using the
    evaluation slice would leak).
    """
    if not 0.0 <= hold_fraction < 1.0:
        raise ValueError(f"hold_fraction={hold_fraction!r} must be in [0, 1)")
    x = np.abs(np.asarray(fwd_returns, dtype=np.float64))
    if scale is not None:
        sc = np.asarray(scale, dtype=np.float64)
        if sc.shape != x.shape:
            raise ValueError(f"balanced_dead_band: scale has shape {sc.shape}, returns {x.shape}")
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(sc > 0, x / sc, np.nan)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("balanced_dead_band: no realised forward returns")
    return float(np.quantile(x, hold_fraction))


def balanced_forward_labels(
    frame: pd.DataFrame,
    horizons: Iterable[int] = (1,),
    *,
    fit_mask: np.ndarray | pd.Series | None = None,
    hold_fraction: float = 1.0 / 3.0,
    scale_col: str | None = None,
    return_col: str = "mid_return",
    key_col: str | None = "symbol",
    time_col: str | None = "window_start_us",
    end_col: str | None = None,
    kind: str = "log",
) -> pd.DataFrame:
    """:func:`forward_labels` with, per horizon, the dead band that makes ``hold_fraction`` of the
    rows in ``fit_mask`` (the training slice; default all rows) ``hold``.

    With ``scale_col`` (e.g. ``"realized_vol"``) the band is volatility-scaled:
    ``k_h · scale · sqrt(h)`` per row. The bands used are in ``.attrs["dead_band"]``
    (horizon → multiplier or band).
    """
    hs = _check_horizons(horizons)
    fwd = forward_returns(frame, hs, return_col=return_col, key_col=key_col, time_col=time_col,
                          end_col=end_col, kind=kind)
    fit = np.ones(len(frame), dtype=bool) if fit_mask is None else np.asarray(fit_mask, dtype=bool)
    if fit.shape != (len(frame),):
        raise ValueError(f"fit_mask has shape {fit.shape}; expected ({len(frame)},)")
    bands: dict[int, Any] = {}
    used: dict[int, float] = {}
    for h in hs:
        x = fwd[return_column(h)].to_numpy()
        if scale_col is None:
            used[h] = bands[h] = balanced_dead_band(x[fit], hold_fraction)
        else:
            if scale_col not in frame.columns:
                raise ValueError(f"scale column {scale_col!r} is not in the frame")
            sc = frame[scale_col].to_numpy(dtype=np.float64) * np.sqrt(h)
            k = balanced_dead_band(x[fit], hold_fraction, scale=sc[fit])
            used[h] = k
            bands[h] = np.where(np.isfinite(sc) & (sc >= 0), k * sc, np.nan)  # no scale: label unknown
    out = forward_labels(frame, hs, dead_band=bands, return_col=return_col, key_col=key_col, time_col=time_col,
                         end_col=end_col, kind=kind)
    out.attrs["dead_band"] = used
    return out
