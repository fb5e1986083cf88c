"""Market assets: raw_ticks (lake + quarantine + checks) and market_feature_windows (numba windows).

Thin by design: each asset opens one warehouse transaction, calls one function
of :mod:`thunderline.flow.tick_ingest` and :mod:`thunderline.flow.market_windows` and turns its summary into
metadata and check results a person reads in the UI.
"""


import time

import dagster as dg

from jobs.keys import WAREHOUSE_POOL, Partitions, split_key
from jobs.metadata import arrow_column_schema, clean, table_definition_metadata
from jobs.partition_jobs import market_partition_job
from jobs.schedules import build_market_backfill
from resources import LakeResource, WarehouseResource
from sensors.tick_landing import build_tick_landing_sensors
from thunderline.config import Settings
from thunderline.contracts import TICK_SCHEMA
from thunderline.faults import fault_point
from thunderline.flow.market_windows import build_window_partition
from thunderline.flow.tick_ingest import finalize_lake, ingest_tick_partition
from thunderline.store import schema
from thunderline_assets.asset_specs import AssetSpecs

ASSETS = AssetSpecs()  # raw_ticks → market_feature_windows, made per Settings (asset_specs.py)
OWNERS = ["team:market-data"]
REJECT_RATE_WARN = 0.01


class RawTicksConfig(dg.Config):
    chunk_rows: int = 262_144
    run_expectations: bool = True


def _progress_logger(context: dg.AssetExecutionContext, every: int = 2_000_000):
    seen = {"n": 0, "next": every}

    def tick(n: int) -> None:
        seen["n"] += n
        if seen["n"] >= seen["next"]:
            context.log.info(f"{seen['n']:,} ticks processed")
            seen["next"] += every

    return tick


@ASSETS.asset(
    "month_symbol",
    pool=WAREHOUSE_POOL,
    group_name="market",
    kinds={"parquet", "sql"},
    owners=OWNERS,
    description="Ticks from the landing area, validated, as Parquet batches in the lake (indexed in raw_tick_batches).",
    metadata={"dagster/column_schema": arrow_column_schema(TICK_SCHEMA)},
    checks=[("expectations", "Great Expectations suite on kept ticks"),
            ("reject_rate", f"rejected ≤ {REJECT_RATE_WARN:.0%} of rows read"),
            ("crossed_or_locked", "bid < ask (crossed/locked are flagged, kept)")],
)
def raw_ticks(context: dg.AssetExecutionContext, config: RawTicksConfig, warehouse: WarehouseResource,
              lake: LakeResource):
    month, symbol = split_key(context.partition_key)
    t0 = time.perf_counter()
    with warehouse.session() as s:
        summary = ingest_tick_partition(s, lake.get(), month, symbol, chunk_rows=config.chunk_rows,
                                        run_expectations=config.run_expectations,
                                        progress=_progress_logger(context))
    fault_point("raw_ticks.committed")
    removed = finalize_lake(lake.get(), warehouse.tenant_id, month, symbol, summary)
    fault_point("raw_ticks.finalized")
    elapsed = time.perf_counter() - t0
    rate = summary.rows_rejected / summary.rows_read if summary.rows_read else 0.0
    context.log.info(f"{summary.partition}: {summary.rows_read:,} read, {summary.rows_kept:,} kept, "
                     f"{summary.rows_rejected:,} quarantined, {summary.rows_duplicate:,} duplicates of earlier files "
                     f"in {elapsed:.2f}s")
    for bad in summary.files_rejected:
        context.log.warning(f"{summary.partition}: file rejected whole: {bad['path']}: {bad['reason']}")
    yield dg.MaterializeResult(metadata=clean({
        "files": summary.files,
        "rows_read": summary.rows_read,
        "rows_kept": summary.rows_kept,
        "rows_rejected": summary.rows_rejected,
        "rows_duplicate": summary.rows_duplicate,
        "reject_reasons": dg.MetadataValue.json(summary.reject_reasons),
        "files_duplicate": dg.MetadataValue.json(summary.files_duplicate),
        "files_rejected": dg.MetadataValue.json(summary.files_rejected),
        "batches": summary.batches,
        "stale_lake_files_removed": removed,
        "crossed_or_locked": summary.crossed_or_locked,
        "ticks_per_s": dg.MetadataValue.float(summary.rows_read / elapsed if elapsed else 0.0),
        "lake_partition": dg.MetadataValue.path(str(lake.get().partition_dir(warehouse.tenant_id, month, symbol))),
    }))
    yield expectations_result(summary.expectations, summary.rows_kept)
    yield dg.AssetCheckResult(check_name="reject_rate", passed=rate <= REJECT_RATE_WARN,
                              severity=dg.AssetCheckSeverity.WARN,
                              metadata=clean({"reject_rate": rate, "rows_rejected": summary.rows_rejected}))
    yield dg.AssetCheckResult(check_name="crossed_or_locked", passed=summary.crossed_or_locked == 0,
                              severity=dg.AssetCheckSeverity.WARN,
                              metadata=clean({"crossed_or_locked": summary.crossed_or_locked}))


def expectations_result(results: dict[str, dict], rows_kept: int) -> dg.AssetCheckResult:
    """The Great Expectations suite as one table row per expectation, plus numbers Dagster plots over partitions."""
    rows = [{"expectation": name, "success": bool(r.get("success", True)),
             "unexpected_count": int(r.get("unexpected_count", 0)),
             "unexpected_percent": 100.0 * int(r.get("unexpected_count", 0)) / rows_kept if rows_kept else 0.0}
            for name, r in sorted(results.items())]
    failed = [r["expectation"] for r in rows if not r["success"]]
    return dg.AssetCheckResult(
        check_name="expectations", passed=not failed, severity=dg.AssetCheckSeverity.WARN,
        description="all expectations met" if not failed else f"failed: {', '.join(failed)}",
        metadata=clean({"results": rows, "expectations": len(rows), "failed": len(failed),
                        "unexpected_rows": sum(r["unexpected_count"] for r in rows),
                        "worst_unexpected_percent": max((r["unexpected_percent"] for r in rows), default=0.0)}))


class WindowConfig(dg.Config):
    recipe: str = "full"  # full | coarse (the backpressure ladder's cheap recipe)
    width_ms: float = 250.0
    overlap: float = 0.5


@ASSETS.asset(
    "month_symbol",
    pool=WAREHOUSE_POOL,
    deps=["raw_ticks"],
    group_name="market",
    kinds={"sql", "numba"},
    owners=OWNERS,
    description="Sliding-window microstructure features (numba) per symbol, as FeatureWindow rows (kind=market).",
    metadata=table_definition_metadata(schema.feature_windows),
)
def market_feature_windows(context: dg.AssetExecutionContext, config: WindowConfig,
                           warehouse: WarehouseResource) -> dg.MaterializeResult:
    from thunderline.market.features import market_recipe

    month, symbol = split_key(context.partition_key)
    recipe = market_recipe(config.recipe, width_ms=config.width_ms, overlap=config.overlap)
    t0 = time.perf_counter()
    warehouse.get().ensure_months([month])  # DDL before the transaction: parallel workers, same new month
    with warehouse.session() as s:
        summary = build_window_partition(s, month, symbol, recipe=recipe, progress=_progress_logger(context))
    fault_point("market_feature_windows.committed")
    elapsed = time.perf_counter() - t0
    context.log.info(f"{summary.partition}: {summary.windows:,} windows from {summary.ticks:,} ticks in {elapsed:.2f}s")
    return dg.MaterializeResult(metadata=clean({
        "recipe_version": summary.recipe_version,
        "ticks": summary.ticks,
        "windows": summary.windows,
        "lineage_edges": summary.lineage_edges,
        "windows_hash": summary.hash_of_hashes,
        "ticks_per_s": dg.MetadataValue.float(summary.ticks / elapsed if elapsed else 0.0),
    }))


def defs(settings: Settings, parts: Partitions) -> dg.Definitions:
    """The market domain: ticks → windows, its partition job, monthly backfill and landing sensors."""
    return dg.Definitions(assets=ASSETS.build(parts, settings), jobs=[market_partition_job],
                          schedules=[build_market_backfill(parts)],
                          sensors=build_tick_landing_sensors(settings.sensor_interval_s))
