"""edgar_fill_sensor: filings create open windows; a late XBRL instance requests a run that fills them."""

from __future__ import annotations

import os
import shutil

import dagster as dg
from orch_helpers import PAST, execute_request, resources_for, sensor_context

from sensors.edgar_fill import accessions_named, build_edgar_sensors
from thunderline.edgar.demo_filings import write_demo_filings
from thunderline.store import Warehouse
from thunderline.telemetry import read_events
from thunderline_assets.definitions import build_definitions

catalog = build_definitions(resources={})  # every domain's assets, jobs, schedules and sensors


def _windows(settings):
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        t = s.table("feature_windows")
        rows = s.select("feature_windows", t.c.kind == "edgar")
    wh.dispose()
    return {w["provenance"]["accession"]: w["status"] for w in rows}


def _drop(paths, landing):
    for p in paths:
        shutil.copy(p, landing)
        os.utime(landing / p.name, (PAST, PAST))


def test_filings_open_windows_and_late_xbrl_fills_them(settings_env, ephemeral_instance, tmp_path):
    settings, instance = settings_env, ephemeral_instance
    resources = resources_for(settings)
    sensor, telemetry_sensor = build_edgar_sensors(10)
    defs = dg.Definitions(assets=list(catalog.assets), jobs=list(catalog.jobs), sensors=[sensor, telemetry_sensor],
                          resources=resources)
    demo = write_demo_filings(tmp_path / "demo")
    late = [p for p in demo.files if p.suffix == ".xml"]
    ten_q = [p for p in demo.files if p.name == "0000999001-25-000030.txt"]
    _drop([demo.submissions_json, *ten_q], settings.edgar_landing)

    first = sensor.evaluate_tick(sensor_context(instance, defs, resources))
    [opened] = first.run_requests
    assert opened.run_key.startswith(f"edgar:{opened.partition_key[:7]}:0000999001-25-000030:")  # its accession
    result = execute_request(defs, instance, resources, opened, "edgar_partition_job")
    assert result.success
    assert _windows(settings)["0000999001-25-000030"] == "open"
    telemetry_sensor(dg.build_run_status_sensor_context("edgar_run_telemetry_sensor", result.get_run_success_event(),
                                                        instance, result.dagster_run, resources=resources))

    assert sensor.evaluate_tick(sensor_context(instance, defs, resources, first.cursor)).run_requests == []
    _drop(late, settings.edgar_landing)
    fill = sensor.evaluate_tick(sensor_context(instance, defs, resources, first.cursor))
    [req] = fill.run_requests
    assert req.partition_key == opened.partition_key and ":-:" in req.run_key  # a bare instance names no accession
    assert execute_request(defs, instance, resources, req, "edgar_partition_job").success
    assert _windows(settings)["0000999001-25-000030"] == "filled"

    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        [thr] = read_events(s, ["flow.edgar.throughput"])
    wh.dispose()
    assert thr.value > 0 and thr.tags["documents"] >= 1


def test_accession_numbers_come_from_name_or_header(tmp_path):
    p = tmp_path / "0000320193-24-000123.txt"
    p.write_text("<SEC-HEADER>\nACCESSION NUMBER:\t0000320193-24-000123\n")
    q = tmp_path / "filing.txt"
    q.write_text("junk\nACCESSION NUMBER:\t0000111111-23-000001\n and later 0000222222-23-000002\n")
    assert accessions_named(p) == ["0000320193-24-000123"]
    assert accessions_named(q) == ["0000111111-23-000001"]
    assert accessions_named(tmp_path / "missing.xml") == []
