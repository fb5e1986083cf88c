"""From history to a first working router: train experts on past windows, register, seed the gates.

Why a bootstrap: decisions need champion experts in MLflow and an active router
version. Both come from data the platform already holds — market windows (and
EDGAR windows joined as of each window's end) for months *before* the ones to
be decided — so a new deployment trains on history and decides forward.
The first router version has seeded gates; ``retrain_gates`` replaces them
with gates learned from realised outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thunderline.decisions.embedding import fit_embedding
from thunderline.decisions.pipeline import feature_frame
from thunderline.decisions.router_state import RouterState
from thunderline.experts import DEFAULT_EXPERT_SPECS, FAMILY_FEATURES
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
    ``window_start_us`` and ``window_end_us``, one row per window in the given order."""
    df = feature_frame(windows, edgar_windows, ticker_map)
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


def default_specs():
    return DEFAULT_EXPERT_SPECS


def load_pool(registry, state: RouterState) -> tuple[dict[str, object], list[object]]:
    """Champions for every expert the router routes to, plus every expert that has a shadow version."""
    experts = {name: registry.load(name, "champion") for name in sorted({e for p in state.pools for e in p})}
    shadows = [registry.load(info.name, "shadow") for info in registry.list_experts() if "shadow" in info.aliases]
    for e in [*experts.values(), *shadows]:
        _warm_up(e)
    return experts, shadows


def _warm_up(expert) -> None:
    """One tiny prediction so the first real batch does not pay lazy loading against its latency budget."""
    example = pd.DataFrame([[0.0] * len(expert.features)], columns=list(expert.features))
    try:
        expert.predict(example)
    except Exception:  # noqa: BLE001 - a broken expert is isolated by the runner on the real batch
        pass


@dataclass
class BootstrapReport:
    trained: dict[str, dict]
    router_version: str
    train_windows: int
    skipped: dict[str, str]


def bootstrap_from_windows(registry, windows, *, edgar_windows=(), ticker_map=(), seed: int = 0,
                           holdout: float = 0.2, specs=None, d: int = 32) -> tuple[RouterState, BootstrapReport]:
    """Train the default experts on ``windows`` (time-ordered hold-out for metrics), register them as
    champions, and build the first (seeded) router state over them."""
    from thunderline.experts import ExpertInputError
    from thunderline.experts.training import evaluate_expert, train_expert

    if len(windows) < 100:
        raise ValueError(f"bootstrap: {len(windows)} windows are too few to train experts (need ≥ 100)")
    starts = np.sort(np.array([w.window_start_us for w in windows], dtype=np.int64))
    cut_time = int(starts[int(len(starts) * (1 - holdout))])
    width = int(np.median([w.window_end_us - w.window_start_us for w in windows]))
    max_h = max(s.horizon for s in (specs or DEFAULT_EXPERT_SPECS))
    purge_from = cut_time - (max_h + 1) * width  # train labels must not look into the hold-out
    ts = training_set(windows, edgar_windows, ticker_map,
                      fit_mask=lambda df: df["window_start_us"].to_numpy() < purge_from)
    start = ts.features["window_start_us"].to_numpy()
    cut = start < purge_from
    evaluate = start >= cut_time
    fitted, skipped = {}, {}
    for spec in specs or DEFAULT_EXPERT_SPECS:
        try:
            fitted[spec.name] = train_expert(spec, ts.features[cut], ts.labels[cut], seed)
        except ExpertInputError as exc:  # e.g. no filing history yet for filing experts
            skipped[spec.name] = str(exc)
    trained, versions, families = {}, {}, {}
    for name, fx in sorted(fitted.items()):
        m = evaluate_expert(fx, ts.features[evaluate], ts.labels[evaluate])
        v = registry.register(fx, alias="champion", metrics=m.as_dict("holdout_"))
        trained[name] = {"version": v.version, **m.as_dict()}
        versions[name] = str(v.version)
        families[name] = fx.family
    state = initial_router_state(families, versions, ts.features, d=d, seed=seed)
    return state, BootstrapReport(trained, state.version, ts.windows, skipped)


def bootstrap_on_clock(registry, windows, mids, *, known_until_us: int | None = None, seed: int = 0, specs=None,
                       horizon_ms: int | None = None, edgar_windows=(), ticker_map=(), tenant_id: str = "default",
                       d: int = 32) -> tuple[RouterState, BootstrapReport, dict]:
    """Train the default experts on clock labels realised from ``mids`` (symbol → QuoteMids), fit their
    blend (scales, gates, routing, thresholds: :mod:`thunderline.decisions.fitting`) on ``windows`` only,
    register the experts as champions and return the router state to publish, the report, and the
    fit's record. ``known_until_us``: the end of the training period (labels reaching past it are purged)."""
    import dataclasses

    from thunderline.decisions.fitting import DEFAULT_BLEND_HORIZON_MS, fit_decision_stack

    fit = fit_decision_stack(windows, mids, seed=seed, specs=specs, tenant_id=tenant_id,
                             horizon_ms=horizon_ms or DEFAULT_BLEND_HORIZON_MS, edgar_windows=edgar_windows,
                             ticker_map=ticker_map, known_until_us=known_until_us, d=d)
    trained, versions = {}, {}
    for name, fx in sorted(fit.experts.items()):
        st = fit.report["calibrate_stats"].get(name, {})
        metrics = {"calibrate_rank_ic": float(st.get("rank_ic", float("nan"))),
                   "blend_scale": float(fit.state.scale_of(name))}
        v = registry.register(fx, alias="champion", metrics=metrics)
        versions[name] = str(v.version)
        trained[name] = {"version": v.version, "rank_ic": metrics["calibrate_rank_ic"], "alpha": metrics["blend_scale"],
                         "horizon_ms": fx.horizon_ms}
    state = dataclasses.replace(fit.state, expert_versions=versions)
    return state, BootstrapReport(trained, state.version, len(windows), fit.skipped), fit.report
