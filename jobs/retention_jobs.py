"""The retention job and its schedule: lake months and raw EDGAR months past their hot horizons go to cold
storage, nightly (two ops: ``tier_lake_months`` for ``raw_ticks`` files, ``tier_edgar_months`` for the
warehouse's ``raw_edgar_docs`` rows, each with its own horizon).

Why a job and not an asset: tiering moves files, it materializes nothing new; the job's run
records which months went where (metadata) next to the ``cold_files`` rows and audit rows the
core writes (:mod:`thunderline.retention`). The horizons and the cold location come from the
settings the definitions were built with (THUNDERLINE_RETENTION, THUNDERLINE_COLD_URL); a run
may name its months (``thunderline retention tier --month``, the demo) instead. Nothing is
tiered until a hot horizon is configured, so the schedule runs by default and does nothing
until then. Deletion is never scheduled (``thunderline retention purge --yes``).
"""

import datetime as dt

import dagster as dg

from jobs.keys import WAREHOUSE_POOL
from jobs.metadata import clean
from resources import LakeResource, WarehouseResource
from thunderline.config import Settings
from thunderline.run_tags import launch_tags

RETENTION_JOB = "retention_tiering_job"


class TieringConfig(dg.Config):
    months: list[str] = []  # YYYY-MM to tier; empty: every month past the tenant's hot horizon
    today: str = ""  # YYYY-MM-DD the horizons count from; empty: today (UTC)


class EdgarTieringConfig(dg.Config):
    months: list[str] = []  # YYYY-MM of raw EDGAR to tier; empty: every month past the raw_edgar hot horizon
    today: str = ""  # YYYY-MM-DD the horizons count from; empty: today (UTC)
    enabled: bool = True  # False: this run tiers lake months only (the demo names a lake month)
    chunk_rows: int = 64  # documents held at once while a month streams to cold storage (edgar.CHUNK_ROWS)


def _stale(n: int) -> str:
    """A month's note on the temporaries of interrupted runs its tiering removed (none: nothing to say)."""
    return f" ({n} stale temporaries removed)" if n else ""


def build_retention(settings: Settings) -> tuple[list, list]:
    """The tiering job and its nightly schedule, bound to ``settings``' policy and cold location."""
    policy, cold_url = settings.retention, settings.cold_url or str(settings.home / "cold")

    @dg.op(name="tier_lake_months", pool=WAREHOUSE_POOL,
           description="Move the tenant's lake months past the hot horizon (or the named months) to cold storage.")
    def tier_lake_months(context: dg.OpExecutionContext, config: TieringConfig, warehouse: WarehouseResource,
                         lake: LakeResource):
        from thunderline.retention import tier_month
        from thunderline.retention.tiering import months_due

        tenant = warehouse.tenant_id
        today = dt.date.fromisoformat(config.today) if config.today else dt.datetime.now(dt.timezone.utc).date()
        hot = policy.for_tenant(tenant, "raw_ticks").hot_days
        months = sorted(config.months) or months_due(warehouse.get(), tenant, hot, today)
        rows = []
        for month in months:
            r = tier_month(warehouse.get(), lake.get(), tenant, month, cold_url, actor=f"dagster:{context.run_id}")
            context.log.info(f"{tenant} {month}: {r.files} files ({r.bytes:,} bytes) to {cold_url}, "
                             f"{r.already_cold} already cold, {r.stale_temps_removed} stale temporaries removed; "
                             f"manifest {r.manifest_url}")
            rows.append({"month": month, "files": r.files, "already_cold": r.already_cold, "bytes": r.bytes,
                         "manifest": r.manifest_url, "stale": r.stale_temps_removed})
        return dg.Output(len(months), metadata=clean({
            "tenant": tenant, "cold_url": cold_url, "hot_days": hot if hot is not None else "never",
            "months": dg.MetadataValue.md("\n".join(f"- {r['month']}: {r['files']} files, {r['bytes']:,} bytes → "
                                                    f"{r['manifest']}{_stale(r['stale'])}" for r in rows)
                                          or "nothing due")}))

    @dg.op(name="tier_edgar_months", pool=WAREHOUSE_POOL,
           description="Move the tenant's raw EDGAR documents of months past the raw_edgar hot horizon (or the "
                       "named months) from the warehouse to cold storage.")
    def tier_edgar_months(context: dg.OpExecutionContext, config: EdgarTieringConfig, warehouse: WarehouseResource):
        from thunderline.retention.edgar import tier_edgar_month
        from thunderline.retention.tiering import edgar_months_due

        tenant = warehouse.tenant_id
        today = dt.date.fromisoformat(config.today) if config.today else dt.datetime.now(dt.timezone.utc).date()
        hot = policy.for_tenant(tenant, "raw_edgar").hot_days
        months = (sorted(config.months) or edgar_months_due(warehouse.get(), tenant, hot, today)) if config.enabled else []
        lines = []
        for month in months:
            r = tier_edgar_month(warehouse.get(), tenant, month, cold_url, actor=f"dagster:{context.run_id}",
                                 chunk_rows=config.chunk_rows)
            context.log.info(f"{tenant} raw EDGAR {month}: {r.rows} documents ({r.bytes:,} bytes, {r.row_groups} "
                             f"chunks of <= {r.chunk_rows}) to {cold_url}, {r.stale_temps_removed} stale "
                             f"temporaries removed; manifest {r.manifest_url}")
            lines.append(f"- {month}: {r.rows} documents, {r.bytes:,} bytes → {r.manifest_url}"
                         f"{_stale(r.stale_temps_removed)}")
        return dg.Output(len(months), metadata=clean({
            "tenant": tenant, "cold_url": cold_url, "hot_days": hot if hot is not None else "never",
            "months": dg.MetadataValue.md("\n".join(lines) or "nothing due")}))

    @dg.job(name=RETENTION_JOB, tags={"thunderline/kind": "retention"},
            description="Tier lake months and raw EDGAR months past their hot horizons to cold storage (zstd "
                        "Parquet, manifest, sha256).")
    def retention_tiering_job():
        tier_lake_months()
        tier_edgar_months()

    @dg.schedule(name="nightly_retention_tiering", job=retention_tiering_job, cron_schedule="0 4 * * *",
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="04:00 UTC: tier what the retention policy says is past its hot horizon.")
    def nightly_retention_tiering(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.date()
        return dg.RunRequest(run_key=f"retention:{day}", tags=launch_tags("schedule:nightly_retention_tiering"),
                             run_config={"ops": {"tier_lake_months": {"config": {"today": day.isoformat()}},
                                                 "tier_edgar_months": {"config": {"today": day.isoformat()}}}})

    return [retention_tiering_job], [nightly_retention_tiering]
