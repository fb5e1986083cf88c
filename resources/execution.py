"""Where steps run and how their outputs travel, chosen from the settings when Definitions are built.

Embedded (the default): the multiprocess executor, two steps at a time, on this machine.
Celery profile (``thunderline deploy celery``): every step is a Celery task a worker on any host picks
up from the broker, and step outputs go through a directory every host mounts at the same path
(``FilesystemIOManager``), never through memory — a step's consumer may run on another machine.
Chosen here and never at import, so a test or the CLI can build either from a Settings object.
"""

from __future__ import annotations

import dagster as dg

from thunderline.config import Settings

EMBEDDED_MAX_CONCURRENT = 2  # the embedded default: two steps at once (one per core of a small machine)


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The Celery executor under the scale-out profile, else the multiprocess executor."""
    if settings.celery is None:
        return dg.multiprocess_executor.configured({"max_concurrent": EMBEDDED_MAX_CONCURRENT})
    from dagster_celery import celery_executor

    return celery_executor.configured(settings.celery.executor_config(), name="celery")


def execution_resources(settings: Settings) -> dict[str, object]:
    """The shared-storage IO manager under the scale-out profile; nothing (Dagster's default) when embedded."""
    if settings.celery is None:
        return {}
    return {"io_manager": dg.FilesystemIOManager(base_dir=str(settings.celery.io_dir))}
