"""Drift reports through the Dagster instance, for ``thunderline demo``: the runs show in the UI like any other."""

from __future__ import annotations

from typing import Any

from resources import build_resources
from thunderline.drift.monthly import worst_features
from thunderline.stores import open_stores
from thunderline_cli.dagster_instance import instance_for


def run_drift_reports(settings, months_: list[str], *, baseline_month: str = "", instance=None,
                      resources: dict | None = None, source: str = "cli:demo") -> list[tuple[str, bool]]:
    """Materialize drift_reports for ``months_`` (YYYY-MM, in order) as one backfill of ``drift_reports_job``;
    (month, run succeeded) per month."""
    from thunderline.run_tags import run_tags
    from thunderline_assets.definitions import build_definitions
    from thunderline_cli.dagster_runs import backfill

    instance = instance or instance_for(settings)
    resources = resources or build_resources(settings)
    defs = build_definitions(settings, resources=resources)
    config = {"ops": {"drift_reports": {"config": {"baseline_month": baseline_month}}}}
    runs = backfill(defs, instance, "drift_reports_job", [f"{m}-01" for m in months_],
                    tags=run_tags(settings.tenant_id, source, _router(settings)), config=config,
                    title=f"drift_reports {months_[0]}..{months_[-1]}" if months_ else "drift_reports")
    return [(m, r.success) for m, r in zip(months_, runs.results)]


def run_observability_models(settings, *, instance=None, resources: dict | None = None,
                             source: str = "cli:demo") -> bool:
    """One run of ``observability_models_job`` (SQL models + flow telemetry); True when it succeeded."""
    from thunderline.run_tags import run_tags
    from thunderline_assets.definitions import build_definitions
    from thunderline_cli.dagster_runs import run_job

    instance = instance or instance_for(settings)
    defs = build_definitions(settings, resources=resources or build_resources(settings))
    return run_job(defs, instance, "observability_models_job",
                   tags=run_tags(settings.tenant_id, source, _router(settings))).ok


def _router(settings) -> str | None:
    from thunderline.run_tags import active_router_version

    with open_stores(settings) as stores, stores.session() as s:
        return active_router_version(s)


def month_worst_features(settings, month: str, n: int = 3) -> list[dict[str, Any]]:
    """The month's ``n`` most drifted features as stored in ``drift_reports``."""
    with open_stores(settings) as stores, stores.warehouse.session(settings.tenant_id) as s:
        return worst_features(s, month, n)
