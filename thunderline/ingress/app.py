"""``thunderline serve``: the tenant-facing HTTP API (Starlette).

Endpoints (all under a per-tenant API key, ``Authorization: Bearer <key>`` or ``X-API-Key``,
except ``/healthz``, ``/metrics`` and the dashboard's static page):

| method, path | what |
|---|---|
| POST /v1/ticks | JSON lines / canonical CSV / Arrow IPC ticks → landed durably, 202 |
| POST /v1/filings | one EDGAR file (raw body, or multipart field ``file``) → landed durably, 202 |
| GET /v1/decisions | decision traces; ``symbol``, ``from``/``to`` (window start, µs or ISO 8601), ``limit``, ``cursor`` |
| GET /v1/features | feature windows; ``kind``, ``key`` (or ``symbol``), ``from``/``to``, ``limit``, ``cursor`` |
| GET /v1/dashboard/snapshot, /v1/dashboard/stream | the tenant's live numbers (JSON; server-sent events) |
| GET /dashboard | the live page (offline: its JavaScript is served from the package) |
| GET /healthz, /metrics | liveness + warehouse + free-space check (503 "degraded" below ``min_free_bytes``); Prometheus text |

Order of checks on a write: key (401) → request rate (429) → body size (413) → content
(415/422/403) → tick rate (429) → durable landing → 202. Nothing is written unless every
check passed. The tenant of everything read or written is the key's; a request naming
another tenant (``tenant`` parameter, ``X-Thunderline-Tenant`` header or ``tenant_id`` in
the payload) is refused with 403.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from thunderline.config import Settings
from thunderline.identifiers import SYMBOL_RE
from thunderline.ingress.keys import KeyStore, Principal
from thunderline.ingress.landing import DurableLanding, landing_tenants, parquet_bytes
from thunderline.ingress.payload import PayloadError, Problem, decode_ticks, inflate
from thunderline.ingress.ratelimit import Limit, RateLimiter, RedisRateLimiter, SharedRateLimiter, limiter_for
from thunderline.ingress.stats import IngressStats
from thunderline.publish import OutboxRelay, Publisher, decision_payload, feature_payload, publisher_from_env
from thunderline.store import Warehouse
from thunderline.store.schema import decision_traces, feature_windows
from thunderline.stores import open_warehouse

log = logging.getLogger(__name__)
_SYMBOL = re.compile(SYMBOL_RE.strip("^$"))
_KEY = re.compile(r"[A-Za-z0-9._:^=+-]{1,64}")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class ServeConfig:
    """Limits and knobs of the server; defaults suit one machine serving a few tenants."""

    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 32 << 20
    max_rows: int = 100_000
    max_filing_bytes: int = 64 << 20
    requests_per_s: float = 500.0
    request_burst: float = 1000.0
    ticks_per_s: float = 2_000_000.0
    tick_burst: float = 4_000_000.0
    key_recheck_s: float = 1.0  # a key revoked elsewhere stops working within this (at once via this server)
    fsync: bool = True
    page_default: int = 100
    page_max: int = 1000
    dashboard_interval_s: float = 1.0
    dashboard_window_s: float = 10.0
    stream_max_s: float = 3600.0
    relay: bool = True
    relay_poll_s: float = 0.5
    metrics_token: str | None = None
    tenants: tuple[str, ...] = ()
    # where the per-tenant buckets live: None = this process's memory; a path = a memory-mapped file
    # every process opening it shares (`serve` uses $THUNDERLINE_HOME/ingress/ratelimit.buckets);
    # redis_url (THUNDERLINE_REDIS_URL, opt-in) = Redis, falling back to the file while it is down
    ratelimit_file: str | None = None
    redis_url: str | None = None
    # with several worker processes: the relay runs only in the one holding this lock file, and the
    # landing area is swept once by the supervisor (a worker's sweep could delete a sibling's temp file)
    relay_lock_file: str | None = None
    sweep: bool = True
    stats_dir: str | None = None  # workers share their ingress counters here (see IngressStats)
    # slow or oversized clients: request line + headers at most this many bytes (431 beyond), the whole
    # header block within header_timeout_s of the connection (or the previous response), and no gap
    # longer than body_timeout_s while a body is read (408 either way; see ingress.protocol)
    max_header_bytes: int = 32 << 10
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    # /healthz answers 503 "degraded" when the landing area or the lake has less free space than this
    min_free_bytes: int = 256 << 20


@dataclass
class Services:
    settings: Settings
    config: ServeConfig
    warehouse: Warehouse
    keys: KeyStore
    landing: DurableLanding
    limiter: RateLimiter | SharedRateLimiter | RedisRateLimiter
    stats: IngressStats
    publisher: Publisher
    relay: OutboxRelay | None = None
    cpu: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="ingress-cpu"))
    io: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="ingress-io"))
    seen_tenants: set[str] = field(default_factory=set)
    stopping: asyncio.Event | None = None

    def tenants(self) -> list[str]:
        """Tenants the relay serves: configured, seen on a key, or with a landing directory."""
        return sorted({self.settings.tenant_id, *self.config.tenants, *self.seen_tenants,
                       *landing_tenants(self.settings.landing_dir)})


#: The HTTP status of each refused-payload code (the decoders know codes, not HTTP).
PAYLOAD_STATUS = {
    "bad_encoding": 400, "tenant_mismatch": 403, "body_too_large": 413, "too_many_rows": 413,
    "unsupported_encoding": 415, "unsupported_media_type": 415,
    "empty": 422, "invalid_ticks": 422, "invalid_filing": 422,
}


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers, extra or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.code, "message": self.message, **self.extra}, self.status,
                            headers=self.headers)


# --------------------------------------------------------------------------- helpers
def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key") or None


async def _authenticate(svc: Services, request: Request) -> Principal:
    key = _presented_key(request)
    if not key:
        raise HttpError(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'",
                        {"WWW-Authenticate": 'Bearer realm="thunderline"'})
    # a key verified within key_recheck_s is answered from memory on the loop (no thread, no SQL)
    principal = svc.keys.cached(key) or await run_in_threadpool(svc.keys.authenticate, key)
    if principal is None:
        raise HttpError(401, "unauthorized", "invalid or revoked API key",
                        {"WWW-Authenticate": 'Bearer realm="thunderline", error="invalid_token"'})
    claimed = request.query_params.get("tenant") or request.headers.get("x-thunderline-tenant")
    if claimed and claimed != principal.tenant_id:
        raise HttpError(403, "tenant_mismatch", f"this key belongs to tenant {principal.tenant_id!r}, not {claimed!r}")
    svc.seen_tenants.add(principal.tenant_id)
    return principal


def _limit(svc: Services, tenant: str, name: str, n: float = 1.0) -> None:
    wait = svc.limiter.take(tenant, name, n)
    if wait:
        what = "requests" if name == "requests" else "ticks"
        raise HttpError(429, "rate_limited", f"tenant {tenant!r} is over its {what} rate limit; retry in {wait} s",
                        {"Retry-After": str(wait)}, {"retry_after_s": wait})


async def _read_body(request: Request, limit: int) -> bytes:
    cl = request.headers.get("content-length")
    if cl is not None:
        try:
            n = int(cl)
        except ValueError:
            raise HttpError(400, "bad_request", "Content-Length is not an integer") from None
        if n > limit:
            raise HttpError(413, "body_too_large", f"body of {n} bytes exceeds the limit of {limit} bytes",
                            extra={"limit_bytes": limit})
    chunks, size = [], 0
    timeout = request.app.state.svc.config.body_timeout_s
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout)
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise HttpError(408, "body_timeout", f"no body bytes for {timeout:g} s; send the body without pauses",
                            {"Connection": "close"}) from None
        size += len(chunk)
        if size > limit:
            raise HttpError(413, "body_too_large", f"body exceeds the limit of {limit} bytes", extra={"limit_bytes": limit})
        chunks.append(chunk)
    return b"".join(chunks)


def _endpoint(fn: Callable) -> Callable:
    """Map HttpError/PayloadError to responses and count every request with its latency."""
    name = fn.__name__.lstrip("_")

    async def handler(request: Request) -> Response:
        svc: Services = request.app.state.svc
        t0 = time.perf_counter()
        request.state.tenant = None
        try:
            resp = await fn(svc, request)
        except HttpError as exc:
            resp = exc.response()
        except PayloadError as exc:
            resp = JSONResponse(exc.body(), PAYLOAD_STATUS[exc.code])
        except Exception:  # noqa: BLE001 - never a traceback to the client; logged with it here
            log.exception("%s failed", name)
            resp = JSONResponse({"error": "internal", "message": "internal error; nothing was acknowledged"}, 500)
        svc.stats.request(request.state.tenant, name, resp.status_code, (time.perf_counter() - t0) * 1e3)
        return resp

    handler.__name__ = fn.__name__
    return handler


# --------------------------------------------------------------------------- writes
@_endpoint
async def post_ticks(svc: Services, request: Request) -> Response:
    p = await _authenticate(svc, request)
    request.state.tenant = p.tenant_id
    _limit(svc, p.tenant_id, "requests")
    body = await _read_body(request, svc.config.max_body_bytes)
    cfg = svc.config

    def decode() -> tuple:
        raw = inflate(body, request.headers.get("content-encoding"), cfg.max_body_bytes)
        decoded = decode_ticks(raw, request.headers.get("content-type"), p.tenant_id, max_rows=cfg.max_rows)
        _limit(svc, p.tenant_id, "ticks", decoded.table.num_rows)
        return decoded, parquet_bytes(decoded.table)

    # decoding and validation on the one CPU thread, the durable write (fsync, rename) on an I/O thread:
    # the next request is parsed while this one's fsync is in flight, and no two requests fight over
    # the GIL in pyarrow/numpy (that contention cost more CPU than the work itself)
    loop = asyncio.get_running_loop()
    decoded, data = await loop.run_in_executor(svc.cpu, decode)
    landed = await loop.run_in_executor(svc.io, svc.landing.write_parquet, p.tenant_id, data, decoded.table.num_rows)
    svc.stats.accepted(p.tenant_id, landed.sha256, landed.rows, len(body), landed.duplicate)
    return JSONResponse({"batch_id": landed.sha256, "rows": landed.rows, "format": decoded.format,
                         "symbols": decoded.symbols, "duplicate": landed.duplicate, "tenant": p.tenant_id}, 202)


def _multipart_file(body: bytes, content_type: str) -> tuple[bytes, str | None]:
    from email.parser import BytesParser
    from email.policy import HTTP

    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise HttpError(400, "bad_request", "multipart body could not be parsed")
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == "file" or part.get_filename():
            return part.get_payload(decode=True) or b"", part.get_filename()
    raise HttpError(422, "invalid_filing", "multipart body has no 'file' field",
                    extra={"problems": [Problem(None, "file", "missing").as_dict()]})


@_endpoint
async def post_filings(svc: Services, request: Request) -> Response:
    p = await _authenticate(svc, request)
    request.state.tenant = p.tenant_id
    _limit(svc, p.tenant_id, "requests")
    body = await _read_body(request, svc.config.max_filing_bytes)
    ctype = request.headers.get("content-type", "")

    def work() -> dict:
        from thunderline.edgar.detect import detect_kind
        from thunderline.edgar.errors import EdgarParseError

        raw = inflate(body, request.headers.get("content-encoding"), svc.config.max_filing_bytes)
        name = request.query_params.get("name")
        if ctype.lower().startswith("multipart/form-data"):
            raw, fname = _multipart_file(raw, ctype)
            name = name or fname
        source = f"upload:{name or 'filing'}"
        try:
            kind = detect_kind(raw, source)
        except EdgarParseError as exc:
            raise PayloadError("invalid_filing", [Problem(exc.line, "file", exc.reason)]) from None
        landed = svc.landing.write_filing(p.tenant_id, raw, kind)
        if not landed.duplicate:
            svc.stats.filing(p.tenant_id)
        return {"filing_id": landed.sha256, "kind": kind, "bytes": landed.size, "duplicate": landed.duplicate,
                "tenant": p.tenant_id}

    return JSONResponse(await run_in_threadpool(work), 202)


# --------------------------------------------------------------------------- reads
def _time_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if re.fullmatch(r"[+-]?[0-9]+", raw):
        v = int(raw[:40])
        if len(raw) > 21 or not INT64_MIN <= v <= INT64_MAX:
            raise HttpError(400, "bad_parameter", f"{name}={raw[:40]!r}: µs since the epoch must fit a signed "
                                                  f"64-bit integer ({INT64_MIN}..{INT64_MAX})")
        return v
    try:
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(400, "bad_parameter", f"{name}={raw[:64]!r}: expected µs since the epoch or an ISO 8601 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


def _page_params(svc: Services, request: Request) -> tuple[int, tuple[int, str] | None]:
    raw = request.query_params.get("limit", str(svc.config.page_default))
    if not raw.isdigit() or not 1 <= int(raw) <= svc.config.page_max:
        raise HttpError(400, "bad_parameter", f"limit={raw!r}: expected an integer in 1..{svc.config.page_max}")
    cur = request.query_params.get("cursor")
    after = None
    if cur:
        after = _parse_cursor(cur)
    return int(raw), after


def _parse_cursor(cur: str) -> tuple[int, str]:
    """A cursor this endpoint issued: ``[window_start (int64), id (string ≤ 128 chars)]``; anything else is 400."""
    bad = HttpError(400, "bad_parameter", "cursor: not a cursor returned by this endpoint")
    if len(cur) > 512:
        raise bad
    try:
        obj = json.loads(base64.urlsafe_b64decode(cur + "=" * (-len(cur) % 4)))
    except (ValueError, TypeError, RecursionError):
        raise bad from None
    if not (isinstance(obj, list) and len(obj) == 2):
        raise bad
    ws, rid = obj
    if isinstance(ws, bool) or not isinstance(ws, int) or not INT64_MIN <= ws <= INT64_MAX:
        raise bad
    if not isinstance(rid, str) or len(rid) > 128:
        raise bad
    return ws, rid


def _cursor(ws: int, rid: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([ws, rid]).encode()).decode().rstrip("=")


def _page(svc: Services, tenant: str, table: sa.Table, where: list, limit: int, after, render) -> dict:
    if after is not None:
        where = where + [sa.or_(table.c.window_start > after[0],
                                sa.and_(table.c.window_start == after[0], table.c.id > after[1]))]
    with svc.warehouse.session(tenant) as s:
        rows = s.select(table.name, *where, order_by=[table.c.window_start, table.c.id], limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _cursor(int(rows[-1]["window_start"]), rows[-1]["id"]) if more and rows else None
    return {"items": [render(r) for r in rows], "next_cursor": nxt, "count": len(rows)}


def _time_range(request: Request, t) -> list:
    """``from`` / ``to`` query parameters (µs or ISO 8601) as bounds on ``window_start``."""
    lo, hi = _time_param(request, "from"), _time_param(request, "to")
    return ([t.c.window_start >= lo] if lo is not None else []) + ([t.c.window_start < hi] if hi is not None else [])


@_endpoint
async def get_decisions(svc: Services, request: Request) -> Response:
    p = await _authenticate(svc, request)
    request.state.tenant = p.tenant_id
    _limit(svc, p.tenant_id, "requests")
    t = decision_traces
    where = []
    sym = request.query_params.get("symbol")
    if sym is not None:
        if not _SYMBOL.fullmatch(sym):
            raise HttpError(400, "bad_parameter", f"symbol={sym!r}: not a valid symbol")
        where.append(t.c.symbol == sym)
    where += _time_range(request, t)
    limit, after = _page_params(svc, request)
    body = await run_in_threadpool(_page, svc, p.tenant_id, t, where, limit, after, decision_payload)
    return JSONResponse(body)


@_endpoint
async def get_features(svc: Services, request: Request) -> Response:
    p = await _authenticate(svc, request)
    request.state.tenant = p.tenant_id
    _limit(svc, p.tenant_id, "requests")
    t = feature_windows
    where = []
    kind = request.query_params.get("kind")
    if kind is not None:
        if kind not in ("market", "edgar"):
            raise HttpError(400, "bad_parameter", f"kind={kind!r}: expected market or edgar")
        where.append(t.c.kind == kind)
    key = request.query_params.get("key") or request.query_params.get("symbol")
    if key is not None:
        if not _KEY.fullmatch(key):
            raise HttpError(400, "bad_parameter", f"key={key!r}: not a valid symbol or CIK")
        where.append(t.c.key == key)
    where += _time_range(request, t)
    limit, after = _page_params(svc, request)
    body = await run_in_threadpool(_page, svc, p.tenant_id, t, where, limit, after, feature_payload)
    return JSONResponse(body)


# --------------------------------------------------------------------------- operations
async def healthz(request: Request) -> Response:
    svc: Services = request.app.state.svc

    def check() -> dict:
        svc.warehouse.check()
        return {"status": "ok", "publisher": svc.publisher.name, "worker": os.getpid()}

    try:
        body = await run_in_threadpool(check)
    except Exception as exc:  # noqa: BLE001
        return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, 503)
    short = storage_shortfall(svc.settings, svc.config.min_free_bytes)
    if short:
        return JSONResponse({**body, "status": "degraded", "reason": short}, 503)
    return JSONResponse(body)


def storage_shortfall(settings: Settings, min_free_bytes: int) -> str | None:
    """Which of the landing area and the lake has less than ``min_free_bytes`` free, in words; None if neither."""
    import shutil

    short = []
    for name, path in (("landing", settings.landing_dir), ("lake", settings.lake_dir)):
        p = Path(path)
        while not p.exists() and p != p.parent:  # a directory not made yet: its nearest existing parent's disk
            p = p.parent
        try:
            free = shutil.disk_usage(p).free
        except OSError as exc:
            short.append(f"{name} ({path}): free space unknown ({exc.strerror})")
            continue
        if free < min_free_bytes:
            short.append(f"{name} ({path}): {free / 2**20:,.0f} MiB free, below the {min_free_bytes / 2**20:,.0f} MiB minimum")
    return "; ".join(short) or None


async def metrics(request: Request) -> Response:
    svc: Services = request.app.state.svc
    token = svc.config.metrics_token
    if token:
        import hmac

        got = _presented_key(request) or ""
        if not hmac.compare_digest(got.encode(), token.encode()):
            return JSONResponse({"error": "unauthorized", "message": "metrics need the metrics token"}, 401)
    text = svc.stats.prometheus()
    if svc.relay is not None:
        r = svc.relay.stats
        text += ("# HELP thunderline_publish_sent_total messages acknowledged by the broker\n"
                 "# TYPE thunderline_publish_sent_total counter\n"
                 f"thunderline_publish_sent_total {r.sent}\n"
                 "# HELP thunderline_publish_failed_total publish attempts that will be retried\n"
                 "# TYPE thunderline_publish_failed_total counter\n"
                 f"thunderline_publish_failed_total {r.failed}\n")
    text += await run_in_threadpool(_source_metrics, svc)
    from thunderline.telemetry import CONTENT_TYPE

    return PlainTextResponse(text, headers={"Content-Type": CONTENT_TYPE})


def _source_metrics(svc: Services) -> str:
    """The EDGAR poller's and WebSocket sources' latest telemetry (they run in other processes)."""
    from thunderline.dashboard.snapshot import sources_prometheus, sources_snapshot
    from thunderline.telemetry import now_us

    rows = {}
    try:
        for tenant in svc.tenants():
            with svc.warehouse.session(tenant) as s:
                rows[tenant] = sources_snapshot(s, now_us=now_us())
    except Exception as exc:  # noqa: BLE001 - metrics must answer even when the warehouse does not
        log.warning("source metrics unavailable: %s", exc)
        return ""
    return sources_prometheus(rows)


async def root(request: Request) -> Response:
    return RedirectResponse("/dashboard")


async def _share_stats(svc: Services) -> None:
    """Publish this worker's ingress counters for its siblings about once a second, and once at exit."""
    while True:
        try:
            await run_in_threadpool(svc.stats.publish)
        except OSError as exc:  # never let the counters take the worker down
            log.warning("could not share ingress counters: %s", exc)
        if svc.stopping.is_set():  # type: ignore[union-attr]
            return
        try:
            await asyncio.wait_for(svc.stopping.wait(), timeout=1.0)  # type: ignore[union-attr]
        except asyncio.TimeoutError:
            pass


async def _run_relay(svc: Services) -> None:
    """The outbox relay; with a relay lock file, only while this process holds it (one relay per server,
    and another worker takes over within seconds if the holder dies)."""
    path = svc.config.relay_lock_file
    if not path:
        await svc.relay.run(svc.stopping)  # type: ignore[union-attr]
        return
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while not svc.stopping.is_set():  # type: ignore[union-attr]
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                try:
                    await asyncio.wait_for(svc.stopping.wait(), timeout=2.0)  # type: ignore[union-attr]
                except asyncio.TimeoutError:
                    pass
        else:
            return
        log.info("this worker (pid %d) runs the outbox relay", os.getpid())
        await svc.relay.run(svc.stopping)  # type: ignore[union-attr]
    finally:
        os.close(fd)  # releases the lock


def build_app(settings: Settings, config: ServeConfig = ServeConfig(), *, warehouse: Warehouse | None = None,
              publisher: Publisher | None = None, clock: Callable[[], float] = time.monotonic) -> Starlette:
    """The ASGI app. The warehouse schema is created (idempotently) at start-up, the landing
    area's leftover temp files are swept, and the outbox relay runs in the background."""
    from contextlib import asynccontextmanager

    from thunderline.dashboard.routes import routes as dashboard_routes

    wh = warehouse or open_warehouse(settings.warehouse_url)
    limiter = limiter_for({"requests": Limit(config.requests_per_s, config.request_burst),
                           "ticks": Limit(config.ticks_per_s, config.tick_burst)},
                          shared_path=config.ratelimit_file, redis_url=config.redis_url, clock=clock)
    svc = Services(settings=settings, config=config, warehouse=wh,
                   keys=KeyStore(wh, recheck_s=config.key_recheck_s, clock=clock),
                   landing=DurableLanding(settings.landing_dir, fsync=config.fsync), limiter=limiter,
                   stats=IngressStats(share_dir=config.stats_dir), publisher=publisher or publisher_from_env())

    @asynccontextmanager
    async def lifespan(app):
        svc.stopping = asyncio.Event()
        await run_in_threadpool(wh.init_schema)
        if config.sweep:
            swept = await run_in_threadpool(svc.landing.sweep)
            if swept:
                log.warning("removed %d unacknowledged temp files from the landing area", swept)
        task = None
        if config.relay:
            svc.relay = OutboxRelay(wh, svc.publisher, svc.tenants, poll_s=config.relay_poll_s)
            task = asyncio.create_task(_run_relay(svc))
        sharing = asyncio.create_task(_share_stats(svc)) if config.stats_dir else None
        try:
            yield
        finally:
            svc.stopping.set()
            if sharing is not None:
                await sharing
            if task is not None:
                try:
                    await asyncio.wait_for(task, timeout=10)
                except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                    task.cancel()
            await svc.publisher.close()
            svc.cpu.shutdown(wait=True)
            svc.io.shutdown(wait=True)
            svc.limiter.close()
            if warehouse is None:
                wh.dispose()

    app = Starlette(routes=[
        Route("/", root),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/v1/ticks", post_ticks, methods=["POST"]),
        Route("/v1/filings", post_filings, methods=["POST"]),
        Route("/v1/decisions", get_decisions),
        Route("/v1/features", get_features),
        *dashboard_routes(_authenticate, _endpoint),
    ], lifespan=lifespan)
    app.state.svc = svc
    return app
