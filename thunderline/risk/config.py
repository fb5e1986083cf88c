"""Risk configuration: validated once, at load, with errors that name the setting.

Shape (YAML/JSON-friendly)::

    deny:                      # (tenant, symbol) pairs that halt; "*" matches any tenant / symbol
      acme: [AMZN, TSLA]
      "*": [GME]
    limits:                    # per tenant; a tenant without an entry gets default_limits
      acme: {max_position: 500, max_notional: 100000, order_size: 10}
    default_limits: {max_position: null, max_notional: null, order_size: 1}
    max_abstain_fraction: 0.5  # more abstentions than this in a batch halts the whole batch
    min_confidence: 0.0        # buy/sell below this confidence abstain
    advisory_flag_prefixes: [] # flags starting with these are logged but do not force abstain

Positions are signed units (long > 0); notional is ``|position| × price`` in the
price's currency. ``order_size`` is the units one buy/sell decision would trade.
"""

from __future__ import annotations

import re
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator

_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ANY = "*"


class TenantLimits(BaseModel):
    """Exposure limits of one tenant; ``None`` means no limit of that kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_notional: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    order_size: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class RiskConfig(BaseModel):
    """Everything :func:`thunderline.risk.apply_risk` enforces. Immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deny: dict[str, frozenset[str]] = Field(default_factory=dict)
    limits: dict[str, TenantLimits] = Field(default_factory=dict)
    default_limits: TenantLimits = Field(default_factory=TenantLimits)
    max_abstain_fraction: float = Field(default=1.0, ge=0.0, le=1.0)
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    advisory_flag_prefixes: tuple[str, ...] = ()

    @field_validator("deny", mode="before")
    @classmethod
    def _deny(cls, v):
        if not isinstance(v, dict):
            raise ValueError("deny must map tenant -> list of symbols")
        out = {}
        for tenant, symbols in v.items():
            _check_tenant(tenant, "deny")
            if isinstance(symbols, str):
                symbols = [symbols]
            syms = frozenset(symbols)
            for s in syms:
                if not isinstance(s, str) or not s.strip() or s != s.strip():
                    raise ValueError(f"deny[{tenant!r}]: symbol {s!r} must be a non-empty string without spaces")
            out[tenant] = syms
        return out

    @field_validator("limits")
    @classmethod
    def _limits(cls, v):
        for tenant in v:
            _check_tenant(tenant, "limits", allow_any=False)
        return v

    @field_validator("advisory_flag_prefixes")
    @classmethod
    def _prefixes(cls, v):
        for p in v:
            if not p:
                raise ValueError("advisory_flag_prefixes: an empty prefix would make every flag advisory")
            if p.startswith("risk."):
                raise ValueError(f"advisory_flag_prefixes: {p!r} would make the risk layer's own flags advisory")
        return tuple(v)

    # ------------------------------------------------------------------ lookups
    def denied_symbols(self, tenant: str) -> frozenset[str]:
        """Symbols halted for ``tenant`` (``"*"`` in the result means every symbol)."""
        return self.deny.get(tenant, frozenset()) | self.deny.get(ANY, frozenset())

    def limits_for(self, tenant: str) -> TenantLimits:
        return self.limits.get(tenant, self.default_limits)

    def is_advisory(self, flag: str) -> bool:
        return any(flag.startswith(p) for p in self.advisory_flag_prefixes)

    @classmethod
    def from_mapping(cls, data: dict | None) -> "RiskConfig":
        """Build from parsed YAML/JSON; raises ValueError naming the offending setting."""
        from pydantic import ValidationError

        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "risk config"
            raise ValueError(f"risk config: {where}: {first['msg']}") from None


def _check_tenant(tenant: object, where: str, allow_any: bool = True) -> None:
    if allow_any and tenant == ANY:
        return
    if not isinstance(tenant, str) or not _TENANT_RE.match(tenant):
        raise ValueError(f"{where}: {tenant!r} is not a tenant id (1-63 chars of a-z, 0-9, '_' or '-')")


def deny_pairs(config: RiskConfig) -> Iterable[tuple[str, str]]:
    """Every (tenant, symbol) deny entry, sorted — for display and audit."""
    for tenant in sorted(config.deny):
        for sym in sorted(config.deny[tenant]):
            yield tenant, sym
