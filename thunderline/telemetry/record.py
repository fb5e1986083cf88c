"""Recording telemetry events in the warehouse's ``telemetry_events`` table.

Guarantees:

* an event is ``(name, value, ts, tags)``: ``ts`` in µs since the epoch, UTC (default: now);
  ``value`` a finite float; ``tags`` a flat mapping of str → str/int/float/bool;
* ids are content-derived from (tenant, name, ts, tags, value), so re-recording the
  same event — a replayed micro-batch, a retried run — never duplicates a row;
* writes join the caller's transaction: an event and the data it describes commit
  or roll back together.

:func:`emit` writes one event; :class:`EventBatch` collects many and writes them in
one statement (the live loop and the sensors use it).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from thunderline.hashing import content_id
from thunderline.store.warehouse import TenantSession
from thunderline.telemetry.events import check_name

TagValue = str | int | float | bool


def now_us() -> int:
    return time.time_ns() // 1000


def _check_tags(name: str, tags: Mapping[str, Any] | None) -> dict[str, TagValue]:
    out: dict[str, TagValue] = {}
    for k, v in (tags or {}).items():
        if not isinstance(k, str) or not k:
            raise ValueError(f"telemetry event {name}: tag keys must be non-empty strings, got {k!r}")
        if isinstance(v, (np.integer, np.floating, np.bool_)):
            v = v.item()
        if not isinstance(v, (str, int, float, bool)):
            raise ValueError(f"telemetry event {name}: tag {k!r} must be str/int/float/bool, got {type(v).__name__}")
        out[k] = v
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Event:
    """One measurement. Build with :func:`make_event` (which validates)."""

    name: str
    value: float
    ts_us: int
    tags: dict[str, TagValue] = field(default_factory=dict)

    def row(self, tenant_id: str) -> dict[str, Any]:
        return dict(id=content_id("telemetry_event", [tenant_id, self.name, self.ts_us, self.tags, self.value]),
                    tenant_id=tenant_id, name=self.name, value=self.value, ts=self.ts_us, tags=self.tags)


def make_event(name: str, value: float, tags: Mapping[str, Any] | None = None, ts: int | None = None) -> Event:
    """A validated :class:`Event`; ValueError naming the event on a bad name, value or tag."""
    check_name(name)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"telemetry event {name}: value {value!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"telemetry event {name}: value must be finite, got {v}")
    return Event(name, v, now_us() if ts is None else int(ts), _check_tags(name, tags))


def emit(session: TenantSession, name: str, value: float, tags: Mapping[str, Any] | None = None,
         ts: int | None = None) -> Event:
    """Record one event in ``session``'s transaction and return it."""
    ev = make_event(name, value, tags, ts)
    session.upsert("telemetry_events", [ev.row(session.tenant_id)])
    return ev


class EventBatch:
    """Events collected in memory and written together (one upsert per :meth:`flush`)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, name: str, value: float, tags: Mapping[str, Any] | None = None, ts: int | None = None) -> Event:
        ev = make_event(name, value, tags, ts)
        self.events.append(ev)
        return ev

    def extend(self, events: Iterable[Event]) -> None:
        self.events.extend(events)

    def __len__(self) -> int:
        return len(self.events)

    def flush(self, session: TenantSession) -> list[Event]:
        """Write and forget the collected events; returns what was written."""
        out, self.events = self.events, []
        if out:
            rows = {r["id"]: r for r in (e.row(session.tenant_id) for e in out)}
            session.upsert("telemetry_events", list(rows.values()))
        return out


def read_events(session: TenantSession, names: Sequence[str] | None = None, since_us: int | None = None,
                until_us: int | None = None, limit: int | None = None) -> list[Event]:
    """Events of ``session``'s tenant, oldest first, filtered by name and ``[since_us, until_us)``."""
    t = session.table("telemetry_events")
    where = []
    if names is not None:
        where.append(t.c.name.in_(list(names)))
    if since_us is not None:
        where.append(t.c.ts >= since_us)
    if until_us is not None:
        where.append(t.c.ts < until_us)
    rows = session.select("telemetry_events", *where, order_by=[t.c.ts, t.c.name, t.c.id], limit=limit)
    return [Event(r["name"], float(r["value"]), int(r["ts"]), dict(r["tags"] or {})) for r in rows]


@dataclass(frozen=True)
class Summary:
    """Distribution of one event name's values (quantiles by linear interpolation)."""

    name: str
    count: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float
    last: float
    last_ts_us: int


def summarize(events: Iterable[Event]) -> list[Summary]:
    """One :class:`Summary` per event name, sorted by name; ``last`` is the value with the latest ts."""
    by: dict[str, list[Event]] = {}
    for e in events:
        by.setdefault(e.name, []).append(e)
    out = []
    for name in sorted(by):
        evs = by[name]
        vals = np.array([e.value for e in evs])
        last = max(evs, key=lambda e: e.ts_us)
        q = np.quantile(vals, [0.5, 0.95, 0.99])
        out.append(Summary(name, len(evs), float(vals.mean()), float(q[0]), float(q[1]), float(q[2]),
                           float(vals.max()), last.value, last.ts_us))
    return out


def prune(session: TenantSession, older_than_us: int) -> int:
    """Delete the tenant's events with ``ts < older_than_us``; returns how many went."""
    t = session.table("telemetry_events")
    return session.delete("telemetry_events", t.c.ts < older_than_us)


