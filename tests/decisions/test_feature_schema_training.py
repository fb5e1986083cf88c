"""Windows stored under an older feature schema train and evaluate the experts that read its successor's new
features: the training frame reads them through the declared forward path (backfills), or refuses naming the
feature and both versions — the order-flow experts are never skipped silently."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from feature_schema_support import CURRENT, NEXT, successor

from thunderline import feature_schemas
from thunderline.decisions.bootstrap import bootstrap_from_windows, training_frame
from thunderline.decisions.pipeline import feature_frame
from thunderline.experts import DEFAULT_EXPERT_SPECS, ORDER_FLOW_FEATURES
from thunderline.experts.registry import ExpertRegistry
from thunderline.feature_schemas import CHAIN, Add, FeatureSchemaError, SchemaChain
from thunderline.market.features import build_windows, to_feature_windows
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

TENANT = "default"
FS2_NEW = ("imbalance_top1_end", "microprice_dev_bps", "mid_age_log_ms", "ofi_1_ewm_1s", "ofi_1_ewm_5s")
SPECS = [s for s in DEFAULT_EXPERT_SPECS if s.family in ("order_flow", "ofi_top") and s.horizon in (1, 4)]


def _fs1(windows):
    """The windows as the fs-1 recipe stored them (no fs-2 features, stamped fs-1)."""
    return [dataclasses.replace(w, features={k: v for k, v in w.features.items() if k not in FS2_NEW},
                                feature_schema_version="fs-1") for w in windows]


@pytest.fixture(scope="module")
def windows():
    res = build_windows(synthetic_ticks(SyntheticSpec(n_ticks=60_000, seed=3, symbol="SYN",
                                                      start_us=1_704_205_800_000_000), TENANT))
    return to_feature_windows(res, tenant_id=TENANT, symbol="SYN")


def test_training_frame_backfills_fs2_features_of_fs1_windows_and_keeps_fs2_rows(windows):
    assert CURRENT == "fs-2" and set(FS2_NEW) <= set(ORDER_FLOW_FEATURES)
    half = len(windows) // 2
    df = training_frame(_fs1(windows[:half]) + windows[half:])
    native = training_frame(windows)
    old = df.iloc[:half]
    np.testing.assert_array_equal(old["imbalance_top1_end"], old["imbalance_top1"])
    np.testing.assert_array_equal(old["ofi_1_ewm_5s"], old["ofi_1"])
    np.testing.assert_allclose(old["microprice_dev_bps"], old["spread_bps"] / 2 * old["imbalance_top1"])
    assert np.isfinite(old["mid_age_log_ms"]).all()
    for f in FS2_NEW:  # the fs-2 windows keep their own values
        np.testing.assert_array_equal(df[f].iloc[half:], native[f].iloc[half:])


def test_bootstrap_on_fs1_windows_trains_the_order_flow_experts(windows, tmp_path):
    registry = ExpertRegistry(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        state, report = bootstrap_from_windows(registry, _fs1(windows), specs=SPECS, seed=5)
    finally:
        registry.close()
    assert {s.family for s in SPECS} == {"order_flow", "ofi_top"}
    assert report.skipped == {}
    assert set(report.trained) == {s.name for s in SPECS}
    assert {e for pool in state.pools for e in pool} == {s.name for s in SPECS}


def test_a_backfill_that_cannot_run_refuses_naming_the_feature_and_both_versions(windows, monkeypatch):
    bad = SchemaChain((*CHAIN.schemas, successor(CHAIN[CURRENT], NEXT, (Add("queue_depth", "no_such_feature * 2"),))))
    monkeypatch.setattr(feature_schemas, "CHAIN", bad)
    with pytest.raises(FeatureSchemaError, match=rf"feature schema {CURRENT} cannot be read as {NEXT}.*'queue_depth'"):
        feature_frame(windows[:50], schema_version=NEXT)
