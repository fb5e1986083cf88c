"""HTTP cases of issue 16 against a real uvicorn server (items 4 and 10).

Query parameters and cursors that no int64 holds, forged cursors and a 100,000-deep nested
JSON line used to reach the database or the decoder and come back as 500s; oversized
headers were accepted and half-sent requests held forever. Each now gets a 4xx that says
which parameter or limit, or the connection is closed after the configured time.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from dataclasses import replace

import httpx
import pytest

from thunderline.ingress import ServeConfig, build_app, create_key
from thunderline.ingress.server import ServerThread
from thunderline.publish import InProcessPublisher
from thunderline.store import Warehouse

FAST = ServeConfig(relay=False, key_recheck_s=0.0, requests_per_s=10_000, request_burst=10_000, ticks_per_s=1e9,
                   tick_burst=1e9)


@pytest.fixture
def serve(settings_env):
    made = []

    def start(**overrides):
        wh = Warehouse(settings_env.warehouse_url)
        wh.init_schema()
        key = create_key(wh, "acme", "test")[0]
        app = build_app(settings_env, replace(FAST, **overrides), warehouse=wh, publisher=InProcessPublisher())
        server = ServerThread(app, config=replace(FAST, **overrides)).start()
        client = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {key}"})
        made.append((client, server, wh))
        return client, server

    yield start
    for client, server, wh in made:
        client.close()
        server.stop()
        wh.dispose()


def _cursor(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/v1/features", "/v1/decisions"])
def test_out_of_range_times_and_forged_cursors_are_400(serve, path):
    client, _ = serve()
    assert client.get(path).status_code == 200
    cases = {
        "from": ["9999999999999999999", "-9999999999999999999", "99999999999999999999999", "9223372036854775808"],
        "to": ["9999999999999999999", "-9999999999999999999"],
        "cursor": [_cursor([1e30, "x"]), _cursor([10**30, "x"]), _cursor([-(10**30), "x"]), _cursor([True, "x"]),
                   _cursor([1.5, "x"]), _cursor([1, {"a": 1}]), _cursor([1, "x" * 500]), _cursor("[1"), "!!!"],
    }
    for name, values in cases.items():
        for v in values:
            r = client.get(path, params={name: v})
            assert r.status_code == 400, (name, v, r.status_code, r.text)
            body = r.json()
            assert body["error"] == "bad_parameter" and name in body["message"], body
    # the extremes that do fit are fine
    assert client.get(path, params={"from": "-9223372036854775808", "to": "9223372036854775807"}).status_code == 200


def test_deeply_nested_json_line_is_a_clear_4xx(serve):
    client, _ = serve()
    line = b"[" * 100_000 + b"]" * 100_000
    r = client.post("/v1/ticks", content=line + b"\n", headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert problems[0]["row"] == 1 and "nest" in problems[0]["reason"], problems


def _raw(server, data: bytes, wait_s: float) -> tuple[bytes, float]:
    """Send ``data``, then read until the server closes or ``wait_s`` passes: (bytes read, seconds to close)."""
    s = socket.create_connection((server.host, server.port))
    s.settimeout(wait_s)
    t0 = time.monotonic()
    s.sendall(data)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        return got, float("inf")
    except ConnectionResetError:
        pass
    finally:
        s.close()
    return got, time.monotonic() - t0


def test_oversized_request_headers_are_refused(serve):
    client, server = serve(max_header_bytes=16 << 10)
    big = {"X-Filler": "a" * (64 << 10)}
    r = client.get("/healthz", headers=big)
    assert r.status_code == 431, r.status_code
    # just under the limit is fine
    assert client.get("/healthz", headers={"X-Filler": "a" * (8 << 10)}).status_code == 200
    got, _ = _raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * (1 << 20), wait_s=10)
    assert got.startswith(b"HTTP/1.1 431"), got[:80]


def test_half_sent_headers_are_closed_after_the_header_timeout(serve):
    _, server = serve(header_timeout_s=0.5)
    got, took = _raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", wait_s=10)
    assert took < 5, "a half-sent request was held open"
    assert got == b"" or got.startswith(b"HTTP/1.1 408"), got[:80]
    got, took = _raw(server, b"", wait_s=10)  # a connection that never sends a byte
    assert took < 5


def test_body_that_stalls_is_closed_after_the_body_timeout(serve):
    client, server = serve(body_timeout_s=0.5)
    auth = client.headers["Authorization"].encode()
    head = (b"POST /v1/ticks HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAuthorization: " + auth +
            b"\r\nContent-Length: 1000\r\n\r\nvenue,symbol")
    got, took = _raw(server, head, wait_s=10)
    assert took < 5, "a stalled body was held open"
    assert got.startswith(b"HTTP/1.1 408"), got[:200]


def test_healthz_degrades_when_storage_is_short(serve, settings_env):
    client, _ = serve()
    assert client.get("/healthz").json()["status"] == "ok"
    client2, _ = serve(min_free_bytes=1 << 62)  # more than any disk has
    r = client2.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded" and "free" in body["reason"] and "landing" in body["reason"], body
