"""Risk hooks (run last on every decision): deny-map halts, flags → abstain, exposure limits."""

from thunderline.risk.apply import (
    FLAG_ABSTAIN_FRACTION,
    FLAG_BAD_ACTION,
    FLAG_BAD_CONFIDENCE,
    FLAG_BAD_POSITION,
    FLAG_BAD_PRICE,
    FLAG_DENY,
    FLAG_LOW_CONFIDENCE,
    FLAG_MAX_NOTIONAL,
    FLAG_MAX_POSITION,
    apply_risk,
)
from thunderline.risk.config import RiskConfig, TenantLimits, deny_pairs

__all__ = [
    "FLAG_ABSTAIN_FRACTION",
    "FLAG_BAD_ACTION",
    "FLAG_BAD_CONFIDENCE",
    "FLAG_BAD_POSITION",
    "FLAG_BAD_PRICE",
    "FLAG_DENY",
    "FLAG_LOW_CONFIDENCE",
    "FLAG_MAX_NOTIONAL",
    "FLAG_MAX_POSITION",
    "RiskConfig",
    "TenantLimits",
    "apply_risk",
    "deny_pairs",
]
