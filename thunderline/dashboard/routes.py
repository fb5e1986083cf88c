"""Thundereye's HTTP side: the page, its static files, a JSON snapshot and a server-sent-event stream.

The page (``/dashboard``) carries no data and needs no key to load; it reads the tenant's
API key from the URL fragment (``/dashboard#key=tlk…`` — fragments never reach the server
or its logs) or a form, and then reads ``/v1/dashboard/stream`` with ``fetch`` so the key
travels in the ``Authorization`` header (``EventSource`` cannot send headers). Each event
is one :func:`~thunderline.dashboard.snapshot.tenant_snapshot`. Streams end on their own
after ``stream_max_s`` (the page reconnects) and when the server stops.
"""

from __future__ import annotations

import asyncio
import json
import time
from importlib import resources
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from thunderline.dashboard.snapshot import tenant_snapshot

STATIC = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}


def _static(name: str) -> bytes:
    return resources.files("thunderline.dashboard").joinpath("static", name).read_bytes()


def snapshot_for(svc, tenant: str) -> dict:
    now_us = time.time_ns() // 1000
    with svc.warehouse.session(tenant) as s:
        return tenant_snapshot(s, now_us=now_us, window_s=svc.config.dashboard_window_s,
                               ingress=svc.stats.view(tenant), accepted=svc.stats.recent_batches(tenant),
                               publisher=svc.publisher.name)


def routes(authenticate: Callable, endpoint: Callable) -> list[Route]:
    async def page(request: Request) -> Response:
        return Response(_static("dashboard.html"), media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store", "Content-Security-Policy":
                                 "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return JSONResponse({"error": "not_found", "message": name}, 404)
        return Response(_static(name), media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    @endpoint
    async def dashboard_snapshot(svc, request: Request) -> Response:
        p = await authenticate(svc, request)
        request.state.tenant = p.tenant_id
        return JSONResponse(await run_in_threadpool(snapshot_for, svc, p.tenant_id))

    @endpoint
    async def dashboard_stream(svc, request: Request) -> Response:
        p = await authenticate(svc, request)
        request.state.tenant = p.tenant_id
        try:
            interval = float(request.query_params.get("interval", svc.config.dashboard_interval_s))
        except ValueError:
            interval = svc.config.dashboard_interval_s
        interval = min(60.0, max(0.1, interval))
        deadline = time.monotonic() + svc.config.stream_max_s
        stopping: asyncio.Event = svc.stopping

        async def events():
            yield "retry: 1000\n\n"
            while time.monotonic() < deadline and not (stopping and stopping.is_set()):
                try:
                    snap = await run_in_threadpool(snapshot_for, svc, p.tenant_id)
                    yield f"event: snapshot\ndata: {json.dumps(snap, allow_nan=False, default=str)}\n\n"
                except Exception as exc:  # noqa: BLE001 - report and keep the stream alive
                    yield f"event: problem\ndata: {json.dumps({'error': type(exc).__name__})}\n\n"
                if await request.is_disconnected():
                    return
                try:
                    if stopping is not None:
                        await asyncio.wait_for(stopping.wait(), timeout=interval)
                    else:
                        await asyncio.sleep(interval)
                except asyncio.TimeoutError:
                    pass

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return [
        Route("/dashboard", page),
        Route("/dashboard/static/{name}", static),
        Route("/v1/dashboard/snapshot", dashboard_snapshot),
        Route("/v1/dashboard/stream", dashboard_stream),
    ]
