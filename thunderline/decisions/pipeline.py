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

Shape of the work: everything is done per batch on arrays — no Python object
per window on the way. The result is a columnar :class:`DecisionBatch` whose
trace hashes and ids come from :mod:`trace_codec` (the same bytes as
``DecisionTrace.content_hash``, tested); DecisionTrace objects are built only
when someone asks for ``batch.traces``.
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import pandas as pd

from thunderline.contracts import DecisionTrace, ExpertAction, FeatureWindow, feature_window_ids
from thunderline.decisions import trace_codec
from thunderline.decisions.router_state import RouterState
from thunderline.decisions.trace_codec import ActionColumn
from thunderline.experts import ExpertRunner, window_risk_flags
from thunderline.experts._threads import single_threaded
from thunderline.experts.blend import ABSTAIN, action_codes, action_strings, blend_scores, score_actions
from thunderline.feature_schemas import adapt_rows
from thunderline.hashing import time_ordered_ids_of_lists
from thunderline.risk import RiskConfig, apply_risk
from thunderline.routing import Assignment, route

EMBEDDING_SIZE = 16  # Thunderbit: fixed-size behaviour embedding of a decision
PER_WINDOW_BUDGET_MS = 0.5
P_FLOOR = 0.05
REPLAY_BUDGET_MS = 600_000.0


@dataclass
class DecisionBatch:
    """Every decision of one batch, as columns; :attr:`traces` builds DecisionTrace objects on demand.

    Why columns: persisting, counting and hashing a month of decisions never needs a
    Python object per window, and building ~10 ExpertAction objects per window cost
    more than routing and the experts together. ``content_hashes`` are computed from
    the columns by :mod:`thunderline.decisions.trace_codec` and equal
    ``DecisionTrace.content_hash`` of the corresponding trace (tests hold them to it).

    ``columns`` are the expert slots a trace can list: every (layer, pool position),
    layer by layer, then the shadows; ``actions``/``confidences``/``weights`` are
    n × len(columns) (a live slot's weight is its layer weight, shadows weigh 0);
    ``latency_ms`` is each slot's per-window latency; ``scores`` each slot's signed score and
    ``blended_score`` the blend's signed conviction in [−1, 1] from which ``blended_actions``
    were derived (before risk).
    """

    tenant_id: str
    router_version: str
    feature_window_ids: list[str]
    symbols: list[str]
    window_start_us: np.ndarray
    window_end_us: np.ndarray
    assignments: list[Assignment]
    columns: list[ActionColumn]
    n_live: int
    actions: np.ndarray
    confidences: np.ndarray
    weights: np.ndarray
    latency_ms: np.ndarray
    blended_actions: np.ndarray
    blended_confidence: np.ndarray
    risk_flags: list[list[str]]
    embedding: np.ndarray
    ids: list[str]
    content_hashes: list[str]
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    blended_score: np.ndarray = field(default_factory=lambda: np.zeros(0))
    edgar_window_ids: list = field(default_factory=list)  # per trace: the EDGAR window joined as of it
    expert_latency_ms: dict[str, float] = field(default_factory=dict)
    expert_status: dict[str, str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @classmethod
    def empty(cls, tenant_id: str = "", router_version: str = "") -> "DecisionBatch":
        z = np.zeros(0)
        return cls(tenant_id, router_version, [], [], z.astype(np.int64), z.astype(np.int64), [], [], 0,
                   np.zeros((0, 0), object), np.zeros((0, 0)), np.zeros((0, 0)), z, z.astype(object), z, [],
                   np.zeros((0, EMBEDDING_SIZE)), [], [])

    def __len__(self) -> int:
        return len(self.feature_window_ids)

    def layer_stats(self) -> list[dict[str, Any]]:
        return [a.stats for a in self.assignments]

    def kept_columns(self, t: int) -> list[int]:
        """The slots trace ``t`` lists, in trace order: each layer's kept experts in kept order, then shadows."""
        out, base = [], 0
        for a in self.assignments:
            o = a.kept_offsets
            out += (a.kept_experts[o[t]:o[t + 1]] + base).tolist()
            base += a.weights.shape[1]
        return out + list(range(self.n_live, len(self.columns)))

    def selected_experts(self) -> list[list[list[str]]]:
        """Per trace, per layer: the kept experts' names in kept order."""
        per_layer = []
        for a, names in zip(self.assignments, self._pool_names()):
            flat = np.asarray(names, dtype=object)[a.kept_experts].tolist() if len(names) else []
            o = a.kept_offsets.tolist()
            per_layer.append([flat[o[t]:o[t + 1]] for t in range(len(self))])
        return [list(x) for x in zip(*per_layer)] if per_layer else [[] for _ in range(len(self))]

    def gate_scores(self) -> list[list[list[float]]]:
        """Per trace, per layer: the gate scores over that layer's experts."""
        per_layer = [a.scores.tolist() for a in self.assignments]
        return [list(x) for x in zip(*per_layer)] if per_layer else [[] for _ in range(len(self))]

    def _pool_names(self) -> list[list[str]]:
        names: list[list[str]] = [[] for _ in self.assignments]
        for c in self.columns[: self.n_live]:
            names[c.layer].append(c.expert)
        return names

    @cached_property
    def traces(self) -> list[DecisionTrace]:
        """The batch as DecisionTrace objects (for callers that want records, not columns)."""
        gates, selected = self.gate_scores(), self.selected_experts()
        acts, conf, w = self.actions.tolist(), self.confidences.tolist(), self.weights.tolist()
        sc = self.scores.tolist()
        bscore = self.blended_score.tolist()
        lat = self.latency_ms.tolist()
        emb = self.embedding.tolist()
        out = []
        for t in range(len(self)):
            expert_actions = []
            for g in self.kept_columns(t):
                c = self.columns[g]
                expert_actions.append(ExpertAction(layer=c.layer, expert=c.expert, model_version=c.model_version,
                                                   alias=c.alias, action=str(acts[t][g]), confidence=conf[t][g],
                                                   latency_ms=lat[g], weight=w[t][g], flags=c.flags,
                                                   score=sc[t][g]))
            tr = DecisionTrace(
                tenant_id=self.tenant_id, feature_window_id=self.feature_window_ids[t], symbol=self.symbols[t],
                window_start_us=int(self.window_start_us[t]), window_end_us=int(self.window_end_us[t]),
                router_version=self.router_version, gate_scores=gates[t], selected_experts=selected[t],
                expert_actions=expert_actions, blended_action=str(self.blended_actions[t]),
                blended_confidence=float(self.blended_confidence[t]), risk_flags=list(self.risk_flags[t]),
                embedding=emb[t], blended_score=bscore[t])
            out.append(tr)
        return out


def feature_frame(windows: Sequence[FeatureWindow], edgar_windows: Sequence[FeatureWindow] = (),
                  ticker_map: Sequence[dict] = (), schema_version: str | None = None) -> pd.DataFrame:
    """Market window features with the EDGAR features known at each window's end (as-of join, no look-ahead).

    ``schema_version``: every window's features read as that feature schema version names them (windows
    stored under an older one go through the declared forward path, backfills included; an impossible
    read is refused with FeatureSchemaError). Training and evaluation read as the current version, so
    windows stored before a recipe change still feed the experts that read its new features."""
    df = joined_feature_frame(windows, edgar_windows, ticker_map)[0]
    versions = _WindowVersions([w.feature_schema_version for w in windows])
    if schema_version is None or not windows or versions.distinct == {schema_version}:
        return df
    from thunderline import feature_schemas

    chain = feature_schemas.CHAIN
    # a window's absent market features (a coarse recipe) are NaN, as in a mixed frame: their backfills are NaN
    full = {f for v in versions.distinct for f in chain[v].recipes.get("market.full", ())} - set(df.columns)
    df = df.reindex(columns=[*df.columns, *sorted(full)])
    return versions.read_as(df, schema_version, sorted(chain[schema_version].features))


def joined_feature_frame(windows: Sequence[FeatureWindow], edgar_windows: Sequence[FeatureWindow] = (),
                         ticker_map: Sequence[dict] = ()) -> tuple[pd.DataFrame, list[str | None]]:
    """:func:`feature_frame` plus, per window, the id of the EDGAR window the as-of join took (or None).

    The ids travel beside the frame, not in ``df.attrs``: pandas deep-copies attrs on every
    derived frame, which made each expert's column selection copy a list as long as the batch.
    """
    from thunderline.edgar import FEATURE_NAMES, asof_join

    df = _market_frame(windows)
    joined: list[str | None] = [None] * len(windows)
    if not windows:
        return df, joined
    if edgar_windows and ticker_map:
        symbols = np.array([w.key for w in windows], dtype=object)
        t = np.array([w.available_at_us for w in windows], dtype=np.int64)
        parts = []
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
    return df, joined


def _market_frame(windows: Sequence[FeatureWindow]) -> pd.DataFrame:
    """The windows' features as a float64 frame, one row per window.

    Windows of one recipe list the same features in the same order, so their values
    go straight into one matrix; anything else goes through pandas' dict alignment.
    """
    keys = list(windows[0].features) if windows else []
    if all(list(w.features) == keys for w in windows):
        F = np.array([list(w.features.values()) for w in windows], dtype=np.float64).reshape(len(windows), len(keys))
        return pd.DataFrame(F, columns=keys, index=pd.RangeIndex(len(windows)))
    df = pd.DataFrame([w.features for w in windows], dtype=np.float64)
    df.index = pd.RangeIndex(len(windows))
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
    with _collector_paused(), single_threaded("blas"):
        return _decide(windows, state, experts, tenant_id=tenant_id, runner=runner, risk=risk, shadows=shadows,
                       edgar_windows=edgar_windows, ticker_map=ticker_map, positions=positions,
                       enforce_budgets=enforce_budgets, p_shift=p_shift, abstain_experts=abstain_experts)


@contextmanager
def _collector_paused():
    """No cyclic-GC passes while one batch is decided.

    Why: a batch allocates tens of thousands of short-lived lists and strings, which
    triggers full collections that walk the caller's whole heap (a month of windows,
    loaded models): measured at a quarter of the batch's time. Nothing here creates
    cycles, and reference counting frees it all; collection resumes afterwards.

    (BLAS is held to one thread for the batch as well: its products here are a few
    thousand rows by a few dozen columns, and an idle BLAS team spins on the other
    core after every call — measured at 40 % of the batch's CPU time.)
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _decide(windows, state, experts, *, tenant_id, runner, risk, shadows, edgar_windows, ticker_map, positions,
            enforce_budgets, p_shift, abstain_experts) -> DecisionBatch:
    t0 = time.perf_counter()
    runner = runner or ExpertRunner()
    risk = risk or RiskConfig()
    n = len(windows)
    if n == 0:
        return DecisionBatch.empty(tenant_id, state.version)
    missing = sorted({e for pool in state.pools for e in pool} - set(experts))
    if missing:
        raise LookupError(f"router {state.version} routes to experts that are not loaded: {missing}")
    df, edgar_ids = joined_feature_frame(windows, edgar_windows, ticker_map)
    versions = _WindowVersions([w.feature_schema_version for w in windows])
    F = versions.read_as(df, _router_schema(state, experts), state.embedding.feature_names)
    F = F.reindex(columns=list(state.embedding.feature_names)).to_numpy(np.float64)
    X = state.embedding.embed(F)
    t1 = time.perf_counter()
    assignments = [route(X, g, layer.capacity_factor, max(P_FLOOR, layer.p - p_shift), layer.max_experts)
                   for g, layer in zip(state.gates, state.config.layers)]
    skipped = set(abstain_experts)
    t2 = time.perf_counter()
    need, results, shadow_results = _run_experts(state, assignments, experts, df, n, runner, shadows,
                                                 skipped, enforce_budgets, versions)
    t3 = time.perf_counter()
    A, C, Sc, W, res_cols, alpha = _pool_columns(state, assignments, results, n)
    blended_score, Z = blend_scores(A, Sc, W, alpha)
    blended_codes, blended_conf = score_actions(blended_score, Z, state.thresholds)
    blended = action_strings(blended_codes)
    flags = _expert_flags(res_cols, results, W, n)
    symbols = np.array([w.key for w in windows], dtype=object)
    final, risk_flags = apply_risk(tenant_id, symbols, blended, blended_conf, reference_price(df), positions,
                                   flags, config=risk)
    if p_shift or skipped:
        lowered = [f"backpressure.lower_p:{p_shift:g}"] if p_shift else []
        silenced = [(e, need[e]) for e in sorted(skipped & set(need))]
        risk_flags = [list(f) + lowered + [f"backpressure.forced_abstain:{e}" for e, m in silenced if m[t]]
                      for t, f in enumerate(risk_flags)]
    t4 = time.perf_counter()

    batch = _batch(windows, state, assignments, results, shadow_results, final, blended_conf, risk_flags, A, C, W,
                   tenant_id, edgar_ids, Sc, blended_score, alpha, _ran_versions(state, experts))
    t5 = time.perf_counter()
    batch.expert_latency_ms = {name: r.latency_ms for name, (_, r) in results.items()}
    batch.expert_latency_ms.update({f"{s.expert}@shadow": s.latency_ms for s in shadow_results})
    batch.expert_status = {name: r.status for name, (_, r) in results.items()}
    batch.timings_ms = {"embed": (t1 - t0) * 1e3, "route": (t2 - t1) * 1e3, "experts": (t3 - t2) * 1e3,
                        "blend_risk": (t4 - t3) * 1e3, "traces": (t5 - t4) * 1e3}
    return batch


class _WindowVersions:
    """The batch's per-window feature schema versions, and the frame as a reader of one version reads it."""

    def __init__(self, versions: list[str]) -> None:
        self.versions = versions
        self.distinct = set(versions)

    def read_as(self, df: pd.DataFrame, version: str, needed) -> pd.DataFrame:
        """``df`` through the declared forward path when the windows are not all of ``version`` (identity
        otherwise, or when ``version`` is unknown ""; refused with FeatureSchemaError naming the feature)."""
        if not version or self.distinct == {version}:
            return df
        return adapt_rows(df, self.versions, version, tuple(needed or ()))

    def frame_for(self, df: pd.DataFrame, expert: Any) -> pd.DataFrame:
        return self.read_as(df, getattr(expert, "feature_schema_version", "") or "", getattr(expert, "features", ()))


def _router_schema(state: RouterState, experts) -> str:
    """The feature schema the router's embedding was fitted on: its pool experts' one version ("" if mixed)."""
    found = {getattr(experts.get(e), "feature_schema_version", "") or "" for pool in state.pools for e in pool}
    return found.pop() if len(found) == 1 else ""


def _run_experts(state, assignments, experts, df, n: int, runner, shadows, skipped, enforce_budgets, versions):
    """Runs every expert on the windows some layer kept it for (an expert silenced by backpressure is
    skipped), and every shadow on all windows, each on the features as its feature schema version names
    them. Returns (windows each expert must answer, expert name → (rows, result), shadow results)."""
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
            frame = versions.frame_for(df, experts[name])
            results[name] = (rows, runner.run(experts[name], _expert_frame(frame, experts[name], rows), budget))
    shadow_results = [runner.run(s, versions.frame_for(df, s), _budget(s, n) if enforce_budgets else REPLAY_BUDGET_MS)
                      for s in shadows]
    return need, results, shadow_results


def _pool_columns(state, assignments, results, n: int):
    """Per layer, per pool slot, one column over the n windows: action codes (abstain where the expert
    did not answer), confidences, signed scores and weights (layer weight / number of layers); with
    each slot's result (None when not run) and blend scale."""
    L = len(assignments)
    codes_of = {name: action_codes(r.actions) for name, (_, r) in results.items()}
    act_cols, conf_cols, score_cols, w_cols, res_cols, alpha = [], [], [], [], [], []
    for pool, a in zip(state.pools, assignments):
        for j, name in enumerate(pool):
            acts = np.full(n, ABSTAIN, dtype=np.int8)
            conf = np.zeros(n)
            sc = np.zeros(n)
            if name in results:
                rows, r = results[name]
                acts[rows] = codes_of[name]
                conf[rows] = r.confidences
                sc[rows] = r.signed_scores
            act_cols.append(acts)
            conf_cols.append(conf)
            score_cols.append(sc)
            w_cols.append(a.weights[:, j] / L)
            res_cols.append(results.get(name, (None, None))[1])
            alpha.append(state.scale_of(name))
    A = np.stack(act_cols, axis=1)  # action codes (runner-validated, so every code is a real action)
    return (A, np.stack(conf_cols, axis=1), np.stack(score_cols, axis=1), np.stack(w_cols, axis=1), res_cols,
            np.asarray(alpha))


def _expert_flags(res_cols, results, W: np.ndarray, n: int) -> list[list[str]]:
    """Per window, the sorted flags of the live experts weighted there (only a failed, late or degraded
    expert carries flags, so most batches skip the work)."""
    live = [(k, r) for k, r in enumerate(res_cols) if r is not None]
    flags = [[] for _ in range(n)]
    if any(r.flags for _, r in live):
        per_window = window_risk_flags([_widen(r, results, n) for _, r in live], W[:, [k for k, _ in live]])
        flags = [sorted(set(f)) if f else f for f in per_window]
    return flags


def _expert_frame(df: pd.DataFrame, expert: Any, rows: np.ndarray) -> pd.DataFrame:
    """The windows an expert must answer, with only the columns it reads when it says which
    (copying every feature column for every expert was most of the cost of slicing)."""
    features = getattr(expert, "features", None)
    if features:
        cols = [c for c in features if c in df.columns]  # a missing one is the expert's error to name
        return df.iloc[rows, [df.columns.get_loc(c) for c in cols]]
    return df.iloc[rows]


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


def _ran_versions(state: RouterState, experts) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per routed expert: the model version that runs (the loaded expert's; the router's record for an
    expert object that names none), and the flag its trace entries carry when that is not the version
    the router version records (none recorded, or another one loaded): the trace says what ran, and
    says that a replay with its router version would not run it."""
    out = {}
    for name in {e for pool in state.pools for e in pool}:
        recorded = str(state.expert_versions.get(name, "") or "")
        ran = str(getattr(experts[name], "version", "") or recorded)
        out[name] = (ran, () if ran == recorded else (f"unrouted_version:{name}",))
    return out


def _batch(windows, state, assignments, results, shadow_results, final, conf, risk_flags, A, C, W, tenant_id,
           edgar_ids, Sc, blended_score, alpha, ran) -> DecisionBatch:
    """Columns of the batch plus every trace's id and content hash; no per-window objects."""
    n = len(windows)
    L = len(assignments)
    contrib = np.where(A != ABSTAIN, W * Sc * alpha, 0.0)
    score = blended_score
    offsets = np.cumsum([0] + [len(p) for p in state.pools])
    emb_cols = []
    for l, a in enumerate(assignments):
        S = a.scores
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.where(S > 0, S * np.log(np.where(S > 0, S, 1.0)), 0.0).sum(axis=1)
        layer_score = contrib[:, offsets[l]:offsets[l + 1]].sum(axis=1) * L
        emb_cols += [ent, a.weights.max(axis=1), a.kept_counts.astype(np.float64), layer_score]
    emb_cols += [score, conf, np.fromiter(map(len, risk_flags), dtype=np.float64, count=n),
                 (np.asarray(final) == "abstain").astype(np.float64)]
    E = np.column_stack(emb_cols)[:, :EMBEDDING_SIZE]
    E = np.round(np.where(np.isfinite(E), E, 0.0), 12)
    if E.shape[1] < EMBEDDING_SIZE:
        E = np.hstack([E, np.zeros((n, EMBEDDING_SIZE - E.shape[1]))])

    lat = {name: r.latency_per_window_ms for name, (_, r) in results.items()}
    columns, latency = [], []
    for l, pool in enumerate(state.pools):
        for name in pool:
            r = results.get(name, (None, None))[1]
            version, unrouted = ran[name]
            columns.append(ActionColumn(l, name, version,
                                        (getattr(r, "alias", "champion") or "champion") if r else "champion",
                                        (tuple(r.flags) if r else ()) + unrouted))
            latency.append(float(lat.get(name, 0.0)))
    n_live = len(columns)
    for s in shadow_results:
        columns.append(ActionColumn(-1, s.expert, str(s.version), "shadow", tuple(s.flags)))
        latency.append(float(s.latency_per_window_ms))
    layer_w = np.hstack([a.weights for a in assignments]) if assignments else np.zeros((n, 0))
    if shadow_results:
        shadow_acts = np.column_stack([np.asarray(s.actions, dtype=object) for s in shadow_results])
        shadow_codes = action_codes(shadow_acts)
        codes = np.hstack([A, shadow_codes]) if (shadow_codes >= 0).all() else None
        acts = np.hstack([action_strings(A), shadow_acts])
        confs = np.hstack([C, np.column_stack([np.asarray(s.confidences, dtype=np.float64) for s in shadow_results])])
        weights = np.hstack([layer_w, np.zeros((n, len(shadow_results)))])
        scores = np.hstack([Sc, np.column_stack([s.signed_scores for s in shadow_results])])
    else:
        acts, confs, weights, codes, scores = action_strings(A), C, layer_w, A, Sc
    final = np.asarray(final, dtype=object)
    bconf = np.where(final != "abstain", np.asarray(conf, dtype=np.float64), 0.0)
    fw_ids = feature_window_ids(windows)
    symbols = [w.key for w in windows]
    starts = np.fromiter((w.window_start_us for w in windows), dtype=np.int64, count=n)
    ends = np.fromiter((w.window_end_us for w in windows), dtype=np.int64, count=n)
    buf, off = trace_codec.encode_batch(
        tenant_id=tenant_id, router_version=state.version, feature_window_ids=fw_ids, symbols=symbols,
        window_start_us=starts, window_end_us=ends, layer_scores=[a.scores for a in assignments],
        layer_kept=[(a.kept_experts, a.kept_offsets) for a in assignments], columns=columns, actions=acts,
        confidences=confs, weights=weights, n_live=n_live, blended_actions=final, blended_confidence=bconf,
        risk_flags=risk_flags, embedding=E, action_codes=codes, scores=scores, blended_score=blended_score)
    ids = time_ordered_ids_of_lists("decision_trace", starts, [tenant_id, fw_ids, state.version])
    return DecisionBatch(tenant_id, state.version, fw_ids, symbols, starts, ends, list(assignments), columns, n_live,
                         acts, confs, weights, np.array(latency, dtype=np.float64), final, bconf, risk_flags, E, ids,
                         trace_codec.hashes(buf, off), scores=scores, blended_score=np.asarray(blended_score),
                         edgar_window_ids=list(edgar_ids))
