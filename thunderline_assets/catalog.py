"""Everything the code location contains, by kind. Domain modules register here."""

from __future__ import annotations

ASSETS: list = []
CHECKS: list = []
JOBS: list = []
SCHEDULES: list = []
SENSORS: list = []

# observability: the dbt-like SQL models (dbt_like_sql/models), one asset each
from thunderline_assets.sql_models import SQL_MODEL_ASSETS  # noqa: E402

ASSETS += SQL_MODEL_ASSETS
