"""Fixtures for orchestration tests: real Dagster instances, ephemeral and PostgreSQL-backed.

The PostgreSQL instance uses the repo's dagster.yaml (the production configuration)
against the test database of ``pg_database``; with the PostgreSQL warehouse parameter
both share that database (Dagster's tables and the warehouse's do not overlap).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["ephemeral", "postgres"])
def dagster_instance(request, tmp_path, monkeypatch):
    """A real Dagster instance: in-memory (ephemeral) or PostgreSQL-backed."""
    if request.param == "ephemeral":
        with dg.instance_for_test() as instance:  # temporary SQLite storage (in-memory has no ref for partitions)
            yield instance
        return
    app_url = request.getfixturevalue("pg_database")[0]
    home = tmp_path / "dagster_pg_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", app_url)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture(scope="session")
def ephemeral_instance():
    """One temporary SQLite-backed instance shared by the tests that only evaluate sensors."""
    with dg.instance_for_test() as instance:
        yield instance
