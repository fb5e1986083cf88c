"""The observability domain: drift_reports (monthly PSI + KS against a stored baseline, with a check),
the dbt-like SQL models and the flow telemetry summary.

Thin over :mod:`thunderline.drift.monthly`, which decides which windows a month holds, the
baseline policy and the measurement. What this module adds:

* **what a person sees** — a markdown table and a PNG per kind in the metadata, numbers the UI
  plots (max PSI, counts), the check ``psi_within_thresholds`` (WARN above 0.1, ERROR above
  0.25), one ``drift_reports`` row per feature and one ``drift.feature.psi`` telemetry event
  per measured feature.
"""

import dataclasses
import typing
from typing import Any

import dagster as dg
import pydantic

from jobs.keys import Partitions
from jobs.metadata import clean
from resources import WarehouseResource
from thunderline.config import Settings
from thunderline.drift import FAIL_PSI, WARN_PSI
from thunderline.drift.monthly import DriftPolicy, MonthDrift, kind_markdown, measure_month
from thunderline_assets.asset_specs import AssetSpecs

ASSETS = AssetSpecs()  # drift_reports, made per Settings (asset_specs.py)
OWNERS = ["team:data-platform"]
CHECK_NAME = "psi_within_thresholds"


#: The asset's run config: the fields of the core's DriftPolicy (names, types, defaults), one definition.
DriftConfig = pydantic.create_model(
    "DriftConfig", __base__=dg.Config,
    **{f.name: (hints[f.name], f.default) for hints in [typing.get_type_hints(DriftPolicy)]
       for f in dataclasses.fields(DriftPolicy)})


def drift_metadata(md: MonthDrift) -> dict[str, Any]:
    """What the asset page shows: the report (table + plot), and numbers the UI plots across partitions."""
    counts = {"ok": 0, "warn": 0, "fail": 0}
    for r in md.reports:
        for k, v in r.counts().items():
            counts[k] += v
    psis = [f.psi for r in md.reports for f in r.features if f.psi is not None]
    worst = md.worst(1)
    meta: dict[str, Any] = {
        "status": md.status if md.reports else "not measured",
        "report": dg.MetadataValue.md(f"## Feature drift, {md.month}\n\n"
                                      + "\n".join(kind_markdown(k) for k in md.kinds)),
        "worst_feature": (f"{worst[0][0]}.{worst[0][1].feature}" if worst else "-"),
        "features_ok": counts["ok"],
        "features_warn": counts["warn"],
        "features_fail": counts["fail"],
        "dagster/row_count": dg.MetadataValue.int(md.rows_written),
        "dagster/table_name": "drift_reports",
        "telemetry_events": md.events,
    }
    if psis:  # no made-up zero in the plots when nothing was measured
        meta["max_psi"] = dg.MetadataValue.float(max(psis))
    for kd in md.kinds:
        meta[f"windows/{kd.source.kind}"] = kd.windows
        meta[f"baseline/{kd.source.kind}"] = kd.baseline_month or f"none: {kd.skipped}"
        if kd.report is not None:
            meta[f"profile_hash/{kd.source.kind}"] = kd.report.profile_hash
    return meta


def drift_check(md: MonthDrift) -> dg.AssetCheckResult:
    """Passed when every measured feature has PSI ≤ 0.1; WARN above, ERROR above 0.25 (or unmeasurable)."""
    failing = [{"kind": k, "feature": f.feature, "psi": f.psi, "status": f.status, "note": f.note}
               for k, f in md.worst(n=None) if f.status != "ok"]
    meta = {"max_psi": max((f.psi for r in md.reports for f in r.features if f.psi is not None), default=0.0),
            "warn_above": WARN_PSI, "fail_above": FAIL_PSI,
            "features_over_threshold": dg.MetadataValue.json(failing[:50])}
    if not md.reports:
        return dg.AssetCheckResult(check_name=CHECK_NAME, passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description="nothing measured: " + "; ".join(k.skipped for k in md.kinds),
                                   metadata=clean(meta))
    status = md.status
    severity = dg.AssetCheckSeverity.ERROR if status == "fail" else dg.AssetCheckSeverity.WARN
    top = ", ".join(f"{x['kind']}.{x['feature']} {x['psi'] if x['psi'] is None else format(x['psi'], '.3f')}"
                    for x in failing[:5])
    desc = "every feature within PSI 0.1" if status == "ok" else f"{len(failing)} feature(s) drifted: {top}"
    return dg.AssetCheckResult(check_name=CHECK_NAME, passed=status == "ok", severity=severity, description=desc,
                               metadata=clean(meta))


@ASSETS.asset(
    "months",
    # month × symbol → month: Dagster infers the mapping on the month dimension (no Beta class in our code)
    deps=["market_feature_windows", "edgar_feature_windows"],
    group_name="observability",
    kinds={"sql", "numpy", "matplotlib"},
    owners=OWNERS,
    description="Monthly feature drift (PSI, KS) of market and EDGAR windows against a stored baseline profile.",
    checks=[(CHECK_NAME, f"PSI ≤ {WARN_PSI:g} for every feature: WARN above, ERROR above {FAIL_PSI:g} or when a "
                         "feature has no value")],
)
def drift_reports(context: dg.AssetExecutionContext, config: DriftConfig, warehouse: WarehouseResource):
    month = context.partition_key[:7]
    md = measure_month(warehouse.get(), warehouse.tenant_id, month, DriftPolicy(**config.model_dump()))
    for kd in md.kinds:
        if kd.report is None:
            context.log.info(f"{month} {kd.source.kind}: not measured ({kd.skipped})")
        else:
            c = kd.report.counts()
            context.log.info(f"{month} {kd.source.kind}: {kd.windows:,} windows vs baseline {kd.baseline_month}: "
                             f"{c['ok']} ok, {c['warn']} warn, {c['fail']} fail")
    yield dg.MaterializeResult(metadata=clean(drift_metadata(md)))
    yield drift_check(md)


def defs(settings: Settings, parts: Partitions) -> dg.Definitions:
    """The observability domain: the SQL models, monthly drift reports (with their check), flow telemetry."""
    from thunderline_assets.sql_models import build_sql_model_assets, load_project
    from thunderline_assets.telemetry import ASSETS as TELEMETRY_ASSETS

    return dg.Definitions(assets=[*build_sql_model_assets(load_project()), *ASSETS.build(parts, settings),
                                  *TELEMETRY_ASSETS.build(parts, settings)])
