"""The Dagster instance the CLI drives (``DAGSTER_HOME``), and the run config its runs share."""

from __future__ import annotations

import os

import dagster as dg

from thunderline.config import Settings

# Runs keep every event in the instance (the UI shows them, warnings included, and failed checks say why); the
# terminal gets errors only, so a progress bar stays on its own line. ``-v`` (VERBOSE_CONSOLE) shows every run's
# INFO and WARNING lines.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
VERBOSE_CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The instance at DAGSTER_HOME; a new home gets a minimal dagster.yaml (SQLite storage, no telemetry)."""
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    cfg = settings.dagster_home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text("# written by thunderline: SQLite storage under this directory (see the repo's dagster.yaml\n"
                       "# for PostgreSQL)\ntelemetry:\n  enabled: false\n")
    return dg.DagsterInstance.get()
