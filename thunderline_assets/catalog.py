"""Everything the code location contains, by kind. Domain modules register here."""

from __future__ import annotations

import dagster as dg

from jobs.partition_jobs import EDGAR_JOB, MARKET_JOB
from jobs.partition_jobs import JOBS as PARTITION_JOBS
from thunderline_assets import decisions, edgar, market

ASSETS: list = [*edgar.ASSETS, *market.ASSETS, *decisions.ASSETS]
CHECKS: list = []
JOBS: list = [*PARTITION_JOBS]
SCHEDULES: list = []
SENSORS: list = []


def definitions(resources: dict) -> dg.Definitions:
    """The full Definitions with ``resources`` (used by the CLI and tests)."""
    from thunderline_assets.definitions import build_definitions

    return build_definitions(resources)


__all__ = ["ASSETS", "CHECKS", "JOBS", "SCHEDULES", "SENSORS", "EDGAR_JOB", "MARKET_JOB", "definitions"]

# observability: the dbt-like SQL models (dbt_like_sql/models), one asset each
from thunderline_assets.sql_models import SQL_MODEL_ASSETS  # noqa: E402

ASSETS += SQL_MODEL_ASSETS

# observability: drift_reports (monthly PSI/KS against a stored baseline, with its check)
from thunderline_assets.observability import ASSETS as OBSERVABILITY_ASSETS  # noqa: E402

ASSETS += OBSERVABILITY_ASSETS

# learning: labels, pnl, evaluation, training slices, NAS, promotion; the daily/monthly learning jobs
from jobs.learning_jobs import JOBS as LEARNING_JOBS, SCHEDULES as LEARNING_SCHEDULES  # noqa: E402
from thunderline_assets.learning import ASSETS as LEARNING_ASSETS  # noqa: E402

ASSETS += LEARNING_ASSETS
JOBS += LEARNING_JOBS
SCHEDULES += LEARNING_SCHEDULES

# orchestration: telemetry summary, router jobs, schedules, sensors. Keep this block last: the nightly
# jobs select from every observability/learning asset registered above.
from jobs.router_jobs import JOBS as ROUTER_JOBS  # noqa: E402
from jobs.schedules import SCHEDULES as MONTHLY_SCHEDULES, build_nightly  # noqa: E402
from sensors import build_sensors  # noqa: E402
from thunderline.config import load_settings  # noqa: E402
from thunderline_assets.telemetry import ASSETS as TELEMETRY_ASSETS  # noqa: E402

ASSETS += TELEMETRY_ASSETS
_NIGHTLY_JOBS, _NIGHTLY_SCHEDULES = build_nightly(ASSETS)
JOBS += [*ROUTER_JOBS, *_NIGHTLY_JOBS]
SCHEDULES += [*MONTHLY_SCHEDULES, *_NIGHTLY_SCHEDULES]
SENSORS += build_sensors(load_settings(create_dirs=False).sensor_interval_s)
