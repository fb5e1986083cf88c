"""``thunderline live --stdin`` in-process: micro-batches spooled and decided, telemetry written and served as
Prometheus text, materializations reported to a real Dagster instance."""

from __future__ import annotations

import dataclasses
import io
import urllib.request

import dagster as dg
import pytest
from orch_helpers import write_ticks

from thunderline.decisions.router_state import publish_router_version
from thunderline.store import Warehouse
from thunderline.telemetry import MetricsRegistry, read_events
from thunderline_cli.live_service import LiveRunner, run_stdin, serve_metrics


@pytest.fixture
def own_instance():
    """An instance of its own: the test asserts the exact set of partitions `live` materialized, which a shared
    instance holding another test's runs (test_live_parity) would break depending on test order."""
    with dg.instance_for_test() as instance:
        yield instance


def test_stdin_ticks_become_traces_with_telemetry_and_dagster_events(settings_env, own_instance, trained,
                                                                      mlflow_uri, tmp_path):
    settings = settings_env.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    state, _, _ = trained
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        publish_router_version(s, state, reason="live test")
    wh.dispose()
    csv = write_ticks(tmp_path / "feed.csv", "LIVE", n=3_000, fmt="csv").read_text()
    bad = "TEST,LIVE,1704205800000001,99999999,0,abc,1,100.01,1,,0,0,,,,,,\n"  # unparsable price: quarantined
    lines = csv.splitlines(keepends=True)
    stream = io.StringIO("".join(lines[:1500] + [bad] + lines[1500:]))

    metrics = MetricsRegistry()
    server = serve_metrics(metrics, 0)
    runner = LiveRunner(settings, instance=own_instance, metrics=metrics, interval_s=0.0,
                        keep_latencies=True)
    assert runner.decisions is not None and runner.decisions.state.version == state.version
    run_stdin(runner, stream, max_batch=1_000)
    runner.close()

    s = runner.stats
    assert s.batches >= 3 and s.ticks == 3_000 and s.traces > 0
    assert len(runner.stats.latencies_us()) == 3_001  # every line read, the bad one included
    root = settings.landing_dir / "live" / settings.tenant_id
    raw = sorted((root / "raw").glob("*.csv"))  # as received
    assert len(raw) == s.batches and sum(len(p.read_text().splitlines()) - 1 for p in raw) == 3_001
    assert len(sorted(root.glob("*.parquet"))) == s.batches  # parsed, indexed, replayable
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as sess:
        t = sess.table("decision_traces")
        assert sess.count("decision_traces", t.c.symbol == "LIVE") == s.traces
        [q] = sess.select("quarantine")
        assert "/raw/" in q["source"] and q["row_number"] and "bid_px" in (q["field"] or "") + q["reason"]
        names = {e.name for e in read_events(sess)}
    wh.dispose()
    assert {"flow.market.lag_ms", "router.entropy", "router.assignment.experts_per_token", "expert.latency_ms",
            "router.capacity_utilization", "router.undercovered_token", "flow.market.backlog"} <= names

    body = urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/metrics", timeout=10).read().decode()
    server.shutdown()
    assert "# TYPE thunderline_flow_market_lag_ms summary" in body and "thunderline_router_entropy_count" in body

    mats = own_instance.fetch_materializations(dg.AssetKey("decision_traces"), limit=100).records
    assert mats and {m.partition_key for m in mats} == {"2024-01-01|LIVE"}
    assert mats[0].asset_materialization.metadata["reported_by"].value == "thunderline live"
    assert "LIVE" in own_instance.get_dynamic_partitions("symbols")


def test_arrow_ipc_stdin(settings_env, ephemeral_instance, tmp_path):
    import pyarrow as pa

    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    sink = io.BytesIO()
    batches = list(synthetic_ticks(SyntheticSpec(n_ticks=2_000, seed=4, symbol="ARW"), "other-tenant", chunk_rows=500))
    with pa.ipc.new_stream(sink, batches[0].schema) as w:
        for b in batches:
            w.write_batch(b)
    runner = LiveRunner(settings_env, instance=None, interval_s=0.0)
    run_stdin(runner, io.BytesIO(sink.getvalue()), fmt="arrow", max_batch=1_000)
    assert runner.handle(tmp_path / "vanished.parquet") is None and runner.stats.errors == 1  # logged, loop goes on
    runner.close()
    assert runner.stats.ticks == 2_000 and runner.stats.windows > 0 and runner.stats.traces == 0  # no router here
    wh = Warehouse(settings_env.warehouse_url)
    with wh.session(settings_env.tenant_id) as sess:  # stamped with the runner's tenant, not the stream's
        assert sess.count("raw_tick_batches") == runner.stats.batches
    wh.dispose()


def test_a_running_session_swaps_in_a_newly_active_router_version(settings_env, trained, mlflow_uri):
    """Batch 1 is decided with version A; B becomes active (champions loaded from the real MLflow registry);
    the session's next batch is decided with B, and its traces name B. Checks are rate-limited by refresh_s."""
    settings = settings_env.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    state_a, _, _ = trained
    state_b = dataclasses.replace(state_a, gates=tuple(g * 0.5 for g in state_a.gates))
    assert state_b.version != state_a.version
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        publish_router_version(s, state_a, reason="live test: A")
    runner = LiveRunner(settings, instance=None, interval_s=3600, refresh_s=0.0)
    try:
        landing = settings.ticks_landing
        hour = 3_600_000_000
        a = runner.handle(write_ticks(landing / "swap-1.parquet", "SWAP", seed=1))
        with wh.session(settings.tenant_id) as s:
            publish_router_version(s, state_b, reason="live test: B", parent=state_a.version)
        b = runner.handle(write_ticks(landing / "swap-2.parquet", "SWAP", seed=2, start_us=1_704_205_800_000_000 + hour))
        assert a.traces > 0 and a.router_version == state_a.version
        assert b.traces > 0 and b.router_version == state_b.version
        assert runner.processor.decisions is runner.decisions and runner.decisions.state.version == state_b.version
        with wh.session(settings.tenant_id) as s:
            t = s.table("decision_traces")
            assert s.count("decision_traces", t.c.router_version == state_b.version) == b.traces
            assert s.count("decision_traces", t.c.router_version == state_a.version) == a.traces
        runner.refresh_s = 3600.0
        assert runner.refresh() is False  # due (refresh_s was 0) and unchanged; the next check is an hour away
        with wh.session(settings.tenant_id) as s:  # a rollback re-activates A
            publish_router_version(s, state_a, reason="live test: rollback")
        assert runner.refresh() is False and runner.decisions.state.version == state_b.version  # not due yet
        assert runner.refresh(force=True) is True and runner.processor.decisions.state.version == state_a.version
    finally:
        runner.close()
        wh.dispose()


def test_a_session_runs_the_versions_its_router_version_records_not_a_moved_champion(settings_env, mlflow_uri):
    """Champions v2 registered (alias moved) but the router not promoted: a session started now decides with
    v1 and its traces say v1; after the promotion it swaps to v2 and lets the registry drop v1."""
    from thunderline.decisions.bootstrap import bootstrap_from_windows
    from thunderline.experts import DEFAULT_EXPERT_SPECS, ExpertRegistry
    from thunderline.flow.promotion import publish_router_for_champions
    from thunderline.market.features import build_windows, to_feature_windows
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    settings = settings_env.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    # own names: the session-wide MLflow store's other experts keep their champions
    specs = [dataclasses.replace(s, name=f"livepin_{s.name}", latency_budget_ms=600_000.0)
             for s in DEFAULT_EXPERT_SPECS if s.family != "filing"][:2]

    def history(seed):
        ticks = synthetic_ticks(SyntheticSpec(n_ticks=30_000, seed=seed, symbol="HIST"))
        return to_feature_windows(build_windows(ticks), tenant_id="default", symbol="HIST")

    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with ExpertRegistry(tracking_uri=mlflow_uri) as reg:
        state1, first = bootstrap_from_windows(reg, history(21), specs=specs, seed=3)
        with wh.session(settings.tenant_id) as s:
            publish_router_version(s, state1, reason="live pin test: v1")
        _, second = bootstrap_from_windows(reg, history(22), specs=specs, seed=4)  # champions move, no promotion
    v1 = {n: str(t["version"]) for n, t in first.trained.items()}
    v2 = {n: str(t["version"]) for n, t in second.trained.items()}
    assert len(v1) == 2 and v1 == state1.expert_versions and all(v1[n] != v2[n] for n in v1)
    runner = LiveRunner(settings, instance=None, interval_s=3600, refresh_s=0.0)
    try:
        assert {n: e.version for n, e in runner.decisions.experts.items()} == v1
        a = runner.handle(write_ticks(settings.ticks_landing / "pin-1.parquet", "PIN", seed=1))
        with wh.session(settings.tenant_id) as s:
            promoted = publish_router_for_champions(runner.stores.registry.client, s)
        assert promoted.version is not None and set(promoted.changes) == set(v1)
        b = runner.handle(write_ticks(settings.ticks_landing / "pin-2.parquet", "PIN", seed=2,
                                      start_us=1_704_205_800_000_000 + 3_600_000_000))
        assert a.traces > 0 and b.traces > 0 and b.router_version == promoted.version
        with wh.session(settings.tenant_id) as s:
            used = {(r["router_version"], x["expert"], x["model_version"], x["alias"])
                    for r in s.select("decision_traces") for x in r["expert_actions"] if x["expert"] in v1}
        expected = {(v, n, ver[n], "champion") for v, ver in ((state1.version, v1), (promoted.version, v2))
                    for n in v1}
        assert used <= expected and {u[0] for u in used} == {state1.version, promoted.version}
        cached = {(n, v) for n, v in runner.stores.registry.cached_versions() if n in v1}
        assert cached == set(v2.items())  # v1 released after the swap
    finally:
        runner.close()
        wh.dispose()
