"""What a first router is seeded from: training frames of windows, and layer pools built from expert families.

Shared by the bootstrap (:mod:`thunderline.decisions.bootstrap`) and the decision-stack fit
(:mod:`thunderline.decisions.fitting`), which both build on it; it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thunderline.contracts import FEATURE_SCHEMA_VERSION
from thunderline.decisions.embedding import fit_embedding
from thunderline.decisions.pipeline import feature_frame
from thunderline.decisions.router_state import RouterState
from thunderline.experts import FAMILY_FEATURES
from thunderline.labels.forward import balanced_forward_labels
from thunderline.routing import RouterConfig, RouterLayerConfig, init_gates

#: Layer pools by expert family: a fast market layer, an all-experts layer, a slow fundamentals layer.
#: Each layer keeps the spec's capacity factor and p for its position (2.0/0.65, 1.8/0.6, 1.6/0.55);
#: its expert count is the size of its pool (16/12/8 when that many experts are registered).
LAYER_FAMILIES = (("layer_market", ("order_flow", "ofi_top", "momentum"), 2.0, 0.65),
                  ("layer_all", ("order_flow", "ofi_top", "momentum", "filing"), 1.8, 0.6),
                  ("layer_fundamental", ("momentum", "filing"), 1.6, 0.55))
EMBEDDING_FEATURES = tuple(dict.fromkeys(f for fam in ("order_flow", "momentum", "filing")
                                         for f in FAMILY_FEATURES[fam]))


@dataclass
class TrainingSet:
    features: pd.DataFrame
    labels: pd.DataFrame
    windows: int


def training_set(windows, edgar_windows=(), ticker_map=(), horizons=(1, 4, 10), fit_mask=None) -> TrainingSet:
    """Features (market + as-of EDGAR) and forward labels, per symbol in time order.

    Labels chain window ends to later window starts (``end_col``), so with overlapping windows a
    label never includes the window's own span; the dead band is fitted on ``fit_mask`` rows only.
    """
    windows = sorted(windows, key=lambda w: (w.key, w.window_start_us))
    df = training_frame(windows, edgar_windows, ticker_map)
    mask = None if fit_mask is None else np.asarray(fit_mask(df), dtype=bool)
    labels = balanced_forward_labels(df, horizons, fit_mask=mask, end_col="window_end_us")
    return TrainingSet(df, labels, len(windows))


def training_frame(windows, edgar_windows=(), ticker_map=()) -> pd.DataFrame:
    """Features (market + as-of EDGAR, every embedding feature present) with ``symbol``,
    ``window_start_us`` and ``window_end_us``, one row per window in the given order. Read as the current
    feature schema version: windows stored under an older one go through its forward path (backfills)."""
    df = feature_frame(windows, edgar_windows, ticker_map, schema_version=FEATURE_SCHEMA_VERSION)
    for col in EMBEDDING_FEATURES:
        if col not in df:
            df[col] = np.nan
    df["symbol"] = [w.key for w in windows]
    df["window_start_us"] = [w.window_start_us for w in windows]
    df["window_end_us"] = [w.window_end_us for w in windows]
    return df


def pools_for(expert_families: dict[str, str]) -> list[tuple[str, tuple[str, ...], float, float]]:
    """Per layer (name, pool, c, p) from the registered experts' families; empty layers are dropped."""
    out = []
    for name, fams, c, p in LAYER_FAMILIES:
        pool = tuple(sorted(e for e, f in expert_families.items() if f in fams))
        if pool:
            out.append((name, pool, c, p))
    return out


def initial_router_state(expert_families: dict[str, str], expert_versions: dict[str, str],
                         features: pd.DataFrame, *, d: int = 32, seed: int = 0) -> RouterState:
    """Seeded gates over pools built from the experts' families; embedding statistics from ``features``."""
    layers = pools_for(expert_families)
    if not layers:
        raise ValueError("no experts registered: train and register experts before seeding a router")
    cfg = RouterConfig(layers=tuple(RouterLayerConfig(name=n, n_experts=len(pool), capacity_factor=c, p=p)
                                    for n, pool, c, p in layers), d=d)
    emb = fit_embedding(features.reindex(columns=list(EMBEDDING_FEATURES)).to_numpy(np.float64),
                        EMBEDDING_FEATURES, d=d, seed=seed)
    gates = tuple(init_gates(cfg, seed))
    return RouterState(cfg, gates, tuple(pool for _, pool, _, _ in layers), dict(expert_versions), emb)
