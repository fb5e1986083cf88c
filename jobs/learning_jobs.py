"""Learning-loop jobs and schedules: daily labels + PnL, the monthly rolling retrain, monthly gate retraining.

* ``learning_labels_job`` (``labels`` → ``pnl``, month × symbol): every day at
  04:15 UTC for the current month × every symbol; during the first three days of
  a month also for the month that ended, whose last labels need the new month's
  first windows (labels are realised asynchronously; re-running fills them).
* ``monthly_retrain_job`` (``training_slices`` → ``nas_candidates``, complete
  months): on the 2nd at 05:00 UTC for the month that just ended — the rolling
  slice up to it, a NAS over it, the best candidates registered as ``shadow``.
  Promotion itself runs nightly (the ``promotion`` asset is in the nightly job).
* ``gate_retraining_job``: on the 3rd at 06:00 UTC, fit every layer's gate from
  realised outcomes and publish a new router version (parent = the active one).
"""

import datetime as dt

import dagster as dg

from jobs.keys import (
    GATE_RETRAINING_JOB,
    LEARNING_LABELS_JOB,
    MONTHLY_RETRAIN_JOB,
    Partitions,
    month_symbol_key,
    symbols,
)
from jobs.metadata import clean
from resources import MlflowResource, TickerMapResource, WarehouseResource
from thunderline.partitioning import last_complete_month
from thunderline.run_tags import launch_tags

learning_labels_job = dg.define_asset_job(
    LEARNING_LABELS_JOB, selection=dg.AssetSelection.assets("labels", "pnl"),
    description="Realise labels of one month × symbol (fills pending ones) and price its decisions.")

monthly_retrain_job = dg.define_asset_job(
    MONTHLY_RETRAIN_JOB, selection=dg.AssetSelection.assets("training_slices", "nas_candidates"),
    description="Rolling training slice up to a complete month → NAS → best candidates as shadow versions.")


learning_evaluation_job = dg.define_asset_job(
    "learning_evaluation_job", selection=dg.AssetSelection.assets("learning_evaluation"),
    description="Blend / expert metrics of one month on realised labels.")

signal_evaluation_job = dg.define_asset_job(
    "signal_evaluation_job", selection=dg.AssetSelection.assets("signal_evaluation"),
    description="Walk-forward out-of-sample judgement of one month (what `thunderline evaluate --months` prints).")

promotion_job = dg.define_asset_job(
    "promotion_job", selection=dg.AssetSelection.assets("promotion"),
    description="One blue/green step per expert with a shadow or challenger (also in the nightly job).")

drift_reports_job = dg.define_asset_job(
    "drift_reports_job", selection=dg.AssetSelection.assets("drift_reports"),
    description="Drift reports of one month against the stored baseline (backfills of drift run this job).")


observability_models_job = dg.define_asset_job(
    "observability_models_job",
    selection=dg.AssetSelection.groups("observability") - dg.AssetSelection.assets("drift_reports"),
    description="The SQL models and the flow telemetry summary, rebuilt from the warehouse (the demo's last step; "
                "nightly they run in nightly_observability_job).")


def build_learning_schedules(parts: Partitions) -> list[dg.ScheduleDefinition]:
    """The daily labels and the monthly retrain over ``parts``' months, the monthly gate retraining."""

    @dg.schedule(name="daily_labels", job=learning_labels_job, cron_schedule="15 4 * * *", execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Daily: labels + PnL for the current month × every symbol (and the previous month on "
                             "the 1st-3rd, to fill its last labels).")
    def daily_labels(context: dg.ScheduleEvaluationContext):
        t = context.scheduled_execution_time.astimezone(dt.timezone.utc)
        wanted = [t.date().replace(day=1).isoformat()]
        if t.day <= 3:
            wanted.insert(0, last_complete_month(t))
        wanted = parts.in_range(wanted)
        if not wanted:
            return dg.SkipReason(f"{t.date():%Y-%m} is after the last monthly partition (THUNDERLINE_LAST_MONTH)")
        syms = sorted(context.instance.get_dynamic_partitions(symbols.name))
        if not syms:
            return dg.SkipReason("no symbols yet: nothing to label")
        tags = launch_tags("schedule:daily_labels")
        return [dg.RunRequest(run_key=f"labels:{m}|{s}:{t.date()}", partition_key=month_symbol_key(m, s), tags=tags)
                for m in wanted for s in syms]

    @dg.schedule(name="monthly_retrain", job=monthly_retrain_job, cron_schedule="0 5 2 * *",
                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="On the 2nd at 05:00 UTC: slice → NAS → shadow for the month that just ended.")
    def monthly_retrain(context: dg.ScheduleEvaluationContext):
        month = last_complete_month(context.scheduled_execution_time)
        if not parts.in_range([month], parts.complete_months):
            return dg.SkipReason(f"no partition for {month[:7]}: outside the monthly partitions "
                                 "(THUNDERLINE_LAST_MONTH)")
        return dg.RunRequest(run_key=f"retrain:{month}", partition_key=month,
                             tags=launch_tags("schedule:monthly_retrain"))

    return [daily_labels, monthly_retrain, monthly_gate_retraining]


class GateConfig(dg.Config):
    lookback_days: float = 31.0
    C: float = 1.0
    margin: float = 1.0
    min_windows: int = 200


@dg.op(description="Fit each layer's W_g from realised outcomes and publish a new router version (parent = active).")
def retrain_gates(context: dg.OpExecutionContext, config: GateConfig, warehouse: WarehouseResource,
                  mlflow: MlflowResource, ticker_map: TickerMapResource):
    from thunderline.flow.gate_retraining import GateRetrainError, retrain_router_gates

    with mlflow.registry(warehouse) as registry:
        try:
            report = retrain_router_gates(warehouse.get(), warehouse.tenant_id, registry,
                                          lookback_days=config.lookback_days, C=config.C, margin=config.margin,
                                          ticker_map=ticker_map.rows(), min_windows=config.min_windows,
                                          actor=f"dagster:{context.run.run_id}")
        except GateRetrainError as exc:
            context.log.warning(f"gates not retrained: {exc}")
            return dg.Output(None, metadata=clean({"skipped": str(exc)}))
    context.log.info(f"router {report.previous_version} → {report.version} from {report.windows:,} windows")
    return dg.Output(report.version, metadata=clean({
        "previous_version": report.previous_version, "router_version": report.version, "windows": report.windows,
        "tenant": warehouse.tenant_id, "previous_owner": report.previous_owner,
        "trained_on": dg.MetadataValue.json(report.trained_on),
        "layers": dg.MetadataValue.json(report.layers),
        "champion_mismatch": dg.MetadataValue.json({k: list(v) for k, v in report.champion_mismatch.items()})}))


@dg.job(name=GATE_RETRAINING_JOB, tags={"thunderline/kind": "router"},
        description="Learned gates: fit W_g per layer from which expert would have been right; publish a router.")
def gate_retraining_job():
    retrain_gates()


@dg.schedule(name="monthly_gate_retraining", job=gate_retraining_job, cron_schedule="0 6 3 * *",
             execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="On the 3rd at 06:00 UTC (after the month's labels are filled): retrain the gates.")
def monthly_gate_retraining(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=f"gates:{context.scheduled_execution_time.date()}",
                         tags=launch_tags("schedule:monthly_gate_retraining"))


JOBS = [learning_labels_job, monthly_retrain_job, gate_retraining_job, learning_evaluation_job, signal_evaluation_job,
        promotion_job, drift_reports_job, observability_models_job]
