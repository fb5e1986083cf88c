"""edgar_fill_sensor: new filings, late sections or late XBRL → the month's EDGAR run (open → filled).

Each tick indexes new files under ``$THUNDERLINE_LANDING_DIR/edgar/`` (submissions
JSON first, so bare XBRL instances can be dated) and requests one
``edgar_partition_job`` run per acceptance month touched. The run recomputes the
windows of every CIK filed that month, so a filing's first documents create an
``open`` window and a late XBRL instance or section fills it. Run keys name the
accession numbers the files carry plus the files' sha256, so the same filing
re-sent is recognised and a late part of it still gets its own run.
``edgar_run_telemetry_sensor`` records ``flow.edgar.throughput`` for each
successful run.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import dagster as dg

from jobs.keys import EDGAR_JOB, PARTITION_TAG, TRIGGER_TAG
from resources import WarehouseResource
from resources.landing import LandingResource
from sensors._common import dump_cursor, load_cursor, ready_warehouse
from thunderline.flow.landing_scan import PartitionWork, scan_landing
from thunderline.run_tags import tags_for_warehouse
from thunderline.telemetry import emit

ACCESSION_RE = re.compile(rb"\b(\d{10}-\d{2}-\d{6})\b")
ACCESSIONS_TAG = "thunderline/accessions"
HEAD_BYTES = 1 << 16


def accessions_named(path: str | Path) -> list[str]:
    """Accession numbers a file names in its file name or its first 64 KiB (SGML header, JSON, XBRL).

    A bare XBRL instance names none (its accession comes from the submissions JSON at
    parse time); its run key then rests on the file's sha256 alone.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return []
    found = set(ACCESSION_RE.findall(p.name.encode())) or set(ACCESSION_RE.findall(head)[:1])
    return sorted(a.decode() for a in found)


def edgar_run_key(work: PartitionWork, accessions: list[str]) -> str:
    return f"edgar:{work.partition}:{'+'.join(accessions) or '-'}:{work.run_key.rsplit(':', 1)[1]}"


def edgar_run_request(work: PartitionWork, run_tags: dict[str, str] | None = None) -> dg.RunRequest:
    accessions = sorted({a for p in work.paths for a in accessions_named(p)})
    return dg.RunRequest(
        run_key=edgar_run_key(work, accessions),
        partition_key=f"{work.partition}-01",
        tags={**(run_tags or {}), TRIGGER_TAG: "edgar_fill_sensor", PARTITION_TAG: work.partition,
              ACCESSIONS_TAG: ",".join(accessions)[:4000]},
    )


def evaluate_edgar_fill(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                        landing: LandingResource) -> dg.SensorResult:
    from thunderline.flow.edgar_partition import landing_classifier, submissions_first

    cursor = load_cursor(context)
    with ready_warehouse(warehouse) as wh, wh.session(warehouse.tenant_id) as s:
        scan = scan_landing(s, "edgar", landing.edgar, landing_classifier(s), cursor.get("scan"),
                            order=submissions_first, store=landing.content_store(warehouse.tenant_id))
    for f in scan.rejected:
        context.log.warning(f"EDGAR landing file rejected (quarantined): {f.path}: {f.detail}")
    tags = tags_for_warehouse(warehouse.get(), warehouse.tenant_id, "sensor:edgar_fill_sensor") if scan.work else {}
    return dg.SensorResult(run_requests=[edgar_run_request(w, tags) for w in scan.work],
                           cursor=dump_cursor({"scan": scan.cursor}))


def evaluate_edgar_run_telemetry(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    if run.job_name != EDGAR_JOB:
        return dg.SkipReason(f"run {run.run_id} is not an {EDGAR_JOB} run")
    docs = 0
    for rec in context.instance.fetch_materializations(dg.AssetKey("raw_filings"), limit=50).records:
        if rec.run_id == run.run_id and "documents" in rec.asset_materialization.metadata:
            docs += int(rec.asset_materialization.metadata["documents"].value)
    stats = context.instance.get_run_stats(run.run_id)
    seconds = max(1e-3, (stats.end_time or time.time()) - (stats.start_time or stats.launch_time or time.time()))
    with ready_warehouse(warehouse) as wh, wh.session(warehouse.tenant_id) as s:
        emit(s, "flow.edgar.throughput", docs / seconds,
             {"partition": run.tags.get(PARTITION_TAG, run.tags.get("dagster/partition", "")), "documents": docs},
             ts=int((stats.end_time or time.time()) * 1e6))
    return None


def build_edgar_sensors(interval_s: int) -> list[dg.SensorDefinition]:
    @dg.sensor(name="edgar_fill_sensor", job_name=EDGAR_JOB, minimum_interval_seconds=interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="New EDGAR files (filings, late sections, late XBRL) → the acceptance month's EDGAR run, "
                           "which creates or fills windows; keyed by accession number + file sha256.")
    def edgar_fill_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                          landing: LandingResource) -> dg.SensorResult:
        return evaluate_edgar_fill(context, warehouse, landing)

    @dg.run_status_sensor(name="edgar_run_telemetry_sensor", run_status=dg.DagsterRunStatus.SUCCESS,
                          minimum_interval_seconds=interval_s, default_status=dg.DefaultSensorStatus.RUNNING,
                          description="Records flow.edgar.throughput (documents per second) of each EDGAR run.")
    def edgar_run_telemetry_sensor(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
        return evaluate_edgar_run_telemetry(context, warehouse)

    return [edgar_fill_sensor, edgar_run_telemetry_sensor]
