"""Windows → decisions: embed, route every layer, run experts, blend, apply risk, build traces.

Why one function for Dagster, the live loop and replays: a DecisionTrace must
hash identically whichever path produced it. Everything here is deterministic
given (windows, EDGAR windows, ticker map, router state, expert versions, risk
config) — except measured latencies, which traces carry but never hash.

Guarantees:
* each layer routes the whole batch over its own pool (ROUTER_SPEC semantics);
* an expert runs once per batch, on the windows where some layer kept it
  (shadow experts run on every window, are logged, and never move the blend);
* the blend is confidence- and weight-blended across layers, each layer's
  weights scaled by 1/L so every layer counts equally;
* a live expert's error or budget breach on a window it had a say in makes
  that window ``abstain`` with the flag; risk rules run last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from thunderline.contracts import DecisionTrace, ExpertAction, FeatureWindow
from thunderline.decisions.router_state import RouterState
from thunderline.experts import ExpertRunner, blend, window_risk_flags
from thunderline.risk import RiskConfig, apply_risk
from thunderline.routing import Assignment, route

EMBEDDING_SIZE = 16  # Thunderbit: fixed-size behaviour embedding of a decision
PER_WINDOW_BUDGET_MS = 0.5
P_FLOOR = 0.05
REPLAY_BUDGET_MS = 600_000.0


@dataclass
class DecisionBatch:
    traces: list[DecisionTrace]
    assignments: list[Assignment]
    edgar_window_ids: list = field(default_factory=list)  # per trace: the EDGAR window joined as of it
    expert_latency_ms: dict[str, float] = field(default_factory=dict)
    expert_status: dict[str, str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def layer_stats(self) -> list[dict[str, Any]]:
        return [a.stats for a in self.assignments]


def feature_frame(windows: Sequence[FeatureWindow], edgar_windows: Sequence[FeatureWindow] = (),
                  ticker_map: Sequence[dict] = ()) -> pd.DataFrame:
    """Market window features with the EDGAR features known at each window's end (as-of join, no look-ahead)."""
    from thunderline.edgar import FEATURE_NAMES, asof_join

    df = pd.DataFrame([w.features for w in windows], dtype=np.float64)
    df.index = pd.RangeIndex(len(windows))
    df.attrs["edgar_window_ids"] = [None] * len(windows)
    if not windows:
        return df
    symbols = np.array([w.key for w in windows], dtype=object)
    t = np.array([w.available_at_us for w in windows], dtype=np.int64)
    if edgar_windows and ticker_map:
        parts = []
        joined: list[str | None] = [None] * len(windows)
        ew = list(edgar_windows)
        for sym in sorted(set(symbols.tolist())):
            rows = np.flatnonzero(symbols == sym)
            res = asof_join(t[rows], sym, ew, list(ticker_map), feature_names=FEATURE_NAMES)
            block = pd.DataFrame(res.features, columns=list(res.feature_names), index=rows)
            parts.append(block)
            for r, i in zip(rows.tolist(), res.indices.tolist()):
                joined[r] = ew[i].id if i >= 0 else None
        edgar = pd.concat(parts).sort_index()
        df = df.join(edgar.loc[:, [c for c in edgar.columns if c not in df.columns]])
        df.attrs["edgar_window_ids"] = joined
    return df


def reference_price(df: pd.DataFrame) -> np.ndarray:
    """A price per window for notional limits: the VWAP, else the mid implied by spread/spread_bps."""
    vwap = df["vwap"].to_numpy(np.float64) if "vwap" in df else np.full(len(df), np.nan)
    if "spread" in df and "spread_bps" in df:
        with np.errstate(all="ignore"):
            mid = df["spread"].to_numpy(np.float64) / df["spread_bps"].to_numpy(np.float64) * 1e4
        vwap = np.where(np.isfinite(vwap), vwap, mid)
    return vwap


def decide(
    windows: Sequence[FeatureWindow],
    state: RouterState,
    experts: dict[str, Any],
    *,
    tenant_id: str,
    runner: ExpertRunner | None = None,
    risk: RiskConfig | None = None,
    shadows: Sequence[Any] = (),
    edgar_windows: Sequence[FeatureWindow] = (),
    ticker_map: Sequence[dict] = (),
    positions: Any = 0.0,
    enforce_budgets: bool = True,
    p_shift: float = 0.0,
    abstain_experts: Sequence[str] = (),
) -> DecisionBatch:
    """Decide every window of one batch. ``experts``: pool name → loaded expert (champion/challenger).

    ``enforce_budgets=False`` is replay mode: latency budgets cannot bite, so the result depends on
    the inputs alone (a live run that breached a budget recorded the breach as a flag in its trace).
    ``p_shift`` and ``abstain_experts`` are the backpressure ladder's "lower p" and "force abstain"
    steps: every layer routes with ``p - p_shift`` (floor 0.05) and the named experts are not run
    (they abstain, so the blend ignores them). Both are recorded on every trace they touch as
    ``backpressure.*`` annotations (after risk, so they never halt a window by themselves).
    """
    t0 = time.perf_counter()
    runner = runner or ExpertRunner()
    risk = risk or RiskConfig()
    n = len(windows)
    if n == 0:
        return DecisionBatch([], [])
    missing = sorted({e for pool in state.pools for e in pool} - set(experts))
    if missing:
        raise LookupError(f"router {state.version} routes to experts that are not loaded: {missing}")
    df = feature_frame(windows, edgar_windows, ticker_map)
    F = df.reindex(columns=list(state.embedding.feature_names)).to_numpy(np.float64)
    X = state.embedding.embed(F)
    t1 = time.perf_counter()
    assignments = [route(X, g, layer.capacity_factor, max(P_FLOOR, layer.p - p_shift), layer.max_experts)
                   for g, layer in zip(state.gates, state.config.layers)]
    skipped = set(abstain_experts)
    t2 = time.perf_counter()

    # which windows each expert must answer (any layer kept it there)
    need: dict[str, np.ndarray] = {}
    for pool, a in zip(state.pools, assignments):
        for j, name in enumerate(pool):
            kept = a.weights[:, j] > 0
            need[name] = need.get(name, np.zeros(n, bool)) | kept
    results: dict[str, Any] = {}
    for name in sorted(need):
        rows = np.flatnonzero(need[name])
        if rows.size and name not in skipped:
            budget = _budget(experts[name], rows.size) if enforce_budgets else REPLAY_BUDGET_MS
            results[name] = (rows, runner.run(experts[name], df.iloc[rows], budget))
    shadow_results = [runner.run(s, df, _budget(s, n) if enforce_budgets else REPLAY_BUDGET_MS) for s in shadows]
    t3 = time.perf_counter()

    # per layer: actions/confidences/weights over the pool, n × e_l each
    L = len(assignments)
    act_cols, conf_cols, w_cols, res_cols = [], [], [], []
    for pool, a in zip(state.pools, assignments):
        for j, name in enumerate(pool):
            acts = np.full(n, "abstain", dtype=object)
            conf = np.zeros(n)
            if name in results:
                rows, r = results[name]
                acts[rows] = r.actions
                conf[rows] = r.confidences
            act_cols.append(acts)
            conf_cols.append(conf)
            w_cols.append(a.weights[:, j] / L)
            res_cols.append(results.get(name, (None, None))[1])
    A = np.stack(act_cols, axis=1)
    C = np.stack(conf_cols, axis=1)
    W = np.stack(w_cols, axis=1)
    blended, blended_conf = blend(A, C, W)
    live = [(k, r) for k, r in enumerate(res_cols) if r is not None]
    flags = [[] for _ in range(n)]
    if live:
        per_window = window_risk_flags([_widen(r, results, n) for _, r in live], W[:, [k for k, _ in live]])
        flags = [sorted(set(f)) for f in per_window]
    symbols = np.array([w.key for w in windows], dtype=object)
    final, risk_flags = apply_risk(tenant_id, symbols, blended, blended_conf, reference_price(df), positions,
                                   flags, config=risk)
    if p_shift or skipped:
        lowered = [f"backpressure.lower_p:{p_shift:g}"] if p_shift else []
        silenced = [(e, need[e]) for e in sorted(skipped & set(need))]
        risk_flags = [list(f) + lowered + [f"backpressure.forced_abstain:{e}" for e, m in silenced if m[t]]
                      for t, f in enumerate(risk_flags)]
    t4 = time.perf_counter()

    traces = _traces(windows, state, assignments, results, shadow_results, final, blended_conf, risk_flags, A, C, W,
                     tenant_id)
    t5 = time.perf_counter()
    latency = {name: r.latency_ms for name, (_, r) in results.items()}
    latency.update({f"{s.expert}@shadow": s.latency_ms for s in shadow_results})
    status = {name: r.status for name, (_, r) in results.items()}
    return DecisionBatch(traces, assignments, list(df.attrs.get("edgar_window_ids", [])), latency, status, {
        "embed": (t1 - t0) * 1e3, "route": (t2 - t1) * 1e3, "experts": (t3 - t2) * 1e3,
        "blend_risk": (t4 - t3) * 1e3, "traces": (t5 - t4) * 1e3})


def _budget(expert, rows: int) -> float:
    """An expert's budget covers a small batch; large batches get a per-window allowance on top.

    ``latency_budget_ms`` is what the live path (tens of windows) holds it to; a month's partition
    decided in batches of thousands must not abstain merely because the batch is large.
    """
    base = float(getattr(expert, "latency_budget_ms", 50.0) or 50.0)
    return max(base, PER_WINDOW_BUDGET_MS * rows)


def _widen(r, results, n):
    """An expert result over the windows it ran on, widened to the whole batch (abstain elsewhere)."""
    from thunderline.experts.runner import ExpertResult

    rows = next(rows for rows, rr in results.values() if rr is r)
    if rows.size == n:
        return r
    acts = np.full(n, "abstain", dtype=object)
    acts[rows] = r.actions
    conf = np.zeros(n)
    conf[rows] = r.confidences
    return ExpertResult(r.expert, r.version, r.alias, r.status, acts, conf, r.latency_ms, r.budget_ms, r.flags,
                        r.error)


def _traces(windows, state, assignments, results, shadow_results, final, conf, risk_flags, A, C, W, tenant_id):
    """DecisionTrace objects; everything per layer is computed vectorised first, the loop only assembles."""
    n = len(windows)
    L = len(assignments)
    direction = np.zeros(A.shape)
    direction[A == "buy"] = 1.0
    direction[A == "sell"] = -1.0
    contrib = W * C * direction
    score = contrib.sum(axis=1)
    offsets = np.cumsum([0] + [len(p) for p in state.pools])
    lat = {name: r.latency_per_window_ms for name, (_, r) in results.items()}
    version_of = state.expert_versions
    per_layer = []
    emb_cols = []
    for l, (pool, a) in enumerate(zip(state.pools, assignments)):
        S = a.scores
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.where(S > 0, S * np.log(np.where(S > 0, S, 1.0)), 0.0).sum(axis=1)
        layer_score = contrib[:, offsets[l]:offsets[l + 1]].sum(axis=1) * L
        emb_cols += [ent, a.weights.max(axis=1), a.kept_counts.astype(np.float64), layer_score]
        per_layer.append((pool, a, S.tolist(), a.weights, offsets[l]))
    emb_cols += [score, conf, np.array([len(f) for f in risk_flags], dtype=np.float64),
                 (np.asarray(final) == "abstain").astype(np.float64)]
    E = np.column_stack(emb_cols)[:, :EMBEDDING_SIZE]
    E = np.round(np.where(np.isfinite(E), E, 0.0), 12)
    if E.shape[1] < EMBEDDING_SIZE:
        E = np.hstack([E, np.zeros((n, EMBEDDING_SIZE - E.shape[1]))])
    emb_rows = E.tolist()
    act_rows, conf_rows = A.tolist(), C.tolist()
    alias_of = {name: (getattr(r, "alias", "champion") or "champion") for name, (_, r) in results.items()}
    flags_of = {name: tuple(r.flags) for name, (_, r) in results.items()}
    out = []
    for t, w in enumerate(windows):
        gate_scores, selected, acts = [], [], []
        for l, (pool, a, S_rows, Wl, off) in enumerate(per_layer):
            gate_scores.append(S_rows[t])
            kept = a.token_experts[t]
            selected.append([pool[j] for j, _ in kept])
            for j, _ in kept:
                name = pool[j]
                acts.append(ExpertAction(
                    layer=l, expert=name, model_version=str(version_of.get(name, "")),
                    alias=alias_of.get(name, "champion"), action=act_rows[t][off + j],
                    confidence=conf_rows[t][off + j], latency_ms=float(lat.get(name, 0.0)),
                    weight=float(Wl[t, j]), flags=flags_of.get(name, ())))
        for s in shadow_results:
            acts.append(ExpertAction(layer=-1, expert=s.expert, model_version=str(s.version), alias="shadow",
                                     action=str(s.actions[t]), confidence=float(s.confidences[t]),
                                     latency_ms=float(s.latency_per_window_ms), weight=0.0, flags=tuple(s.flags)))
        out.append(DecisionTrace(
            tenant_id=tenant_id, feature_window_id=w.id, symbol=w.key, window_start_us=w.window_start_us,
            window_end_us=w.window_end_us, router_version=state.version, gate_scores=gate_scores,
            selected_experts=selected, expert_actions=acts, blended_action=str(final[t]),
            blended_confidence=float(conf[t]) if final[t] != "abstain" else 0.0,
            risk_flags=list(risk_flags[t]), embedding=emb_rows[t]))
    return out
