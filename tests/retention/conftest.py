"""Fixtures for retention tests: tenants holding the real AMZN LOBSTER day (tiering_home), on SQLite and
PostgreSQL (the decision replay uses the session's trained pool, tests/conftest.py)."""

from __future__ import annotations

import pytest
from tiering_home import TENANTS, Home, ingest_day


@pytest.fixture
def two_tenants(warehouse, datasets, tmp_path) -> Home:
    """Tenants alpha and beta each hold the AMZN day's lake files and windows."""
    return ingest_day(warehouse, datasets, tmp_path, TENANTS, windows=True)


@pytest.fixture
def alpha_lake(warehouse, datasets, tmp_path) -> Home:
    """Tenant alpha holds the AMZN day's lake files (no windows: what tiering moves)."""
    return ingest_day(warehouse, datasets, tmp_path, ("alpha",), windows=False)
