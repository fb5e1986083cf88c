"""Everything the code location contains, by kind. Domain modules register here."""

from __future__ import annotations

import dagster as dg

from jobs.partition_jobs import EDGAR_JOB, MARKET_JOB
from jobs.partition_jobs import JOBS as PARTITION_JOBS
from thunderline_assets import edgar, market

ASSETS: list = [*edgar.ASSETS, *market.ASSETS]
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
