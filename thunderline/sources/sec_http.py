"""An HTTP client that follows SEC's fair-access rules, for the EDGAR poller.

Guarantees:

* every request carries the declared ``User-Agent`` (name + contact e-mail); without one the
  client refuses to start (:class:`SecConfigError`);
* every request — retries included — first takes a token from a bucket shared by every process
  on this Thunderline home (a memory-mapped file under ``flock``,
  :class:`thunderline.ingress.ratelimit.SharedRateLimiter`), so N pollers together stay at or
  under ``max_rps`` (≤ 10, SEC's ceiling); the bucket holds one token, so requests are spaced
  ``1/max_rps`` apart and never burst;
* 429 and 503 (and 500/502/504, timeouts, resets, truncated bodies) are retried after the
  server's ``Retry-After`` (seconds or an HTTP date) when it gives one, else after an exponential
  backoff with full jitter; 404/403/400 are final;
* a body is streamed to a file with its sha256 computed on the way; a body shorter than its
  ``Content-Length`` is a truncation, never a success. A partial file left by a killed process
  is resumed with ``Range`` + ``If-Range`` (a changed file restarts from zero).

Only ``http``/``https`` base URLs from configuration are contacted.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import os
import random
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from thunderline.config import ConfigError
from thunderline.hashing import file_sha256
from thunderline.ingress.ratelimit import Limit, SharedRateLimiter

RETRYABLE = frozenset({429, 500, 502, 503, 504})
_CONTACT = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_CHUNK = 1 << 16


class SecConfigError(ConfigError):
    """The poller is not configured to be a polite SEC client (no contact User-Agent, bad URL)."""


class SecFetchError(RuntimeError):
    """A request that did not succeed: ``status`` (None for network faults), ``retryable``."""

    def __init__(self, url: str, reason: str, status: int | None = None, retryable: bool = True) -> None:
        self.url, self.reason, self.status, self.retryable = url, reason, status, retryable
        super().__init__(f"GET {url}: {reason}")


@dataclass(frozen=True)
class SecClientConfig:
    user_agent: str
    max_rps: float = 9.0
    bucket_path: Path | None = None  # shared token bucket; None = this process only (tests of the client)
    timeout_s: float = 30.0
    max_attempts: int = 8
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.user_agent or not _CONTACT.search(self.user_agent):
            raise SecConfigError(
                "THUNDERLINE_SEC_USER_AGENT is required for SEC requests and must name a contact e-mail "
                "(SEC fair access), e.g. 'Example Research ops@example.com'")
        if not 0 < self.max_rps <= 10:
            raise SecConfigError(f"max_rps={self.max_rps}: SEC allows at most 10 requests per second")


@dataclass
class FetchResult:
    url: str
    status: int  # 200, 206 (resumed) or 304 (not modified)
    etag: str | None
    last_modified: str | None
    path: Path | None = None  # where the body was written (None for 304 or in-memory)
    body: bytes | None = None
    sha256: str | None = None
    size: int = 0
    attempts: int = 1


@dataclass
class ClientStats:
    requests: int = 0
    throttled: int = 0  # 429 / 503 answers
    errors: int = 0  # other failed attempts (network, 5xx, truncation)
    bytes: int = 0
    waited_s: float = 0.0  # time spent waiting for the rate limiter
    backoff_s: float = 0.0  # time spent backing off
    by_status: dict[int, int] = field(default_factory=dict)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class SecClient:
    """Rate-limited, retrying GETs (see the module docstring)."""

    BUCKET = ("sec", "requests")  # one budget per home, whatever the tenant: SEC counts per client

    def __init__(self, cfg: SecClientConfig, *, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.cfg = cfg
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.stats = ClientStats()
        self._validators: tuple[str | None, str | None] = (None, None)
        limit = {"requests": Limit(rate=cfg.max_rps, burst=1.0)}
        if cfg.bucket_path is not None:
            self._limiter = SharedRateLimiter(cfg.bucket_path, limit)
        else:
            from thunderline.ingress.ratelimit import RateLimiter

            self._limiter = None
            self._local = RateLimiter(limit)

    def close(self) -> None:
        if self._limiter is not None:
            self._limiter.close()

    # -- pacing
    def _pace(self) -> None:
        while True:
            if self._limiter is not None:
                wait = self._limiter.take_wait(*self.BUCKET)
            else:
                wait = float(self._local.take(*self.BUCKET))  # whole seconds: coarse, tests only
            if wait <= 0:
                return
            self.stats.waited_s += wait
            self.sleep(wait)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.cfg.backoff_cap_s * 5)
        return self.rng.uniform(0, min(self.cfg.backoff_cap_s, self.cfg.backoff_base_s * 2 ** (attempt - 1)))

    # -- requests
    def get(self, url: str, *, dest: Path | None = None, etag: str | None = None,
            last_modified: str | None = None, resume: bool = False,
            validate: Callable[[Path | bytes], str | None] | None = None,
            on_headers: Callable[[str | None, str | None], None] | None = None) -> FetchResult:
        """GET ``url``, retried per the module rules.

        ``etag``/``last_modified`` make it conditional (304 → ``FetchResult.status == 304``).
        With ``dest`` the body is streamed there (``resume``: continue an existing partial file
        with Range/If-Range); without it the body is returned in memory. ``validate`` may reject
        a complete-looking body (return a reason): it is retried like a truncation. ``on_headers(etag,
        last_modified)`` is called before a body is streamed to ``dest`` (to persist the validators a
        resume needs).
        """
        last: SecFetchError | None = None
        for attempt in range(1, self.cfg.max_attempts + 1):
            try:
                res = self._once(url, dest, etag, last_modified, resume, on_headers)
                if validate is not None and res.status != 304:
                    why = validate(res.path if res.path is not None else res.body)
                    if why:
                        if dest is not None:
                            dest.unlink(missing_ok=True)
                        raise SecFetchError(url, f"invalid body: {why}")
                res.attempts = attempt
                return res
            except SecFetchError as exc:
                last = exc
                if not exc.retryable:
                    raise
                if dest is not None and self._validators != (None, None) and dest.exists():
                    etag, last_modified = self._validators  # the next attempt continues this body
                    resume = True
                retry_after = getattr(exc, "retry_after", None)
                wait = self._backoff(attempt, retry_after)
                self.stats.backoff_s += wait
                if attempt < self.cfg.max_attempts:
                    self.sleep(wait)
        assert last is not None
        raise SecFetchError(url, f"gave up after {self.cfg.max_attempts} attempts: {last.reason}", last.status)

    def _once(self, url: str, dest: Path | None, etag: str | None, last_modified: str | None,
              resume: bool, on_headers=None) -> FetchResult:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SecFetchError(url, "only http(s) URLs", retryable=False)
        headers = {"User-Agent": self.cfg.user_agent, "Accept-Encoding": "identity", "Connection": "close"}
        self._validators = (None, None)
        have = dest.stat().st_size if (resume and dest is not None and dest.exists()) else 0
        if resume:  # continue a partial body if the file is unchanged (If-Range), else a plain GET
            if have and (etag or last_modified):
                headers["Range"] = f"bytes={have}-"
                headers["If-Range"] = etag or last_modified  # type: ignore[assignment]
            else:
                have = 0
        elif etag or last_modified:  # conditional: 304 when unchanged
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        self._pace()
        self.stats.requests += 1
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=self.cfg.timeout_s)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            try:
                conn.request("GET", path or "/", headers=headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                self.stats.errors += 1
                raise SecFetchError(url, f"{type(exc).__name__}: {exc}") from None
            st = resp.status
            self.stats.by_status[st] = self.stats.by_status.get(st, 0) + 1
            if st == 304:
                resp.read()
                return FetchResult(url, 304, resp.getheader("ETag") or etag, resp.getheader("Last-Modified") or last_modified)
            if st in RETRYABLE:
                if st in (429, 503):
                    self.stats.throttled += 1
                else:
                    self.stats.errors += 1
                resp.read()
                err = SecFetchError(url, f"HTTP {st}", st, retryable=True)
                err.retry_after = parse_retry_after(resp.getheader("Retry-After"))  # type: ignore[attr-defined]
                raise err
            if st not in (200, 206):
                self.stats.errors += 1
                resp.read()
                raise SecFetchError(url, f"HTTP {st}", st, retryable=False)
            if dest is not None and on_headers is not None:
                on_headers(resp.getheader("ETag"), resp.getheader("Last-Modified"))
            self._validators = (resp.getheader("ETag"), resp.getheader("Last-Modified"))
            return self._body(url, resp, dest, have if st == 206 else 0)
        finally:
            conn.close()

    def _body(self, url: str, resp: http.client.HTTPResponse, dest: Path | None, offset: int) -> FetchResult:
        length = resp.getheader("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        got = 0
        sink = bytearray() if dest is None else None
        try:
            if dest is not None:
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(dest, "r+b" if offset else "wb") as fh:
                    if offset:
                        fh.truncate(offset)
                        fh.seek(offset)
                    while chunk := resp.read(_CHUNK):
                        fh.write(chunk)
                        got += len(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
            else:
                while chunk := resp.read(_CHUNK):
                    sink.extend(chunk)  # type: ignore[union-attr]
                    got += len(chunk)
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            self.stats.errors += 1
            self.stats.bytes += got
            raise SecFetchError(url, f"body cut after {got} bytes ({type(exc).__name__})") from None
        self.stats.bytes += got
        if expected is not None and got != expected:
            self.stats.errors += 1
            raise SecFetchError(url, f"truncated body: {got} of {expected} bytes")
        res = FetchResult(url, resp.status, resp.getheader("ETag"), resp.getheader("Last-Modified"), size=offset + got)
        if dest is not None:
            res.path = dest
            res.sha256 = file_sha256(dest)
        else:
            res.body = bytes(sink)  # type: ignore[arg-type]
            res.sha256 = hashlib.sha256(res.body).hexdigest()
        return res


