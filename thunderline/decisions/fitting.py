"""Fitting a decision stack on a training period: experts on clock labels, then how to blend them.

Why a second stage: experts alone do not say how much of each to trust, and a fixed
vote let a weak expert carry the blend. On the training period only (never the period
to be decided), in time order, with purges so no label crosses into a later stage:

1. **fit** (first part): every expert is trained on clock labels — the sign of the mid
   move over its own horizon (``hold`` when the mid did not move), realised from quotes
   as-of the window's end (:mod:`thunderline.labels.clock`);
2. **calibrate** (middle part, after a purge of the longest horizon): each expert's
   signed score is regressed, without intercept and with non-negative coefficients,
   on the realised move at the blend's horizon, together with the others (stacking).
   An expert whose score adds nothing out of sample gets α = 0; the largest α is 1.
   The gates are learned from which expert's α-scaled score was right per window;
3. **select** (last part): candidate router configurations — the stacked blend with
   uniform routing, learned gates with soft or sparse routing, and the best calibrated
   expert alone — are each run through the real decision path; the one with the
   highest rank IC of the blended score wins (ties: the simpler, listed first). The
   action thresholds are fitted there: the |score| above which a position paid its
   spread and fees on that part, or no trading at all when none did.

The blend can therefore always fall back to the best validated expert, and a day on
which routing does not help ends with the plain stacked blend.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from thunderline.decisions.gates import GateFitError, fit_gate
from thunderline.decisions.router_state import BlendSpec, RouterState
from thunderline.labels.clock import QuoteMids, clock_labels
from thunderline.labels.forward import LABEL_BUY, LABEL_HOLD, LABEL_SELL, label_column
from thunderline.routing import RouterConfig, RouterLayerConfig

#: Share of the training period per stage (fit, calibrate, select).
STAGES = (0.6, 0.24, 0.16)
DEFAULT_BLEND_HORIZON_MS = 1000
#: Standard errors by which a more complex candidate must beat the current choice on the select stage
#: (two: with four candidates tried in turn, a spurious switch has a few per cent chance, not a third).
SELECT_Z = 2.0
#: Ridge penalty of the stacking regression, per window (standardised units).
RIDGE = 0.1
#: Exchange/broker fee per side, basis points of notional, charged by threshold fitting and paper PnL.
DEFAULT_FEE_BPS = 0.1


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


# --------------------------------------------------------------------------- stages
@dataclass
class StageSplit:
    """Row masks of the fit / calibrate / select stages over a training frame (purged at each cut)."""

    fit: np.ndarray
    calibrate: np.ndarray
    select: np.ndarray
    cuts_us: tuple[int, int]


def stage_split(end_us: np.ndarray, purge_us: int, stages: Sequence[float] = STAGES) -> StageSplit:
    """Chronological stages by decision time; a row whose label horizon would reach past the next
    stage's start (``end + purge > cut``) is dropped from its stage (the purge)."""
    t = np.asarray(end_us, dtype=np.int64)
    if t.size == 0:
        raise ValueError("stage_split: no training windows")
    lo, hi = int(t.min()), int(t.max()) + 1
    c1 = lo + int((hi - lo) * stages[0])
    c2 = lo + int((hi - lo) * (stages[0] + stages[1]))
    fit = (t + purge_us <= c1)
    cal = (t >= c1) & (t + purge_us <= c2)
    sel = t >= c2
    return StageSplit(fit, cal, sel, (c1, c2))


def stack_scales(scores: np.ndarray, y: np.ndarray, names: Sequence[str], *, min_t: float = 2.0
                 ) -> tuple[dict[str, float], dict[str, dict]]:
    """α per expert: non-negative least squares of ``y`` on the experts' scores (no intercept) among the
    experts whose own score predicts ``y`` (t-statistic of the rank IC > ``min_t``), scaled so the largest
    α is 1; every other expert gets 0. Returns (α, per-expert stats)."""
    from scipy.optimize import nnls
    from scipy.stats import spearmanr

    S = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(S).all(axis=1)
    S, y = S[ok], y[ok]
    stats, useful = {}, []
    y = np.sign(y)  # the direction: robust to the few large moves that would own a least-squares fit
    for j, name in enumerate(names):
        s = S[:, j]
        ic = float(spearmanr(s, y).statistic) if s.size > 2 and np.ptp(s) > 0 and np.ptp(y) > 0 else 0.0
        ic = 0.0 if not np.isfinite(ic) else ic
        t = ic * np.sqrt(max(s.size - 2, 1)) / np.sqrt(max(1e-12, 1 - ic * ic))
        stats[name] = {"rank_ic": ic, "t": float(t), "n": int(s.size)}
        if t > min_t:
            useful.append(j)
    alpha = {name: 0.0 for name in names}
    if useful:
        sd = S[:, useful].std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        # ridge-penalised NNLS on standardised scores: collinear experts share weight (their
        # average is steadier out of sample than whichever one least squares happens to pick)
        Z = S[:, useful] / sd
        lam = np.sqrt(RIDGE * len(y))
        coef, _ = nnls(np.vstack([Z, lam * np.eye(len(useful))]),
                       np.r_[y / (np.std(y) or 1.0), np.zeros(len(useful))])
        coef = coef / sd  # back to raw score units
        if coef.max() > 0:
            coef = coef / coef.max()
            for j, c in zip(useful, coef):
                alpha[names[j]] = float(np.clip(c, 0.0, 1.0))
    return alpha, stats


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


def fit_blend(state: RouterState, experts: Mapping[str, Any], windows_cal: Sequence, y_cal: np.ndarray,
              windows_sel: Sequence, y_sel: Mapping[int, np.ndarray], spread_sel: np.ndarray, *, tenant_id: str,
              horizon_ms: int = DEFAULT_BLEND_HORIZON_MS, edgar_windows=(), ticker_map=(),
              fee_bps: float = DEFAULT_FEE_BPS, min_t: float = 2.0) -> BlendFit:
    """Scales, gates, routing and thresholds for ``state`` (see the module docstring), fitted on the
    calibrate windows (``y_cal``: realised log return at ``horizon_ms``) and chosen on the select windows
    (``y_sel``: horizon ms → realised log returns there; a candidate's merit is its mean rank IC over them).

    Starting from the best calibrated expert alone, the stacked blend and then each routing replace the
    current choice only if their select-stage merit exceeds its merit by more than ``SELECT_Z`` standard errors of
    the difference (``sqrt(2·(1 − ρ)/n)``, ρ the rank correlation of the two blended scores): stacking
    and routing must earn their place on evidence."""
    from scipy.stats import spearmanr

    from thunderline.decisions.pipeline import decide, joined_feature_frame

    names = sorted({e for pool in state.pools for e in pool})
    df_cal, _ = joined_feature_frame(windows_cal, edgar_windows, ticker_map)
    S = np.column_stack([_scores(experts[n], df_cal) for n in names])
    alpha, stats = stack_scales(S, y_cal, names, min_t=min_t)
    best = max(names, key=lambda n: stats[n]["t"])
    provisional = BlendSpec((1.0, 1.0), alpha, horizon_ms)

    # gates from which scaled expert was right on the calibrate windows
    F = df_cal.reindex(columns=list(state.embedding.feature_names)).to_numpy(np.float64)
    X = state.embedding.embed(F)
    scaled = S * np.array([alpha[n] for n in names])
    learned = []
    for pool in state.pools:
        cols = [names.index(e) for e in pool]
        try:
            learned.append(fit_gate(X, score_targets(scaled[:, cols], y_cal), len(pool)).W)
        except GateFitError:
            learned.append(np.zeros((state.config.d, len(pool))))
    zeros = [np.zeros_like(g) for g in state.gates]
    one_hot = BlendSpec((1.0, 1.0), {n: (1.0 if n == best else 0.0) for n in names}, horizon_ms)
    candidates = {
        "stacked": _with_layers(state, full_capacity=True, p=1.0, gates=zeros, blend=provisional),
        "best_expert": _with_layers(state, full_capacity=True, p=1.0, gates=zeros, blend=one_hot),
        "gated_soft": _with_layers(state, full_capacity=True, p=1.0, gates=learned, blend=provisional),
        "gated_sparse": _with_layers(state, full_capacity=True, p=None, gates=learned, blend=provisional),
        "gated_expert_choice": _with_layers(state, full_capacity=False, p=None, gates=learned, blend=provisional),
    }
    ics, zs = {}, {}
    for key, cand in candidates.items():
        batch = decide(windows_sel, cand, dict(experts), tenant_id=tenant_id, edgar_windows=edgar_windows,
                       ticker_map=ticker_map, enforce_budgets=False)
        zs[key] = z = batch.blended_score
        per_h = []
        for y in y_sel.values():
            ok = np.isfinite(y)
            ic = spearmanr(z[ok], y[ok]).statistic if ok.sum() > 2 and np.ptp(z[ok]) > 0 else 0.0
            per_h.append(float(ic) if np.isfinite(ic) else 0.0)
        ics[key] = float(np.mean(per_h))
    # simplest first: the best expert alone, then the stacked blend, then each routing; a candidate
    # replaces the current choice only when it beats it by more than SELECT_Z standard errors of the difference
    chosen = "best_expert"
    for key in ("stacked", "gated_soft", "gated_sparse", "gated_expert_choice"):
        n = max(len(zs[key]), 3)
        both = np.ptp(zs[key]) > 0 and np.ptp(zs[chosen]) > 0
        rho = spearmanr(zs[key], zs[chosen]).statistic if both else 0.0
        rho = float(rho) if np.isfinite(rho) else 0.0
        if ics[key] - ics[chosen] > SELECT_Z * np.sqrt(2.0 * max(1.0 - rho, 0.0) / n):
            chosen = key
    y_h = y_sel.get(int(horizon_ms), next(iter(y_sel.values())))
    thresholds, th_info = fit_thresholds(zs[chosen], y_h * 1e4, spread_sel, fee_bps)
    final_blend = BlendSpec(thresholds, candidates[chosen].blend.scale, horizon_ms, {
        "chosen": chosen, "select_rank_ic": ics, "calibrate_windows": int(np.isfinite(y_cal).sum()),
        "select_windows": int(len(windows_sel)), "best_expert": best, "fee_bps": fee_bps})
    final = dataclasses.replace(candidates[chosen], blend=final_blend)
    return BlendFit(final, chosen, ics, stats, th_info)


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
    from thunderline.experts import DEFAULT_EXPERT_SPECS, ExpertInputError
    from thunderline.experts.training import train_expert

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
    split = stage_split(df["window_end_us"].to_numpy(), max(horizons) * 1000)
    labels = class_labels(rets, specs, df.index)

    fitted, skipped = {}, {}
    for spec in specs:
        try:
            fitted[spec.name] = train_expert(spec, df[split.fit], labels[split.fit], seed)
        except ExpertInputError as exc:  # e.g. no filing history for filing experts
            skipped[spec.name] = str(exc)
    if not fitted:
        raise ValueError(f"fit_decision_stack: no expert could be trained ({skipped})")
    versions = {n: (str(register(fx)) if register is not None else "fit") for n, fx in sorted(fitted.items())}
    state = initial_router_state({n: fx.family for n, fx in fitted.items()}, versions, df[split.fit], d=d, seed=seed)
    # the calibration target: the direction of the move, averaged over every label horizon, so the
    # blend is fitted to be right at all of them rather than at one
    y = np.nanmean(np.column_stack([np.sign(rets[h]["fwd_return"].to_numpy()) for h in horizons]), axis=1)
    cal_idx, sel_idx = np.flatnonzero(split.calibrate), np.flatnonzero(split.select)
    spread = df["spread_bps"].to_numpy(np.float64) if "spread_bps" in df else np.zeros(len(df))
    y_sel = {h: rets[h]["fwd_return"].to_numpy()[sel_idx] for h in horizons}
    fit = fit_blend(state, fitted, [windows[i] for i in cal_idx], y[cal_idx], [windows[i] for i in sel_idx],
                    y_sel, spread[sel_idx], tenant_id=tenant_id, horizon_ms=horizon_ms,
                    edgar_windows=edgar_windows, ticker_map=ticker_map, fee_bps=fee_bps)
    gap = {f"{h}ms": float((rets[h]["status"] != "filled").mean()) for h in horizons}
    report = {"train_windows": len(df), "fit_windows": int(split.fit.sum()),
              "calibrate_windows": int(split.calibrate.sum()), "select_windows": int(split.select.sum()),
              "label_gap_rate": gap, "blend": fit.state.blend.to_json(), "chosen": fit.chosen,
              "select_rank_ic": fit.candidates, "calibrate_stats": fit.expert_stats,
              "thresholds": fit.thresholds, "versions": versions,
              "train_info": {n: dict(fx.train_info) for n, fx in fitted.items()}}
    return StackFit(fitted, fit.state, report, skipped)
