"""Decisions run the expert versions their router version records: the audit trail names what ran, and
re-deciding with an old router version runs that version's experts again.

Real MLflow registry (SQLite, and PostgreSQL beside the PostgreSQL warehouse), real router, real experts,
both warehouses. The order-flow expert's second version is trained on inverted labels, so its scores
are far from the first's and a trace that ran the wrong one cannot pass for the right one.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
from learning.learning_data import TENANT, planted_windows, store_windows, windows_frame

from thunderline.decisions.bootstrap import initial_router_state
from thunderline.decisions.pipeline import REPLAY_BUDGET_MS, decide, feature_frame
from thunderline.decisions.pool import load_pool
from thunderline.decisions.router_state import active_router, publish_router_version, router_version
from thunderline.experts import ExpertRegistry, ExpertRunner
from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME
from thunderline.experts.training import train_expert
from thunderline.flow.decision_partition import decide_windows
from thunderline.flow.promotion import publish_router_for_champions
from thunderline.labels import balanced_forward_labels

FLOW, MOM = "pin_flow", "pin_mom"
LIVE_START_US = 1_707_125_400_000_000  # 2024-02-05 09:30 UTC


@pytest.fixture(scope="module")
def fitted():
    """An order-flow model and its anti-signal twin (inverted labels), and a momentum model."""
    history = planted_windows(n_symbols=2, n_windows=400, seed=31)
    df = windows_frame(history)
    labels = balanced_forward_labels(df, (1,), end_col="window_end_us")
    inverted = labels.copy()
    inverted["label_h1"] = inverted["label_h1"].map({"buy": "sell", "sell": "buy", "hold": "hold"})
    flow, mom = DEFAULT_SPECS_BY_NAME["order_flow_logit_h1"], DEFAULT_SPECS_BY_NAME["momentum_gbm_h1_shallow"]
    return {"v1": dataclasses.replace(train_expert(flow, df, labels, seed=0), name=FLOW),
            "v2": dataclasses.replace(train_expert(flow, df, inverted, seed=0), name=FLOW),
            "mom": dataclasses.replace(train_expert(mom, df, labels, seed=0), name=MOM), "features": df,
            "live": planted_windows(n_symbols=2, n_windows=150, seed=32, start_us=LIVE_START_US)}


@pytest.fixture
def mlflow_store(warehouse, tmp_path, request):
    """A fresh MLflow tracking + registry store on the warehouse's backend."""
    if warehouse.is_postgres:
        return request.getfixturevalue("pg_database")[0], str(tmp_path / "artifacts")
    return f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts")


def _scores(expert, windows) -> np.ndarray:
    """The expert's own signed scores on ``windows``, outside the pipeline."""
    return ExpertRunner().run(expert, feature_frame(windows), REPLAY_BUDGET_MS).signed_scores


def _entries(traces, name):
    """(window index, expert action) of every trace entry of ``name``."""
    return [(i, a) for i, t in enumerate(traces) for a in t.expert_actions if a.expert == name]


def _assert_ran(traces, name, version, scores, other_scores):
    got = _entries(traces, name)
    assert len(got) > 20  # the router keeps the expert on many windows
    assert {(a.model_version, a.alias, a.flags) for _, a in got} == {(version, "champion", ())}
    ran = np.array([a.score for _, a in got])
    rows = np.array([i for i, _ in got])
    np.testing.assert_array_equal(ran, scores[rows])
    assert np.abs(ran - other_scores[rows]).max() > 0.1  # the other version would have said something else


def test_decisions_follow_the_router_version_not_the_moved_alias(warehouse, fitted, mlflow_store):
    uri, artifacts = mlflow_store
    live = fitted["live"]
    first, second = live[: len(live) // 2], live[len(live) // 2:]
    store_windows(warehouse, live)
    with ExpertRegistry(tracking_uri=uri, artifact_location=artifacts, warehouse=warehouse,
                        tenant_id=TENANT) as reg:
        v1 = reg.register(fitted["v1"], alias="champion").version
        vm = reg.register(fitted["mom"], alias="champion").version
        state1 = initial_router_state({FLOW: "order_flow", MOM: "momentum"}, {FLOW: v1, MOM: vm},
                                      fitted["features"], d=8, seed=3)
        with warehouse.session(TENANT) as s:
            publish_router_version(s, state1, reason="test bootstrap")
        v2 = reg.register(fitted["v2"], alias="champion").version  # the alias moves; the router is not promoted
        s1, s2 = _scores(reg.load_version(FLOW, v1), live), _scores(reg.load_version(FLOW, v2), live)

        with warehouse.session(TENANT) as s:
            active = active_router(s)
        experts, _ = load_pool(reg, active)
        assert active.version == state1.version and experts[FLOW].version == v1 != v2
        assert reg.refresh() == []  # a pinned version is not an alias: nothing to re-resolve, nothing swapped
        with warehouse.session(TENANT) as s:
            decide_windows(s, first, active, experts, enforce_budgets=False)
            stored = {r["id"]: r for r in s.select("decision_traces")}
        assert {(a["expert"], a["model_version"]) for r in stored.values() for a in r["expert_actions"]} == {
            (FLOW, v1), (MOM, vm)}
        first_batch = decide(first, active, experts, tenant_id=TENANT, enforce_budgets=False)
        _assert_ran(first_batch.traces, FLOW, v1, s1[: len(first)], s2[: len(first)])

        # the promotion publishes a router version that records v2: from then on v2 runs
        with warehouse.session(TENANT) as s:
            promoted = publish_router_for_champions(reg.client, s)
            state2 = active_router(s)
        assert promoted.changes == {FLOW: (v1, v2)} and state2.expert_versions[FLOW] == v2
        experts2, _ = load_pool(reg, state2)
        later = decide(second, state2, experts2, tenant_id=TENANT, enforce_budgets=False).traces
        _assert_ran(later, FLOW, v2, s2[len(first):], s1[len(first):])

        # re-deciding the first windows with the first router version runs v1 again: the same traces
        with warehouse.session(TENANT) as s:
            old = router_version(s, state1.version)
        replay, _ = load_pool(reg, old)
        assert replay[FLOW].version == v1
        again = decide(first, old, replay, tenant_id=TENANT, enforce_budgets=False)
        assert again.content_hashes == first_batch.content_hashes and again.ids == first_batch.ids
        with warehouse.session(TENANT) as s:  # and through the warehouse path, row for row
            s.delete("decision_traces")
            decide_windows(s, first, old, replay, enforce_budgets=False)
            assert {r["id"]: r["content_hash"] for r in s.select("decision_traces")} == {
                i: r["content_hash"] for i, r in stored.items()}


def test_a_router_version_without_recorded_versions_falls_back_to_the_champion_loudly(fitted, tmp_path, caplog):
    """Older router rows record no version for an expert: its champion runs, with a warning, and every trace
    entry of it says so (``unrouted_version:``) without touching the blend; so does an expert handed to
    ``decide`` at a version the router does not record."""
    live = fitted["live"][:120]
    with ExpertRegistry(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}") as reg:
        v1 = reg.register(fitted["v1"], alias="champion").version
        vm = reg.register(fitted["mom"], alias="champion").version
        v2 = reg.register(fitted["v2"]).version
        pinned = initial_router_state({FLOW: "order_flow", MOM: "momentum"}, {FLOW: v1, MOM: vm},
                                      fitted["features"], d=8, seed=3)
        legacy = dataclasses.replace(pinned, expert_versions={MOM: vm})
        with caplog.at_level(logging.WARNING, logger="thunderline.decisions.pool"):
            experts, _ = load_pool(reg, legacy)
        assert experts[FLOW].version == v1 and experts[MOM].alias == "champion"
        [warned] = [r.getMessage() for r in caplog.records if r.name == "thunderline.decisions.pool"]
        assert FLOW in warned and legacy.version in warned
        unpinned = decide(live, legacy, experts, tenant_id=TENANT, enforce_budgets=False).traces
        clean = decide(live, pinned, load_pool(reg, pinned)[0], tenant_id=TENANT, enforce_budgets=False).traces
        flow = _entries(unpinned, FLOW)
        assert flow and {(a.model_version, a.flags) for _, a in flow} == {(v1, (f"unrouted_version:{FLOW}",))}
        assert {a.flags for _, a in _entries(unpinned, MOM)} == {()}
        assert [t.blended_action for t in unpinned] == [t.blended_action for t in clean]
        assert not any(t.risk_flags for t in unpinned)

        wrong = {**load_pool(reg, pinned)[0], FLOW: reg.load_version(FLOW, v2)}  # by hand, not what v1's router names
        traces = decide(live, pinned, wrong, tenant_id=TENANT, enforce_budgets=False).traces
        assert {(a.model_version, a.flags) for _, a in _entries(traces, FLOW)} == {
            (v2, (f"unrouted_version:{FLOW}",))}


def test_gate_retraining_replays_the_recorded_versions_not_a_moved_champion(warehouse, fitted, tmp_path):
    """Gates are learned for the router version that will run them: retraining after the champion alias moved
    (router not promoted) learns the very gates it learned before the move, and reports the pending move."""
    from learning.learning_data import store_planted

    from thunderline.flow.gate_retraining import retrain_router_gates

    store_planted(warehouse, fitted["live"])
    with ExpertRegistry(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}") as reg:
        v1 = reg.register(fitted["v1"], alias="champion").version
        vm = reg.register(fitted["mom"], alias="champion").version
        state1 = initial_router_state({FLOW: "order_flow", MOM: "momentum"}, {FLOW: v1, MOM: vm},
                                      fitted["features"], d=8, seed=3)
        with warehouse.session(TENANT) as s:
            publish_router_version(s, state1, reason="test bootstrap")
            decide_windows(s, fitted["live"], state1, load_pool(reg, state1)[0], enforce_budgets=False)
        before = retrain_router_gates(warehouse, TENANT, reg, lookback_days=400, min_windows=50)
        assert before.changed and before.champion_mismatch == {}
        with warehouse.session(TENANT) as s:
            publish_router_version(s, state1, reason="test: back to the seeded gates")
        v2 = reg.register(fitted["v2"], alias="champion").version  # anti-signal champion, no router promotion
        after = retrain_router_gates(warehouse, TENANT, reg, lookback_days=400, min_windows=50)
    assert after.champion_mismatch == {FLOW: (v1, v2)}
    assert after.version == before.version  # v1's predictions, the same outcomes: the same gates
