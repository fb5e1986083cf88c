"""Walk-forward evaluation of the decision stack: train on one period, decide the next, measure.

Per fold (``walk_forward_folds``): everything the stack learns — experts, stacking scales,
gates, routing, action thresholds, and the linear OFI baseline — is fitted on the fold's
training period only, with clock labels **purged** at its end (a label whose horizon reaches
past ``train_end`` is not realised, so no training row reads a quote after it). The test period
starts an **embargo** after ``train_end`` (default: the longest horizon), so no test window's
features overlap a training label. The test windows are then decided by the production decision
path (:func:`thunderline.decisions.pipeline.decide`) and scored against clock labels at every
horizon (:mod:`thunderline.evaluation.signal`): per expert (its raw signed score), for the
blend (its ``blended_score``), and for the **linear OFI line** — an OLS of the realised return on
top-of-book OFI fitted on the same training period, the floor the blend must clear.

Negative control (``shuffle_eval_seed``): each model's rank IC against a permutation of the
realised test returns must fall inside the family-wise permutation-null band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from thunderline.decisions.fitting import (
    DEFAULT_BLEND_HORIZON_MS,
    DEFAULT_FEE_BPS,
    _scores,
    clock_returns_for,
    fit_decision_stack,
)
from thunderline.evaluation.signal import permutation_band, rank_ic, signal_quality, weighting_ceiling
from thunderline.hashing import content_id
from thunderline.labels.clock import DEFAULT_CLOCK_HORIZONS_MS, QuoteMids
from thunderline.labels.forward import forward_returns, return_column

BASELINE = "baseline:linear_ofi"
BLEND = "blend"


@dataclass(frozen=True)
class Fold:
    index: int
    train_start_us: int
    train_end_us: int
    test_start_us: int
    test_end_us: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def walk_forward_folds(start_us: int, end_us: int, n_folds: int = 1, *, embargo_us: int = 5_000_000,
                       train_fraction: float = 0.5) -> list[Fold]:
    """Expanding-window folds over [start, end): the first ``train_fraction`` is the first training period,
    the rest is cut into ``n_folds`` test periods; fold k trains on everything before its test period
    (up to ``train_end``) and tests from ``train_end + embargo``."""
    if n_folds < 1 or not (0 < train_fraction < 1) or end_us <= start_us:
        raise ValueError(f"walk_forward_folds: need n_folds ≥ 1, 0 < train_fraction < 1, end > start "
                         f"(got {n_folds}, {train_fraction}, [{start_us}, {end_us}))")
    first = start_us + int((end_us - start_us) * train_fraction)
    edges = np.linspace(first, end_us, n_folds + 1).astype(np.int64)
    return [Fold(k, int(start_us), int(edges[k]), int(edges[k]) + int(embargo_us), int(edges[k + 1]))
            for k in range(n_folds)]


def split_fold(windows: Sequence, fold: Fold) -> tuple[list, list]:
    """(training windows: whole window inside [train_start, train_end); test windows: starting in
    [test_start, test_end)). With the embargo no test window overlaps a training label."""
    train = [w for w in windows if w.window_start_us >= fold.train_start_us and w.window_end_us <= fold.train_end_us]
    test = [w for w in windows if fold.test_start_us <= w.window_start_us < fold.test_end_us]
    return train, test


def linear_ofi_baseline(train_df: pd.DataFrame, train_ret: np.ndarray, test_df: pd.DataFrame,
                        feature: str = "ofi_1") -> tuple[np.ndarray, dict]:
    """OLS ``ret = a + b · ofi_1`` on the training windows (Cont–Kukanov–Stoikov, top of book); its
    prediction on the test windows. Returns (score, {"a", "b", "n"})."""
    x = train_df[feature].to_numpy(np.float64) if feature in train_df else np.full(len(train_df), np.nan)
    y = np.asarray(train_ret, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0:
        return np.zeros(len(test_df)), {"a": 0.0, "b": 0.0, "n": int(ok.sum())}
    b, a = np.polyfit(x[ok], y[ok], 1)
    xt = test_df[feature].to_numpy(np.float64) if feature in test_df else np.full(len(test_df), np.nan)
    return a + b * np.nan_to_num(xt), {"a": float(a), "b": float(b), "n": int(ok.sum())}


@dataclass
class FoldResult:
    fold: Fold
    rows: list[dict]
    null_band: dict[int, float]
    control: dict[int, dict]
    fit_report: dict
    gap_rates: dict
    thresholds: tuple[float, float]
    test_windows: int
    actions: dict = field(default_factory=dict)
    #: per horizon, :func:`~thunderline.evaluation.signal.weighting_ceiling` of the experts on the test period
    ceiling: dict[int, dict] = field(default_factory=dict)


def evaluate_fold(windows: Sequence, mids: Mapping[str, QuoteMids], fold: Fold, *, seed: int = 0, specs=None,
                  horizons_ms: Sequence[int] = DEFAULT_CLOCK_HORIZONS_MS,
                  blend_horizon_ms: int = DEFAULT_BLEND_HORIZON_MS, fee_bps: float = DEFAULT_FEE_BPS,
                  tenant_id: str = "default", edgar_windows=(), ticker_map=(), n_boot: int = 400,
                  n_perm: int = 200, shuffle_train_seed: int | None = None, shuffle_eval_seed: int = 7,
                  batch: int = 4096, stack=None) -> FoldResult:
    """Fit on the fold's training period, decide its test period, measure (see the module docstring).
    ``stack``: an already fitted :class:`~thunderline.decisions.fitting.StackFit` to evaluate instead."""
    from thunderline.decisions.bootstrap import training_frame
    from thunderline.decisions.pipeline import decide

    train, test = split_fold(sorted(windows, key=lambda w: (w.key, w.window_start_us)), fold)
    if not test:
        raise ValueError(f"fold {fold.index}: no windows in the test period")
    if stack is None:
        stack = fit_decision_stack(train, mids, seed=seed, specs=specs, horizon_ms=blend_horizon_ms,
                                   tenant_id=tenant_id, edgar_windows=edgar_windows, ticker_map=ticker_map,
                                   known_until_us=fold.train_end_us, fee_bps=fee_bps,
                                   shuffle_labels_seed=shuffle_train_seed)
    state, experts = stack.state, stack.experts
    z = np.concatenate([decide(test[i:i + batch], state, dict(experts), tenant_id=tenant_id,
                               edgar_windows=edgar_windows, ticker_map=ticker_map,
                               enforce_budgets=False).blended_score for i in range(0, len(test), batch)])
    test_df = training_frame(test, edgar_windows, ticker_map)
    scores = {name: _scores(e, test_df) for name, e in sorted(experts.items())}
    test_rets = clock_returns_for(test_df, mids, horizons_ms, known_until_us=fold.test_end_us + max(horizons_ms) * 1000)
    train_df = training_frame(train, edgar_windows, ticker_map)
    train_rets = clock_returns_for(train_df, mids, horizons_ms, known_until_us=fold.train_end_us)
    if shuffle_train_seed is not None:
        perm = np.random.default_rng(shuffle_train_seed).permutation(len(train_df))
        train_rets = {h: pd.DataFrame(r.to_numpy()[perm], columns=r.columns) for h, r in train_rets.items()}
    spread = test_df["spread_bps"].to_numpy(np.float64) if "spread_bps" in test_df else np.zeros(len(test_df))
    th = state.thresholds
    rows, bands, control, ceiling = [], {}, {}, {}
    for h in horizons_ms:
        y = test_rets[h]["fwd_return"].to_numpy()
        moved = test_rets[h]["moved"].to_numpy()
        base, coef = linear_ofi_baseline(train_df, train_rets[h]["fwd_return"].to_numpy(), test_df)
        models = {BLEND: z, **scores, BASELINE: base}
        for name, s in models.items():
            q = signal_quality(name, h, s, y, moved, spread, thresholds=th if name == BLEND else None,
                               fee_bps=fee_bps, n_boot=n_boot, seed=seed)
            row = q.as_dict()
            if name == BASELINE:
                row["fit"] = coef
            if name in experts:
                row["alpha"] = state.scale_of(name)
            rows.append(row)
        ceiling[h] = weighting_ceiling(scores, y)
        next(r for r in rows if r["model"] == BLEND and r["horizon_ms"] == h)["weighting_ceiling"] = ceiling[h]["rank_ic"]
        band = permutation_band(models, y, n_perm=n_perm, seed=seed)
        bands[h] = band["band"]
        shuffled = y.copy()
        ok = np.isfinite(shuffled)
        shuffled[ok] = np.random.default_rng([shuffle_eval_seed, h]).permutation(shuffled[ok])
        ics = {name: rank_ic(s, shuffled) for name, s in models.items()}
        control[h] = {"rank_ic": ics, "band": band["band"],
                      "all_inside": bool(all(abs(v) <= band["band"] for v in ics.values() if np.isfinite(v)))}
        for row in rows:
            if row["horizon_ms"] == h:
                row["null_band"] = band["band"]
    gaps = {"clock": {f"{h}ms": float((test_rets[h]["status"] != "filled").mean()) for h in horizons_ms}}
    chained = forward_returns(test_df, (1, 4, 10), key_col="symbol", time_col="window_start_us",
                              end_col="window_end_us")
    gaps["chained_windows"] = {f"h{h}": float(chained[return_column(h)].isna().mean()) for h in (1, 4, 10)}
    acts = np.where(z > th[0], "buy", np.where(z < -th[1], "sell", "hold"))
    return FoldResult(fold, rows, bands, control, stack.report, gaps, tuple(th), len(test),
                      {a: int((acts == a).sum()) for a in ("buy", "sell", "hold")}, ceiling)


def run_id_of(spec: Mapping) -> str:
    """Content id of an evaluation spec (symbols, periods, horizons, seed...)."""
    return content_id("signal_evaluation", [str(sorted((k, str(v)) for k, v in spec.items()))])


def report_rows(tenant_id: str, run_id: str, results: Sequence[FoldResult]) -> list[dict]:
    """``signal_evaluations`` rows for the folds' results."""
    out = []
    keep = ("rank_ic", "rank_ic_lo", "rank_ic_hi", "ic", "ic_lo", "ic_hi", "hit_rate", "turnover", "net_bps",
            "null_band")
    for res in results:
        f = res.fold
        for r in res.rows:
            out.append({"id": content_id("signal_evaluation_row", [tenant_id, run_id, f.index, r["model"],
                                                                   int(r["horizon_ms"])]),
                        "run_id": run_id, "fold": f.index, "train_start": f.train_start_us,
                        "train_end": f.train_end_us, "test_start": f.test_start_us, "test_end": f.test_end_us,
                        "model": r["model"], "horizon_ms": int(r["horizon_ms"]), "n": int(r["n"]),
                        **{k: (None if r.get(k) is None or not np.isfinite(r[k]) else float(r[k])) for k in keep},
                        "detail": {k: v for k, v in r.items() if k not in keep and isinstance(v, (int, float, str, dict))
                                   and not (isinstance(v, float) and not np.isfinite(v))}})
    return out


def verdict(res: FoldResult, horizons_ms: Sequence[int] = (250, 1000), min_hit: float = 0.58) -> dict:
    """The issue's acceptance checks on one fold: blend rank IC ≥ best expert's and ≥ the linear OFI
    line's at each of ``horizons_ms``; blend hit rate on moved windows ≥ ``min_hit``; every model
    inside the permutation band under shuffled labels."""
    out = {}
    for h in horizons_ms:
        rows = {r["model"]: r for r in res.rows if r["horizon_ms"] == h}
        blend = rows[BLEND]
        experts = [r for m, r in rows.items() if m not in (BLEND, BASELINE)]
        best = max(experts, key=lambda r: r["rank_ic"]) if experts else None
        out[f"{h}ms"] = {
            "blend_rank_ic": blend["rank_ic"], "best_expert": best["model"] if best else None,
            "best_expert_rank_ic": best["rank_ic"] if best else float("nan"),
            "linear_ofi_rank_ic": rows[BASELINE]["rank_ic"], "blend_hit_rate": blend["hit_rate"],
            "beats_best_expert": bool(best is None or blend["rank_ic"] >= best["rank_ic"]),
            "beats_linear_ofi": bool(blend["rank_ic"] >= rows[BASELINE]["rank_ic"]),
            "hit_rate_ok": bool(blend["hit_rate"] >= min_hit),
            "weighting_ceiling_rank_ic": res.ceiling.get(h, {}).get("rank_ic", float("nan")),
            "shuffled_inside_band": res.control[h]["all_inside"]}
    return out


def format_table(res: FoldResult) -> str:
    """The fold's evaluation as a fixed-width text table (what `thunderline evaluate` prints)."""
    f = res.fold
    lines = [f"fold {f.index}: train {_t(f.train_start_us)} → {_t(f.train_end_us)}, test {_t(f.test_start_us)} → "
             f"{_t(f.test_end_us)} ({res.test_windows:,} windows); blend chose {res.fit_report.get('chosen')}, "
             f"thresholds ±{res.thresholds[0]:.3f}; label gaps {res.gap_rates['clock']} (chained windows: "
             f"{res.gap_rates['chained_windows']})",
             f"{'model':<26}{'h':>6}{'rank IC [95% CI]':>26}{'IC [95% CI]':>26}{'hit':>7}{'turn':>7}"
             f"{'net bps':>11}{'null±':>8}"]
    for r in sorted(res.rows, key=lambda r: (r["horizon_ms"], r["model"] != BLEND, r["model"] != BASELINE,
                                            -np.nan_to_num(r["rank_ic"]))):
        lines.append(f"{r['model']:<26}{int(r['horizon_ms']):>5}ms"
                     f"{r['rank_ic']:>+8.4f} [{r['rank_ic_lo']:+.3f},{r['rank_ic_hi']:+.3f}]"
                     f"{r['ic']:>+10.4f} [{r['ic_lo']:+.3f},{r['ic_hi']:+.3f}]"
                     f"{r['hit_rate']:>7.3f}{r['turnover']:>7.3f}{r['net_bps']:>11.1f}{r.get('null_band', np.nan):>8.4f}")
    for name, why in (res.fit_report.get("skipped") or {}).items():
        lines.append(f"not trained, left out of the blend: {name} ({why})")
    for h, c in res.ceiling.items():
        lines.append(f"after the fact at {h}ms: the best fixed weighting of the experts, fitted on this period's own "
                     f"moves, reaches rank IC {c['rank_ic']:+.4f} ({c['best_expert']} {c['best_expert_rank_ic']:+.4f}, "
                     f"gain {c['gain']:+.4f}): a ceiling for any blend of them, not a model")
    for h, c in res.control.items():
        lines.append(f"shuffled labels at {h}ms: every model inside ±{c['band']:.4f}: {c['all_inside']} "
                     f"(largest |rank IC| {max(abs(v) for v in c['rank_ic'].values() if np.isfinite(v)):.4f})")
    return "\n".join(lines)


def _t(us: int) -> str:
    return pd.Timestamp(int(us), unit="us", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
