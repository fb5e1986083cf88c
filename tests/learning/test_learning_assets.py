"""The learning assets materialize through Dagster (labels → pnl → evaluation, slices → NAS → promotion) on both
warehouses, the learning schedules ask for the right partitions, and the code location still loads."""

import datetime as dt
import json

import dagster as dg

from jobs.metadata import table_rows
from thunderline.contracts import DecisionTrace, ExpertAction
from thunderline.flow.decision_partition import trace_row
from thunderline_assets.definitions import build_definitions

from .learning_data import TENANT, planted_windows, store_windows

UTC = dt.timezone.utc
catalog = build_definitions(resources={})  # the learning assets as the code location makes them
labels, pnl, learning_evaluation, training_slices, nas_candidates, promotion = (
    catalog.get_assets_def(k) for k in ("labels", "pnl", "learning_evaluation", "training_slices", "nas_candidates",
                                        "promotion"))
FEB_US = 1_707_125_400_000_000  # 2024-02-05 09:30 UTC


def _fake_traces(windows):
    """Traces that buy when order flow is positive, sell when negative (the planted signal's sign)."""
    out = []
    for w in windows:
        a = "buy" if w.features["order_flow_imbalance"] > 0 else "sell"
        act = ExpertAction(layer=0, expert="order_flow_logit_h1", model_version="1", alias="champion", action=a,
                           confidence=0.6, latency_ms=0.1, weight=1.0)
        out.append(DecisionTrace(tenant_id=TENANT, feature_window_id=w.id, symbol=w.key,
                                 window_start_us=w.window_start_us, window_end_us=w.window_end_us,
                                 router_version="rv-fake", gate_scores=[[1.0]],
                                 selected_experts=[["order_flow_logit_h1"]],
                                 expert_actions=[act], blended_action=a, blended_confidence=0.6, risk_flags=[],
                                 embedding=[0.0] * 16))
    return out


def test_learning_assets_materialize(warehouse, tmp_path):
    from mlflow import MlflowClient

    from resources import LakeResource, MlflowResource, TickerMapResource, WarehouseResource

    # a fresh registry either way: promotion acts on every shadow in the registry, so the session-wide store
    # (where test_nas registers order_flow_logit_h1 shadows) would hand it an earlier test's candidates
    uri = warehouse.url if warehouse.is_postgres else f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).create_experiment("thunderline.experts",
                                                     artifact_location=str(tmp_path / "artifacts"))
    jan = planted_windows(n_symbols=2, n_windows=300, seed=31)
    feb = planted_windows(n_symbols=2, n_windows=300, seed=32, start_us=FEB_US)
    store_windows(warehouse, jan + feb)
    with warehouse.session(TENANT) as s:
        s.upsert("decision_traces", [trace_row(t) for t in _fake_traces(feb)])
    res = {"warehouse": WarehouseResource(url=warehouse.url, tenant_id=TENANT),
           "lake": LakeResource(root=str(tmp_path / "lake")), "mlflow": MlflowResource(tracking_uri=uri),
           "ticker_map": TickerMapResource(path=str(tmp_path / "none.json"))}
    from thunderline.flow.learning_partition import pnl_partition, realise_label_partition

    with warehouse.session(TENANT) as s:  # the other partitions through the same functions, without a run each
        for month, sym in (("2024-01", "SYN0"), ("2024-01", "SYN1"), ("2024-02", "SYN1")):
            realise_label_partition(s, month, sym)
            pnl_partition(s, month, sym)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("symbols", ["SYN0", "SYN1"])
        key = dg.MultiPartitionKey({"month": "2024-02-01", "symbol": "SYN0"})
        # planted windows come without quotes in the lake: the chained definition (still an option) labels them
        r = dg.materialize([labels, pnl], partition_key=key, instance=instance, resources=res,
                           run_config={"ops": {"labels": {"config": {"definition": "chained"}}}})
        assert r.success
        md = {e.materialization.asset_key.path[-1]: e.materialization.metadata
              for e in r.get_asset_materialization_events()}
        assert md["labels"]["windows"].value == 300 and md["labels"]["fill_rate"].value > 0.95
        gaps = str(md["labels"]["gap_rate_by_spec"].value)  # gap rate per spec (a table in the UI)
        assert all(sid in gaps for sid in ("class_h1_db2bps", "class_h4_db2bps", "class_h10_db2bps"))
        assert md["pnl"]["priced"].value > 250 and md["pnl"]["net"].value > 0  # the planted signal pays
        r = dg.materialize([learning_evaluation], partition_key="2024-02-01", instance=instance, resources=res)
        assert r.success
        ev = r.get_asset_materialization_events()[0].materialization.metadata
        assert ev["blend_ic"].value > 0.1 and "| blend |" in ev["metrics"].value
        run_config = {"ops": {"training_slices": {"config": {"lookback_months": 1, "horizons": [1, 4]}},
                              "nas_candidates": {"config": {"targets": ["order_flow_logit_h1"], "n_trials": 3,
                                                            "max_trees": 40, "slice_prefix": "rolling"}}}}
        r = dg.materialize([training_slices, nas_candidates], partition_key="2024-01-01", instance=instance,
                           resources=res, run_config=run_config)
        assert r.success
        md = {e.materialization.asset_key.path[-1]: e.materialization.metadata
              for e in r.get_asset_materialization_events()}
        assert md["training_slices"]["rows"].value == 600
        assert [r["value"] for r in table_rows(md["training_slices"]["months"])] == ["2024-01"]
        [outcome] = table_rows(md["nas_candidates"]["outcomes"])  # one row per NAS target
        assert outcome["trials_tried"] == 3 and json.loads(outcome["registered"])[0]["alias"] == "shadow"
        links = [k for k in md["nas_candidates"] if k.startswith("mlflow/order_flow_logit_h1 v")]
        assert len(links) == 1 and "/#/models/thunderline.expert.order_flow_logit_h1/versions/" in \
            md["nas_candidates"][links[0]].value
        r = dg.materialize([promotion], instance=instance, resources=res,
                           run_config={"ops": {"promotion": {"config": {"min_count": 100, "lookback_days": 400}}}})
        assert r.success
        [t] = table_rows(r.get_asset_materialization_events()[0].materialization.metadata["transitions"])
        assert t["expert"] == "order_flow_logit_h1" and t["from"] == "shadow" and t["decision"] in ("promoted",
                                                                                                   "rejected")
    with warehouse.session(TENANT) as s:
        assert s.count("labels") == 1200 * 3 and s.count("pnl") > 500 and s.count("export_jobs") == 1
        ev = s.table("promotion_events")
        assert [e["decision"] for e in s.select("promotion_events", order_by=[ev.c.at_us])][0] == "registered"


def test_learning_schedules_and_definitions():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("symbols", ["AAA", "BBB"])
        from resources import build_resources
        from thunderline.config import load_settings

        resources = build_resources(load_settings({"THUNDERLINE_HOME": "/nonexistent"}, create_dirs=False))
        defs = dg.Definitions(assets=list(catalog.assets), jobs=list(catalog.jobs), schedules=list(catalog.schedules),
                              resources=resources)
        repo = defs.get_repository_def()
        daily_labels, monthly_retrain, monthly_gate_retraining = (
            repo.get_schedule_def(n) for n in ("daily_labels", "monthly_retrain", "monthly_gate_retraining"))

        def tick(schedule, when):
            return schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                                                    repository_def=repo))

        early = tick(daily_labels, dt.datetime(2024, 3, 2, 4, 15, tzinfo=UTC))
        assert sorted(r.partition_key for r in early.run_requests) == [
            "2024-02-01|AAA", "2024-02-01|BBB", "2024-03-01|AAA", "2024-03-01|BBB"]
        mid = tick(daily_labels, dt.datetime(2024, 3, 17, 4, 15, tzinfo=UTC))
        assert sorted(r.partition_key for r in mid.run_requests) == ["2024-03-01|AAA", "2024-03-01|BBB"]
        [retrain] = tick(monthly_retrain, dt.datetime(2024, 3, 2, 5, 0, tzinfo=UTC)).run_requests
        assert retrain.partition_key == "2024-02-01"
        [gates] = tick(monthly_gate_retraining, dt.datetime(2024, 3, 3, 6, 0, tzinfo=UTC)).run_requests
        assert gates.run_key == "gates:2024-03-03"
    nightly = {j.name: j for j in catalog.jobs}
    assert {"learning_labels_job", "monthly_retrain_job", "gate_retraining_job"} <= set(nightly)
    groups = {k.to_user_string(): a.group_names_by_key[k] for a in catalog.assets
              if isinstance(a, dg.AssetsDefinition) for k in a.keys}
    assert {groups[k] for k in ("labels", "pnl", "learning_evaluation", "training_slices", "nas_candidates",
                                "promotion")} == {"learning"}
