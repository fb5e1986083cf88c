"""Fixtures for the market tests. The real files stay in shared/datasets (located by the root
conftest's ``datasets`` fixture: ``THUNDERLINE_DATASETS`` or ``<repo>/../shared/datasets``) and are
never copied into the project."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def market_data(datasets: Path) -> Path:
    root = datasets / "market"
    if not root.is_dir():
        pytest.skip(f"shared market datasets not found at {root} (set THUNDERLINE_DATASETS)")
    return root


@pytest.fixture(scope="session")
def lobster_message(market_data: Path) -> Path:
    p = market_data / "lobster" / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    if not p.is_file():
        pytest.skip(f"LOBSTER AMZN sample not found at {p}")
    return p
