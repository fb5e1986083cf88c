"""A small trained expert pool for tests that decide: shared by the orchestration and sources
suites (a module, not conftest, so any test folder can import it; tests/conftest.py puts it on the path)."""

from __future__ import annotations

from collections.abc import Iterator


def trained_market_pool(mlflow_uri: str) -> Iterator[tuple]:
    """Market experts trained once on synthetic history, registered as champions, and a seeded router
    state: yields ``(state, experts, shadows)`` and closes the registry after. Budgets are generous so
    a busy machine cannot turn a decision into a budget abstain on one path only."""
    import dataclasses

    from thunderline.decisions.bootstrap import bootstrap_from_windows
    from thunderline.decisions.pool import load_pool
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
