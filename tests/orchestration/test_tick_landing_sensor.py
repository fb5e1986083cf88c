"""tick_landing_sensor against real Dagster instances, daemon-free (evaluate_tick), on both backends.

A dropped file requests one run per partition touched, keyed by file sha256; the run
produces windows; the same file again (same name, another name, a lost cursor)
requests nothing; a new symbol becomes a dynamic partition in the same tick.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import dagster as dg
import pytest
from orch_helpers import apply_sensor_result, resources_for, sensor_context, write_ticks

from sensors.tick_landing import build_tick_landing_sensors
from thunderline.store import Warehouse
from thunderline.telemetry import read_events
from thunderline_assets.definitions import build_definitions

catalog = build_definitions(resources={})  # every domain's assets, jobs, schedules and sensors


@pytest.fixture
def stack(request, settings_env, dagster_instance):
    resources = resources_for(settings_env)
    sensors = build_tick_landing_sensors(10)
    defs = dg.Definitions(assets=list(catalog.assets), jobs=list(catalog.jobs), sensors=sensors, resources=resources)
    return settings_env, dagster_instance, defs, resources, sensors[0]


def _rows(settings, table, **where):
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        t = s.table(table)
        out = s.select(table, *[t.c[k] == v for k, v in where.items()])
    wh.dispose()
    return out


@pytest.mark.parametrize("warehouse_url,dagster_instance", [("sqlite", "ephemeral"), ("postgres", "postgres")],
                         indirect=True)
def test_dropped_file_requests_one_run_per_partition_and_new_symbols_become_partitions(stack):
    settings, instance, defs, resources, sensor = stack
    f = write_ticks(settings.ticks_landing / "2024-01-02" / "SNA.parquet", "SNA")
    res = sensor.evaluate_tick(sensor_context(instance, defs, resources))
    [req] = res.run_requests
    assert req.partition_key == "2024-01-01|SNA"
    sha = _rows(settings, "landing_files")[0]["id"]
    assert req.run_key == f"ticks:2024-01|SNA:{sha}"
    assert req.tags["thunderline/partition"] == "2024-01|SNA" and req.run_config == {}
    assert [list(r.partition_keys) for r in res.dynamic_partitions_requests] == [["SNA"]]
    apply_sensor_result(instance, res)
    assert instance.get_dynamic_partitions("symbols") == ["SNA"]

    # the same file again: the next tick requests nothing; under another name, or with the cursor lost
    # (daemon state reset) before its run finished, it is requested under the same run key, which Dagster
    # never launches twice (once processed, nothing is requested at all: see test_live_parity)
    again = sensor.evaluate_tick(sensor_context(instance, defs, resources, res.cursor))
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    shutil.copy(f, settings.ticks_landing / "SNA-copy.parquet")
    os.utime(settings.ticks_landing / "SNA-copy.parquet", (0, 0))
    copy = sensor.evaluate_tick(sensor_context(instance, defs, resources, again.cursor))
    assert [r.run_key for r in copy.run_requests] == [req.run_key]
    assert json.loads(copy.cursor)["scan"]["files"].keys() == {"2024-01-02/SNA.parquet", "SNA-copy.parquet"}
    fresh = sensor.evaluate_tick(sensor_context(instance, defs, resources, None))
    assert [r.run_key for r in fresh.run_requests] == [req.run_key]

    # a new symbol and a second month of a known one: two partitions, one new dynamic partition
    write_ticks(settings.ticks_landing / "SNB.parquet", "SNB", seed=2)
    write_ticks(settings.ticks_landing / "SNA-feb.parquet", "SNA", seed=3, start_us=1_706_884_200_000_000)
    more = sensor.evaluate_tick(sensor_context(instance, defs, resources, copy.cursor))
    assert sorted(r.partition_key for r in more.run_requests) == ["2024-01-01|SNB", "2024-02-01|SNA"]
    assert [list(r.partition_keys) for r in more.dynamic_partitions_requests] == [["SNB"]]
    # every tick measured the backlog (files indexed, not yet processed) for the ladder
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        backlog = [e.value for e in read_events(s, ["flow.market.backlog"])]
    wh.dispose()
    assert backlog == [1, 1, 1, 1, 3]


def test_unreadable_file_is_quarantined_and_requests_nothing(settings_env, ephemeral_instance):
    resources = resources_for(settings_env)
    [sensor, _] = build_tick_landing_sensors(10)
    defs = dg.Definitions(assets=list(catalog.assets), jobs=list(catalog.jobs), sensors=[sensor], resources=resources)
    bad = settings_env.ticks_landing / "garbage.csv"
    bad.write_text("not,a,tick,file\n1,2,3,4\n")
    os.utime(bad, (0, 0))
    res = sensor.evaluate_tick(sensor_context(ephemeral_instance, defs, resources))
    assert res.run_requests == []
    q = _rows(settings_env, "quarantine")
    assert len(q) == 1 and q[0]["source"].endswith("garbage.csv") and q[0]["reason"]


def test_only_the_code_locations_tenant_files_are_indexed(settings_env, ephemeral_instance):
    resources = resources_for(settings_env)
    [sensor, _] = build_tick_landing_sensors(10)
    defs = dg.Definitions(assets=list(catalog.assets), jobs=list(catalog.jobs), sensors=[sensor], resources=resources)
    write_ticks(settings_env.ticks_landing / "tenant=acme" / "2024-01-02" / "ACM.parquet", "ACM")
    write_ticks(settings_env.ticks_landing / "tenant=default" / "2024-01-02" / "DFT.parquet", "DFT", seed=2)
    write_ticks(settings_env.ticks_landing / "operator-drop.parquet", "OPD", seed=3)
    res = sensor.evaluate_tick(sensor_context(ephemeral_instance, defs, resources))
    assert sorted(r.partition_key for r in res.run_requests) == ["2024-01-01|DFT", "2024-01-01|OPD"]
    assert {r["path"].split("/")[-1] for r in _rows(settings_env, "landing_files")} == {"DFT.parquet",
                                                                                     "operator-drop.parquet"}


def test_a_file_still_being_written_waits_for_the_next_tick(settings_env, ephemeral_instance):
    resources = resources_for(settings_env)
    [sensor, _] = build_tick_landing_sensors(10)
    defs = dg.Definitions(assets=list(catalog.assets), jobs=list(catalog.jobs), sensors=[sensor], resources=resources)
    f = write_ticks(settings_env.ticks_landing / "SNC.parquet", "SNC")
    t = time.time() + 60  # modified "just now" however slow this machine is: not settled (settle_s is 1 s)
    os.utime(f, (t, t))
    res = sensor.evaluate_tick(sensor_context(ephemeral_instance, defs, resources))
    assert res.run_requests == [] and _rows(settings_env, "landing_files") == []
    os.utime(f, (0, 0))
    res = sensor.evaluate_tick(sensor_context(ephemeral_instance, defs, resources, res.cursor))
    assert [r.partition_key for r in res.run_requests] == ["2024-01-01|SNC"]


def test_lobster_message_file_waits_for_its_orderbook_partner(tmp_path, datasets):
    """The scan alone (backend-agnostic): a rejected file is retried when its partner lands."""
    from thunderline.flow.landing_scan import scan_landing
    from thunderline.flow.tick_files import classify_tick_file

    src = datasets / "market" / "lobster"
    name = "AMZN_2012-06-21_34200000_57600000_{}_1.csv"
    dst = tmp_path / "ticks"
    dst.mkdir()
    wh = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    wh.init_schema()
    shutil.copy(src / name.format("message"), dst)
    os.utime(dst / name.format("message"), (0, 0))
    with wh.session("default") as s:
        first = scan_landing(s, "ticks", dst, classify_tick_file, None)
    assert [f.status for f in first.landed] == ["rejected"] and first.work == []
    with wh.session("default") as s:  # nothing new: the rejected file is not re-read
        assert scan_landing(s, "ticks", dst, classify_tick_file, first.cursor).landed == []
    shutil.copy(src / name.format("orderbook"), dst)
    os.utime(dst / name.format("orderbook"), (0, 0))
    with wh.session("default") as s:
        second = scan_landing(s, "ticks", dst, classify_tick_file, first.cursor)
    wh.dispose()
    assert [w.partition for w in second.work] == ["2012-06|AMZN"]
    assert sorted(f.status for f in second.landed) == ["indexed", "indexed"]


def test_runs_requested_under_backpressure_carry_the_ladder_settings():
    from sensors.tick_landing import market_run_request
    from thunderline.flow.backpressure import LadderState
    from thunderline.flow.landing_scan import PartitionWork

    work = PartitionWork("ticks", "2024-01|SNA", ("ab" * 32,), ("/x",), 0)
    cfg = market_run_request(work, LadderState(level=4), "t").run_config
    # level 4: widened window, zero overlap, p lowered by 0.05, coarse recipe
    assert cfg == {"ops": {
        "market_feature_windows": {"config": {"recipe": "coarse", "width_ms": 375.0, "overlap": 0.0}},
        "decision_traces": {"config": {"p_shift": 0.05, "abstain_experts": []}}}}
    assert market_run_request(work, LadderState(), "t").run_config == {}
