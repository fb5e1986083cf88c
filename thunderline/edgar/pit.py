"""Point-in-time (as-of) join of market times to EDGAR feature windows. No look-ahead.

For every market time ``t`` of a symbol: find the CIK the symbol meant at ``t`` in a *dated*
ticker map (``valid_from_us <= t < valid_to_us``; tickers get reused and companies rename), then
the latest eligible window of that CIK with ``available_at_us <= t``. Eligible = ``filled``, or
``superseded`` (a superseded window *was* the latest filled window until its amendment became
available; dropping it would use knowledge of the amendment before it existed). ``open`` windows
are never joined.

Vectorised: one ``np.searchsorted(..., side="right")`` per (ticker-map interval); ties on
``available_at_us`` resolve to the later window in (available_at, window_end, accession) order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from thunderline.contracts import FeatureWindow

ELIGIBLE_STATUSES = ("filled", "superseded")
_FOREVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class AsofResult:
    """``indices[i]``: position in the given ``windows`` of the window joined to ``times[i]`` (-1: none);
    ``cik[i]``: the CIK the symbol mapped to at ``times[i]`` (-1: unmapped); ``features``: float64
    matrix (len(times) x len(feature_names)), NaN where no window or the feature is absent."""

    indices: np.ndarray
    cik: np.ndarray
    feature_names: tuple[str, ...]
    features: np.ndarray | None


def _window_table(windows: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], Any]:
    """(key as int64, available_at, window_end, eligible mask, accession list, features source)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(windows, pd.DataFrame):
        keys = windows["key"].astype("int64").to_numpy()
        avail = windows["available_at_us"].astype("int64").to_numpy()
        end = windows["window_end_us"].astype("int64").to_numpy() if "window_end_us" in windows else avail
        elig = windows["status"].isin(ELIGIBLE_STATUSES).to_numpy()
        acc = [str(a) for a in windows["accession"]] if "accession" in windows else [""] * len(windows)
        return keys, avail, end, elig, acc, windows
    ws: Sequence[FeatureWindow] = list(windows)
    edgar = [w.kind == "edgar" and w.key.isdigit() for w in ws]  # market windows in the list are ignored
    keys = np.array([int(w.key) if e else -1 for w, e in zip(ws, edgar)], dtype=np.int64)
    avail = np.array([w.available_at_us for w in ws], dtype=np.int64)
    end = np.array([w.window_end_us for w in ws], dtype=np.int64)
    elig = np.array([e and w.status in ELIGIBLE_STATUSES for w, e in zip(ws, edgar)], dtype=bool)
    acc = [str(w.provenance.get("accession", "")) for w in ws]
    return keys, avail, end, elig, acc, ws


def _ticker_rows(ticker_map: Any, symbol: str) -> list[tuple[int, int, int]]:
    """[(valid_from_us, valid_to_us, cik)] for ``symbol``, sorted; overlapping intervals -> ValueError."""
    try:
        import pandas as pd

        if isinstance(ticker_map, pd.DataFrame):
            ticker_map = ticker_map.to_dict("records")
    except ImportError:  # pragma: no cover
        pass
    rows = []
    for r in ticker_map:
        rec = r if isinstance(r, dict) else dict(zip(("symbol", "cik", "valid_from_us", "valid_to_us"), r))
        if rec["symbol"] != symbol:
            continue
        vt = rec.get("valid_to_us")
        vt = _FOREVER if vt is None or (isinstance(vt, float) and np.isnan(vt)) else int(vt)
        vf = rec.get("valid_from_us")
        vf = np.iinfo(np.int64).min if vf is None or (isinstance(vf, float) and np.isnan(vf)) else int(vf)
        if vt <= vf:
            raise ValueError(f"ticker map: {symbol} interval [{vf}, {vt}) is empty")
        rows.append((vf, vt, int(rec["cik"])))
    rows.sort()
    for a, b in zip(rows, rows[1:]):
        if b[0] < a[1]:
            raise ValueError(f"ticker map: {symbol} intervals overlap: {a} and {b}")
    return rows


def asof_join(market_times_us: Iterable[int] | np.ndarray, symbol: str, windows: Any, ticker_map: Any, *,
              feature_names: Sequence[str] | None = None) -> AsofResult:
    """See module docstring. ``windows``: list of FeatureWindow (kind 'edgar', key = CIK) or a DataFrame
    with columns key, available_at_us, status [, window_end_us, accession, feature columns].
    ``ticker_map``: rows (dicts or tuples) / DataFrame of symbol, cik, valid_from_us, valid_to_us
    (``valid_to_us`` exclusive, None = open-ended)."""
    t = np.asarray(market_times_us, dtype=np.int64)
    keys, avail, end, elig, acc, src = _window_table(windows)
    out = np.full(t.shape, -1, dtype=np.int64)
    cik_at = np.full(t.shape, -1, dtype=np.int64)
    by_cik: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for vf, vt, cik in _ticker_rows(ticker_map, symbol):
        mask = (t >= vf) & (t < vt)
        if not mask.any():
            continue
        cik_at[mask] = cik
        if cik not in by_cik:
            idx = np.flatnonzero((keys == cik) & elig)
            order = sorted(idx.tolist(), key=lambda i: (avail[i], end[i], acc[i]))
            ordered = np.asarray(order, dtype=np.int64)
            by_cik[cik] = (ordered, avail[ordered] if len(ordered) else np.empty(0, dtype=np.int64))
        ordered, av = by_cik[cik]
        if len(ordered) == 0:
            continue
        pos = np.searchsorted(av, t[mask], side="right") - 1
        out[mask] = np.where(pos >= 0, ordered[np.clip(pos, 0, None)], -1)
    feats = None
    names: tuple[str, ...] = tuple(feature_names or ())
    if names:
        feats = np.full((t.shape[0], len(names)), np.nan, dtype=np.float64)
        hit = np.flatnonzero(out >= 0)
        if isinstance(src, list):
            table = np.full((len(src), len(names)), np.nan)
            for i, w in enumerate(src):
                for j, n in enumerate(names):
                    v = w.features.get(n)
                    if v is not None:
                        table[i, j] = v
        else:
            table = np.column_stack([src[n].astype("float64").to_numpy() if n in src else np.full(len(src), np.nan) for n in names])
        feats[hit] = table[out[hit]]
    return AsofResult(out, cik_at, names, feats)


def windows_frame(windows: Sequence[FeatureWindow], feature_names: Sequence[str] = ()):
    """FeatureWindows -> DataFrame (key, available_at_us, window_end_us, status, accession, features...)."""
    import pandas as pd

    rows = []
    for w in windows:
        row = {"key": int(w.key), "available_at_us": w.available_at_us, "window_end_us": w.window_end_us,
               "status": w.status, "accession": w.provenance.get("accession", "")}
        for n in feature_names:
            row[n] = w.features.get(n, np.nan)
        rows.append(row)
    return pd.DataFrame(rows)
