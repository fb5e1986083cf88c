"""Fixtures for retention tests: tenants holding the real AMZN LOBSTER day (tiering_home), on SQLite and
PostgreSQL, and a small trained expert pool for the decision replay."""

from __future__ import annotations

import pytest
from tiering_home import TENANTS, Home, ingest_day


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def trained(mlflow_uri):
    """Market experts trained once on synthetic history and a seeded router state (tests/trained_pool.py)."""
    from trained_pool import trained_market_pool

    yield from trained_market_pool(mlflow_uri)


@pytest.fixture
def two_tenants(warehouse, datasets, tmp_path) -> Home:
    """Tenants alpha and beta each hold the AMZN day's lake files and windows."""
    return ingest_day(warehouse, datasets, tmp_path, TENANTS, windows=True)


@pytest.fixture
def alpha_lake(warehouse, datasets, tmp_path) -> Home:
    """Tenant alpha holds the AMZN day's lake files (no windows: what tiering moves)."""
    return ingest_day(warehouse, datasets, tmp_path, ("alpha",), windows=False)
