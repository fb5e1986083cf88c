"""Per-tenant gates: each tenant's router version is learned from its own outcomes only, starting from the shared
router version; a tenant without its own routes with the shared one. Both backends; on PostgreSQL row-level
security shows a tenant session cannot see another tenant's outcomes or router versions, nor write shared ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sqlalchemy as sa

from thunderline.decisions.pipeline import decide
from thunderline.decisions.router_state import (
    SHARED_TENANT,
    publish_router_version,
    resolve_router,
    router_record,
    router_version,
)
from thunderline.decisions.seeding import initial_router_state
from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME
from thunderline.experts.registry import ExpertRegistry
from thunderline.experts.training import train_expert
from thunderline.flow.decision_partition import decide_windows
from thunderline.flow.gate_retraining import retrain_router_gates
from thunderline.flow.learning_partition import realise_label_partition
from thunderline.labels import balanced_forward_labels
from thunderline.store import month_of_us
from thunderline.store.window_rows import window_row

from .learning_data import planted_windows
from .learning_data import windows_frame as _frame

LIVE_START_US = 1_707_125_400_000_000  # 2024-02-05 09:30 UTC
ACME, BRAVO, CAROL = "acme", "bravo", "carol"


@pytest.fixture(scope="module")
def fitted():
    """A good and an inverted (anti-signal) order-flow expert and a momentum one, trained on a planted history."""
    df = _frame(planted_windows(n_symbols=3, n_windows=500, seed=21))
    labels = balanced_forward_labels(df, (1,), end_col="window_end_us")
    inverted = labels.copy()
    inverted["label_h1"] = inverted["label_h1"].map({"buy": "sell", "sell": "buy", "hold": "hold"})
    flow, mom = DEFAULT_SPECS_BY_NAME["order_flow_logit_h1"], DEFAULT_SPECS_BY_NAME["momentum_gbm_h1_shallow"]
    return {"good": train_expert(flow, df, labels, seed=0), "bad": train_expert(flow, df, inverted, seed=0),
            "mom": train_expert(mom, df, labels, seed=0), "features": df}


def _store(warehouse, tenant, windows) -> None:
    """The tenant's windows and their realised labels."""
    with warehouse.session(tenant) as s:
        s.upsert("feature_windows", [window_row(w) for w in windows])
        for month, sym in sorted({(month_of_us(w.window_start_us), w.key) for w in windows}):
            realise_label_partition(s, month, sym)


def _decide_and_learn(warehouse, tenant, windows, experts, reg):
    _store(warehouse, tenant, windows)
    with warehouse.session(tenant) as s:
        state, _ = resolve_router(s)
        decide_windows(s, windows, state, experts)
    return retrain_router_gates(warehouse, tenant, reg, lookback_days=400, min_windows=50)


def test_tenants_learn_their_own_gates_from_their_own_outcomes_with_the_shared_router_as_fallback(
        warehouse, fitted, mlflow_store):
    uri, artifacts = mlflow_store
    b = "pg" if warehouse.is_postgres else "lite"
    names = {"good": f"tg_good_{b}", "bad": f"tg_bad_{b}", "mom": f"tg_mom_{b}"}
    live = planted_windows(n_symbols=3, n_windows=300, seed=22, start_us=LIVE_START_US)
    acme = [dataclasses.replace(w, tenant_id=ACME) for w in live]
    # bravo sees the same order flow, but its prices move the other way: the inverted expert is right there
    bravo = [dataclasses.replace(w, tenant_id=BRAVO, features={**w.features, "mid_return": -w.features["mid_return"]})
             for w in live]
    with ExpertRegistry(tracking_uri=uri, artifact_location=artifacts) as reg:
        versions = {n: reg.register(dataclasses.replace(fitted[k], name=n), alias="champion").version
                    for k, n in names.items()}
        experts = {n: reg.load(n, "champion") for n in names.values()}
        seeded = initial_router_state({names["good"]: "order_flow", names["bad"]: "order_flow",
                                       names["mom"]: "momentum"}, versions, fitted["features"], d=8, seed=3)
        with warehouse.session(SHARED_TENANT) as s:
            shared = publish_router_version(s, seeded, reason="shared seed")

        rep_a = _decide_and_learn(warehouse, ACME, acme, experts, reg)
        rep_b = _decide_and_learn(warehouse, BRAVO, bravo, experts, reg)
        # bravo's outcomes, stored and learned from after acme's gates, never move acme's gates
        again_a = retrain_router_gates(warehouse, ACME, reg, lookback_days=400, min_windows=50)

    assert (rep_a.previous_version, rep_a.previous_owner) == (shared, SHARED_TENANT) and rep_a.changed
    assert (rep_b.previous_version, rep_b.previous_owner) == (shared, SHARED_TENANT) and rep_b.changed
    assert (again_a.previous_version, again_a.version, again_a.previous_owner) == (rep_a.version, rep_a.version, ACME)
    assert again_a.trained_on == rep_a.trained_on and rep_a.version != rep_b.version
    for tenant, rep in ((ACME, rep_a), (BRAVO, rep_b)):
        with warehouse.session(tenant) as s:
            decided = s.count("decision_traces")
            row = router_record(s)
        assert rep.trained_on["tenant_id"] == tenant and rep.trained_on["windows"] == decided == len(live)
        assert (row["owner"], row["version"], row["parent_version"]) == (tenant, rep.version, shared)
        assert row["experts"]["trained_on"] == rep.trained_on

    # the same windows routed with each tenant's own version: different routing, each reproducible from its version
    with warehouse.session(ACME) as s:
        state_a, owner_a = resolve_router(s)
    with warehouse.session(BRAVO) as s:
        state_b, owner_b = resolve_router(s)
    assert (owner_a, state_a.version, owner_b, state_b.version) == (ACME, rep_a.version, BRAVO, rep_b.version)
    assert any(not np.array_equal(ga, gb) for ga, gb in zip(state_a.gates, state_b.gates))
    da = decide(acme, state_a, experts, tenant_id=ACME, enforce_budgets=False)
    db = decide(acme, state_b, experts, tenant_id=ACME, enforce_budgets=False)
    assert [t.gate_scores for t in da.traces] != [t.gate_scores for t in db.traces]
    assert sum(x.selected_experts != y.selected_experts for x, y in zip(da.traces, db.traces)) > 0
    with warehouse.session(ACME) as s:
        replay = router_version(s, da.traces[0].router_version)
        with pytest.raises(LookupError, match="not found for tenant 'acme'"):
            router_version(s, rep_b.version)  # bravo's version is bravo's alone
    again = decide(acme, replay, experts, tenant_id=ACME, enforce_budgets=False)
    assert [t.content_hash for t in again.traces] == [t.content_hash for t in da.traces]

    # a tenant without gates of its own routes with the shared version, and finds it again to replay
    with warehouse.session(CAROL) as s:
        state_c, owner_c = resolve_router(s)
        assert (owner_c, state_c.version) == (SHARED_TENANT, shared)
        assert router_version(s, shared).version == shared and s.count("router_configs") == 0
    dc = decide(acme, state_c, experts, tenant_id=CAROL, enforce_budgets=False)
    assert {t.router_version for t in dc.traces} == {shared}

    if warehouse.is_postgres:  # row-level security, not only the queries' filters, keeps tenants apart
        with warehouse.session(ACME) as s:
            dt_, rc = s.table("decision_traces"), s.table("router_configs")
            seen = {r[0] for r in s.execute(sa.select(dt_.c.tenant_id).distinct())}
            owners = {r[0] for r in s.execute(sa.select(rc.c.tenant_id).distinct())}
        assert seen == {ACME} and owners == {ACME, SHARED_TENANT}
        with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
            with warehouse.session(ACME) as s:  # a tenant cannot publish into the shared router
                s.execute(sa.update(rc).where(rc.c.tenant_id == SHARED_TENANT).values(is_active=False)
                          .returning(rc.c.id)).all() or s.execute(sa.insert(rc).values(
                              id="x", tenant_id=SHARED_TENANT, version="x", config={}, gates={}, experts={},
                              is_active=True))
