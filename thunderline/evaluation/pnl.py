"""Paper PnL of actions against realised labels: positions, costs of crossing the spread, attribution.

The accounting, chosen so every number can be checked by hand:

* every decision is its own paper trade of one unit of notional: ``buy`` → +1,
  ``sell`` → −1, ``hold`` / ``abstain`` → 0, entered at the window's end (when
  the decision is known) and closed after the cost model's horizon — the same
  chained, non-overlapping windows the label reads
  (:mod:`thunderline.labels.realise`);
* ``gross = position · (exp(r) − 1)`` with ``r`` the realised forward log return
  (mid to mid);
* ``cost = |position| · (spread_share · (entry_spread_bps + exit_spread_bps) + 2 · fee_bps) · 1e-4``:
  half the quoted spread actually in force where the trade is entered and where
  it is left (``spread_share = 0.5``: crossing from the mid), plus a
  configurable fee on each side;
* ``net = gross − cost``; all three are returns on one unit of notional;
* attribution: the blended trade's net is split among the live experts of the
  blend (not shadow, not abstaining, router weight > 0) in proportion to their
  router weight summed over the layers that kept them — the same weights the
  blend normalises by. A shadow therefore never gets (or changes) any PnL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

_POSITION = {"buy": 1.0, "sell": -1.0}


@dataclass(frozen=True)
class CostModel:
    """Fees and spread crossing of a paper trade, and the label horizon it is held for."""

    fee_bps: float = 0.5
    spread_share: float = 0.5
    horizon: int = 1

    def __post_init__(self) -> None:
        for name in ("fee_bps", "spread_share"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"cost model: {name}={v!r} must be finite and >= 0")
        if isinstance(self.horizon, bool) or int(self.horizon) != self.horizon or self.horizon < 1:
            raise ValueError(f"cost model: horizon={self.horizon!r} must be a whole number of windows >= 1")

    @property
    def id(self) -> str:
        return f"h{int(self.horizon)}_fee{self.fee_bps:g}bps_spread{self.spread_share:g}"

    def to_json(self) -> dict[str, float]:
        return {"fee_bps": self.fee_bps, "spread_share": self.spread_share, "horizon": int(self.horizon)}


def positions(actions: Iterable[str]) -> np.ndarray:
    """+1 for buy, −1 for sell, 0 for hold, abstain or anything else."""
    return np.array([_POSITION.get(str(a), 0.0) for a in actions], dtype=np.float64)


@dataclass(frozen=True)
class PaperTrades:
    position: np.ndarray
    gross: np.ndarray
    cost: np.ndarray
    net: np.ndarray


def paper_trades(position: Sequence[float], fwd_return: Sequence[float], entry_spread_bps: Sequence[float],
                 exit_spread_bps: Sequence[float], cost: CostModel = CostModel()) -> PaperTrades:
    """Gross, cost and net of each unit trade (see the module docstring). NaN returns stay NaN."""
    p = np.asarray(position, dtype=np.float64)
    r = np.asarray(fwd_return, dtype=np.float64)
    entry = np.nan_to_num(np.asarray(entry_spread_bps, dtype=np.float64), nan=0.0)
    exit_ = np.nan_to_num(np.asarray(exit_spread_bps, dtype=np.float64), nan=0.0)
    gross = p * np.expm1(r)
    c = np.abs(p) * (cost.spread_share * (entry + exit_) + 2.0 * cost.fee_bps) * 1e-4
    return PaperTrades(p, gross, c, gross - c)


def live_weights(expert_actions: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, float]]:
    """expert → (model version, summed router weight) over the live entries of one trace."""
    out: dict[str, tuple[str, float]] = {}
    for a in expert_actions:
        w = float(a.get("weight", 0.0) or 0.0)
        if a.get("alias") == "shadow" or a.get("action") == "abstain" or not w > 0:
            continue
        name = str(a["expert"])
        version, acc = out.get(name, (str(a.get("model_version", "")), 0.0))
        out[name] = (version, acc + w)
    return out


def attribute(net: float, expert_actions: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Split one trade's net among the live experts by router weight: expert → {version, share, net}."""
    weights = live_weights(expert_actions)
    z = sum(w for _, w in weights.values())
    if not z > 0:
        return {}
    value = float(net) if math.isfinite(net) else 0.0
    return {name: {"version": v, "share": w / z, "net": value * w / z} for name, (v, w) in sorted(weights.items())}
