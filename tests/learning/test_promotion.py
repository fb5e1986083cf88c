"""Blue/green promotion on realised labels: shadow → challenger → champion and rollback move MLflow aliases, the
model promotion sensor then changes the router version; held / rejected; a shadow never alters blended actions;
learned gates publish a router version whose parent is the active one. Real MLflow, real router, both warehouses."""

import dataclasses

import dagster as dg
import numpy as np
import pytest

from jobs.metadata import table_rows
from thunderline.decisions.bootstrap import initial_router_state
from thunderline.decisions.pipeline import decide
from thunderline.decisions.router_state import active_router, publish_router_version, router_history
from thunderline.evaluation.promotion import GatePolicy, Promoter, PromotionError
from thunderline.experts import ExpertRegistry
from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME
from thunderline.experts.training import train_expert
from thunderline.flow.decision_partition import decide_windows
from thunderline.flow.gate_retraining import retrain_router_gates
from thunderline.labels import balanced_forward_labels

from .learning_data import TENANT, planted_windows, store_planted
from .learning_data import windows_frame as _frame

LIVE_START_US = 1_707_125_400_000_000  # 2024-02-05 09:30 UTC


@pytest.fixture(scope="module")
def fitted():
    """Experts trained on a planted history: a good and an inverted (anti-signal) order-flow model, a momentum one."""
    history = planted_windows(n_symbols=3, n_windows=500, seed=21)
    df = _frame(history)
    labels = balanced_forward_labels(df, (1,), end_col="window_end_us")
    inverted = labels.copy()
    inverted["label_h1"] = inverted["label_h1"].map({"buy": "sell", "sell": "buy", "hold": "hold"})
    flow, mom = DEFAULT_SPECS_BY_NAME["order_flow_logit_h1"], DEFAULT_SPECS_BY_NAME["momentum_gbm_h1_shallow"]
    return {"good": train_expert(flow, df, labels, seed=0), "bad": train_expert(flow, df, inverted, seed=0),
            "mom": train_expert(mom, df, labels, seed=0), "features": df,
            "train_end_us": int(df["window_end_us"].max())}


def _named(fx, name):
    return dataclasses.replace(fx, name=name)


def _resources(warehouse, mlflow_uri):
    from resources import MlflowResource, WarehouseResource

    return {"warehouse": WarehouseResource(url=warehouse.url, tenant_id=TENANT),
            "mlflow": MlflowResource(tracking_uri=mlflow_uri)}


def _sensor_publishes(instance, warehouse, mlflow_uri):
    """One tick of the model promotion sensor and the run it asks for (what the daemon would do)."""
    from jobs.router_jobs import JOBS as ROUTER_JOBS
    from sensors.model_promotion import build_model_promotion_sensor

    res = _resources(warehouse, mlflow_uri)
    sensor = build_model_promotion_sensor(10)
    defs = dg.Definitions(jobs=ROUTER_JOBS, sensors=[sensor], resources=res)
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs, resources=res))
    for req in tick.run_requests:
        job = defs.resolve_job_def("router_promotion_job")
        assert job.execute_in_process(run_config=req.run_config, instance=instance, resources=res).success
    return len(tick.run_requests)


def test_promotion_rollback_router_versions_and_learned_gates(warehouse, fitted, mlflow_store):
    uri, artifacts = mlflow_store
    b = "pg" if warehouse.is_postgres else "lite"
    flow, mom = f"pr_flow_{b}", f"pr_mom_{b}"  # tests share the MLflow store: names keep the backends apart
    live = planted_windows(n_symbols=3, n_windows=400, seed=22, start_us=LIVE_START_US)
    store_planted(warehouse, live)
    with ExpertRegistry(tracking_uri=uri, artifact_location=artifacts, warehouse=warehouse,
                        tenant_id=TENANT) as reg:
        v_bad = reg.register(_named(fitted["bad"], flow), alias="champion").version
        v_mom = reg.register(_named(fitted["mom"], mom), alias="champion").version
        v_good = reg.register(_named(fitted["good"], flow), alias="shadow",
                              tags={"thunderline.train_data_end_us": str(fitted["train_end_us"])}).version
        state = initial_router_state({flow: "order_flow", mom: "momentum"}, {flow: v_bad, mom: v_mom},
                                     fitted["features"], d=8, seed=3)
        with warehouse.session(TENANT) as s:
            first = publish_router_version(s, state, reason="test bootstrap")
        experts = {flow: reg.load(flow, "champion"), mom: reg.load(mom, "champion")}
        shadow = reg.load(flow, "shadow")

        # a shadow is logged on every window and never changes the blend
        with_shadow = decide(live[:300], state, experts, tenant_id=TENANT, shadows=[shadow])
        without = decide(live[:300], state, experts, tenant_id=TENANT)
        assert [t.blended_action for t in with_shadow.traces] == [t.blended_action for t in without.traces]
        assert [t.blended_confidence for t in with_shadow.traces] == [t.blended_confidence for t in without.traces]
        assert all(any(a.alias == "shadow" and a.weight == 0.0 for a in t.expert_actions) for t in with_shadow.traces)
        with warehouse.session(TENANT) as s:
            decide_windows(s, live, state, experts, shadows=[shadow])

        # too little evidence: held, nothing moves
        strict = Promoter(reg, warehouse, TENANT, policy=GatePolicy(min_count=10**6, lookback_days=400), actor="ci")
        held = strict.step(flow)
        assert (held.decision, held.to_state) == ("held", "shadow") and reg.aliases(flow)["shadow"] == v_good

        promoter = Promoter(reg, warehouse, TENANT, policy=GatePolicy(min_count=100, lookback_days=400),
                            actor="alice (research)")
        t1 = promoter.step(flow)
        assert (t1.from_state, t1.to_state, t1.decision) == ("shadow", "challenger", "promoted"), t1.reason
        assert reg.aliases(flow) == {"champion": v_bad, "challenger": v_good}
        t2 = promoter.step(flow)
        assert (t2.from_state, t2.to_state, t2.decision) == ("challenger", "champion", "promoted"), t2.reason
        c, k = t2.metrics["candidate"], t2.metrics["champion"]
        assert c["ic"] > k["ic"] and c["net"] > k["net"] and c["n"] >= 100
        assert reg.aliases(flow) == {"champion": v_good}
        assert reg.version(flow, v_good).tags["thunderline.lifecycle"] == "champion"

    # the model promotion sensor sees the moved champion and publishes a router version that records it
    with dg.instance_for_test() as instance:
        assert _sensor_publishes(instance, warehouse, uri) == 1
        with warehouse.session(TENANT) as s:
            promoted = active_router(s)
        assert promoted.expert_versions[flow] == v_good and promoted.version != first
        with ExpertRegistry(tracking_uri=uri, artifact_location=artifacts) as reg:
            back = Promoter(reg, warehouse, TENANT, actor="bob (on call)").rollback(flow, reason="PnL alarm")
            assert (back.decision, back.champion_after) == ("rolled_back", v_bad)
            assert reg.aliases(flow) == {"champion": v_bad}
            with pytest.raises(PromotionError, match="nothing to roll back"):
                Promoter(reg, warehouse, TENANT).rollback(flow, reason="again")
        assert _sensor_publishes(instance, warehouse, uri) == 1
    with warehouse.session(TENANT) as s:
        assert active_router(s).version == first  # the rollback restores the very same router version
        events = s.select("promotion_events", order_by=[s.table("promotion_events").c.at_us])
    assert [(e["decision"], e["from_state"], e["to_state"], e["actor"]) for e in events] == [
        ("held", "shadow", "shadow", "ci"),
        ("promoted", "shadow", "challenger", "alice (research)"),
        ("promoted", "challenger", "champion", "alice (research)"),
        ("rolled_back", "champion", "none", "bob (on call)")]
    assert events[2]["previous_champion"] == v_bad and events[2]["champion_after"] == v_good
    assert events[3]["reason"] == "PnL alarm" and all(e["mlflow_run_id"] for e in events)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(events[2]["mlflow_run_id"])
    assert run.data.params["decision"] == "promoted" and run.data.params["actor"] == "alice (research)"
    assert run.data.metrics["candidate_ic"] > run.data.metrics["champion_ic"]

    # an anti-signal shadow is rejected, its alias removed
    with ExpertRegistry(tracking_uri=uri, artifact_location=artifacts) as reg:
        v_bad2 = reg.register(_named(fitted["bad"], flow), alias="shadow",
                              tags={"thunderline.train_data_end_us": str(fitted["train_end_us"])}).version
        rejected = Promoter(reg, warehouse, TENANT, policy=GatePolicy(min_count=100, lookback_days=400)).step(flow)
        assert (rejected.decision, rejected.version) == ("rejected", v_bad2) and "shadow" not in reg.aliases(flow)

    # learned gates, through gate_retraining_job: a new router version whose parent is the active one,
    # same pools and expert versions
    from jobs.learning_jobs import gate_retraining_job
    from resources import TickerMapResource

    with warehouse.session(TENANT) as s:
        before = active_router(s)
    res = {**_resources(warehouse, uri), "ticker_map": TickerMapResource(path="/nonexistent/map.json")}
    with dg.instance_for_test() as instance:
        run = gate_retraining_job.execute_in_process(
            instance=instance, resources=res,
            run_config={"ops": {"retrain_gates": {"config": {"lookback_days": 400, "min_windows": 50}}}})
    assert run.success
    [mat] = [e for e in run.all_events if e.event_type_value == "STEP_OUTPUT"]
    md = mat.event_specific_data.metadata
    layers = table_rows(md["layers"])  # one row per layer (a table in the UI)
    with warehouse.session(TENANT) as s:
        after = active_router(s)
        history = router_history(s)
    assert md["previous_version"].value == before.version and after.version == run.output_for_node("retrain_gates")
    assert after.version != before.version
    assert history[-1]["parent_version"] == before.version and "gates learned" in history[-1]["reason"]
    assert after.pools == before.pools and after.expert_versions == before.expert_versions
    assert any(x["learned"] for x in layers)
    assert all(not np.array_equal(g1, g0) for g1, g0, x in zip(after.gates, before.gates, layers) if x["learned"])
    # the same realised outcomes give the same gates: retraining again re-activates that version
    with ExpertRegistry(tracking_uri=uri, artifact_location=artifacts) as reg:
        again = retrain_router_gates(warehouse, TENANT, reg, lookback_days=400, min_windows=50)
    assert again.previous_version == again.version == after.version  # deterministic: same gates, same version


def test_champion_guard_rolls_back_a_champion_forced_by_hand_and_keeps_a_good_one(warehouse, fitted, mlflow_store):
    """An anti-signal version made champion by hand is judged against the champion it replaced on realised labels
    and rolled back; a good version forced over a bad one is kept. Both outcomes are recorded and tagged."""
    uri, artifacts = mlflow_store
    b = "pg" if warehouse.is_postgres else "lite"
    bad_first, good_first = f"guard_a_{b}", f"guard_b_{b}"
    live = planted_windows(n_symbols=3, n_windows=300, seed=23, start_us=LIVE_START_US)
    store_planted(warehouse, live)
    end = {"thunderline.train_data_end_us": str(fitted["train_end_us"])}
    with ExpertRegistry(tracking_uri=uri, artifact_location=artifacts, warehouse=warehouse,
                        tenant_id=TENANT) as reg:
        v_good = reg.register(_named(fitted["good"], bad_first), alias="champion", tags=end).version
        v_bad = reg.register(_named(fitted["bad"], bad_first), alias="shadow", tags=end).version
        w_bad = reg.register(_named(fitted["bad"], good_first), alias="champion", tags=end).version
        w_good = reg.register(_named(fitted["good"], good_first), tags=end).version
        state = initial_router_state({bad_first: "order_flow", good_first: "order_flow"},
                                     {bad_first: v_good, good_first: w_bad}, fitted["features"], d=8, seed=3)
        experts = {bad_first: reg.load(bad_first, "champion"), good_first: reg.load(good_first, "champion")}
        with warehouse.session(TENANT) as s:
            publish_router_version(s, state, reason="test bootstrap")
            decide_windows(s, live, state, experts)
        p = Promoter(reg, warehouse, TENANT, policy=GatePolicy(min_count=100, lookback_days=400), actor="carol (ops)")
        with pytest.raises(PromotionError, match="needs a champion and the version it replaced"):
            p.guard(bad_first)
        forced = p.force_champion(bad_first, v_bad, reason="hotfix by hand")
        assert (forced.decision, forced.from_state, forced.previous_champion) == ("forced", "shadow", v_good)
        assert reg.aliases(bad_first) == {"champion": v_bad}
        back = p.guard(bad_first)
        assert (back.decision, back.champion_after) == ("rolled_back", v_good), back.reason
        assert back.metrics["candidate"]["ic"] < back.metrics["champion"]["ic"] and back.metrics["candidate"]["n"] >= 100
        assert reg.aliases(bad_first) == {"champion": v_good}
        assert reg.version(bad_first, v_bad).tags["thunderline.lifecycle"] == "rolled_back"
        assert "champion guard" in back.reason

        p.force_champion(good_first, w_good, reason="better by hand")
        kept = p.guard(good_first)
        assert (kept.decision, kept.champion_after) == ("kept", w_good), kept.reason
        assert reg.aliases(good_first) == {"champion": w_good}
    with warehouse.session(TENANT) as s:
        pe = s.table("promotion_events")
        events = s.select("promotion_events", pe.c.expert.in_([bad_first, good_first]), order_by=[pe.c.at_us])
    assert [(e["expert"], e["decision"]) for e in events] == [
        (bad_first, "forced"), (bad_first, "rolled_back"), (good_first, "forced"), (good_first, "kept")]
    assert all(e["mlflow_run_id"] and e["actor"] == "carol (ops)" for e in events)
