"""The one place where Thunderline's Dagster definitions are assembled.

Each domain module exports its assets/checks; sensors, jobs and schedules come
from their own packages; resources are chosen for the environment here, when
Dagster loads the code location, not at import time.
"""

from __future__ import annotations

import dagster as dg

from resources import build_resources
from thunderline_assets import catalog


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=catalog.ASSETS,
        asset_checks=catalog.CHECKS,
        jobs=catalog.JOBS,
        schedules=catalog.SCHEDULES,
        sensors=catalog.SENSORS,
        resources=resources if resources is not None else build_resources(),
        executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
