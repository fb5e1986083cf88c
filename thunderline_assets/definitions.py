"""The one place where Thunderline's Dagster definitions are assembled.

Each domain module (market, edgar, decisions, observability, learning) exports
``defs(settings, partitions)`` with its assets, checks, jobs, schedules and sensors, made for those
settings (:mod:`thunderline_assets.asset_specs`); :func:`build_definitions` reads the monthly
partitions of the settings (:func:`jobs.keys.build_partitions`), merges the domains, adds the nightly
jobs over the observability/learning groups, the resources and the executor (multiprocess, or Celery
under the scale-out profile: :mod:`resources.execution`). Settings are read when the definitions are
built (Dagster loading the code location, a CLI command, a test), never at import: two Definitions
built for two settings in one process carry their own months.
"""

from __future__ import annotations

import dagster as dg

from jobs.keys import Partitions, build_partitions
from jobs.retention_jobs import build_retention
from jobs.schedules import build_nightly
from resources import build_resources
from resources.execution import build_executor, execution_resources
from thunderline.config import Settings, load_settings
from thunderline_assets import decisions, edgar, learning, market, observability

DOMAINS = (market, edgar, decisions, observability, learning)


def build_definitions(settings: Settings | None = None, *, resources: dict | None = None,
                      partitions: Partitions | None = None) -> dg.Definitions:
    """Every domain's definitions with ``resources`` (default: built from ``settings``) over ``partitions``
    (default: the months of ``settings`` as they are now)."""
    settings = settings or load_settings(create_dirs=False)
    parts = partitions or build_partitions(settings)
    domains = dg.Definitions.merge(*(domain.defs(settings, parts) for domain in DOMAINS))
    nightly_jobs, nightly_schedules = build_nightly(domains.assets, parts)
    retention_jobs, retention_schedules = build_retention(settings)  # lake months to cold storage (jobs/retention_jobs)
    resources = resources if resources is not None else build_resources(settings)
    return dg.Definitions.merge(domains, dg.Definitions(
        jobs=[*nightly_jobs, *retention_jobs],
        schedules=[*nightly_schedules, *retention_schedules],
        resources={**execution_resources(settings), **resources},
        executor=build_executor(settings),  # Celery workers under the scale-out profile (resources/execution.py)
    ))


@dg.definitions
def defs() -> dg.Definitions:
    """The code location (workspace.yaml): settings from the environment, stores created if missing."""
    return build_definitions(load_settings())
