"""Hand-sized market windows for the learning-loop tests, as FeatureWindows and warehouse rows."""

from __future__ import annotations

from thunderline.contracts import FeatureWindow
from thunderline.store.window_rows import window_row

TENANT = "default"
WIDTH, STEP = 250_000, 125_000
RECIPE = "market.full.v1:w250000us:s125000us:test"


def window(symbol: str, start_us: int, mid_return: float, spread_bps: float = 2.0, **features) -> FeatureWindow:
    feats = {"mid_return": float(mid_return), "spread_bps": float(spread_bps), "spread": spread_bps * 1e-2}
    feats.update({k: float(v) for k, v in features.items()})
    return FeatureWindow(tenant_id=TENANT, kind="market", key=symbol, window_start_us=int(start_us),
                         window_end_us=int(start_us) + WIDTH, available_at_us=int(start_us) + WIDTH,
                         recipe_version=RECIPE, features=feats, provenance={"batches": []})


def series(symbol: str, t0: int, returns, spreads=None, skip=()) -> list[FeatureWindow]:
    """Windows every STEP (50 % overlap) from t0; indices in ``skip`` have no window (no ticks)."""
    spreads = spreads or [2.0] * len(returns)
    return [window(symbol, t0 + i * STEP, r, s) for i, (r, s) in enumerate(zip(returns, spreads)) if i not in skip]


def store_windows(warehouse, windows) -> None:
    with warehouse.session(TENANT) as s:
        s.upsert("feature_windows", [window_row(w) for w in windows])


def planted_windows(n_symbols: int = 3, n_windows: int = 500, seed: int = 3, **kw) -> list[FeatureWindow]:
    """Planted-signal windows (thunderline.experts.synthetic) as market FeatureWindows: adjacent, 250 ms wide."""
    import math

    from thunderline.experts.synthetic import planted_feature_windows

    df = planted_feature_windows(n_symbols, n_windows, seed=seed, **kw)
    feats = [c for c in df.columns if c not in ("symbol", "window_start_us", "window_end_us")]
    out = []
    for row in df.itertuples(index=False):
        f = {k: float(getattr(row, k)) for k in feats}
        f = {k: v for k, v in f.items() if not math.isnan(v)}
        out.append(FeatureWindow(tenant_id=TENANT, kind="market", key=row.symbol,
                                 window_start_us=int(row.window_start_us), window_end_us=int(row.window_end_us),
                                 available_at_us=int(row.window_end_us), recipe_version="planted.v1",
                                 features=f, provenance={"batches": [], "planted_seed": seed}))
    return out


def store_planted(warehouse, windows, specs=None) -> list[str]:
    """Store windows and realise their labels; returns the months touched."""
    from thunderline.flow.learning_partition import realise_label_partition
    from thunderline.labels.realise import DEFAULT_LABEL_SPECS
    from thunderline.store import month_of_us

    store_windows(warehouse, windows)
    parts = sorted({(month_of_us(w.window_start_us), w.key) for w in windows})
    with warehouse.session(TENANT) as s:
        for month, sym in parts:
            realise_label_partition(s, month, sym, specs or DEFAULT_LABEL_SPECS)
    return sorted({m for m, _ in parts})


def windows_frame(windows):
    """The training frame experts fit on: features plus symbol and window bounds."""
    import pandas as pd

    df = pd.DataFrame([w.features for w in windows])
    df["symbol"] = [w.key for w in windows]
    df["window_start_us"] = [w.window_start_us for w in windows]
    df["window_end_us"] = [w.window_end_us for w in windows]
    return df
