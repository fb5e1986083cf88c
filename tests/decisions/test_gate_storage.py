"""Gate scores stored top-n sparse above a width: the bulk path equals the per-row definition, kept experts and
the top-n are exact, today's widths are stored exactly as before, and the canonical hash does not move."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.dashboard.snapshot import router_from_traces
from thunderline.decisions.bootstrap import bootstrap_from_windows
from thunderline.decisions.gate_storage import GateStorage, dense_scores, sparse_layer
from thunderline.decisions.pipeline import decide
from thunderline.decisions.pool import load_pool
from thunderline.decisions.trace_json import gate_layer
from thunderline.experts import DEFAULT_EXPERT_SPECS
from thunderline.experts.registry import ExpertRegistry
from thunderline.flow.decision_partition import batch_columns, trace_row
from thunderline.market.features import build_windows, to_feature_windows
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

TENANT = "default"


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), w=st.integers(1, 80), top_n=st.integers(0, 10), above=st.sampled_from([0, 16, 32]),
       seed=st.integers(0, 2**31 - 1), ties=st.booleans())
def test_bulk_layer_equals_the_per_row_document_and_keeps_what_it_promises(n, w, top_n, above, seed, ties):
    rng = np.random.default_rng(seed)
    S = rng.random((n, w))
    if ties:
        S = np.round(S, 1) + 0.1  # many equal scores (never all zero): ties go to the lower index in both paths
    S /= S.sum(axis=1, keepdims=True)
    kept = rng.random((n, w)) < 0.1
    storage = GateStorage(sparse_above=above, top_n=top_n)
    got = [json.loads(x) for x in gate_layer(S, kept, storage).to_pylist()]
    for t in range(n):
        if w <= above:
            assert got[t] == S[t].tolist()  # dense, as always
            continue
        assert got[t] == sparse_layer(S[t].tolist(), np.flatnonzero(kept[t]).tolist(), top_n)
        dense = dense_scores(got[t])
        stored = [i for i, x in enumerate(dense) if x is not None]
        assert set(np.flatnonzero(kept[t])) <= set(stored)  # every kept expert, exact
        order = np.argsort(-S[t], kind="stable")[:top_n]
        assert set(order.tolist()) <= set(stored)  # the top-n, exact
        assert len(stored) <= top_n + kept[t].sum()
        assert all(dense[i] == S[t, i] for i in stored)  # bit-exact floats


def test_dense_scores_reads_both_forms():
    assert dense_scores([0.25, 0.75]) == [0.25, 0.75]
    assert dense_scores({"n": 4, "i": [1, 3], "s": [0.5, 0.25]}) == [None, 0.5, None, 0.25]
    with pytest.raises(ValueError):
        GateStorage(top_n=-1)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    spec = SyntheticSpec(n_ticks=40_000, seed=5, symbol="SYN", start_us=1_704_205_800_000_000)
    history = to_feature_windows(build_windows(synthetic_ticks(spec, TENANT)), tenant_id=TENANT, symbol="SYN")
    specs = [s for s in DEFAULT_EXPERT_SPECS if s.family != "filing"][:4]
    with ExpertRegistry(tracking_uri=f"sqlite:///{root / 'mlflow.db'}") as reg:
        state, _ = bootstrap_from_windows(reg, history, specs=specs, seed=3)
        experts, _ = load_pool(reg, state)
        yield history, state, experts


@pytest.fixture(scope="module")
def batch(pool):
    history, state, experts = pool
    return decide(history, state, experts, tenant_id=TENANT, enforce_budgets=False)


def test_real_batch_sparse_rows_equal_the_per_trace_rows_and_hashes_do_not_move(batch):
    widths = [a.scores.shape[1] for a in batch.assignments]
    assert max(widths) >= 2
    default = batch_columns(batch)
    assert [json.loads(x) for x in default["gate_scores"]] == [trace_row(t)["gate_scores"] for t in batch.traces]
    storage = GateStorage(sparse_above=1, top_n=1)  # every layer of two or more experts sparse
    cols = batch_columns(batch, storage=storage)
    assert cols["content_hash"] == default["content_hash"] == [t.content_hash for t in batch.traces]
    for t, tr in enumerate(batch.traces):
        kept = [a.kept_experts[a.kept_offsets[t]:a.kept_offsets[t + 1]].tolist() for a in batch.assignments]
        assert json.loads(cols["gate_scores"][t]) == trace_row(tr, storage, kept)["gate_scores"]
    sparse_docs = [json.loads(x) for x in cols["gate_scores"]]
    assert any(isinstance(layer, dict) for doc in sparse_docs for layer in doc)
    # the dashboard's router stats read either form
    stats = router_from_traces({"selected_experts": tr.selected_experts, "gate_scores": doc}
                               for tr, doc in zip(batch.traces, sparse_docs))
    assert stats["entropy"] is not None and stats["experts_per_token"] > 0


def test_gate_storage_is_one_setting_for_the_asset_the_cli_and_live(tmp_path):
    from resources.environment import build_resources
    from thunderline.config import ConfigError, load_settings
    from thunderline.decisions.gate_storage import of_settings

    home = {"THUNDERLINE_HOME": str(tmp_path)}
    assert of_settings(load_settings(home)) == GateStorage()
    settings = load_settings({**home, "THUNDERLINE_GATE_SPARSE_ABOVE": "2", "THUNDERLINE_GATE_TOP_N": "1"})
    assert of_settings(settings) == GateStorage(sparse_above=2, top_n=1)
    assert build_resources(settings)["warehouse"].gate_storage() == GateStorage(sparse_above=2, top_n=1)
    with pytest.raises(ConfigError, match="THUNDERLINE_GATE_TOP_N='-1'"):
        load_settings({**home, "THUNDERLINE_GATE_TOP_N": "-1"})


def test_decide_partition_stores_gate_scores_as_configured_and_the_hashes_do_not_move(pool, warehouse):
    from thunderline.flow.decision_partition import decide_partition
    from thunderline.store import month_of_us
    from thunderline.store.window_rows import window_row

    history, state, experts = pool
    month = month_of_us(history[0].window_start_us)
    history = [w for w in history if month_of_us(w.window_start_us) == month]
    warehouse.ensure_months([month])
    with warehouse.session(TENANT) as s:
        s.upsert("feature_windows", [window_row(w) for w in history])
    with warehouse.session(TENANT) as s:
        decide_partition(s, month, "SYN", state, experts, storage=GateStorage(sparse_above=1, top_n=1))
        rows = s.select("decision_traces", columns=["content_hash", "gate_scores"])
    docs = [json.loads(r["gate_scores"]) if isinstance(r["gate_scores"], str) else r["gate_scores"] for r in rows]
    assert len(rows) == len(history) and any(isinstance(layer, dict) for doc in docs for layer in doc)
    dense = decide(history, state, experts, tenant_id=TENANT)
    assert sorted(r["content_hash"] for r in rows) == sorted(t.content_hash for t in dense.traces)
