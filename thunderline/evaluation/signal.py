"""Signal quality the way quant research measures it: rank IC, IC, hit rate, turnover, net PnL, nulls.

Definitions, per model (an expert's signed score, the blend's score, a baseline) over the
windows of a test period, against the realised clock-label return at horizon h:

* ``rank_ic``: Spearman correlation of score and realised log return (windows where the
  label is filled); ``ic``: Pearson correlation of the same. Both 0 when the score is constant;
* 95 % confidence intervals by a **moving-block bootstrap** (blocks of ``block`` consecutive
  windows, so the autocorrelation of overlapping windows is kept); Spearman is computed on the
  full-sample ranks of each resample (the usual approximation; the ranks of a resample would be
  a monotone transform of them up to ties);
* ``hit_rate``: on windows where the mid **moved** and the score is not 0, the share whose
  score sign equals the move's sign; ``hit_rate_traded``: the same over windows with a position;
* ``turnover``: mean |Δ position| per window, position = sign of the score beyond the model's
  action thresholds (the blend's fitted ones; none for a raw score: ±1 by sign);
* ``net_bps``: Σ position × return (bps) − |position| × (spread + 2 × fee) — every position
  held over h and charged the quoted spread (half in, half out) and a fee per side;
  ``net_bps_per_trade`` its mean over positions;
* **permutation null**: the rank IC of every model against ``n_perm`` shuffles of the realised
  returns; the band is the (``level``) quantile of the largest |rank IC| over all models per
  shuffle — family-wise, so "every model inside the band" is a test at level 1 − ``level``;
* **weighting ceiling** (a diagnostic, never a model): the non-negative weights of the experts'
  standardised scores fitted by least squares on the test period's *own* ranked moves, and the rank IC
  of that weighting — about the most any fixed linear blend of these experts could have reached, known
  only after the fact. When it is barely above the best expert, the experts carry the same information
  and no weighting, however fitted, can lead the best one by more than noise.

Deterministic for a given ``seed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np
from scipy.optimize import nnls
from scipy.stats import rankdata


@dataclass(frozen=True)
class SignalQuality:
    model: str
    horizon_ms: int
    n: int
    rank_ic: float
    rank_ic_lo: float
    rank_ic_hi: float
    ic: float
    ic_lo: float
    ic_hi: float
    n_moved: int
    hit_rate: float
    hit_rate_traded: float
    turnover: float
    n_positions: int
    net_bps: float
    net_bps_per_trade: float

    def as_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in asdict(self).items()}


def _corr_cols(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching columns (rows = observations); 0 where one side is constant."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / den
    return np.where(den > 0, r, 0.0)


def block_indices(n: int, n_boot: int, block: int, seed: int) -> np.ndarray:
    """``n_boot × n`` row indices of moving-block bootstrap resamples."""
    rng = np.random.default_rng(seed)
    block = max(1, min(block, n))
    k = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, k))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n]
    return idx


def signal_quality(model: str, horizon_ms: int, score: np.ndarray, ret: np.ndarray, moved: np.ndarray,
                   spread_bps: np.ndarray, *, thresholds: tuple[float, float] | None = None,
                   fee_bps: float = 0.1, n_boot: int = 400, block: int = 40, seed: int = 0) -> SignalQuality:
    """See the module docstring. ``ret``: realised log returns (NaN = not filled, left out)."""
    s = np.asarray(score, dtype=np.float64)
    r = np.asarray(ret, dtype=np.float64)
    ok = np.isfinite(r) & np.isfinite(s)
    s, r = s[ok], r[ok]
    mv = np.asarray(moved, dtype=bool)[ok]
    spread = np.nan_to_num(np.asarray(spread_bps, dtype=np.float64)[ok], nan=0.0)
    n = int(s.size)
    if n < 3:
        nan = float("nan")
        return SignalQuality(model, horizon_ms, n, nan, nan, nan, nan, nan, nan, 0, nan, nan, nan, 0, nan, nan)
    rs, rr = rankdata(s), rankdata(r)
    rank_ic = float(_corr_cols(rs[:, None], rr[:, None])[0])
    ic = float(_corr_cols(s[:, None], r[:, None])[0])
    idx = block_indices(n, n_boot, block, seed)
    boot_rank = _corr_cols(rs[idx].T, rr[idx].T)
    boot_ic = _corr_cols(s[idx].T, r[idx].T)
    lo_r, hi_r = np.quantile(boot_rank, [0.025, 0.975])
    lo_i, hi_i = np.quantile(boot_ic, [0.025, 0.975])
    if thresholds is None:
        pos = np.sign(s)
    else:
        pos = np.where(s > thresholds[0], 1.0, np.where(s < -thresholds[1], -1.0, 0.0))
    judged = mv & (s != 0)
    hit = float(np.mean(np.sign(s[judged]) == np.sign(r[judged]))) if judged.any() else float("nan")
    traded = mv & (pos != 0)
    hit_t = float(np.mean(pos[traded] == np.sign(r[traded]))) if traded.any() else float("nan")
    turnover = float(np.mean(np.abs(np.diff(np.r_[0.0, pos]))))
    pnl = pos * r * 1e4 - np.abs(pos) * (spread + 2 * fee_bps)
    n_pos = int((pos != 0).sum())
    return SignalQuality(model, int(horizon_ms), n, rank_ic, float(lo_r), float(hi_r), ic, float(lo_i), float(hi_i),
                         int(mv.sum()), hit, hit_t, turnover, n_pos, float(pnl.sum()),
                         float(pnl.sum() / n_pos) if n_pos else 0.0)


def permutation_band(scores: Mapping[str, np.ndarray], ret: np.ndarray, *, n_perm: int = 200, level: float = 0.99,
                     seed: int = 0) -> dict:
    """The family-wise permutation-null band of rank IC for ``scores`` (model → score) against ``ret``:
    ``{"band": b, "level": level, "n_perm": n_perm, "null_max_abs": [...]}``; a model is
    indistinguishable from noise when |rank IC| ≤ b."""
    r = np.asarray(ret, dtype=np.float64)
    ok = np.isfinite(r)
    for s in scores.values():
        ok &= np.isfinite(np.asarray(s, dtype=np.float64))
    if ok.sum() < 3 or not scores:
        return {"band": float("nan"), "level": level, "n_perm": n_perm}
    R = np.column_stack([rankdata(np.asarray(s, dtype=np.float64)[ok]) for s in scores.values()])
    rr = rankdata(r[ok])
    rng = np.random.default_rng(seed)
    Rc = R - R.mean(axis=0)
    Rn = np.sqrt((Rc * Rc).sum(axis=0))
    worst = np.empty(n_perm)
    for k in range(n_perm):
        y = rng.permutation(rr)
        y = y - y.mean()
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (Rc * y[:, None]).sum(axis=0) / (Rn * np.sqrt((y * y).sum()))
        worst[k] = np.nanmax(np.abs(np.where(Rn > 0, c, 0.0)))
    return {"band": float(np.quantile(worst, level)), "level": level, "n_perm": n_perm}


def weighting_ceiling(scores: Mapping[str, np.ndarray], ret: np.ndarray) -> dict:
    """The weighting ceiling of ``scores`` (expert → score) against ``ret`` (module docstring):
    ``{"rank_ic", "best_expert", "best_expert_rank_ic", "gain", "weights"}`` (weights on the raw scores,
    the largest 1), over the rows where the return and every score are finite."""
    names = list(scores)
    r = np.asarray(ret, dtype=np.float64)
    ok = np.isfinite(r)
    for s in scores.values():
        ok &= np.isfinite(np.asarray(s, dtype=np.float64))
    nan = {"rank_ic": float("nan"), "best_expert": None, "best_expert_rank_ic": float("nan"),
           "gain": float("nan"), "weights": {}}
    if ok.sum() < 3 or not names:
        return nan
    S = np.column_stack([np.asarray(scores[n], dtype=np.float64)[ok] for n in names])
    sd = S.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    yr = rankdata(r[ok])
    b, _ = nnls((S - S.mean(axis=0)) / sd, (yr - yr.mean()) / (yr.std() or 1.0))
    w = b / sd
    ics = {n: rank_ic(S[:, j], r[ok]) for j, n in enumerate(names)}
    best = max(ics, key=lambda n: np.nan_to_num(ics[n], nan=-np.inf))
    ceiling = rank_ic(S @ w, r[ok]) if w.max() > 0 else ics[best]
    return {"rank_ic": ceiling, "best_expert": best, "best_expert_rank_ic": ics[best],
            "gain": ceiling - ics[best], "weights": {n: float(v / (w.max() or 1.0)) for n, v in zip(names, w)}}


def rank_ic(score: np.ndarray, ret: np.ndarray) -> float:
    """Spearman correlation over the rows where both are finite (0 when one side is constant)."""
    s = np.asarray(score, dtype=np.float64)
    r = np.asarray(ret, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(r)
    if ok.sum() < 3:
        return float("nan")
    return float(_corr_cols(rankdata(s[ok])[:, None], rankdata(r[ok])[:, None])[0])
