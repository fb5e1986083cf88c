"""Performance of a stream of paper trades: hit rate, IC, turnover, drawdown, PnL.

Definitions (per actor — the blend or one expert — over a scope such as a month):

* ``n``: trades with a realised forward return; ``n_positions``: those with a position;
* ``hit_rate``: share of positions whose sign matches the realised return's
  (a zero return is a miss); NaN with no position;
* ``ic``: Spearman rank correlation of the directional score
  (``position × confidence``; hold counts as 0) with the realised return, over
  trades where the actor did not abstain; NaN when either side is constant or
  fewer than 3 trades;
* ``turnover``: notional traded per trade, round trip (``mean 2·|position|``);
* ``max_drawdown``: the largest fall of cumulative net PnL from its running
  peak, trades in time order (≥ 0, in return units of one unit of notional);
* ``gross``, ``cost``, ``net``: sums.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Performance:
    n: int
    n_positions: int
    hit_rate: float
    ic: float
    turnover: float
    max_drawdown: float
    gross: float
    cost: float
    net: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": (float(v) if not isinstance(v, int) else v) for k, v in asdict(self).items()}


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN if fewer than 3 points or a side is constant."""
    from scipy.stats import rankdata

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    den = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def max_drawdown(net_in_time_order: np.ndarray) -> float:
    """Largest peak-to-trough fall of the cumulative sum (the peak includes the starting 0)."""
    x = np.asarray(net_in_time_order, dtype=np.float64)
    if x.size == 0:
        return 0.0
    cum = np.cumsum(x)
    peak = np.maximum.accumulate(np.r_[0.0, cum])[1:]
    return float(max(0.0, (peak - cum).max()))


def performance(position, confidence, fwd_return, gross, cost, net, *, abstained=None, time_order=None
                ) -> Performance:
    """Metrics of trades given as aligned arrays; rows with a NaN return are left out.

    ``abstained`` marks trades where the actor gave no opinion (excluded from the
    IC); ``time_order`` (e.g. window start) orders the drawdown (stable; input
    order when None).
    """
    p = np.asarray(position, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    r = np.asarray(fwd_return, dtype=np.float64)
    g = np.asarray(gross, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    v = np.asarray(net, dtype=np.float64)
    ab = np.zeros(p.size, dtype=bool) if abstained is None else np.asarray(abstained, dtype=bool)
    ok = np.isfinite(r)
    if time_order is not None:
        order = np.argsort(np.asarray(time_order)[ok], kind="stable")
    else:
        order = np.arange(int(ok.sum()))
    p, conf, r, g, c, v, ab = (a[ok] for a in (p, conf, r, g, c, v, ab))
    pos = p != 0
    hit = float(np.mean(np.sign(r[pos]) == p[pos])) if pos.any() else float("nan")
    score = p * np.nan_to_num(conf, nan=0.0)
    ic = spearman(score[~ab], r[~ab])
    return Performance(
        n=int(p.size), n_positions=int(pos.sum()), hit_rate=hit, ic=ic,
        turnover=float(np.mean(2.0 * np.abs(p))) if p.size else 0.0,
        max_drawdown=max_drawdown(v[order]),
        gross=float(g.sum()), cost=float(c.sum()), net=float(v.sum()),
    )


def jsonable(perf: Performance) -> dict[str, Any]:
    """The metrics with NaN as None (JSON and jsonb have no NaN)."""
    return {k: (None if isinstance(x, float) and not math.isfinite(x) else x) for k, x in asdict(perf).items()}
