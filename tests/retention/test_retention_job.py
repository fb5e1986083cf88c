"""The retention job in the definitions: its nightly schedule asks for a run, and a run on a real Dagster
instance tiers the months past the tenant's hot horizon (and only those) to the configured cold location."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from tiering_home import MONTH, SYMBOL

from thunderline.config import load_settings
from thunderline.store.lake import Lake


def test_the_nightly_schedule_runs_the_job_that_tiers_months_past_the_hot_horizon(alpha_lake, tmp_path):
    from resources import LakeResource, WarehouseResource, build_resources
    from thunderline_assets.definitions import build_definitions

    home = alpha_lake
    settings = load_settings({"THUNDERLINE_HOME": str(tmp_path / "tl"), "THUNDERLINE_WAREHOUSE_URL": home.warehouse.url,
                              "THUNDERLINE_TENANT": "alpha", "THUNDERLINE_COLD_URL": home.cold_url,
                              "THUNDERLINE_RETENTION": "alpha.raw_ticks.hot=60"})
    resources = {**build_resources(settings), "warehouse": WarehouseResource(url=home.warehouse.url, tenant_id="alpha"),
                 "lake": LakeResource(root=str(home.lake_dir))}
    defs = build_definitions(settings, resources=resources)
    schedule = defs.get_schedule_def("nightly_retention_tiering")
    job = defs.get_job_def("retention_tiering_job")
    assert schedule.job_name == job.name and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:
        def tick(day: dt.datetime):
            with dg.build_schedule_context(instance=instance, scheduled_execution_time=day) as ctx:
                request = schedule.evaluate_tick(ctx).run_requests[0]
            return job.execute_in_process(run_config=request.run_config, instance=instance, resources=resources)

        early = tick(dt.datetime(2012, 8, 15, 4, tzinfo=dt.timezone.utc))  # 45 days after June: still hot
        assert early.success and early.output_for_node("tier_lake_months") == 0
        assert Lake(home.lake_dir).batch_files("alpha", MONTH, SYMBOL)
        late = tick(dt.datetime(2012, 9, 15, 4, tzinfo=dt.timezone.utc))
        assert late.success and late.output_for_node("tier_lake_months") == 1
    assert Lake(home.lake_dir).batch_files("alpha", MONTH, SYMBOL) == []
    with home.warehouse.session("alpha") as s:
        audit = s.select("retention_audit")
    assert [a["actor"] for a in audit] == [f"dagster:{late.run_id}"]
    assert audit[0]["detail"]["cold_url"] == f"{home.cold_url}/tenant=alpha/ticks/month={MONTH}"
