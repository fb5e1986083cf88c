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


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def trained(mlflow_uri):
    """Market experts trained once on synthetic history and registered as champions, and a seeded router
    state (as tests/orchestration does); generous budgets so a busy machine cannot abstain on one path only."""
    import dataclasses

    from thunderline.decisions.bootstrap import bootstrap_from_windows, load_pool
    from thunderline.experts import DEFAULT_EXPERT_SPECS
    from thunderline.experts.registry import ExpertRegistry
    from thunderline.market.features import build_windows, to_feature_windows
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    specs = [dataclasses.replace(s, latency_budget_ms=600_000.0) for s in DEFAULT_EXPERT_SPECS
             if s.family != "filing"][:2]
    ticks = synthetic_ticks(SyntheticSpec(n_ticks=45_000, seed=11, symbol="HIST"))
    history = to_feature_windows(build_windows(ticks), tenant_id="default", symbol="HIST")
    registry = ExpertRegistry(tracking_uri=mlflow_uri)
    state, _ = bootstrap_from_windows(registry, history, specs=specs, seed=3)
    experts, shadows = load_pool(registry, state)
    yield state, experts, shadows
    registry.close()
