"""``thunderline serve``: the long-running HTTP ingress server (tenant API, dashboard, publication relay).

No Dagster here (``python -m thunderline_cli.ingress_main`` starts it without loading Dagster).
Configuration and warehouse failures propagate to the CLI's one-line error handling.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("serve", help="HTTP ingress, decision/feature API, publication relay and live dashboard")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    s.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    s.add_argument("--max-body-mb", type=float, default=32.0, help="largest request body (default 32 MiB)")
    s.add_argument("--max-rows", type=int, default=100_000, help="most ticks per request (default 100000)")
    s.add_argument("--requests-per-s", type=float, default=500.0, help="per-tenant request rate (default 500)")
    s.add_argument("--request-burst", type=float, default=None, help="per-tenant request burst (default 2x the rate)")
    s.add_argument("--ticks-per-s", type=float, default=2_000_000.0, help="per-tenant tick rate (default 2M)")
    s.add_argument("--tick-burst", type=float, default=None, help="per-tenant tick burst (default 2x the rate)")
    s.add_argument("--tenant", action="append", default=[], help="also relay publications of this tenant (repeatable)")
    s.add_argument("--no-relay", action="store_true", help="do not run the outbox relay in this process")
    s.add_argument("--workers", type=int, default=1,
                   help="server processes sharing the port (default 1); each uses about one core, and the "
                        "per-tenant rate limits are one budget across them")
    s.add_argument("--max-header-kb", type=float, default=32.0,
                   help="largest request line + headers; 431 beyond (default 32 KiB)")
    s.add_argument("--header-timeout-s", type=float, default=10.0,
                   help="time for a client to send the whole header block; 408 and close after (default 10)")
    s.add_argument("--body-timeout-s", type=float, default=30.0,
                   help="longest pause while a request body is read; 408 after (default 30)")
    s.add_argument("--min-free-mb", type=float, default=256.0,
                   help="/healthz answers 503 degraded when the landing area or lake has less free (default 256)")
    s.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="server log level (default info)")
    s.set_defaults(func=_serve)


def _serve(args) -> int:
    import os

    from thunderline.config import load_settings
    from thunderline.ingress.app import ServeConfig
    from thunderline.ingress.keys import check_tenant
    from thunderline.ingress.server import serve

    settings = load_settings()
    tenants = tuple(check_tenant(t) for t in args.tenant)
    if args.workers < 1:
        print("thunderline: error: --workers must be at least 1", file=sys.stderr)
        return 2
    redis_url = os.environ.get("THUNDERLINE_REDIS_URL", "").strip() or None
    if redis_url and not redis_url.startswith("redis://"):
        print(f"thunderline: error: THUNDERLINE_REDIS_URL={redis_url!r}: expected redis://host:port/db", file=sys.stderr)
        return 2
    # rate-limit buckets in a file under the home: one budget per tenant for every worker and every
    # `serve` on this home, kept across restarts; THUNDERLINE_REDIS_URL (opt-in) puts them in Redis
    state = settings.home / "ingress"
    state.mkdir(parents=True, exist_ok=True)
    cfg = ServeConfig(host=args.host, port=args.port, max_body_bytes=int(args.max_body_mb * (1 << 20)),
                      max_rows=args.max_rows, requests_per_s=args.requests_per_s,
                      request_burst=args.request_burst or 2 * args.requests_per_s,
                      ticks_per_s=args.ticks_per_s, tick_burst=args.tick_burst or 2 * args.ticks_per_s, tenants=tenants,
                      relay=not args.no_relay, ratelimit_file=str(state / "ratelimit.buckets"),
                      redis_url=redis_url, max_header_bytes=int(args.max_header_kb * 1024),
                      header_timeout_s=args.header_timeout_s, body_timeout_s=args.body_timeout_s,
                      min_free_bytes=int(args.min_free_mb * (1 << 20)))
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    print(f"thunderline serve: http://{args.host}:{args.port}/dashboard  (tenant API at /v1/…{workers})",
          file=sys.stderr)
    serve(settings, cfg, log_level=args.log_level, workers=args.workers)
    return 0
