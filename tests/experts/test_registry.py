"""The expert registry on a real MLflow store (SQLite + local artifacts): register, alias, load, swap, retire."""

import json

import mlflow
import pandas as pd
import pytest
import sqlalchemy as sa

from thunderline.experts import ExpertRegistry, MissingFeatureError
from thunderline.experts.registry import ExpertNotFound, ExpertRegistryError, registered_model_name

from .conftest import renamed


def test_register_logs_signature_input_example_tags_and_metrics(registry, pool):
    fitted = renamed(pool["order_flow_logit_h1"], "reg_sig")
    v = registry.register(fitted, alias="champion", metrics={"holdout_accuracy": 0.45})
    assert v.registered_model == "thunderline.expert.reg_sig" and v.aliases == ("champion",)
    assert json.loads(v.tags["thunderline.features"]) == list(fitted.features)
    assert v.tags["thunderline.family"] == "order_flow" and v.tags["thunderline.status"] == "active"
    info = mlflow.models.get_model_info(v.source)
    assert [c.name for c in info.signature.inputs.inputs] == list(fitted.features)
    assert all(c.type.name == "double" and c.required for c in info.signature.inputs.inputs)
    assert [c.name for c in info.signature.outputs.inputs][:2] == ["action", "confidence"]
    assert info.saved_input_example_info["type"] == "dataframe"
    assert info.metadata["thunderline"]["horizon"] == 1
    run = registry.client.get_run(v.run_id)
    assert run.data.metrics["holdout_accuracy"] == 0.45
    assert run.data.params["features"] == ",".join(fitted.features)
    assert registry.aliases("reg_sig") == {"champion": v.version}
    assert "reg_sig" in {e.name for e in registry.list_experts()}


def test_load_by_alias_predicts_exactly_like_the_trained_expert(registry, pool, planted, monkeypatch, mlflow_sqlite):
    fitted = renamed(pool["momentum_gbm_h1"], "reg_load")
    v = registry.register(fitted, alias="champion")
    loaded = registry.load("reg_load", "champion")
    assert (loaded.version, loaded.alias, loaded.family, loaded.horizon) == (v.version, "champion", "momentum", 1)
    assert loaded.features == fitted.features and loaded.latency_budget_ms == fitted.latency_budget_ms
    x = planted.frame[planted.test].head(50)
    pd.testing.assert_frame_equal(loaded.predict(x), fitted.predict(x), check_exact=True)
    # the URI every MLflow tool understands resolves to the same model (fluent API: global registry URI)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_sqlite[0])
    assert ExpertRegistry.model_uri("reg_load", "champion") == "models:/thunderline.expert.reg_load@champion"
    std = mlflow.pyfunc.load_model(ExpertRegistry.model_uri("reg_load", "champion"))
    pd.testing.assert_frame_equal(std.predict(x[list(fitted.features)]).set_axis(x.index), fitted.predict(x))
    with pytest.raises(MissingFeatureError, match="missing feature column 'tick_rate'"):
        loaded.predict(x.drop(columns="tick_rate"))


def test_moving_an_alias_hot_swaps_the_loaded_model(registry, pool, planted):
    a = renamed(pool["order_flow_logit_h1"], "reg_swap")
    b = renamed(pool["order_flow_logit_h1_l2"], "reg_swap")
    va = registry.register(a, alias="champion")
    vb = registry.register(b, alias="challenger")
    x = planted.frame[planted.test].head(200)
    first = registry.load("reg_swap", "champion")
    assert first.version == va.version
    assert registry.get("reg_swap", "champion") .version == va.version  # hot path: no registry call
    registry.set_alias("reg_swap", "champion", vb.version)
    assert registry.get("reg_swap", "champion").version == va.version  # not swapped until refresh/load
    events = registry.refresh()
    assert [(e.alias, e.old_version, e.new_version) for e in events] == [("champion", va.version, vb.version)]
    now = registry.get("reg_swap", "champion")
    assert now.version == vb.version
    pd.testing.assert_frame_equal(now.predict(x), b.predict(x), check_exact=True)
    assert not now.predict(x)["confidence"].equals(first.predict(x)["confidence"])
    assert ("reg_swap", va.version) not in registry.cached_versions()  # no alias binds it any more
    assert registry.refresh() == []  # nothing moved since


def test_retire_drops_aliases_and_marks_the_version(registry, pool):
    fitted = renamed(pool["filing_logit_h10"], "reg_retire")
    v = registry.register(fitted, alias="shadow")
    registry.set_alias("reg_retire", "challenger", v.version)
    loaded = registry.load("reg_retire", "shadow")
    assert loaded.is_shadow
    retired = registry.retire("reg_retire", alias="shadow")
    assert retired.status == "retired" and retired.aliases == ()
    assert registry.aliases("reg_retire") == {}
    with pytest.raises(ExpertNotFound, match=r"thunderline.expert.reg_retire@shadow is not loaded"):
        registry.get("reg_retire", "shadow")
    with pytest.raises(ExpertNotFound, match=r"reg_retire@champion"):
        registry.load("reg_retire", "champion")
    with pytest.raises(ExpertRegistryError, match="is retired"):
        registry.set_alias("reg_retire", "champion", v.version)


def test_names_and_aliases_are_validated(registry):
    with pytest.raises(ValueError, match="alias 'prod'"):
        registry.resolve("reg_sig", "prod")
    with pytest.raises(ValueError, match="expert name"):
        registered_model_name("Bad Name")
    with pytest.raises(ExpertNotFound, match="not registered"):
        registry.aliases("never_registered")


def test_loads_swaps_and_retirements_are_recorded_per_tenant(mlflow_sqlite, warehouse, pool):
    """The experts table on both warehouse backends: one row per (tenant, model, version), tenant-scoped."""
    uri, artifacts = mlflow_sqlite
    with ExpertRegistry(tracking_uri=uri, artifact_location=artifacts, warehouse=warehouse, tenant_id="acme") as reg:
        v1 = reg.register(renamed(pool["order_flow_logit_h4"], "reg_wh"), alias="champion")
        v2 = reg.register(renamed(pool["order_flow_logit_h1"], "reg_wh"))
        reg.load("reg_wh", "champion")
        reg.set_alias("reg_wh", "champion", v2.version)
        reg.refresh()
        reg.retire("reg_wh", version=v2.version)
    with warehouse.session("acme") as s:
        t = s.table("experts")
        rows = {r["version"]: r for r in s.select("experts", t.c.name == "reg_wh")}
    assert rows[v1.version]["status"] == "unloaded" and rows[v1.version]["alias"] is None
    assert rows[v2.version]["status"] == "retired"
    assert rows[v1.version]["registered_model"] == "thunderline.expert.reg_wh"
    assert rows[v1.version]["meta"]["features"] == list(pool["order_flow_logit_h4"].features)
    assert rows[v1.version]["latency_budget_ms"] == 50.0
    with warehouse.session("other") as s:
        assert s.count("experts", sa.column("name") == "reg_wh") == 0


def test_nothing_phones_home(registry):
    """MLflow 3 reads MLFLOW_DISABLE_TELEMETRY / DO_NOT_TRACK=true (not MLFLOW_ENABLE_TELEMETRY): we set the
    former before MLflow starts its client, and re-check if MLflow was imported first."""
    import os

    from mlflow.telemetry import get_telemetry_client

    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert get_telemetry_client() is None


def test_mlflow_shows_a_training_experiment_unique_runs_a_logged_model_and_its_dataset(registry, pool, tmp_path):
    """What an MLflow user sees: the model-training view (not GenAI), one run name per retrain, the version
    backed by a LoggedModel, and the training data as a dataset input of the run."""
    from thunderline.experts.tracking import EXPERIMENT_KIND_TAG, MODEL_TRAINING, TrainingData

    fitted = renamed(pool["order_flow_logit_h1"], "reg_ui")
    data = TrainingData(name="training_slice abcd1234 2025-01..2025-03", digest="f" * 64,
                        source_uri=(tmp_path / "slice").as_uri(), columns=[("ofi", "double"), ("symbol", "string")],
                        rows=1234)
    a = registry.register(fitted, metrics={"holdout_ic": 0.1}, training_data=data)
    b = registry.register(fitted)
    exp = registry.client.get_experiment_by_name(registry.experiment_name)
    assert exp.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    ra, rb = registry.client.get_run(a.run_id), registry.client.get_run(b.run_id)
    assert ra.info.run_name.startswith("reg_ui-train-") and ra.info.run_name != rb.info.run_name
    inputs = ra.inputs.dataset_inputs
    assert [(d.dataset.name, d.dataset.digest) for d in inputs] == [(data.name, "f" * 36)]
    assert json.loads(inputs[0].dataset.profile) == {"num_rows": 1234}
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training"}
    [out] = ra.outputs.model_outputs
    lm = registry.client.get_logged_model(out.model_id)
    assert a.source == lm.artifact_location
    assert lm.source_run_id == a.run_id and lm.status.to_int() == lm.status.READY.to_int()
    assert "holdout_ic" in {m.key for m in lm.metrics or []}
    assert not rb.inputs.dataset_inputs
