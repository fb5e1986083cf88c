"""Telemetry events: validated, idempotent in the warehouse on both backends, summarised, rendered for Prometheus."""

from __future__ import annotations

import re

import pytest

from thunderline.telemetry import (
    SEED_EVENTS,
    EventBatch,
    MetricsRegistry,
    emit,
    make_event,
    prune,
    read_events,
    summarize,
)


def test_emit_batch_read_and_replay_do_not_duplicate(warehouse):
    with warehouse.session("t1") as s:
        emit(s, "flow.market.lag_ms", 12.5, {"symbol": "AAA"}, ts=1_000)
        b = EventBatch()
        for i in range(5):
            b.add("router.entropy", 0.1 * i, {"layer": 0}, ts=2_000 + i)
        b.add("router.entropy", 0.0, {"layer": 0}, ts=2_000)  # same event twice in one batch
        assert len(b.flush(s)) == 6 and len(b) == 0
    with warehouse.session("t1") as s:  # a replay of the same events
        emit(s, "flow.market.lag_ms", 12.5, {"symbol": "AAA"}, ts=1_000)
    with warehouse.session("t2") as s:
        emit(s, "flow.market.lag_ms", 12.5, {"symbol": "AAA"}, ts=1_000)  # same content, other tenant
    with warehouse.session("t1") as s:
        evs = read_events(s)
        assert [(e.name, e.ts_us) for e in evs] == [("flow.market.lag_ms", 1_000)] + [
            ("router.entropy", 2_000 + i) for i in range(5)]
        assert evs[0].tags == {"symbol": "AAA"}
        assert [e.value for e in read_events(s, ["router.entropy"], since_us=2_002, until_us=2_004)] == [
            pytest.approx(0.2), pytest.approx(0.3)]
        assert prune(s, 2_000) == 1
        assert s.count("telemetry_events") == 5
    with warehouse.session("t2") as s:
        assert s.count("telemetry_events") == 1


@pytest.mark.parametrize("name,value,tags,why", [
    ("Flow.Lag", 1.0, None, "dotted lower-case"),
    ("lag", 1.0, None, "dotted lower-case"),
    ("flow.lag", float("nan"), None, "finite"),
    ("flow.lag", "x", None, "not a number"),
    ("flow.lag", 1.0, {"k": [1]}, "str/int/float/bool"),
])
def test_bad_events_are_refused_with_the_rule(name, value, tags, why):
    with pytest.raises(ValueError, match=why):
        make_event(name, value, tags)


def test_summaries_are_quantiles_per_name():
    evs = [make_event("expert.latency_ms", float(v), ts=v) for v in range(1, 101)]
    evs.append(make_event("router.entropy", 0.7, ts=5))
    lat, ent = summarize(evs)
    assert lat.name == "expert.latency_ms" and lat.count == 100
    assert lat.p50 == pytest.approx(50.5) and lat.p99 == pytest.approx(99.01) and lat.max == 100.0
    assert lat.last == 100.0 and ent.last == 0.7 and ent.count == 1


_SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*",?)*\})? '
                     r'(-?[0-9.e+-]+|NaN|[+-]Inf)$')


def test_prometheus_text_is_well_formed_and_bounded():
    reg = MetricsRegistry(window=4, max_series=2)
    for i in range(10):
        reg.observe("flow.market.lag_ms", float(i), {"symbol": 'A"B\\C\n', "1bad-label": 1})
    reg.observe("router.entropy", 0.5)
    reg.observe("router.entropy", 0.25, {"layer": 1})
    reg.observe("router.entropy", 0.75, {"layer": 2})  # a third label set: dropped and counted
    text = reg.render()
    assert text.endswith("\n")
    families = {}
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            _, _, name, kind = line.split()
            assert name not in families
            families[name] = kind
        elif not line.startswith("#"):
            assert _SAMPLE.match(line), line
    assert families["thunderline_flow_market_lag_ms"] == "summary"
    assert families["thunderline_router_entropy_last"] == "gauge"
    # quantiles over the last 4 observations, _sum/_count over all 10
    lag = [ln for ln in text.splitlines() if ln.startswith("thunderline_flow_market_lag_ms")]
    assert any('quantile="0.5"' in ln and ln.endswith(" 7.5") for ln in lag)
    assert any(ln.startswith("thunderline_flow_market_lag_ms_sum") and ln.endswith(" 45.0") for ln in lag)
    assert any(ln.startswith("thunderline_flow_market_lag_ms_count") and ln.endswith(" 10") for ln in lag)
    assert 'symbol="A\\"B\\\\C\\n"' in text and "_1bad_label=" in text
    assert "thunderline_telemetry_dropped_total 1" in text


def test_the_seed_events_are_all_catalogued():
    assert {e.name for e in SEED_EVENTS} == {
        "flow.market.lag_ms", "flow.edgar.throughput", "router.assignment.experts_per_token", "expert.latency_ms",
        "drift.feature.psi", "risk.breach", "router.entropy", "router.capacity_utilization",
        "feature.fill_latency_ms", "label.realization_latency_ms", "router.undercovered_token"}
