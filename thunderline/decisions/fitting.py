"""Fitting a decision stack on a training period: experts on clock labels, then how to blend them.

Why a second stage: experts alone do not say how much of each to trust, and a fixed
vote let a weak expert carry the blend. On the training period only (never the period
to be decided), with purges so no label crosses from one fold into another:

1. **out-of-fold scores** (:mod:`thunderline.decisions.stacking`): the period is cut into
   ``CV_FOLDS`` contiguous purged folds; every expert is trained on the other folds (clock
   labels: the sign of the mid move over its own horizon, ``hold`` when the mid did not move,
   :mod:`thunderline.labels.clock`) and scores the fold, so every training window gets a score
   from experts that never saw it;
2. **stack** (all out-of-fold rows): α per expert by non-negative ridge regression of the move's
   direction on the standardised scores, shrunk toward the best single expert by a λ chosen by
   purged cross-validation; experts whose out-of-fold IC is not above noise get 0. The gates are
   learned from which expert's α-scaled score was right per window;
3. **select** (the last fold, forward in time): candidate router configurations — the IC-weighted
   average (every expert whose out-of-fold rank IC has t > 2, standardised and weighted by IC²;
   :func:`~thunderline.decisions.stacking.ic_weighted_scale`), the near-best average, the stacked
   blend with uniform routing, regime gates (:mod:`thunderline.decisions.regime_gates`), learned gates
   with soft or sparse routing — are fitted on the earlier folds' out-of-fold rows and run through the
   real decision path with the experts that did not see the last fold; a more complex candidate
   replaces the current choice only when it beats it by ``SELECT_Z`` standard errors (counted on the
   fold's independent label spans, not its overlapping windows). α is divided by each expert's
   routing share (:func:`routing_share`: an expert in several layers' pools would count several
   times). The action thresholds are fitted there:
   the |score| above which a position paid its spread and fees, or no trading at all when none did;
4. **refit**: the chosen configuration's α and gates are refitted on every out-of-fold row, and
   the experts on the whole training period (what is registered and decides).

The blend can therefore always fall back to the IC-weighted average of the experts that predicted
out of fold (not to one of them picked by luck), and a day on which routing does not help ends
with that or the plain stacked blend.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from thunderline.decisions.gates import GateFitError, fit_gate
from thunderline.decisions.router_state import BlendSpec, RouterState
from thunderline.labels.clock import QuoteMids, clock_labels
from thunderline.labels.forward import LABEL_BUY, LABEL_HOLD, LABEL_SELL, label_column
from thunderline.routing import RouterConfig, RouterLayerConfig

DEFAULT_BLEND_HORIZON_MS = 1000
#: Standard errors by which a more complex candidate must beat the current choice on the select stage
#: (two: with four candidates tried in turn, a spurious switch has a few per cent chance, not a third).
SELECT_Z = 2.0
#: Exchange/broker fee per side, basis points of notional, charged by threshold fitting and paper PnL.
DEFAULT_FEE_BPS = 0.1
#: The select stage's candidates, simplest first: the first is the fallback, each later one replaces the
#: current choice only when it beats it by ``SELECT_Z`` standard errors.
CANDIDATE_ORDER = ("ic_weighted", "near_best", "stacked", "gated_regime", "gated_soft", "gated_sparse",
                   "gated_expert_choice")


# --------------------------------------------------------------------------- labels
def clock_returns_for(frame: pd.DataFrame, mids: Mapping[str, QuoteMids], horizons_ms: Sequence[int], *,
                      known_until_us: int | None = None) -> dict[int, pd.DataFrame]:
    """Per horizon, aligned with ``frame``'s rows: ``fwd_return``, ``moved``, ``status`` of the clock label
    of every window (decision time = ``window_end_us``). Symbols without quotes get NaN (``gap``)."""
    out = {int(h): pd.DataFrame({"fwd_return": np.full(len(frame), np.nan), "moved": np.zeros(len(frame), bool),
                                 "status": np.full(len(frame), "gap", dtype=object)}, index=frame.index)
           for h in horizons_ms}
    sym = frame["symbol"].to_numpy(dtype=object)
    at = frame["window_end_us"].to_numpy(np.int64)
    for s in pd.unique(sym):
        rows = np.flatnonzero(sym == s)
        m = mids.get(s)
        if m is None or not len(m):
            continue
        until = known_until_us if known_until_us is None else min(int(known_until_us), int(m.ts[-1]))
        lab = clock_labels(m, at[rows], tuple(out), known_until_us=until)
        for h, g in lab.groupby("horizon_ms", sort=False):
            df = out[int(h)]
            df.iloc[rows, 0] = g["fwd_return"].to_numpy()
            df.iloc[rows, 1] = g["moved"].to_numpy()
            df.iloc[rows, 2] = g["status"].to_numpy()
    return out


def class_labels(returns: Mapping[int, pd.DataFrame], specs, index: pd.Index) -> pd.DataFrame:
    """``label_h{horizon}`` per expert spec from the clock return at its ``clock_horizon_ms``:
    ``buy`` (mid rose), ``sell`` (fell), ``hold`` (unchanged), None (not realised)."""
    cols = {}
    for spec in specs:
        col = label_column(spec.horizon)
        r = returns[spec.clock_horizon_ms]["fwd_return"].to_numpy()
        lab = np.full(r.size, None, dtype=object)
        known = np.isfinite(r)
        lab[known] = LABEL_HOLD
        lab[known & (r > 0)] = LABEL_BUY
        lab[known & (r < 0)] = LABEL_SELL
        cols.setdefault(col, lab)
    return pd.DataFrame(cols, index=index)


# --------------------------------------------------------------------------- stacking helpers
def score_targets(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per window, the expert whose (scaled) score was most right about the realised move: the largest
    ``score × sign(move)`` when it is > 0; ``-1`` (teaches nothing) when no expert was right or the mid
    did not move. Ties go to the lower index."""
    S = np.asarray(scores, dtype=np.float64)
    sgn = np.sign(np.nan_to_num(np.asarray(y, dtype=np.float64)))
    right = S * sgn[:, None]
    best = np.argmax(right, axis=1)
    ok = right[np.arange(S.shape[0]), best] > 0
    return np.where(ok, best, -1).astype(np.int64)


def fit_thresholds(z: np.ndarray, r_bps: np.ndarray, spread_bps: np.ndarray, fee_bps: float = DEFAULT_FEE_BPS,
                   quantiles: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)
                   ) -> tuple[tuple[float, float], dict]:
    """Symmetric action thresholds: the |score| quantile above which taking the position paid its
    crossing cost (the quoted spread, half in and half out, plus ``fee_bps`` per side) on average;
    with none profitable, a threshold above every score (the blend holds)."""
    z = np.asarray(z, dtype=np.float64)
    r = np.asarray(r_bps, dtype=np.float64)
    cost = np.nan_to_num(np.asarray(spread_bps, dtype=np.float64), nan=0.0) + 2 * fee_bps
    ok = np.isfinite(r) & np.isfinite(z)
    z, r, cost = z[ok], r[ok], cost[ok]
    best, best_pnl, table = None, 0.0, []
    a = np.abs(z)
    for q in quantiles:
        if a.size == 0:
            break
        th = float(np.quantile(a, q))
        pos = np.where(a > th, np.sign(z), 0.0)
        n = int((pos != 0).sum())
        pnl = float((pos * r - np.abs(pos) * cost).sum() / max(len(z), 1))
        table.append({"quantile": q, "threshold": th, "trades": n, "net_bps_per_window": pnl})
        if n >= 10 and pnl > best_pnl:
            best, best_pnl = th, pnl
    if best is None:
        best = float(min(1.0, (a.max() if a.size else 0.0) + 1e-9))
    best = float(np.clip(best, 0.0, 1.0))
    return (best, best), {"grid": table, "chosen": best, "net_bps_per_window": best_pnl}


# --------------------------------------------------------------------------- router candidates
def _with_layers(state: RouterState, *, full_capacity: bool, p: float | None, gates=None,
                 blend: BlendSpec | None = None) -> RouterState:
    layers = []
    for layer in state.config.layers:
        layers.append(RouterLayerConfig(name=layer.name, n_experts=layer.n_experts,
                                        capacity_factor=float(layer.n_experts) if full_capacity
                                        else layer.capacity_factor,
                                        p=layer.p if p is None else p, max_experts=layer.max_experts))
    cfg = RouterConfig(layers=tuple(layers), d=state.config.d)
    return dataclasses.replace(state, config=cfg, gates=tuple(gates) if gates is not None else state.gates,
                               blend=blend if blend is not None else state.blend)


@dataclass
class BlendFit:
    state: RouterState
    chosen: str
    candidates: dict[str, float] = field(default_factory=dict)
    expert_stats: dict[str, dict] = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    stacking: dict = field(default_factory=dict)
    #: every candidate refitted on all out-of-fold rows, the chosen one among them: what the others would have
    #: decided (``bench/decision_quality.py --candidates`` scores them on the test period); never registered
    alternatives: dict[str, RouterState] = field(default_factory=dict)


@dataclass
class OutOfFold:
    """Out-of-fold scores of the training windows and what produced them."""

    names: list[str]
    scores: np.ndarray  # rows × experts; 0 where the fold's expert could not be trained
    fold: np.ndarray  # fold index per row (-1: in no fold)
    embedded: np.ndarray  # the router embedding of every row
    last_experts: dict[str, Any]  # the experts that did not see the last fold


def _gates(state: RouterState, names: Sequence[str], S: np.ndarray, alpha: Mapping[str, float], X: np.ndarray,
           y: np.ndarray) -> list[np.ndarray]:
    """One gate per layer learned from which α-scaled expert was right per row (zeros where nobody was)."""
    scaled = S * np.array([alpha[n] for n in names])
    learned = []
    for pool in state.pools:
        cols = [names.index(e) for e in pool]
        try:
            learned.append(fit_gate(X, score_targets(scaled[:, cols], y), len(pool)).W)
        except GateFitError:
            learned.append(np.zeros((state.config.d, len(pool))))
    return learned


def routing_share(state: RouterState) -> dict[str, float]:
    """Each expert's share of the blend under uniform routing: ``Σ 1/(L·|pool|)`` over the layers whose pool
    holds it. An expert in several layers' pools (momentum experts sit in all three) would otherwise count
    several times: the blend is ``Σ w·α·s / Σ w`` and its weights add up across layers."""
    share: dict[str, float] = {}
    for pool in state.pools:
        for e in pool:
            share[e] = share.get(e, 0.0) + 1.0 / (len(state.pools) * len(pool))
    return share


def per_share(alpha: Mapping[str, float], share: Mapping[str, float]) -> dict[str, float]:
    """α divided by the routing share (largest 1), so the uniform-routing blend weighs the experts' scores
    as fitted (``Σ α·s``) whatever layers they sit in."""
    a = {n: (float(v) / share[n] if share.get(n) else 0.0) for n, v in alpha.items()}
    top = max(a.values(), default=0.0)
    return {n: (v / top if top > 0 else 0.0) for n, v in a.items()}


def _candidates(state: RouterState, names: Sequence[str], S: np.ndarray, y: np.ndarray, X: np.ndarray,
                fold: np.ndarray, horizon_ms: int) -> tuple[dict[str, RouterState], dict]:
    """The router candidates fitted on out-of-fold rows ``S`` (scores), ``y`` (direction), ``X`` (embeddings)."""
    from thunderline.decisions.regime_gates import regime_gates
    from thunderline.decisions.stacking import ic_weighted_scale, near_best_scale, stack_weights

    alpha, stats, info = stack_weights(S, y, names, fold)
    near, near_info = near_best_scale(S, y, names)
    icw, icw_info = ic_weighted_scale(S, y, names)
    share = routing_share(state)
    useful = per_share(icw, share)
    zeros = [np.zeros_like(g) for g in state.gates]
    stacked = BlendSpec((1.0, 1.0), per_share(alpha, share), horizon_ms)
    gates = _gates(state, names, S, alpha, X, y)
    regime, regime_info = regime_gates(state, names, S, useful, X, y)
    info.update(near_best=near_info["members"], ic_weighted=icw_info["members"],
                ic_weighted_redundant=icw_info["redundant"], regime_gate=regime_info)
    cands = {
        "ic_weighted": _with_layers(state, full_capacity=True, p=1.0, gates=zeros,
                                    blend=BlendSpec((1.0, 1.0), useful, horizon_ms)),
        "near_best": _with_layers(state, full_capacity=True, p=1.0, gates=zeros,
                                  blend=BlendSpec((1.0, 1.0), per_share(near, share), horizon_ms)),
        "stacked": _with_layers(state, full_capacity=True, p=1.0, gates=zeros, blend=stacked),
        "gated_regime": _with_layers(state, full_capacity=True, p=1.0, gates=regime,
                                     blend=BlendSpec((1.0, 1.0), useful, horizon_ms)),
        "gated_soft": _with_layers(state, full_capacity=True, p=1.0, gates=gates, blend=stacked),
        "gated_sparse": _with_layers(state, full_capacity=True, p=None, gates=gates, blend=stacked),
        "gated_expert_choice": _with_layers(state, full_capacity=False, p=None, gates=gates, blend=stacked),
    }
    return cands, {"stats": stats, "info": info, "near_best": near_info}


def effective_n(windows: Sequence, horizon_ms: int) -> float:
    """Independent observations among ``windows``' labels: their decision times span (per symbol) over
    the longest label horizon, at most one per window. Labels of windows closer than the horizon share
    most of their path, so counting windows overstates what a validation fold can tell apart."""
    by_key: dict = {}
    for w in windows:
        lo, hi = by_key.get(w.key, (w.window_end_us, w.window_end_us))
        by_key[w.key] = (min(lo, w.window_end_us), max(hi, w.window_end_us))
    span = sum(hi - lo for lo, hi in by_key.values()) / max(int(horizon_ms) * 1000, 1) + len(by_key)
    return float(min(max(span, 3.0), max(len(windows), 3)))


def _choose(zs: Mapping[str, np.ndarray], ics: Mapping[str, float], n_eff: float) -> str:
    """Simplest first (the near-best average, the stacked blend, each routing): a candidate replaces the
    current choice only when it beats it by ``SELECT_Z`` standard errors of the difference, counted on
    ``n_eff`` independent observations (:func:`effective_n`), not on overlapping windows."""
    from scipy.stats import spearmanr

    chosen = CANDIDATE_ORDER[0]
    for key in CANDIDATE_ORDER[1:]:
        n = max(min(len(zs[key]), n_eff), 3)
        both = np.ptp(zs[key]) > 0 and np.ptp(zs[chosen]) > 0
        rho = spearmanr(zs[key], zs[chosen]).statistic if both else 0.0
        rho = float(rho) if np.isfinite(rho) else 0.0
        if ics[key] - ics[chosen] > SELECT_Z * np.sqrt(2.0 * max(1.0 - rho, 0.0) / n):
            chosen = key
    return chosen


def fit_blend(state: RouterState, oof: OutOfFold, y: np.ndarray, windows_sel: Sequence,
              y_sel: Mapping[int, np.ndarray], spread_sel: np.ndarray, *, tenant_id: str,
              horizon_ms: int = DEFAULT_BLEND_HORIZON_MS, edgar_windows=(), ticker_map=(),
              fee_bps: float = DEFAULT_FEE_BPS) -> BlendFit:
    """Scales, gates, routing and thresholds for ``state`` from out-of-fold scores (see the module docstring).

    ``y``: the target per training row (direction of the move); ``windows_sel``: the last fold's windows,
    ``y_sel``: horizon ms → their realised log returns (a candidate's merit is its mean rank IC over them)."""
    from scipy.stats import spearmanr

    from thunderline.decisions.pipeline import decide

    names, S, fold, X = oof.names, oof.scores, oof.fold, oof.embedded
    last = int(fold.max())
    early = (fold >= 0) & (fold < last)
    candidates, early_fit = _candidates(state, names, S[early], y[early], X[early], fold[early], horizon_ms)
    ics, zs = {}, {}
    for key, cand in candidates.items():
        z = decide(windows_sel, cand, dict(oof.last_experts), tenant_id=tenant_id, edgar_windows=edgar_windows,
                   ticker_map=ticker_map, enforce_budgets=False).blended_score
        zs[key] = z
        per_h = []
        for ys in y_sel.values():
            ok = np.isfinite(ys)
            ic = spearmanr(z[ok], ys[ok]).statistic if ok.sum() > 2 and np.ptp(z[ok]) > 0 else 0.0
            per_h.append(float(ic) if np.isfinite(ic) else 0.0)
        ics[key] = float(np.mean(per_h))
    n_eff = effective_n(windows_sel, max(y_sel))
    chosen = _choose(zs, ics, n_eff)
    y_h = y_sel.get(int(horizon_ms), next(iter(y_sel.values())))
    thresholds, th_info = fit_thresholds(zs[chosen], y_h * 1e4, spread_sel, fee_bps)
    # refit the chosen configuration on every out-of-fold row
    rows = fold >= 0
    final_cands, final_fit = _candidates(state, names, S[rows], y[rows], X[rows], fold[rows], horizon_ms)
    info, stats, near_info = final_fit["info"], final_fit["stats"], final_fit["near_best"]
    final_blend = BlendSpec(thresholds, final_cands[chosen].blend.scale, horizon_ms, {
        "chosen": chosen, "select_rank_ic": ics, "stack_windows": int(rows.sum()),
        "select_windows": int(len(windows_sel)), "best_expert": info["best"],
        "near_best": near_info["members"], "ic_weighted": info["ic_weighted"],
        "ic_weighted_redundant": info["ic_weighted_redundant"], "select_effective_n": n_eff,
        "fee_bps": fee_bps,
        "shrinkage_lambda": info["lambda"]})
    final = dataclasses.replace(final_cands[chosen], blend=final_blend)
    return BlendFit(final, chosen, ics, stats, th_info, {"select": early_fit["info"], "final": info}, final_cands)


def _scores(expert, df: pd.DataFrame) -> np.ndarray:
    out = expert.predict(df)
    if "score" in out.columns:
        s = out["score"].to_numpy(np.float64)
    else:
        s = (out["prob_buy"] - out["prob_sell"]).to_numpy(np.float64)
    return np.where(out["action"].to_numpy(dtype=object) == "abstain", 0.0, np.nan_to_num(s))


# --------------------------------------------------------------------------- the whole stack
@dataclass
class StackFit:
    """What :func:`fit_decision_stack` produced: fitted experts, the router state, and its record."""

    experts: dict[str, Any]
    state: RouterState
    report: dict
    skipped: dict[str, str] = field(default_factory=dict)
    alternatives: dict[str, RouterState] = field(default_factory=dict)  # BlendFit.alternatives


def fit_decision_stack(windows: Sequence, mids: Mapping[str, QuoteMids], *, seed: int = 0, specs=None,
                       horizon_ms: int = DEFAULT_BLEND_HORIZON_MS, tenant_id: str = "default", edgar_windows=(),
                       ticker_map=(), known_until_us: int | None = None, d: int = 32,
                       register=None, fee_bps: float = DEFAULT_FEE_BPS,
                       shuffle_labels_seed: int | None = None) -> StackFit:
    """Train experts on clock labels and fit their blend, all on ``windows`` (the training period).

    ``known_until_us``: the end of the training period — labels whose horizon reaches past it are
    not realised (purged), so nothing after it is read. ``register(fitted) -> version`` (optional)
    registers each expert (MLflow) and returns its version. ``shuffle_labels_seed``: permute the
    realised moves across training windows first (the negative control: nothing should be learned).
    """
    from thunderline.decisions.seeding import initial_router_state, training_frame
    from thunderline.experts import DEFAULT_EXPERT_SPECS

    specs = tuple(specs or DEFAULT_EXPERT_SPECS)
    windows = sorted(windows, key=lambda w: (w.key, w.window_start_us))
    if len(windows) < 200:
        raise ValueError(f"fit_decision_stack: {len(windows)} training windows are too few (need ≥ 200)")
    df = training_frame(windows, edgar_windows, ticker_map)
    horizons = sorted({s.clock_horizon_ms for s in specs} | {int(horizon_ms)})
    rets = clock_returns_for(df, mids, horizons, known_until_us=known_until_us)
    if shuffle_labels_seed is not None:
        perm = np.random.default_rng(shuffle_labels_seed).permutation(len(df))
        rets = {h: pd.DataFrame(r.to_numpy()[perm], columns=r.columns, index=r.index) for h, r in rets.items()}
    labels = class_labels(rets, specs, df.index)
    fitted, skipped = _train_all(specs, df, labels, seed)
    oof = _out_of_fold(fitted, specs, df, labels, seed, max(horizons) * 1000, skipped)
    for name in skipped:
        fitted.pop(name, None)
    if not fitted:
        raise ValueError(f"fit_decision_stack: no expert could be trained ({skipped})")
    versions = {n: (str(register(fx)) if register is not None else "fit") for n, fx in sorted(fitted.items())}
    state = initial_router_state({n: fx.family for n, fx in fitted.items()}, versions, df, d=d, seed=seed)
    oof = _with_embedding(oof, state, df, sorted(fitted))
    # the stacking target: the direction of the move, averaged over every label horizon, so the
    # blend is fitted to be right at all of them rather than at one
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a window with no realised horizon: NaN, left out
        y = np.nanmean(np.column_stack([np.sign(rets[h]["fwd_return"].to_numpy()) for h in horizons]), axis=1)
    sel_idx = np.flatnonzero(oof.fold == oof.fold.max())
    spread = df["spread_bps"].to_numpy(np.float64) if "spread_bps" in df else np.zeros(len(df))
    y_sel = {h: rets[h]["fwd_return"].to_numpy()[sel_idx] for h in horizons}
    fit = fit_blend(state, oof, y, [windows[i] for i in sel_idx], y_sel, spread[sel_idx], tenant_id=tenant_id,
                    horizon_ms=horizon_ms, edgar_windows=edgar_windows, ticker_map=ticker_map, fee_bps=fee_bps)
    gap = {f"{h}ms": float((rets[h]["status"] != "filled").mean()) for h in horizons}
    report = {"train_windows": len(df), "cv_folds": int(oof.fold.max()) + 1, "stack_windows": int((oof.fold >= 0).sum()),
              "select_windows": len(sel_idx), "label_gap_rate": gap, "blend": fit.state.blend.to_json(),
              "chosen": fit.chosen, "select_rank_ic": fit.candidates, "calibrate_stats": fit.expert_stats,
              "stacking": fit.stacking, "thresholds": fit.thresholds, "versions": versions,
              "train_info": {n: dict(fx.train_info) for n, fx in fitted.items()},
              "skipped": dict(sorted(skipped.items()))}
    return StackFit(fitted, fit.state, report, skipped, fit.alternatives)


def _train_all(specs, df: pd.DataFrame, labels: pd.DataFrame, seed: int, rows: np.ndarray | None = None,
               skipped: dict | None = None) -> tuple[dict, dict]:
    """Every spec trained on ``rows`` of ``df`` (all rows by default); (fitted, skipped with the reason)."""
    from thunderline.experts import ExpertInputError
    from thunderline.experts.training import train_expert

    fitted, skipped = {}, ({} if skipped is None else skipped)
    for spec in specs:
        if spec.name in skipped:
            continue
        try:
            fitted[spec.name] = (train_expert(spec, df, labels, seed) if rows is None
                                 else train_expert(spec, df[rows], labels[rows], seed))
        except ExpertInputError as exc:  # e.g. no filing history for filing experts
            skipped[spec.name] = str(exc)
    return fitted, skipped


def _out_of_fold(fitted: Mapping[str, Any], specs, df: pd.DataFrame, labels: pd.DataFrame, seed: int,
                 purge_us: int, skipped: dict) -> OutOfFold:
    """Scores of every training row by experts trained on the other purged folds. An expert that cannot be
    trained on some fold joins ``skipped`` (the blend is fitted only over experts every fold has)."""
    from thunderline.decisions.stacking import CV_FOLDS, purged_folds

    folds = purged_folds(df["window_end_us"].to_numpy(), CV_FOLDS, purge_us)
    per_fold, fold_id = [], np.full(len(df), -1, dtype=np.int64)
    for k, (train, block) in enumerate(folds):
        fx, _ = _train_all([s for s in specs if s.name in fitted], df, labels, seed, rows=train, skipped=skipped)
        per_fold.append(fx)
        fold_id[block] = k
    names = sorted(n for n in fitted if n not in skipped)
    S = np.zeros((len(df), len(names)))
    for k, (_, block) in enumerate(folds):
        part = df[block]
        for j, n in enumerate(names):
            S[block, j] = _scores(per_fold[k][n], part)
    return OutOfFold(names, S, fold_id, np.zeros((len(df), 0)), {n: per_fold[-1][n] for n in names})


def _with_embedding(oof: OutOfFold, state: RouterState, df: pd.DataFrame, names: Sequence[str]) -> OutOfFold:
    """The router's embedding of every training row, and the columns of ``names`` only."""
    keep = [oof.names.index(n) for n in names]
    X = state.embedding.embed(df.reindex(columns=list(state.embedding.feature_names)).to_numpy(np.float64))
    return OutOfFold(list(names), oof.scores[:, keep], oof.fold, X, {n: oof.last_experts[n] for n in names})
