"""The last word on every decision: halts, flags and exposure limits, vectorised over a batch.

Rules, applied to each window of a batch in this order; every rule that fires
turns the action into ``abstain`` and appends its flag (the window keeps every
flag it arrived with, so the trace shows the whole story):

1. ``risk.halt:deny_map`` — (tenant, symbol) is deny-listed; applies to every
   action, ``hold`` included: a halted symbol gets no decision at all;
2. any incoming flag that is not advisory (see ``advisory_flag_prefixes``) —
   e.g. ``expert_error:x`` or ``latency_budget:x`` of an expert that had a say
   in the window (:func:`thunderline.experts.window_risk_flags`) — forces
   ``abstain``; no new flag is added, the incoming one is the reason;
3. for ``buy``/``sell`` only: ``risk.invalid:confidence`` (NaN or outside
   [0, 1]), ``risk.low_confidence`` (below ``min_confidence``);
4. for ``buy``/``sell`` that would *increase* exposure (``|position ± order_size|
   > |position|``; trades that reduce exposure always pass):
   ``risk.limit:max_position`` when the projected ``|position|`` exceeds the
   tenant's ``max_position``; ``risk.limit:max_notional`` when ``|projected
   position| × price`` exceeds ``max_notional``; ``risk.invalid:position`` /
   ``risk.invalid:price`` when a needed input is missing or non-positive;
5. ``risk.halt:abstain_fraction`` — when, after 1–4, more than
   ``max_abstain_fraction`` of the batch abstains, the whole batch abstains:
   a batch where most of the machinery failed is not traded on its remainder.

``positions`` is the position held *before* each window, as the caller knows
it; decisions within one batch are not assumed to fill, so a batch of buys is
checked window by window against the positions given, not cumulatively.
Unknown action strings are a bug upstream; they abstain with
``risk.invalid:action`` rather than stopping the pipeline.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Sequence

import numpy as np

from thunderline.contracts import ACTIONS
from thunderline.risk.config import ANY, RiskConfig

log = logging.getLogger(__name__)

FLAG_DENY = "risk.halt:deny_map"
FLAG_ABSTAIN_FRACTION = "risk.halt:abstain_fraction"
FLAG_MAX_POSITION = "risk.limit:max_position"
FLAG_MAX_NOTIONAL = "risk.limit:max_notional"
FLAG_LOW_CONFIDENCE = "risk.low_confidence"
FLAG_BAD_CONFIDENCE = "risk.invalid:confidence"
FLAG_BAD_POSITION = "risk.invalid:position"
FLAG_BAD_PRICE = "risk.invalid:price"
FLAG_BAD_ACTION = "risk.invalid:action"


def _per_window(name: str, x: Any, n: int, dtype) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.ndim == 0:
        return np.full(n, a.item(), dtype=dtype)
    if a.shape != (n,):
        raise ValueError(f"apply_risk: {name} has shape {a.shape}; expected a scalar or ({n},)")
    return a


def apply_risk(
    tenant: str,
    symbol: str | Sequence[str] | np.ndarray,
    actions: Sequence[str] | np.ndarray,
    confidences: Any,
    prices: Any,
    positions: Any,
    flags: Sequence[Sequence[str]] | None,
    *,
    config: RiskConfig,
) -> tuple[np.ndarray, list[list[str]]]:
    """Final actions and per-window risk flags for one batch of ``tenant`` (see the module docstring).

    ``symbol``, ``confidences``, ``prices`` and ``positions`` are scalars or one
    value per window; ``flags`` is one sequence of flags per window (or None).
    Returns ``(final_actions, risk_flags)``: an object array of action strings
    and, per window, the incoming flags followed by the ones added here.
    """
    acts = np.asarray(actions, dtype=object).copy()
    if acts.ndim != 1:
        raise ValueError(f"apply_risk: actions must be 1-D, got shape {acts.shape}")
    n = acts.shape[0]
    sym = _per_window("symbol", symbol, n, object)
    conf = _per_window("confidences", confidences, n, np.float64)
    price = _per_window("prices", prices, n, np.float64)
    pos = _per_window("positions", positions, n, np.float64)
    if flags is None:
        out_flags: list[list[str]] = [[] for _ in range(n)]
    else:
        if len(flags) != n:
            raise ValueError(f"apply_risk: {len(flags)} flag lists for {n} windows")
        out_flags = [list(f) for f in flags]  # the caller's lists are never modified
    v = _Verdict(acts, out_flags)

    denied = config.denied_symbols(tenant)
    halt = np.ones(n, dtype=bool) if ANY in denied else np.isin(sym, np.array(sorted(denied), dtype=object))
    v.fire(halt, FLAG_DENY)

    flagged = np.zeros(n, dtype=bool)
    for i in [i for i, fl in enumerate(out_flags) if fl]:  # windows with flags are few: only they are read
        flagged[i] = any(not config.is_advisory(f) for f in out_flags[i])
    flagged &= ~halt
    turned_by_flags = int((flagged & (acts != "abstain")).sum())
    acts[flagged] = "abstain"

    unknown = ~np.isin(acts, np.array(ACTIONS, dtype=object))
    v.fire(unknown, FLAG_BAD_ACTION)

    direction = np.where(acts == "buy", 1.0, np.where(acts == "sell", -1.0, 0.0))
    trade = direction != 0
    bad_conf = trade & ~(np.isfinite(conf) & (conf >= 0.0) & (conf <= 1.0))
    v.fire(bad_conf, FLAG_BAD_CONFIDENCE)
    trade &= ~bad_conf
    low = trade & (conf < config.min_confidence)
    v.fire(low, FLAG_LOW_CONFIDENCE)
    trade &= ~low

    _exposure_limits(v, trade, direction, pos, price, config.limits_for(tenant))

    if n and config.max_abstain_fraction < 1.0:
        frac = float(np.mean(acts == "abstain"))
        if frac > config.max_abstain_fraction:
            v.fire(np.ones(n, dtype=bool), FLAG_ABSTAIN_FRACTION)

    if v.added or turned_by_flags:
        parts = [f"{flag}={count}" for flag, count in sorted(v.added.items())]
        if turned_by_flags:
            parts.append(f"incoming_flags={turned_by_flags}")
        log.warning("risk: tenant %s: %d of %d windows abstain after risk checks (%s)",
                    tenant, int(np.sum(acts == "abstain")), n, ", ".join(parts))
    return acts, out_flags


class _Verdict:
    """The batch's actions and flags as the rules fire: a rule turns its windows to ``abstain`` and
    appends its flag to each; ``added`` counts the flags (for the log line)."""

    def __init__(self, acts: np.ndarray, out_flags: list[list[str]]) -> None:
        self.acts, self.out_flags = acts, out_flags
        self.added: Counter[str] = Counter()

    def fire(self, mask: np.ndarray, flag: str) -> None:
        idx = np.flatnonzero(mask)
        if idx.size:
            self.acts[idx] = "abstain"
            for i in idx.tolist():
                self.out_flags[i].append(flag)
            self.added[flag] += int(idx.size)


def _exposure_limits(v: _Verdict, trade: np.ndarray, direction: np.ndarray, pos: np.ndarray, price: np.ndarray,
                     lim) -> None:
    """Rule 4: trades that would increase exposure past the tenant's position or notional limit
    abstain (as do those whose position or price is missing when a limit needs it)."""
    if lim.max_position is None and lim.max_notional is None:
        return
    bad_pos = trade & ~np.isfinite(pos)
    v.fire(bad_pos, FLAG_BAD_POSITION)
    trade = trade & ~bad_pos
    safe_pos = np.where(np.isfinite(pos), pos, 0.0)
    projected = np.abs(safe_pos + direction * lim.order_size)
    increases = trade & (projected > np.abs(safe_pos))
    if lim.max_position is not None:
        over = increases & (projected > lim.max_position)
        v.fire(over, FLAG_MAX_POSITION)
        increases &= ~over
    if lim.max_notional is not None:
        bad_price = increases & ~(np.isfinite(price) & (price > 0))
        v.fire(bad_price, FLAG_BAD_PRICE)
        increases &= ~bad_price
        with np.errstate(invalid="ignore"):
            over = increases & (projected * np.where(np.isfinite(price), price, 0.0) > lim.max_notional)
        v.fire(over, FLAG_MAX_NOTIONAL)
