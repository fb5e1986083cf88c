"""tick_landing_sensor: new tick files → symbols added → one market run per partition touched.

Each tick of the sensor scans ``$THUNDERLINE_LANDING_DIR/ticks/`` (see
:mod:`thunderline.flow.landing_scan`), adds symbols it has not seen as dynamic
partitions and requests one ``market_partition_job`` run (raw → windows →
decisions) per month × symbol partition touched. The run key is the partition plus
the sha256 of the files that feed it, so a file is processed once: re-seen after a
daemon restart, copied under another name, or dropped again, it requests nothing
new. The cursor is a JSON stat cache.

The sensor also advances the backpressure ladder once per tick (lag p95 from
``flow.market.lag_ms`` events since the previous tick, backlog = files indexed but
not processed) and configures the runs it requests with the ladder's window
settings. ``market_run_lag_sensor`` closes the loop: when a market run succeeds it
records ``flow.market.lag_ms`` (file landed → run finished) and attaches it to the
partition of ``market_feature_windows`` as an observation the UI plots.
"""

from __future__ import annotations

import time

import dagster as dg

from jobs.keys import MARKET_JOB, PARTITION_TAG, TRIGGER_TAG, month_symbol_key, symbols
from resources import WarehouseResource
from resources.landing import LandingResource
from sensors._common import dump_cursor, load_cursor, ready_warehouse
from thunderline.flow.backpressure import BackpressureLadder, FlowSettings, LadderState, effective_settings
from thunderline.flow.landing_scan import PartitionWork, backlog, scan_landing
from thunderline.flow.tick_files import classify_tick_file
from thunderline.run_tags import tags_for_warehouse
from thunderline.telemetry import emit, now_us

LANDED_TAG = "thunderline/landed_at_us"
FILES_TAG = "thunderline/landing_files"
LEVEL_TAG = "thunderline/backpressure_level"
LADDER = BackpressureLadder("market")
BASE = FlowSettings()


def window_run_config(settings: FlowSettings) -> dict:
    """Run config for the window and decision assets when the ladder changed them (else empty)."""
    ops: dict = {}
    if (settings.width_ms, settings.overlap, settings.recipe) != (BASE.width_ms, BASE.overlap, BASE.recipe):
        ops["market_feature_windows"] = {"config": {
            "recipe": settings.recipe, "width_ms": settings.width_ms, "overlap": settings.overlap}}
    if settings.p != BASE.p or settings.abstain_experts:
        ops["decision_traces"] = {"config": {"p_shift": round(max(0.0, BASE.p - settings.p), 12),
                                             "abstain_experts": list(settings.abstain_experts)}}
    return {"ops": ops} if ops else {}


def market_run_request(work: PartitionWork, state: LadderState, trigger: str,
                       run_tags: dict[str, str] | None = None) -> dg.RunRequest:
    month, symbol = work.partition.split("|")
    return dg.RunRequest(
        run_key=work.run_key,
        partition_key=month_symbol_key(f"{month}-01", symbol),
        run_config=window_run_config(effective_settings(BASE, state, LADDER.policy)),
        tags={**(run_tags or {}), TRIGGER_TAG: trigger, PARTITION_TAG: work.partition, LANDED_TAG: str(work.landed_at_us),
              FILES_TAG: ",".join(s[:16] for s in work.shas)[:4000], LEVEL_TAG: str(state.level)},
    )


def evaluate_tick_landing(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                          landing: LandingResource) -> dg.SensorResult:
    cursor = load_cursor(context)
    t_now = now_us()
    with ready_warehouse(warehouse) as wh, wh.session(warehouse.tenant_id) as s:
        scan = scan_landing(s, "ticks", landing.ticks, classify_tick_file, cursor.get("scan"),
                            store=landing.content_store(warehouse.tenant_id))
        waiting = backlog(s, "ticks")
        emit(s, "flow.market.backlog", waiting, {"path": "dagster"}, ts=t_now)
        state, change = LADDER.observe_interval(s, t_now, backlog=waiting)
    if change is not None:
        context.log.info(f"backpressure: {change.direction} {change.step} → level {change.level_after}")
    for f in scan.rejected:
        context.log.warning(f"landing file rejected (quarantined): {f.path}: {f.detail}")
    known = set(context.instance.get_dynamic_partitions(symbols.name))
    new_symbols = sorted({w.partition.split("|")[1] for w in scan.work} - known)
    tags = tags_for_warehouse(wh, warehouse.tenant_id, "sensor:tick_landing_sensor") if scan.work else {}
    return dg.SensorResult(
        run_requests=[market_run_request(w, state, "tick_landing_sensor", tags) for w in scan.work],
        dynamic_partitions_requests=[symbols.build_add_request(new_symbols)] if new_symbols else [],
        cursor=dump_cursor({"scan": scan.cursor}),
    )


def evaluate_market_run_lag(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    landed = run.tags.get(LANDED_TAG)
    if run.job_name != MARKET_JOB or not landed:
        return dg.SkipReason(f"run {run.run_id} is not a landing-triggered {MARKET_JOB} run")
    stats = context.instance.get_run_stats(run.run_id)
    end_us = int((stats.end_time or time.time()) * 1e6)
    lag_ms = max(0.0, (end_us - int(landed)) / 1000.0)
    partition = run.tags.get(PARTITION_TAG, "")
    with ready_warehouse(warehouse) as wh, wh.session(warehouse.tenant_id) as s:
        emit(s, "flow.market.lag_ms", lag_ms, {"path": "dagster", "partition": partition}, ts=end_us)
    if run.tags.get("dagster/partition"):
        context.instance.report_runless_asset_event(dg.AssetObservation(
            asset_key="market_feature_windows", partition=run.tags["dagster/partition"],
            metadata={"flow.market.lag_ms": dg.MetadataValue.float(lag_ms), "run_id": run.run_id}))
    return None


def build_tick_landing_sensors(interval_s: int) -> list[dg.SensorDefinition]:
    @dg.sensor(name="tick_landing_sensor", job_name=MARKET_JOB, minimum_interval_seconds=interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="New tick files in the landing area → symbols added → one market run per partition "
                           "touched (run key: partition + file sha256s); advances the backpressure ladder.")
    def tick_landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                            landing: LandingResource) -> dg.SensorResult:
        return evaluate_tick_landing(context, warehouse, landing)

    @dg.run_status_sensor(name="market_run_lag_sensor", run_status=dg.DagsterRunStatus.SUCCESS,
                          minimum_interval_seconds=interval_s, default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Records flow.market.lag_ms (file landed → market run finished).")
    def market_run_lag_sensor(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
        return evaluate_market_run_lag(context, warehouse)

    return [tick_landing_sensor, market_run_lag_sensor]
