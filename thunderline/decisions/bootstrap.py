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

from thunderline.decisions.router_state import RouterState
from thunderline.decisions.seeding import (  # noqa: F401  (the bootstrap's public names)
    EMBEDDING_FEATURES,
    LAYER_FAMILIES,
    TrainingSet,
    initial_router_state,
    pools_for,
    training_frame,
    training_set,
)
from thunderline.experts import DEFAULT_EXPERT_SPECS


def default_specs():
    return DEFAULT_EXPERT_SPECS


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
