"""Drift reports through the Dagster instance, for ``thunderline demo``: the runs show in the UI like any other."""

from __future__ import annotations

from typing import Any

import dagster as dg

from resources import build_resources
from thunderline.drift.monthly import worst_features
from thunderline.stores import open_stores
from thunderline_assets.observability import drift_reports
from thunderline_cli.dagster_instance import QUIET_CONSOLE, instance_for


def run_drift_reports(settings, months_: list[str], *, baseline_month: str = "", instance=None,
                      resources: dict | None = None) -> list[tuple[str, bool]]:
    """Materialize drift_reports for ``months_`` (YYYY-MM, in order); (month, run succeeded) per month."""
    instance = instance or instance_for(settings)
    resources = resources or build_resources(settings)
    run_config = {"ops": {"drift_reports": {"config": {"baseline_month": baseline_month}}}, **QUIET_CONSOLE}
    out = []
    for m in months_:
        result = dg.materialize([drift_reports], partition_key=f"{m}-01", instance=instance, resources=resources,
                                run_config=run_config, raise_on_error=False)
        out.append((m, result.success))
    return out


def month_worst_features(settings, month: str, n: int = 3) -> list[dict[str, Any]]:
    """The month's ``n`` most drifted features as stored in ``drift_reports``."""
    with open_stores(settings) as stores, stores.warehouse.session(settings.tenant_id) as s:
        return worst_features(s, month, n)
