"""Fixtures for the sources: a local SEC stand-in serving the real EDGAR files (127.0.0.1 only)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sec_standin import SecStandIn, build_worlds  # noqa: E402

UA = "Thunderline tests ops@example.com"


@pytest.fixture
def sec(datasets):
    routes, filings = build_worlds(datasets / "edgar")
    with SecStandIn(routes) as server:
        server.filings = filings
        yield server


@pytest.fixture
def sec_env(settings_env, sec, monkeypatch):
    """settings_env pointed at the stand-in (both SEC hosts), with a contact User-Agent."""
    env = {"THUNDERLINE_SEC_USER_AGENT": UA, "THUNDERLINE_SEC_DATA_URL": sec.url,
           "THUNDERLINE_SEC_ARCHIVES_URL": sec.url, "THUNDERLINE_SEC_MAX_RPS": "9"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from thunderline.config import load_settings

    return load_settings()
