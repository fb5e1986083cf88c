"""Schedules: the monthly backfill of the last complete month, the nightly observability/learning runs.

Why custom schedules for the monthly backfill: ``build_schedule_from_partitioned_job``
targets the *last* partition, and our months run to the current month
(``end_offset=1``, so live data has a home) — on the 1st it would pick the month
that just started. These schedules pick the month that just ended, × every symbol
known at that moment (one run per partition: the market assets process one
month × symbol each, so that is the fewest runs Dagster can split a month into;
EDGAR is monthly, one run). EDGAR runs an hour earlier so market decisions can
join the month's filings.
"""

import datetime as dt

import dagster as dg

from jobs.keys import MONTHLY_TAG, PARTITION_TAG, Partitions, month_symbol_key, symbols
from jobs.partition_jobs import edgar_partition_job, market_partition_job
from thunderline.partitioning import last_complete_month
from thunderline.run_tags import launch_tags


def build_market_backfill(parts: Partitions) -> dg.ScheduleDefinition:
    """The monthly market backfill over ``parts``' months × every symbol."""

    @dg.schedule(name="monthly_market_backfill", job=market_partition_job, cron_schedule="0 2 1 * *",
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="On the 1st at 02:00 UTC: the month that just ended × every symbol (one run per "
                             "partition).")
    def monthly_market_backfill(context: dg.ScheduleEvaluationContext):
        month = last_complete_month(context.scheduled_execution_time)
        if not parts.in_range([month]):
            return _outside(month)
        syms = sorted(context.instance.get_dynamic_partitions(symbols.name))
        if not syms:
            return dg.SkipReason("no symbols yet: nothing to backfill")
        tags = launch_tags("schedule:monthly_market_backfill")
        return [dg.RunRequest(run_key=f"monthly:{month}|{s}", partition_key=month_symbol_key(month, s),
                              tags={**tags, MONTHLY_TAG: month[:7], PARTITION_TAG: f"{month[:7]}|{s}"}) for s in syms]

    return monthly_market_backfill


def build_edgar_backfill(parts: Partitions) -> dg.ScheduleDefinition:
    """The monthly EDGAR backfill over ``parts``' months."""

    @dg.schedule(name="monthly_edgar_backfill", job=edgar_partition_job, cron_schedule="0 1 1 * *",
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="On the 1st at 01:00 UTC: the EDGAR month that just ended (one run).")
    def monthly_edgar_backfill(context: dg.ScheduleEvaluationContext):
        month = last_complete_month(context.scheduled_execution_time)
        if not parts.in_range([month]):
            return _outside(month)
        return dg.RunRequest(run_key=f"monthly:{month}", partition_key=month,
                             tags={**launch_tags("schedule:monthly_edgar_backfill"), MONTHLY_TAG: month[:7],
                                   PARTITION_TAG: month[:7]})

    return monthly_edgar_backfill


def _outside(month: str) -> dg.SkipReason:
    return dg.SkipReason(f"no partition for {month[:7]}: outside the monthly partitions (THUNDERLINE_FIRST_MONTH / "
                         "THUNDERLINE_LAST_MONTH)")


NIGHTLY_GROUPS = ("observability", "learning")


def build_nightly(assets, parts: Partitions) -> tuple[list, list]:
    """Jobs and schedules over the observability/learning groups, split by partitioning.

    Unpartitioned assets (SQL models, the telemetry summary, exports) run in one
    nightly job; monthly assets (drift reports) run for the current month (and, on the
    1st, for the month that just ended). Other partitionings are left to their owners.
    Empty selections produce no job.
    """
    in_groups = [a for a in assets if isinstance(a, dg.AssetsDefinition)
                 and set(a.group_names_by_key.values()) & set(NIGHTLY_GROUPS)]
    plain = [k for a in in_groups if a.partitions_def is None for k in a.keys]
    monthly = [k for a in in_groups if a.partitions_def == parts.months for k in a.keys]
    jobs, schedules = [], []
    if plain:
        job = dg.define_asset_job("nightly_observability_job", selection=dg.AssetSelection.assets(*plain),
                                  description="Nightly: unpartitioned observability and learning assets.")
        jobs.append(job)
        @dg.schedule(name="nightly_observability", job=job, cron_schedule="0 3 * * *", execution_timezone="UTC",
                     default_status=dg.DefaultScheduleStatus.RUNNING)
        def nightly_observability(context: dg.ScheduleEvaluationContext):
            return dg.RunRequest(run_key=f"nightly:{context.scheduled_execution_time.date()}",
                                 tags=launch_tags("schedule:nightly_observability"))

        schedules.append(nightly_observability)
    if monthly:
        job = dg.define_asset_job("nightly_drift_job", selection=dg.AssetSelection.assets(*monthly),
                                  description="Nightly: monthly drift/observability assets for the current month.")
        jobs.append(job)

        @dg.schedule(name="nightly_drift", job=job, cron_schedule="30 3 * * *", execution_timezone="UTC",
                     default_status=dg.DefaultScheduleStatus.RUNNING)
        def nightly_drift(context: dg.ScheduleEvaluationContext):
            t = context.scheduled_execution_time.astimezone(dt.timezone.utc)
            wanted = [t.date().replace(day=1).isoformat()]
            if t.day == 1:
                wanted.insert(0, last_complete_month(t))
            wanted = parts.in_range(wanted)
            if not wanted:
                return _outside(t.date().isoformat())
            tags = launch_tags("schedule:nightly_drift")
            return [dg.RunRequest(run_key=f"nightly:{m}:{t.date()}", partition_key=m, tags=tags) for m in wanted]

        schedules.append(nightly_drift)
    return jobs, schedules

