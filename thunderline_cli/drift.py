"""Drift reports through the Dagster instance, for ``thunderline demo``: the runs show in the UI like any other."""

from __future__ import annotations

from typing import Any

from thunderline.drift.monthly import worst_features
from thunderline.stores import open_stores


def run_drift_reports(settings, months_: list[str], *, baseline_month: str = "", instance=None,
                      resources: dict | None = None, source: str = "cli:demo",
                      verbose: bool = False) -> list[tuple[str, bool]]:
    """Materialize drift_reports for ``months_`` (YYYY-MM, in order) as one backfill of ``drift_reports_job``;
    (month, run succeeded) per month."""
    from thunderline_cli.dagster_runs import RunSession

    session = RunSession(settings, source=source, instance=instance, resources=resources, verbose=verbose)
    config = {"ops": {"drift_reports": {"config": {"baseline_month": baseline_month}}}}
    runs = session.backfill("drift_reports_job", [f"{m}-01" for m in months_], config=config,
                            title=f"drift_reports {months_[0]}..{months_[-1]}" if months_ else "drift_reports")
    return [(m, r.success) for m, r in zip(months_, runs.results)]


def run_observability_models(settings, *, instance=None, resources: dict | None = None,
                             source: str = "cli:demo", verbose: bool = False) -> bool:
    """One run of ``observability_models_job`` (SQL models + flow telemetry); True when it succeeded."""
    from thunderline_cli.dagster_runs import RunSession

    session = RunSession(settings, source=source, instance=instance, resources=resources, verbose=verbose)
    return session.run("observability_models_job").ok


def month_worst_features(settings, month: str, n: int = 3) -> list[dict[str, Any]]:
    """The month's ``n`` most drifted features as stored in ``drift_reports``."""
    with open_stores(settings) as stores, stores.warehouse.session(settings.tenant_id) as s:
        return worst_features(s, month, n)
