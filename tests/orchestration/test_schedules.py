"""Schedules emit the right partitions; the nightly jobs split observability assets by partitioning;
the telemetry summary asset attaches a table and plottable numbers."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from orch_helpers import resources_for

from jobs.keys import build_partitions
from jobs.partition_jobs import JOBS as PARTITION_JOBS
from jobs.schedules import build_edgar_backfill, build_market_backfill, build_nightly, last_complete_month
from thunderline.config import load_settings
from thunderline.store import Warehouse
from thunderline.telemetry import EventBatch, now_us
from thunderline_assets.definitions import build_definitions

catalog = build_definitions(resources={})  # every domain's assets, jobs, schedules and sensors
parts = build_partitions(load_settings(create_dirs=False))  # the months the catalog was built with

UTC = dt.timezone.utc


def _resources():
    from resources import build_resources
    from thunderline.config import load_settings

    return build_resources(load_settings({"THUNDERLINE_HOME": "/nonexistent"}, create_dirs=False))


def _tick(schedule, instance, when, defs=None):
    repo = (defs or dg.Definitions(assets=list(catalog.assets), jobs=PARTITION_JOBS, schedules=[schedule],
                                   resources=_resources())).get_repository_def()
    return schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                                            repository_def=repo))


def test_monthly_backfill_is_the_month_that_ended_times_every_symbol(ephemeral_instance):
    when = dt.datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
    assert last_complete_month(when) == "2024-02-01"
    assert last_complete_month(dt.datetime(2024, 1, 1, tzinfo=UTC)) == "2023-12-01"
    ephemeral_instance.add_dynamic_partitions("symbols", ["SCHA", "SCHB"])
    monthly_market_backfill, monthly_edgar_backfill = build_market_backfill(parts), build_edgar_backfill(parts)
    res = _tick(monthly_market_backfill, ephemeral_instance, when)
    keys = sorted(r.partition_key for r in res.run_requests)
    assert {"2024-02-01|SCHA", "2024-02-01|SCHB"} <= set(keys)
    assert all(k.startswith("2024-02-01|") for k in keys)
    assert len({r.run_key for r in res.run_requests}) == len(keys)
    [edgar] = _tick(monthly_edgar_backfill, ephemeral_instance, when).run_requests
    assert edgar.partition_key == "2024-02-01"
    assert monthly_market_backfill.cron_schedule == "0 2 1 * *" and monthly_edgar_backfill.cron_schedule == "0 1 1 * *"


def test_nightly_jobs_split_by_partitioning(ephemeral_instance):
    @dg.asset(group_name="observability", partitions_def=parts.months)
    def drift_probe():
        return None

    @dg.asset(group_name="learning")
    def export_probe():
        return None

    jobs, schedules = build_nightly([*catalog.assets, drift_probe, export_probe], parts)
    by_name = {j.name: j for j in jobs}
    assert set(by_name) == {"nightly_observability_job", "nightly_drift_job"}
    drift = next(s for s in schedules if s.name == "nightly_drift")
    defs = dg.Definitions(assets=[*catalog.assets, drift_probe, export_probe], jobs=jobs, schedules=[drift],
                          resources=_resources())
    first = _tick(drift, ephemeral_instance, dt.datetime(2024, 3, 1, 3, 30, tzinfo=UTC), defs)
    assert [r.partition_key for r in first.run_requests] == ["2024-02-01", "2024-03-01"]
    mid = _tick(drift, ephemeral_instance, dt.datetime(2024, 3, 17, 3, 30, tzinfo=UTC), defs)
    assert [r.partition_key for r in mid.run_requests] == ["2024-03-01"]
    # the registered code location: the telemetry summary is in the nightly job, with its schedule
    assert "nightly_observability" in {s.name for s in catalog.schedules}
    assert {"tick_landing_sensor", "edgar_fill_sensor", "model_promotion_sensor", "market_run_lag_sensor",
            "edgar_run_telemetry_sensor"} <= {s.name for s in catalog.sensors}


def test_telemetry_summary_asset_metadata(settings_env):
    wh = Warehouse(settings_env.warehouse_url)
    wh.init_schema()
    t = now_us()
    with wh.session(settings_env.tenant_id) as s:
        b = EventBatch()
        for i in range(10):
            b.add("flow.market.lag_ms", float(i), {"path": "live"}, ts=t - 1000 - i)
        b.add("router.entropy", 1.5, ts=t - 5)
        b.add("router.entropy", 9.0, ts=t - 2 * 86_400_000_000)  # older than a day: not in the summary
        b.flush(s)
    wh.dispose()
    flow_telemetry = catalog.get_assets_def("flow_telemetry")
    res = dg.materialize([flow_telemetry], resources=resources_for(settings_env))
    md = res.get_asset_materialization_events()[0].materialization.metadata
    rows = {r.data["event"]: r.data for r in md["events"].value.records}
    assert rows["flow.market.lag_ms"]["count"] == 10 and rows["flow.market.lag_ms"]["unit"] == "ms"
    assert rows["router.entropy"]["last"] == 1.5
    assert md["p95/flow.market.lag_ms"].value == pytest.approx(8.55) and md["event_count"].value == 11
