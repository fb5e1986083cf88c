"""Per-tenant token buckets: requests per second and ticks per second.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second. A request that
finds too few tokens is refused with 429 and ``Retry-After`` = the whole seconds until
enough have refilled (at least 1).

Three stores of the buckets, one interface (:meth:`take`):

* :class:`RateLimiter` — in this process's memory (library use, tests). A restart starts
  every bucket full, which costs at most one burst.
* :class:`SharedRateLimiter` — the default of ``thunderline serve``: the buckets live in a
  small memory-mapped file (``$THUNDERLINE_HOME/ingress/ratelimit.buckets``); every process
  that opens the same file — the workers of ``serve --workers N``, or separate ``serve``
  processes on one home — spends one budget per tenant. An update is a read-modify-write
  under an exclusive ``flock`` on the file (plus a thread lock: flock does not exclude the
  threads of one process), a few microseconds; no server is needed. Buckets survive restarts.
* :class:`RedisRateLimiter` — opt-in with ``THUNDERLINE_REDIS_URL`` (``redis://host:port/db``),
  for processes on several machines: one Lua script per take, atomic on the Redis server. If
  Redis cannot be reached the take falls back to the local shared file (logged), so an outage
  of Redis never stops ingestion nor lifts every limit.

All use ``time.monotonic`` (system-wide on Linux, so comparable across processes) unless
given a clock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import mmap
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens per second
    burst: float  # bucket size

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst <= 0:
            raise ValueError("rate limits need rate > 0 and burst > 0")


def _take(limit: Limit, tokens: float, stamp: float, n: float, now: float) -> tuple[float, float]:
    """(tokens left, wait s) of taking ``n`` from a bucket last at (tokens, stamp): wait 0 = taken."""
    tokens = min(limit.burst, tokens + max(0.0, now - stamp) * limit.rate)
    if n <= tokens:
        return tokens - n, 0.0
    if n > limit.burst:  # can never fit: wait for a full bucket, the caller must split
        return tokens, (limit.burst - tokens) / limit.rate + 1.0
    return tokens, (n - tokens) / limit.rate


def _retry_after(wait: float) -> int:
    return 0 if wait <= 0 else max(1, math.ceil(wait))


class TokenBucket:
    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.burst
        self.stamp = now

    def take(self, n: float, now: float) -> float:
        """Take ``n`` tokens; returns 0 on success, else the seconds until ``n`` would be available."""
        self.tokens, wait = _take(self.limit, self.tokens, self.stamp, n, now)
        self.stamp = max(self.stamp, now)
        return wait


class RateLimiter:
    """Buckets per (tenant, name) in this process's memory, created on first use."""

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
        return _retry_after(wait)

    def close(self) -> None:
        pass


class SharedRateLimiter:
    """Buckets in a memory-mapped file shared by every process that opens ``path``.

    Layout: a 16-byte header (magic, slot count), then fixed slots of (16-byte key = blake2b
    of ``tenant␟name``, tokens, stamp) found by linear probing from the key's hash. A full
    probe window reuses its least recently used slot (an idle bucket has refilled anyway).
    """

    MAGIC = b"TLRB0001"
    HEADER = struct.Struct("<8sQ")
    SLOT = struct.Struct("<16sdd")
    PROBE = 32

    def __init__(self, path: str | Path, limits: dict[str, Limit], clock: Callable[[], float] = time.monotonic,
                 slots: int = 8192) -> None:
        self.path = Path(path)
        self.limits = limits
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._lock = threading.Lock()
        with self._locked():
            size = os.fstat(self._fd).st_size
            if size >= self.HEADER.size:
                magic, n = self.HEADER.unpack(os.pread(self._fd, self.HEADER.size, 0))
                if magic != self.MAGIC or size != self.HEADER.size + n * self.SLOT.size:
                    n, size = slots, 0  # not ours or torn: start over
            if size == 0 or size < self.HEADER.size:
                n = slots
                os.ftruncate(self._fd, 0)
                os.ftruncate(self._fd, self.HEADER.size + n * self.SLOT.size)
                os.pwrite(self._fd, self.HEADER.pack(self.MAGIC, n), 0)
        self.slots = n
        self._mm = mmap.mmap(self._fd, self.HEADER.size + n * self.SLOT.size)

    class _Flock:
        def __init__(self, outer: "SharedRateLimiter") -> None:
            self.outer = outer

        def __enter__(self):
            self.outer._lock.acquire()
            try:
                fcntl.flock(self.outer._fd, fcntl.LOCK_EX)
            except BaseException:
                self.outer._lock.release()
                raise

        def __exit__(self, *exc):
            try:
                fcntl.flock(self.outer._fd, fcntl.LOCK_UN)
            finally:
                self.outer._lock.release()

    def _locked(self) -> "_Flock":
        return self._Flock(self)

    @staticmethod
    def key_of(tenant_id: str, name: str) -> bytes:
        return hashlib.blake2b(f"{tenant_id}\x1f{name}".encode(), digest_size=16).digest()

    def take(self, tenant_id: str, name: str, n: float = 1.0) -> int:
        """0 when allowed; else the Retry-After in whole seconds (>= 1) — one budget for all processes."""
        return _retry_after(self.take_wait(tenant_id, name, n))

    def take_wait(self, tenant_id: str, name: str, n: float = 1.0) -> float:
        """0.0 when taken; else the exact seconds until ``n`` tokens would be there (nothing taken).

        For clients that pace themselves (the SEC poller) rather than answer 429."""
        limit = self.limits.get(name)
        if limit is None:
            return 0.0
        key = self.key_of(tenant_id, name)
        start = int.from_bytes(key[:8], "little") % self.slots
        mm, slot, head = self._mm, self.SLOT, self.HEADER.size
        with self._locked():
            now = self.clock()
            found, oldest, oldest_stamp = None, None, math.inf
            for i in range(self.PROBE):
                off = head + ((start + i) % self.slots) * slot.size
                k, tokens, stamp = slot.unpack_from(mm, off)
                if k == key:
                    found = (off, tokens, stamp)
                    break
                if k == b"\0" * 16:
                    found = (off, limit.burst, now)
                    break
                if stamp < oldest_stamp:
                    oldest, oldest_stamp = off, stamp
            if found is None:
                found = (oldest, limit.burst, now)
            off, tokens, stamp = found
            if stamp > now:  # a clock from before a reboot: count from now
                stamp = now
            tokens, wait = _take(limit, tokens, stamp, n, now)
            slot.pack_into(mm, off, key, tokens, now)
        return wait

    def close(self) -> None:
        try:
            self._mm.close()
        finally:
            os.close(self._fd)


# One Lua script, atomic on the Redis server: refill, take, store (tokens, stamp), expire when idle.
_LUA = b"""
local burst = tonumber(ARGV[1]); local rate = tonumber(ARGV[2]); local n = tonumber(ARGV[3])
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local cur = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(cur[1]) or burst; local stamp = tonumber(cur[2]) or now
if stamp > now then stamp = now end
tokens = math.min(burst, tokens + (now - stamp) * rate)
local wait = 0
if n <= tokens then tokens = tokens - n
elseif n > burst then wait = (burst - tokens) / rate + 1
else wait = (n - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


class _Resp:
    """The few RESP (Redis protocol) calls this module needs, on one blocking socket."""

    def __init__(self, url: str, timeout: float) -> None:
        u = urlparse(url)
        if u.scheme != "redis":
            raise ValueError(f"THUNDERLINE_REDIS_URL={url!r}: expected redis://host:port/db")
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 6379
        self.db = int((u.path or "/0").lstrip("/") or 0)
        self.password, self.username = u.password, u.username
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        if self.password:
            self._call([b"AUTH", *([self.username.encode()] if self.username else []), self.password.encode()])
        if self.db:
            self._call([b"SELECT", str(self.db).encode()])

    def call(self, args: list[bytes]):
        if self.sock is None:
            self._connect()
        try:
            return self._call(args)
        except (OSError, ConnectionError):
            self.close()
            raise

    def _call(self, args: list[bytes]):
        out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        self.sock.sendall(out)  # type: ignore[union-attr]
        return self._read()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)  # type: ignore[union-attr]
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RedisError(rest.decode("utf-8", "replace"))
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)  # type: ignore[union-attr]
                if not chunk:
                    raise ConnectionError("redis closed the connection")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        raise ConnectionError(f"unexpected redis reply {line[:40]!r}")

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


class RedisError(Exception):
    """Redis answered with an error."""


class RedisRateLimiter:
    """Buckets in Redis (opt-in): one atomic Lua script per take; the local shared file if Redis is down."""

    def __init__(self, url: str, limits: dict[str, Limit], *, fallback: SharedRateLimiter | RateLimiter,
                 prefix: str = "thunderline:ratelimit", timeout: float = 0.5) -> None:
        self.limits = limits
        self.fallback = fallback
        self.prefix = prefix
        self._conn = _Resp(url, timeout)
        self._sha = hashlib.sha1(_LUA).hexdigest().encode()
        self._lock = threading.Lock()
        self._down_until = 0.0

    def take(self, tenant_id: str, name: str, n: float = 1.0) -> int:
        limit = self.limits.get(name)
        if limit is None:
            return 0
        if time.monotonic() < self._down_until:
            return self.fallback.take(tenant_id, name, n)
        key = f"{self.prefix}:{tenant_id}:{name}".encode()
        args = [b"1", key, repr(limit.burst).encode(), repr(limit.rate).encode(), repr(float(n)).encode()]
        try:
            with self._lock:
                try:
                    wait = self._conn.call([b"EVALSHA", self._sha, *args])
                except RedisError as exc:
                    if "NOSCRIPT" not in str(exc):
                        raise
                    wait = self._conn.call([b"EVAL", _LUA, *args])
        except (OSError, ConnectionError, RedisError) as exc:
            log.warning("rate limits: redis unavailable (%s); using the local shared buckets for 5 s", exc)
            self._down_until = time.monotonic() + 5.0
            return self.fallback.take(tenant_id, name, n)
        return _retry_after(float(wait))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        self.fallback.close()


def limiter_for(limits: dict[str, Limit], *, shared_path: str | Path | None, redis_url: str | None = None,
                clock: Callable[[], float] = time.monotonic):
    """The limiter ``thunderline serve`` uses: Redis when a URL is given, else the shared file when a
    path is given, else this process's memory."""
    local = SharedRateLimiter(shared_path, limits, clock=clock) if shared_path else RateLimiter(limits, clock=clock)
    if redis_url:
        return RedisRateLimiter(redis_url, limits, fallback=local)
    return local
