"""In-process ingress counters per tenant: what ``/metrics`` exports and the dashboard shows live.

Counters are since process start; rates are over the last ``window_s`` seconds. The
batches accepted recently are remembered (bounded) with their acceptance time so the
dashboard can tell how long the oldest not-yet-processed one has been waiting.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable

from thunderline.telemetry import MetricsRegistry
from thunderline.telemetry.prometheus import _escape  # same label escaping as the telemetry families


@dataclass
class _Tenant:
    requests: Counter = field(default_factory=Counter)  # (endpoint, status) -> n
    ticks: int = 0
    bytes: int = 0
    batches: int = 0
    duplicates: int = 0
    filings: int = 0
    recent_ticks: deque = field(default_factory=lambda: deque(maxlen=100_000))  # (t, rows)
    accepted: deque = field(default_factory=lambda: deque(maxlen=10_000))  # (sha, t_us)


class IngressStats:
    def __init__(self, *, window_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.window_s = window_s
        self.clock = clock
        self._t: dict[str, _Tenant] = {}
        self._lock = threading.Lock()
        self.latency = MetricsRegistry(window=2048, max_series=400)

    def _tenant(self, tenant: str) -> _Tenant:
        t = self._t.get(tenant)
        if t is None:
            t = self._t[tenant] = _Tenant()
        return t

    def request(self, tenant: str | None, endpoint: str, status: int, ms: float) -> None:
        with self._lock:
            self._tenant(tenant or "-").requests[(endpoint, status)] += 1
        self.latency.observe("ingress.request_ms", ms, {"endpoint": endpoint})

    def accepted(self, tenant: str, sha: str, rows: int, size: int, duplicate: bool) -> None:
        now = self.clock()
        with self._lock:
            t = self._tenant(tenant)
            t.bytes += size
            if duplicate:
                t.duplicates += 1
                return
            t.ticks += rows
            t.batches += 1
            t.recent_ticks.append((now, rows))
            t.accepted.append((sha, int(now * 1e6)))

    def filing(self, tenant: str) -> None:
        with self._lock:
            self._tenant(tenant).filings += 1

    def recent_batches(self, tenant: str) -> list[tuple[str, int]]:
        with self._lock:
            t = self._t.get(tenant)
            return list(t.accepted) if t else []

    def view(self, tenant: str) -> dict:
        """The tenant's counters and rates, JSON-ready."""
        now = self.clock()
        with self._lock:
            t = self._t.get(tenant) or _Tenant()
            recent = sum(n for ts, n in t.recent_ticks if ts >= now - self.window_s)
            by_status = Counter()
            for (_, status), n in t.requests.items():
                by_status[status] += n
            return {
                "ticks_accepted": t.ticks,
                "batches_accepted": t.batches,
                "duplicates": t.duplicates,
                "filings_accepted": t.filings,
                "bytes_received": t.bytes,
                "ticks_per_s": recent / self.window_s,
                "requests": sum(by_status.values()),
                "rejected": sum(n for s, n in by_status.items() if 400 <= s < 500 and s != 429),
                "rate_limited": by_status.get(429, 0),
            }

    def tenants(self) -> list[str]:
        with self._lock:
            return sorted(k for k in self._t if k != "-")

    def prometheus(self) -> str:
        lines = ["# HELP thunderline_ingress_requests_total HTTP requests by tenant, endpoint and status",
                 "# TYPE thunderline_ingress_requests_total counter"]
        with self._lock:
            items = sorted(self._t.items())
            for tenant, t in items:
                for (ep, status), n in sorted(t.requests.items()):
                    lines.append(f'thunderline_ingress_requests_total{{tenant="{_escape(tenant)}",endpoint="{ep}",'
                                 f'status="{status}"}} {n}')
            for name, attr, help_ in (("ticks_accepted_total", "ticks", "ticks accepted into the landing area"),
                                      ("batches_accepted_total", "batches", "tick batches landed"),
                                      ("duplicate_batches_total", "duplicates", "batches already landed (same content)"),
                                      ("filings_accepted_total", "filings", "EDGAR files landed"),
                                      ("bytes_received_total", "bytes", "accepted request bytes")):
                lines += [f"# HELP thunderline_ingress_{name} {help_}", f"# TYPE thunderline_ingress_{name} counter"]
                for tenant, t in items:
                    if tenant != "-":
                        lines.append(f'thunderline_ingress_{name}{{tenant="{_escape(tenant)}"}} {getattr(t, attr)}')
        return "\n".join(lines) + "\n" + self.latency.render()
