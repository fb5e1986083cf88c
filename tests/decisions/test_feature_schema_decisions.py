"""Experts and the router trained on the current feature schema read windows of a successor version through
its declared forward path (same decisions as on the current windows), or the batch is refused naming the feature."""

from __future__ import annotations

import numpy as np
import pytest
from feature_schema_support import CURRENT, GENTLE_NEXT, NEXT, STRICT_NEXT, as_version

from thunderline import feature_schemas
from thunderline.decisions.bootstrap import bootstrap_from_windows
from thunderline.decisions.pipeline import decide
from thunderline.decisions.pool import load_pool
from thunderline.experts import DEFAULT_EXPERT_SPECS
from thunderline.experts.registry import ExpertRegistry
from thunderline.feature_schemas import FeatureSchemaError
from thunderline.market.features import build_windows, to_feature_windows
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

TENANT = "default"
SPECS = [s for s in DEFAULT_EXPERT_SPECS if s.name in ("order_flow_logit_h1", "order_flow_logit_h4", "momentum_gbm_h1")]


def _windows(seed: int, n_ticks: int, start_us: int):
    res = build_windows(synthetic_ticks(SyntheticSpec(n_ticks=n_ticks, seed=seed, symbol="SYN", start_us=start_us),
                                        TENANT))
    return to_feature_windows(res, tenant_id=TENANT, symbol="SYN")


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    registry = ExpertRegistry(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    state, _ = bootstrap_from_windows(registry, _windows(1, 120_000, 1_704_205_800_000_000), specs=SPECS, seed=7)
    experts, _ = load_pool(registry, state)
    yield state, experts, _windows(2, 30_000, 1_706_884_200_000_000)
    registry.close()


def test_experts_of_the_current_schema_decide_windows_of_its_successor_as_they_decide_the_same_windows(pool, monkeypatch):
    state, experts, live = pool
    assert {e.feature_schema_version for e in experts.values()} == {CURRENT}
    assert any("microburst" in e.features for e in experts.values())  # the momentum expert reads it
    monkeypatch.setattr(feature_schemas, "CHAIN", GENTLE_NEXT)
    newer = as_version(live, GENTLE_NEXT, NEXT, CURRENT)
    assert "spread_bps" not in newer[0].features and "burst_flag" in newer[0].features
    a = decide(live, state, experts, tenant_id=TENANT, enforce_budgets=False)
    b = decide(newer, state, experts, tenant_id=TENANT, enforce_budgets=False)
    assert len(a.traces) == len(b.traces) > 50
    np.testing.assert_array_equal([t.blended_score for t in a.traces], [t.blended_score for t in b.traces])
    assert [t.selected_experts for t in a.traces] == [t.selected_experts for t in b.traces]
    assert [t.gate_scores for t in a.traces] == [t.gate_scores for t in b.traces]
    # a mixed batch (half old, half new windows) decides each window the same way too
    mixed = live[: len(live) // 2] + newer[len(live) // 2:]
    c = decide(mixed, state, experts, tenant_id=TENANT, enforce_budgets=False)
    np.testing.assert_array_equal([t.blended_score for t in a.traces], [t.blended_score for t in c.traces])


def test_a_feature_dropped_without_restore_rule_refuses_the_batch_naming_it(pool, monkeypatch):
    state, experts, live = pool
    monkeypatch.setattr(feature_schemas, "CHAIN", STRICT_NEXT)
    with pytest.raises(FeatureSchemaError, match=rf"'microburst'.*feature schema {NEXT}"):
        decide(as_version(live, STRICT_NEXT, NEXT, CURRENT), state, experts, tenant_id=TENANT, enforce_budgets=False)
