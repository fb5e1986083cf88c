"""Retention policy: how long each tenant's data stays hot, and when it may be deleted.

Why per tenant and per data class: raw ticks are large and rarely re-read once their windows
exist, so they move to cheap cold storage after a few months; features, decisions and lineage
back audits and are kept longer. A tenant with its own contract may need other horizons.

One setting, ``THUNDERLINE_RETENTION``, read by :func:`thunderline.config.load_settings`:
comma-separated ``TENANT.CLASS.hot=DAYS`` / ``TENANT.CLASS.keep=DAYS|forever`` entries, ``*``
standing for every tenant; a tenant's own entry wins over ``*``. ``hot`` is the age (days after
the end of a month) after which a lake month is tiered to cold storage; ``keep`` the age after
which it may be deleted — only by an explicit ``thunderline retention purge --yes`` (never by a
schedule), logged and audited. ``THUNDERLINE_COLD_URL`` (default ``$THUNDERLINE_HOME/cold``) is
where tiered files go: a directory or an object-store URL pyarrow/fsspec opens (``s3://…``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

DATA_CLASSES = ("raw_ticks", "raw_edgar", "features", "decisions", "lineage")
#: Data classes tiering moves to cold storage: lake files (raw_ticks) and warehouse rows (raw_edgar_docs).
TIERED_CLASSES = ("raw_ticks", "raw_edgar")
#: Defaults: nothing tiered, nothing deleted, until a horizon is configured (the nightly tiering schedule
#: runs by default and finds nothing due).
DEFAULT_HOT_DAYS: dict[str, int] = {}

_ENTRY = re.compile(r"^(\*|[a-z0-9][a-z0-9_-]{0,62})\.([a-z_]+)\.(hot|keep)=(\d{1,6}|forever)$")


class PolicyError(ValueError):
    """A retention entry is malformed; the message quotes it and the rule."""


@dataclass(frozen=True)
class ClassPolicy:
    hot_days: int | None  # None: never tiered
    keep_days: int | None  # None: kept forever


@dataclass(frozen=True)
class RetentionPolicy:
    """``entries[(tenant or '*', data class)] = ClassPolicy``; :meth:`for_tenant` resolves one."""

    entries: tuple[tuple[str, str, ClassPolicy], ...] = ()

    def for_tenant(self, tenant_id: str, data_class: str) -> ClassPolicy:
        if data_class not in DATA_CLASSES:
            raise PolicyError(f"unknown data class {data_class!r} (one of {', '.join(DATA_CLASSES)})")
        found = {t: p for t, c, p in self.entries if c == data_class and t in (tenant_id, "*")}
        default = ClassPolicy(DEFAULT_HOT_DAYS.get(data_class), None)
        return found.get(tenant_id) or found.get("*") or default

    def describe(self, tenant_id: str) -> dict[str, dict[str, int | None]]:
        return {c: vars(self.for_tenant(tenant_id, c)) for c in DATA_CLASSES}

    def to_text(self) -> str:
        """The policy as the ``THUNDERLINE_RETENTION`` text a user writes; :func:`parse_policy` reads it back
        to an equal policy. An entry with neither horizon is written ``keep=forever`` (it still overrides ``*``)."""
        parts = []
        for tenant, klass, p in self.entries:
            if p.hot_days is not None:
                parts.append(f"{tenant}.{klass}.hot={p.hot_days}")
            if p.keep_days is not None or p.hot_days is None:
                parts.append(f"{tenant}.{klass}.keep={'forever' if p.keep_days is None else p.keep_days}")
        return ",".join(parts)


def parse_policy(text: str) -> RetentionPolicy:
    """Parse ``THUNDERLINE_RETENTION``; raises :class:`PolicyError` naming the bad entry."""
    merged: dict[tuple[str, str], dict[str, int | None]] = {}
    for raw in (p.strip() for p in text.split(",")):
        if not raw:
            continue
        m = _ENTRY.match(raw)
        if not m:
            raise PolicyError(f"{raw!r}: expected TENANT.CLASS.hot=DAYS or TENANT.CLASS.keep=DAYS|forever "
                              "(TENANT may be '*')")
        tenant, klass, which, value = m.groups()
        if klass not in DATA_CLASSES:
            raise PolicyError(f"{raw!r}: unknown data class {klass!r} (one of {', '.join(DATA_CLASSES)})")
        if which == "hot" and value == "forever":
            raise PolicyError(f"{raw!r}: a hot horizon is a number of days")
        merged.setdefault((tenant, klass), {})[which] = None if value == "forever" else int(value)
    entries = []
    for (tenant, klass), v in sorted(merged.items()):
        hot = v.get("hot", DEFAULT_HOT_DAYS.get(klass))
        keep = v.get("keep")
        if hot is not None and keep is not None and keep < hot:
            raise PolicyError(f"{tenant}.{klass}: keep={keep} days is shorter than hot={hot} days")
        entries.append((tenant, klass, ClassPolicy(hot, keep)))
    return RetentionPolicy(tuple(entries))


def month_end(month: str) -> dt.date:
    y, m = int(month[:4]), int(month[5:7])
    return dt.date(y + (m == 12), m % 12 + 1, 1)


def is_past(month: str, days: int | None, today: dt.date) -> bool:
    """Whether every day of ``month`` is more than ``days`` days before ``today`` (None: never)."""
    return days is not None and (today - month_end(month)).days >= days
