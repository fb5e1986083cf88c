"""Live/Dagster parity: the same landing files through ``thunderline live`` and through the tick sensor's
Dagster runs give identical window and decision-trace hashes, on both warehouse backends.

Experts come from the session's ``trained`` fixture (real MLflow registry, generous budgets). The
Dagster half also covers the sensor's end of the round trip: decisions exist after the run, a
processed file is never requested again, and the run's lag is recorded.
"""

from __future__ import annotations

import os
import shutil

import dagster as dg
import pyarrow as pa
from orch_helpers import PAST, apply_sensor_result, execute_request, resources_for, sensor_context

from resources import MlflowResource
from sensors.tick_landing import build_tick_landing_sensors
from thunderline.decisions.router_state import publish_router_version
from thunderline.flow.live import DecisionContext, LiveProcessor, trace_hashes_of, window_hashes_of
from thunderline.market import write_canonical_parquet
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.store import Warehouse
from thunderline.store.lake import Lake
from thunderline.telemetry import read_events
from thunderline_assets.definitions import build_definitions

catalog = build_definitions(resources={})  # every domain's assets, jobs, schedules and sensors

SYMBOL = "PAR"
WIPE = ("decision_traces", "feature_windows", "raw_tick_batches", "landing_files", "lineage_edges", "quarantine",
        "telemetry_events", "flow_state")


def _landing_files(root, n_files=2, per_file=1_500):
    """One synthetic stream cut into files in time (and path) order: what a feed drops one after another."""
    root.mkdir(parents=True, exist_ok=True)
    spec = SyntheticSpec(n_ticks=n_files * per_file, seed=21, symbol=SYMBOL, venue="TEST")
    table = pa.Table.from_batches(list(synthetic_ticks(spec, "default")))
    paths = []
    for i in range(n_files):
        p = root / f"{SYMBOL}-{i:04d}.parquet"
        write_canonical_parquet(table.slice(i * per_file, per_file).to_batches(), p)
        os.utime(p, (PAST, PAST))
        paths.append(p)
    return paths


def _hashes(settings):
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        out = window_hashes_of(s, SYMBOL), trace_hashes_of(s, SYMBOL)
    wh.dispose()
    return out


def _wipe(settings):
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        for t in WIPE:
            s.delete(t)
    wh.dispose()


def test_live_and_dagster_give_identical_hashes(settings_env, ephemeral_instance, trained, mlflow_uri, tmp_path):
    settings = settings_env
    state, experts, shadows = trained
    files = _landing_files(tmp_path / "feed")
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        publish_router_version(s, state, reason="parity test")

    # live: each file as it lands, one micro-batch per file
    live_dir = tmp_path / "live_landing"
    live_dir.mkdir()
    proc = LiveProcessor(wh, settings.tenant_id, Lake(tmp_path / "live_lake"),
                         decisions=DecisionContext(state, experts, list(shadows)))
    for f in files:
        shutil.copy(f, live_dir / f.name)
        mb = proc.process_path(live_dir / f.name)
        assert mb is not None and mb.ticks > 0 and mb.traces > 0
    assert proc.process_path(live_dir / files[0].name) is None  # a known file is not processed twice
    wh.dispose()
    live = _hashes(settings)
    assert live[0] and len(live[1]) == len(live[0])

    # Dagster: the sensor requests one market run (raw → windows → decisions) per file as each lands
    _wipe(settings)
    resources = {**resources_for(settings), "mlflow": MlflowResource(tracking_uri=mlflow_uri)}
    sensor, lag_sensor = build_tick_landing_sensors(10)
    defs = dg.Definitions(assets=list(catalog.assets), jobs=list(catalog.jobs), sensors=[sensor], resources=resources)
    cursor = None
    for f in files:
        shutil.copy(f, settings.ticks_landing / f.name)
        os.utime(settings.ticks_landing / f.name, (PAST, PAST))
        res = sensor.evaluate_tick(sensor_context(ephemeral_instance, defs, resources, cursor))
        apply_sensor_result(ephemeral_instance, res)
        [req] = res.run_requests
        run = execute_request(defs, ephemeral_instance, resources, req, "market_partition_job")
        assert run.success
        cursor = res.cursor
    assert _hashes(settings) == live

    # processed: even with the cursor lost the index says so, and nothing is requested
    assert sensor.evaluate_tick(sensor_context(ephemeral_instance, defs, resources, None)).run_requests == []
    # market_run_lag_sensor: file landed → run finished, as telemetry and as an observation on the windows
    lag_sensor(dg.build_run_status_sensor_context("market_run_lag_sensor", run.get_run_success_event(),
                                                  ephemeral_instance, run.dagster_run, resources=resources))
    obs = ephemeral_instance.fetch_observations(dg.AssetKey("market_feature_windows"), limit=1).records
    assert obs and obs[0].partition_key == req.partition_key
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        [lag] = read_events(s, ["flow.market.lag_ms"])
    wh.dispose()
    assert lag.tags == {"path": "dagster", "partition": f"2024-01|{SYMBOL}"} and lag.value > 3_000_000  # landed 1 h ago
