"""EDGAR assets: raw_filings (parsed documents) and edgar_feature_windows (open → filled → superseded).

Monthly partitions by acceptance time; the CIK is a column. Thin: each asset
calls one function of :mod:`thunderline.flow.edgar_partition`.
"""

import time

import dagster as dg

from jobs.keys import WAREHOUSE_POOL, Partitions
from jobs.metadata import clean, table_definition_metadata
from jobs.partition_jobs import edgar_partition_job
from jobs.schedules import build_edgar_backfill
from resources import WarehouseResource
from sensors.edgar_fill import build_edgar_sensors
from sensors.edgar_poll import build_edgar_poll_sensor
from thunderline.config import Settings
from thunderline.faults import fault_point
from thunderline.flow.edgar_partition import build_edgar_window_partition, ingest_filing_partition
from thunderline.store import schema
from thunderline_assets.asset_specs import AssetSpecs

ASSETS = AssetSpecs()  # raw_filings → edgar_feature_windows, made per Settings (asset_specs.py)
OWNERS = ["team:fundamentals"]


def _month(context: dg.AssetExecutionContext) -> str:
    return context.partition_key[:7]


@ASSETS.asset(
    "months",
    pool=WAREHOUSE_POOL,
    group_name="edgar",
    kinds={"sql", "xbrl"},
    owners=OWNERS,
    description="SEC filings from the landing area parsed into EDGARDoc rows (sections + XBRL facts), by acceptance month.",
    metadata=table_definition_metadata(schema.raw_edgar_docs),
    checks=[("parse_failures", "every landing file of the month parsed (failures are quarantined)")],
)
def raw_filings(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    t0 = time.perf_counter()
    with warehouse.session() as s:
        summary = ingest_filing_partition(s, _month(context))
    fault_point("raw_filings.committed")
    context.log.info(f"{summary.partition}: {summary.documents} documents from {summary.files} files, "
                     f"{summary.rejected} quarantined in {time.perf_counter() - t0:.2f}s")
    yield dg.MaterializeResult(metadata=clean({
        "files": summary.files,
        "documents": summary.documents,
        "rejected": summary.rejected,
        "reject_reasons": dg.MetadataValue.json(summary.reject_reasons),
        "by_kind": dg.MetadataValue.json(summary.by_kind),
        "ciks": dg.MetadataValue.json(summary.ciks),
    }))
    yield dg.AssetCheckResult(check_name="parse_failures", passed=summary.rejected == 0,
                              severity=dg.AssetCheckSeverity.WARN,
                              metadata=clean({"rejected": summary.rejected,
                                        "reasons": dg.MetadataValue.json(summary.reject_reasons)}))


@ASSETS.asset(
    "months",
    pool=WAREHOUSE_POOL,
    deps=["raw_filings"],
    group_name="edgar",
    kinds={"sql"},
    owners=OWNERS,
    description="Point-in-time filing features per CIK (fundamentals, deltas, text change); open → filled → superseded.",
    metadata=table_definition_metadata(schema.feature_windows),
)
def edgar_feature_windows(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.session() as s:
        summary = build_edgar_window_partition(s, _month(context))
    fault_point("edgar_feature_windows.committed")
    return dg.MaterializeResult(metadata=clean({
        "ciks": summary.ciks,
        "windows": summary.windows,
        "by_status": dg.MetadataValue.json(summary.by_status),
        "stale_removed": summary.stale_removed,
        "lineage_edges": summary.lineage_edges,
    }))


def defs(settings: Settings, parts: Partitions) -> dg.Definitions:
    """The EDGAR domain: filings → windows, its partition job, monthly backfill, fill and poll sensors."""
    return dg.Definitions(assets=ASSETS.build(parts, settings), jobs=[edgar_partition_job],
                          schedules=[build_edgar_backfill(parts)],
                          sensors=[*build_edgar_sensors(settings.sensor_interval_s),
                                   build_edgar_poll_sensor(settings.sensor_interval_s, settings)])
