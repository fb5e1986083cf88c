"""The dashboard's numbers: from telemetry when recorded, from decision traces otherwise; one tenant at a time."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from publish.rows import decision_row, seed

from thunderline.dashboard import router_from_traces, tenant_snapshot
from thunderline.telemetry import now_us

from .seeding import seed_pipeline


def test_snapshot_reads_every_panel_for_its_tenant_only(warehouse):
    seed_pipeline(warehouse, "acme")
    now = now_us()
    with warehouse.session("acme") as s:
        snap = tenant_snapshot(s, now_us=now, ingress={"ticks_accepted": 5}, accepted=[("nope", now - 2_000_000)])
    assert snap["router"] == {"experts_per_token": 1.75, "load_balance": 0.25, "capacity_utilization": 0.8,
                              "entropy": 0.9, "source": "telemetry"}
    assert snap["backpressure"]["step"] == 2
    assert [d["feature"] for d in snap["drift"]] == ["ofi", "realized_vol", "spread"]
    assert snap["pnl"] == [{"expert": "momentum_gbm_h1", "pnl": 12.5}, {"expert": "order_flow_logit_h1", "pnl": -3.25}]
    assert snap["pipeline"]["lag_ms"] == 420.0 and snap["pipeline"]["decisions_per_s"] > 0
    assert snap["ingress"]["batches_waiting"] == 1 and snap["ingress"]["ingest_lag_s"] == 2.0
    json.dumps(snap, allow_nan=False)
    with warehouse.session("beta") as s:
        other = tenant_snapshot(s, now_us=now_us())
    assert other["tenant"] == "beta" and other["drift"] == [] and other["pnl"] == []
    assert other["router"]["source"] is None and other["backpressure"]["step"] is None
    assert other["pipeline"]["decisions_per_s"] == 0


def test_router_stats_fall_back_to_decision_traces(warehouse):
    seed(warehouse, "acme", [decision_row("acme", 0, experts=(("a", "b"),), scores=((0.5, 0.5),)),
                             decision_row("acme", 1, experts=(("a",),), scores=((1.0, 0.0),))])
    with warehouse.session("acme") as s:
        r = tenant_snapshot(s, now_us=now_us())["router"]
    assert r["source"] == "decision_traces" and r["experts_per_token"] == 1.5
    assert r["load_balance"] == pytest.approx(0.5)  # picks a=2, b=1 → population std 0.5
    assert r["entropy"] == pytest.approx(math.log(2) / 2)
    assert router_from_traces([])["entropy"] is None


def test_stream_sends_snapshots_over_sse(http_api_factory):
    api = http_api_factory(dashboard_interval_s=0.2)
    events = []
    with api.client.stream("GET", "/v1/dashboard/stream", headers=api.auth("acme"), params={"interval": "0.2"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        buf = ""
        for chunk in r.iter_text():
            buf += chunk
            while "\n\n" in buf:
                block, buf = buf.split("\n\n", 1)
                if block.startswith("event: snapshot"):
                    events.append(json.loads(block.split("data: ", 1)[1]))
            if len(events) >= 2:
                break
    assert [e["tenant"] for e in events] == ["acme", "acme"]
    page = httpx.get(api.url + "/dashboard")
    assert page.status_code == 200 and "/dashboard/static/dashboard.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN: nothing loads from elsewhere
    js = httpx.get(api.url + "/dashboard/static/dashboard.js")
    assert js.status_code == 200 and "EventSource" not in js.text and "fetch(" in js.text


def test_sources_panel_shows_each_stream_latest_figures(warehouse):
    """The EDGAR poller's and the WebSocket adapter's telemetry, one row per CIK / symbol, newest value wins."""
    from thunderline.telemetry import emit

    now = now_us()
    with warehouse.session("acme") as s:
        emit(s, "source.edgar.lag_s", 99.0, {"source": "edgar", "cik": 1961}, ts=now - 5_000_000)
        emit(s, "source.edgar.lag_s", 12.5, {"source": "edgar", "cik": 1961}, ts=now - 1_000_000)
        emit(s, "source.edgar.throttled", 7, {"source": "edgar", "cik": 1961}, ts=now - 1_000_000)
        emit(s, "source.binance.gaps", 3, {"source": "binance-ws", "symbol": "BTCUSDT"}, ts=now - 2_000_000)
        emit(s, "source.binance.lag_ms", 41.0, {"source": "binance-ws", "symbol": "BTCUSDT"}, ts=now - 2_000_000)
    with warehouse.session("acme") as s:
        snap = tenant_snapshot(s, now_us=now)
    rows = {(r["source"], r["key"]): r for r in snap["sources"]}
    assert rows[("edgar", "1961")]["lag_s"] == 12.5 and rows[("edgar", "1961")]["throttled"] == 7
    assert rows[("edgar", "1961")]["age_s"] == 1.0
    assert rows[("binance-ws", "BTCUSDT")]["gaps"] == 3 and rows[("binance-ws", "BTCUSDT")]["lag_ms"] == 41.0
    with warehouse.session("beta") as s:
        assert tenant_snapshot(s, now_us=now)["sources"] == []
    from thunderline.dashboard.snapshot import sources_prometheus

    text = sources_prometheus({"acme": snap["sources"]})
    assert 'thunderline_source_gaps{tenant="acme",source="binance-ws",stream="BTCUSDT"} 3.0' in text
    assert 'thunderline_source_lag_s{tenant="acme",source="edgar",stream="1961"} 12.5' in text
    assert "# TYPE thunderline_source_throttled gauge" in text
