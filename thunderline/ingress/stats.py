"""In-process ingress counters per tenant: what ``/metrics`` exports and the dashboard shows live.

Counters are since process start; rates are over the last ``window_s`` seconds. The
batches accepted recently are remembered (bounded) with their acceptance time so the
dashboard can tell how long the oldest not-yet-processed one has been waiting.

With ``share_dir`` (``serve --workers N``) every worker also writes its counters to
``<share_dir>/<pid>.json`` about once a second (:meth:`IngressStats.publish`) and adds its
siblings' files to what it reports, so ``/metrics`` and the dashboard show the whole server
whichever worker answers (siblings' part is up to ~1 s old; a dead worker's last counts stay
in the totals). Latency summaries stay per worker.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
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


_COUNTERS = ("ticks", "bytes", "batches", "duplicates", "filings")


class IngressStats:
    def __init__(self, *, window_s: float = 10.0, clock: Callable[[], float] = time.time,
                 share_dir: str | Path | None = None, worker_id: str | None = None) -> None:
        self.window_s = window_s
        self.clock = clock
        self._t: dict[str, _Tenant] = {}
        self._lock = threading.Lock()
        self.latency = MetricsRegistry(window=2048, max_series=400)
        self.share_dir = Path(share_dir) if share_dir else None
        self.worker_id = worker_id or str(os.getpid())
        self._peer_cache: tuple[float, list[dict]] = (float("-inf"), [])
        self._version = self._published = 0  # changes since start / as of the last publish

    # ----------------------------------------------------------------- sharing between workers
    def publish(self) -> None:
        """Write this worker's counters for its siblings (atomic replace); no-op without ``share_dir``."""
        if self.share_dir is None or self._version == self._published:
            return
        now = self.clock()
        with self._lock:
            self._published = self._version
            doc = {t: {"requests": [[ep, st, n] for (ep, st), n in v.requests.items()],
                       **{k: getattr(v, k) for k in _COUNTERS},
                       "recent": [[ts, n] for ts, n in v.recent_ticks if ts >= now - self.window_s],
                       "accepted": list(v.accepted)[-1000:]}
                   for t, v in self._t.items()}
        self.share_dir.mkdir(parents=True, exist_ok=True)
        final = self.share_dir / f"{self.worker_id}.json"
        tmp = final.with_name(f".{final.name}.tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, final)

    def _peers(self) -> list[dict]:
        """Siblings' last published counters (re-read at most every 0.5 s)."""
        if self.share_dir is None:
            return []
        now = time.monotonic()
        at, docs = self._peer_cache
        if now - at < 0.5:
            return docs
        docs = []
        try:
            files = [p for p in self.share_dir.glob("*.json") if p.stem != self.worker_id]
        except OSError:
            files = []
        for f in files:
            try:
                docs.append(json.loads(f.read_text()))
            except (OSError, ValueError):
                continue
        self._peer_cache = (now, docs)
        return docs

    def _merged(self, tenant: str, own: _Tenant | None) -> _Tenant:
        """This worker's counters for ``tenant`` plus its siblings' (a copy; own when alone)."""
        peers = [d[tenant] for d in self._peers() if tenant in d]
        if not peers:
            return own or _Tenant()
        out = _Tenant()
        if own is not None:
            out.requests.update(own.requests)
            for k in _COUNTERS:
                setattr(out, k, getattr(own, k))
            out.recent_ticks.extend(own.recent_ticks)
            out.accepted.extend(own.accepted)
        for p in peers:
            for ep, st, n in p.get("requests", []):
                out.requests[(ep, int(st))] += int(n)
            for k in _COUNTERS:
                setattr(out, k, getattr(out, k) + int(p.get(k, 0)))
            out.recent_ticks.extend((float(ts), int(n)) for ts, n in p.get("recent", []))
            out.accepted.extend((str(sha), int(t)) for sha, t in p.get("accepted", []))
        return out

    def _tenant(self, tenant: str) -> _Tenant:
        t = self._t.get(tenant)
        if t is None:
            t = self._t[tenant] = _Tenant()
        return t

    def request(self, tenant: str | None, endpoint: str, status: int, ms: float) -> None:
        with self._lock:
            self._tenant(tenant or "-").requests[(endpoint, status)] += 1
            self._version += 1
        self.latency.observe("ingress.request_ms", ms, {"endpoint": endpoint})

    def accepted(self, tenant: str, sha: str, rows: int, size: int, duplicate: bool) -> None:
        now = self.clock()
        with self._lock:
            self._version += 1
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
            self._version += 1

    def recent_batches(self, tenant: str) -> list[tuple[str, int]]:
        with self._lock:
            t = self._merged(tenant, self._t.get(tenant))
            return list(t.accepted)

    def view(self, tenant: str) -> dict:
        """The tenant's counters and rates, JSON-ready (the whole server's, with ``share_dir``)."""
        now = self.clock()
        with self._lock:
            t = self._merged(tenant, self._t.get(tenant))
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
            names = set(self._t) | {k for d in self._peers() for k in d}
            return sorted(k for k in names if k != "-")

    def prometheus(self) -> str:
        lines = ["# HELP thunderline_ingress_requests_total HTTP requests by tenant, endpoint and status",
                 "# TYPE thunderline_ingress_requests_total counter"]
        with self._lock:
            names = set(self._t) | {k for d in self._peers() for k in d}
            items = sorted((k, self._merged(k, self._t.get(k))) for k in names)
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
