"""Per-tenant token buckets: requests per second and ticks per second.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second. A request that
finds too few tokens is refused with 429 and ``Retry-After`` = the whole seconds until
enough have refilled (at least 1). State is in memory, per server process: a restart
starts every bucket full, which costs at most one burst.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens per second
    burst: float  # bucket size

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst <= 0:
            raise ValueError("rate limits need rate > 0 and burst > 0")


class TokenBucket:
    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.burst
        self.stamp = now

    def take(self, n: float, now: float) -> float:
        """Take ``n`` tokens; returns 0 on success, else the seconds until ``n`` would be available."""
        self.tokens = min(self.limit.burst, self.tokens + (now - self.stamp) * self.limit.rate)
        self.stamp = now
        if n <= self.tokens:
            self.tokens -= n
            return 0.0
        if n > self.limit.burst:  # can never fit: wait for a full bucket, the caller must split
            return (self.limit.burst - self.tokens) / self.limit.rate + 1.0
        return (n - self.tokens) / self.limit.rate


class RateLimiter:
    """Buckets per (tenant, name), created on first use."""

    def __init__(self, limits: dict[str, Limit], clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, tenant_id: str, name: str, n: float = 1.0) -> int:
        """0 when allowed; else the Retry-After in whole seconds (>= 1)."""
        limit = self.limits.get(name)
        if limit is None:
            return 0
        with self._lock:
            now = self.clock()
            b = self._buckets.get((tenant_id, name))
            if b is None:
                b = self._buckets[(tenant_id, name)] = TokenBucket(limit, now)
            wait = b.take(n, now)
        return 0 if wait <= 0 else max(1, math.ceil(wait))
