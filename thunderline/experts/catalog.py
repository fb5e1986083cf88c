"""The one place that says which features each expert family reads, and the default expert pool.

Why one place: an expert's required features are part of its contract with the
feature pipelines. Training, the pyfunc signature, the input check before
prediction and the registry tags all read them from here, so a renamed feature
fails loudly everywhere at once instead of silently feeding NaNs.

Feature names are the producers' own, so an expert reads a joined window frame
as it comes: market features from :mod:`thunderline.market.features` (the
window kernel), filing features from :mod:`thunderline.edgar.features`, as-of
joined to each market window by acceptance time (never ahead of it).

order flow (market kernel)
    ``order_flow_imbalance``  Cont–Kukanov–Stoikov OFI summed over levels 1–5 (shares)
    ``ofi_1``                 the same at the best level only
    ``imbalance_top1``        mean (bid size − ask size)/(bid size + ask size) at the best level
    ``imbalance_topn``        the same with sizes summed over all book levels
    ``signed_volume``         Σ side × size over trades (buyer-initiated positive)
    ``spread_bps``            mean quoted spread in basis points of the mid
    ``imbalance_top1_end``    queue imbalance at the touch at the window's last book row (the book the
                              decision faces; the strongest one-move-ahead predictor on large-tick books)
    ``microprice_dev_bps``    (microprice − mid)/mid in bps there: imbalance scaled by the spread
    ``mid_age_log_ms``        log(1 + ms since the mid last changed): a queue about to be depleted vs a
                              freshly moved mid (bounces back on large-tick books)
    ``ofi_1_ewm_1s``, ``ofi_1_ewm_5s``  top-of-book OFI decayed over 1 s / 5 s: order flow beyond one window
momentum / mean reversion (market kernel)
    ``mid_return``            log(last mid / first mid) of the window
    ``realized_vol``          sqrt Σ squared log mid returns inside the window
    ``tick_rate``             ticks per second of window width
    ``trade_count``, ``volume``  trades and traded size in the window
    ``microburst``            1 when the tick rate bursts above its recent average
filing (EDGAR)
    ``fund_revenue_yoy_pct``, ``fund_net_income_yoy_pct``   growth vs the filing a year earlier
    ``text_risk_factors_sim_yoy``, ``text_mdna_sim_yoy``     cosine similarity of Item 1A / MD&A
                              to the year-ago filing (low = the text changed: "lazy prices")
    ``text_risk_factors_log_words_change``  log growth of the risk-factor section vs the previous filing

A window missing any of an expert's features (e.g. no year-ago filing yet) is
one the expert abstains on; see :mod:`thunderline.experts.predict`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from thunderline.contracts import FEATURE_SCHEMA_VERSION
from thunderline.labels.clock import WINDOW_HORIZON_MS

#: Registered-model name prefix in MLflow: ``thunderline.expert.<name>``.
EXPERT_MODEL_PREFIX = "thunderline.expert."

ORDER_FLOW_FEATURES: tuple[str, ...] = (
    "order_flow_imbalance",
    "ofi_1",
    "imbalance_top1",
    "imbalance_topn",
    "signed_volume",
    "spread_bps",
    "imbalance_top1_end",
    "microprice_dev_bps",
    "mid_age_log_ms",
    "ofi_1_ewm_1s",
    "ofi_1_ewm_5s",
)
MOMENTUM_FEATURES: tuple[str, ...] = (
    "mid_return",
    "realized_vol",
    "tick_rate",
    "trade_count",
    "volume",
    "microburst",
)
#: Cont–Kukanov–Stoikov order-flow imbalance at the best level alone: the linear OFI model of
#: price impact (Cont, Kukanov & Stoikov 2014), the honest floor every blend must clear.
OFI_TOP_FEATURES: tuple[str, ...] = ("ofi_1",)
FILING_FEATURES: tuple[str, ...] = (
    "fund_revenue_yoy_pct",
    "fund_net_income_yoy_pct",
    "text_risk_factors_sim_yoy",
    "text_mdna_sim_yoy",
    "text_risk_factors_log_words_change",
)

#: family → the ordered features every expert of that family requires.
FAMILY_FEATURES: Mapping[str, tuple[str, ...]] = {
    "order_flow": ORDER_FLOW_FEATURES,
    "momentum": MOMENTUM_FEATURES,
    "filing": FILING_FEATURES,
    "ofi_top": OFI_TOP_FEATURES,
}

# WINDOW_HORIZON_MS (imported above): the clock horizon of an expert whose spec gives only windows.

#: Default per-batch latency budget of an expert, milliseconds.
DEFAULT_LATENCY_BUDGET_MS = 50.0


@dataclass(frozen=True)
class ExpertSpec:
    """How to train one expert: its family (hence features), label horizon and estimator.

    ``estimator`` is ``"logit"`` (standardise + multinomial logistic regression,
    ``params``: ``C``) or ``"gbm"`` (histogram gradient boosting, ``params``:
    ``max_iter``, ``max_depth``, ``learning_rate``, ``l2_regularization``).
    ``horizon`` is in (non-overlapping) windows and picks the label column ``label_h{horizon}``;
    ``horizon_ms`` is the clock horizon the expert predicts when trained on clock labels
    (:mod:`thunderline.labels.clock`), by default :data:`WINDOW_HORIZON_MS` of ``horizon``.
    """

    name: str
    family: str
    horizon: int
    estimator: str
    params: Mapping[str, Any] = field(default_factory=dict)
    latency_budget_ms: float = DEFAULT_LATENCY_BUDGET_MS
    feature_schema_version: str = FEATURE_SCHEMA_VERSION
    description: str = ""
    horizon_ms: int | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILY_FEATURES:
            raise ValueError(f"expert {self.name!r}: unknown family {self.family!r} (known: {sorted(FAMILY_FEATURES)})")
        if self.estimator not in ("logit", "gbm"):
            raise ValueError(f"expert {self.name!r}: unknown estimator {self.estimator!r} (use 'logit' or 'gbm')")
        if self.horizon < 1:
            raise ValueError(f"expert {self.name!r}: horizon must be >= 1 window")
        check_expert_name(self.name)

    @property
    def features(self) -> tuple[str, ...]:
        return FAMILY_FEATURES[self.family]

    @property
    def clock_horizon_ms(self) -> int:
        return clock_horizon_ms(self.horizon, self.horizon_ms)

    @property
    def registered_model(self) -> str:
        return registered_model_name(self.name)


def clock_horizon_ms(horizon: int, horizon_ms: int | None = None) -> int:
    """The clock horizon of an expert: ``horizon_ms`` when given, else :data:`WINDOW_HORIZON_MS`."""
    if horizon_ms is not None:
        return int(horizon_ms)
    return int(WINDOW_HORIZON_MS.get(int(horizon), 250 * int(horizon)))


def check_expert_name(name: str) -> str:
    """Expert names are lower-case identifiers (they become MLflow model names and risk-flag suffixes)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name or ""):
        raise ValueError(f"expert name {name!r}: use 1-64 chars of a-z, 0-9 and '_', starting with a letter")
    return name


def registered_model_name(name: str) -> str:
    """``thunderline.expert.<name>``."""
    return EXPERT_MODEL_PREFIX + check_expert_name(name)


#: The default pool: several variants per family so the router has a choice within each.
DEFAULT_EXPERT_SPECS: tuple[ExpertSpec, ...] = (
    ExpertSpec("order_flow_logit_h1", "order_flow", 1, "logit", {"C": 1.0},
               description="order-flow imbalance → next-window direction, lightly regularised"),
    ExpertSpec("order_flow_logit_h1_l2", "order_flow", 1, "logit", {"C": 0.02},
               description="order-flow imbalance → next-window direction, strongly L2-regularised"),
    ExpertSpec("order_flow_logit_h4", "order_flow", 4, "logit", {"C": 1.0},
               description="order-flow imbalance → direction over the next 4 windows"),
    ExpertSpec("order_flow_gbm_h1", "order_flow", 1, "gbm",
               {"max_iter": 60, "max_depth": 3, "learning_rate": 0.1, "l2_regularization": 1.0,
                "min_samples_leaf": 100},
               description="order-flow imbalance → next 250 ms direction with boosted trees (the nonlinear "
                           "response to book imbalance a logistic index cannot bend to)"),
    ExpertSpec("momentum_gbm_h1", "momentum", 1, "gbm",
               {"max_iter": 60, "max_depth": 3, "learning_rate": 0.1, "l2_regularization": 1.0},
               description="return/vol/tick-rate → next-window direction (momentum and reversal)"),
    ExpertSpec("momentum_gbm_h1_shallow", "momentum", 1, "gbm",
               {"max_iter": 40, "max_depth": 2, "learning_rate": 0.1, "l2_regularization": 5.0},
               description="as momentum_gbm_h1 with shallower trees and more shrinkage"),
    ExpertSpec("momentum_gbm_h4", "momentum", 4, "gbm",
               {"max_iter": 60, "max_depth": 3, "learning_rate": 0.1, "l2_regularization": 1.0},
               description="return/vol/tick-rate → direction over the next 4 windows"),
    ExpertSpec("ofi_linear_h1", "ofi_top", 1, "logit", {"C": 1.0},
               description="linear Cont–Kukanov–Stoikov model: top-of-book OFI alone, one linear index "
                           "(logistic link) → next 250 ms direction; the floor the blend must beat"),
    ExpertSpec("ofi_linear_h4", "ofi_top", 4, "logit", {"C": 1.0},
               description="as ofi_linear_h1 over the next second"),
    ExpertSpec("filing_logit_h10", "filing", 10, "logit", {"C": 0.5},
               description="EDGAR fundamental deltas and text change → post-filing drift over 10 windows"),
    ExpertSpec("filing_gbm_h10", "filing", 10, "gbm",
               {"max_iter": 30, "max_depth": 2, "learning_rate": 0.05, "l2_regularization": 5.0,
                "min_samples_leaf": 300},
               description="as filing_logit_h10 with boosted trees; large leaves, because one filing's "
                           "features repeat over every window until the next filing (few independent rows)"),
)

DEFAULT_SPECS_BY_NAME: Mapping[str, ExpertSpec] = {s.name: s for s in DEFAULT_EXPERT_SPECS}
