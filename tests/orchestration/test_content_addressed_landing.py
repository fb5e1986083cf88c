"""The landing sensor and ``thunderline live`` index through the same content store as ``thunderline ingest``.

Issue 16, item 9 made landing content content-addressed for ``ingest`` only: a file the sensor or
``live`` indexed was still read from its landing path, so archiving it broke its partition, and
the same bytes seen by two of the three paths were read from different places. Here a file seen
first by the sensor, then (same bytes, another name, the original archived) by ``live``, is one
content id with one stored copy, read from that copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from orch_helpers import resources_for, sensor_context, write_ticks

from sensors.tick_landing import build_tick_landing_sensors
from thunderline.flow.live import LiveProcessor
from thunderline.store import Warehouse
from thunderline.store.content import tenant_store
from thunderline.store.lake import Lake
from thunderline_assets.definitions import build_definitions

catalog = build_definitions(resources={})


def _rows(settings, table):
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        out = s.select(table)
    wh.dispose()
    return out


@pytest.mark.parametrize("warehouse_url,dagster_instance", [("sqlite", "ephemeral"), ("postgres", "postgres")],
                         indirect=True)
def test_sensor_and_live_deduplicate_by_content_through_the_ingest_store(settings_env, dagster_instance):
    settings = settings_env
    resources = resources_for(settings)
    sensor = build_tick_landing_sensors(10)[0]
    defs = dg.Definitions(assets=list(catalog.assets), jobs=list(catalog.jobs), sensors=[sensor], resources=resources)
    store = tenant_store(settings.landed_dir, settings.tenant_id)  # the store `thunderline ingest` indexes into

    first = write_ticks(settings.ticks_landing / "2024-01-02" / "CAS.parquet", "CAS")
    [req] = sensor.evaluate_tick(sensor_context(dagster_instance, defs, resources)).run_requests
    [row], [copy] = _rows(settings, "landing_files"), _rows(settings, "landed_content")
    assert copy["id"] == row["id"] and req.run_key.endswith(row["id"])
    assert Path(copy["stored_path"]).parent.parent.parent.parent == store.root
    assert Path(copy["stored_path"]).read_bytes() == first.read_bytes()

    # the operator archives the file; the same bytes land again under another name and `live` picks them up
    again = settings.ticks_landing / "2024-01-03" / "CAS-resent.parquet"
    again.parent.mkdir(parents=True)
    shutil.copy(first, again)
    first.unlink()
    wh = Warehouse(settings.warehouse_url)
    proc = LiveProcessor(wh, settings.tenant_id, Lake(settings.lake_dir), store=store)
    mb = proc.process_path(again)  # known content, not yet processed: read from the stored copy
    assert mb is not None and mb.ticks == 2_000
    assert proc.process_path(again) is None  # processed once

    # new content seen first by `live` is stored there too, and the sensor then knows it
    other = write_ticks(settings.ticks_landing / "2024-01-04" / "CAS.parquet", "CAS", seed=2,
                        start_us=1_704_292_200_000_000)
    assert proc.process_path(other).ticks == 2_000
    wh.dispose()
    res = sensor.evaluate_tick(sensor_context(dagster_instance, defs, resources))
    assert res.run_requests == []
    files, copies = _rows(settings, "landing_files"), _rows(settings, "landed_content")
    assert len(files) == len(copies) == 2 and {f["status"] for f in files} == {"processed"}
    assert all(Path(c["stored_path"]).exists() and Path(c["stored_path"]).is_relative_to(store.root) for c in copies)
