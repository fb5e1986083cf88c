"""NAS: a seeded Optuna search recorded in real MLflow stores (SQLite and PostgreSQL), candidates registered as
shadow versions with lineage, reproducibility, and the external bridge handshake incl. a crashing program."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from thunderline.contracts import FEATURE_SCHEMA_VERSION
from thunderline.nas import (
    ExternalNasError,
    ExternalNasRunner,
    NasTarget,
    NasTracker,
    OptunaNasRunner,
    fit_architecture,
    register_candidates,
    validate_architecture,
)
from thunderline.nas.space import ArchitectureError

from .learning_data import TENANT

FAKE = Path(__file__).with_name("fake_cerebros.py")
TARGET = NasTarget("nas_order_flow", "order_flow", 1)  # apart from other tests sharing the MLflow store


@pytest.fixture(scope="module")
def slice_data(planted_slice):
    return planted_slice


def _mlflow(warehouse, tmp_path, mlflow_store):
    """An MLflow store on the warehouse's backend: the session's SQLite store, or the same PostgreSQL database."""
    if warehouse.is_postgres:
        return warehouse.url, str(tmp_path / "artifacts")
    return mlflow_store


def test_nas_runs_are_recorded_in_mlflow_and_the_best_is_registered_as_shadow(slice_data, warehouse, tmp_path,
                                                                               mlflow_store):
    from mlflow import MlflowClient

    from thunderline.experts import ExpertRegistry

    uri, artifacts = _mlflow(warehouse, tmp_path, mlflow_store)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tracker = NasTracker(client, artifact_location=artifacts, experiment="thunderline-nas")
    runner = OptunaNasRunner(n_trials=6, seed=3, max_epochs=8, patience=2, max_trees=60)
    result = runner.search(slice_data, TARGET, tracker=tracker)
    assert result.trials_tried == 6 and len(result.candidates) + result.pruned + result.failed == 6
    exp = client.get_experiment_by_name("thunderline-nas")
    runs = client.search_runs([exp.experiment_id], max_results=1000)  # other tests may share the store
    study = client.get_run(result.study_run_id)
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == study.info.run_id]
    assert study.data.tags["thunderline.nas.role"] == "study"
    assert {r.data.tags["thunderline.nas.role"] for r in trials} == {"trial"}
    assert len(trials) == 6 and study.info.status == "FINISHED" and study.data.metrics["trials_tried"] == 6
    assert all(r.data.tags["thunderline.slice_manifest_sha256"] == slice_data.manifest_sha256 for r in trials)
    assert sorted(r.data.metrics["trials_tried"] for r in trials) == [1, 2, 3, 4, 5, 6]
    done = [r for r in trials if r.data.tags["thunderline.nas.state"] == "COMPLETE"]
    assert done and all({"arch.kind", "target", "seed", "slice_id"} <= set(r.data.params) for r in done)
    assert all("val_ic" in r.data.metrics and "val_accuracy" in r.data.metrics for r in done)
    best = result.best
    assert best.objective == max(c.objective for c in result.candidates)
    assert client.get_run(best.run_id).data.metrics["val_ic"] == pytest.approx(best.metrics["val_ic"])

    with ExpertRegistry(client, artifact_location=artifacts, warehouse=warehouse, tenant_id=TENANT) as reg:
        got = register_candidates(reg, result, slice_data, top_k=2, warehouse=warehouse, tenant_id=TENANT)
        assert [g.alias for g in got] == ["shadow", None][: len(got)]
        versions = reg.versions(TARGET.name)
        assert [v.version for v in versions] == [g.version for g in got]
        assert reg.aliases(TARGET.name) == {"shadow": got[0].version}
        tags = versions[0].tags
        assert tags["thunderline.nas_run_id"] == best.run_id and tags["thunderline.lifecycle"] == "shadow"
        assert tags["thunderline.slice_manifest_sha256"] == slice_data.manifest_sha256
        assert tags["thunderline.estimator"] == best.architecture["kind"]
        loaded = reg.load(TARGET.name, "shadow")
        # the expert reads windows as the feature schema its slice was read as (thunderline.feature_schemas)
        assert loaded.feature_schema_version == slice_data.manifest["feature_schema_version"] == FEATURE_SCHEMA_VERSION
        _, val = slice_data.split()
        np.testing.assert_array_equal(loaded.predict(val)["action"].to_numpy(),
                                      best.fit and _actions(best, val))
    with warehouse.session(TENANT) as s:
        edges = {(e["from_kind"], e["to_kind"], e["to_id"]) for e in s.select("lineage_edges")}
        [event] = s.select("promotion_events")
    assert ("training_slice", "nas_candidate", best.run_id) in edges
    assert ("nas_candidate", "expert_version", f"thunderline.expert.{TARGET.name}/{got[0].version}") in edges
    assert (event["decision"], event["to_state"], event["version"]) == ("registered", "shadow", got[0].version)


def _actions(candidate, frame):
    from thunderline.experts.predict import predict_frame

    return predict_frame(candidate.fit.estimator, TARGET.features, frame, expert=TARGET.name)["action"].to_numpy()


def test_optuna_search_is_reproducible(slice_data):
    a = OptunaNasRunner(n_trials=4, seed=9, max_epochs=5, patience=2, max_trees=40).search(slice_data, TARGET)
    b = OptunaNasRunner(n_trials=4, seed=9, max_epochs=5, patience=2, max_trees=40).search(slice_data, TARGET)

    def strip(r):
        return [(c.number, c.architecture, {k: v for k, v in c.metrics.items() if k != "fit_seconds"})
                for c in r.candidates]

    assert strip(a) == strip(b)


def test_mlp_with_dropout_serves_as_a_sklearn_model(slice_data):
    from thunderline.nas.mlp import forward

    train, val = slice_data.split()
    cols = list(TARGET.features)
    arch = {"kind": "mlp", "hidden": [8, 8], "activation": "tanh", "dropout": 0.3, "max_epochs": 4}
    fit = fit_architecture(arch, train[cols].to_numpy(), train["label_h1"].to_numpy(dtype=object),
                           val[cols].to_numpy(), val["label_h1"].to_numpy(dtype=object),
                           val["fwd_return_h1"].to_numpy(),
                           seed=0)
    scaler, clf = fit.estimator.named_steps["scale"], fit.estimator.named_steps["mlp"]
    X = val[cols].dropna().to_numpy()
    mine = forward(clf.coefs_, clf.intercepts_, "tanh", scaler.transform(X))
    np.testing.assert_allclose(fit.estimator.predict_proba(X), mine, rtol=1e-12, atol=1e-15)
    assert 1 <= fit.steps <= 4 and validate_architecture({"kind": "gbm"})["max_iter"] == 100
    with pytest.raises(ArchitectureError, match="unknown keys"):
        validate_architecture({"kind": "mlp", "layers": 3})
    with pytest.raises(ArchitectureError, match="dropout"):
        validate_architecture({"kind": "mlp", "dropout": 1.5})


def test_external_bridge_handshake(slice_data, mlflow_store):
    from mlflow import MlflowClient

    uri, artifacts = mlflow_store
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tracker = NasTracker(client, artifact_location=artifacts, experiment="nas-bridge-ok")
    runner = ExternalNasRunner([sys.executable, str(FAKE)], timeout_s=120, max_candidates=2, seed=1)
    result = runner.search(slice_data, TARGET, tracker=tracker)
    assert result.runner == "external" and result.trials_tried == 7 and len(result.candidates) == 2
    assert {c.architecture["kind"] for c in result.candidates} == {"mlp", "gbm"}
    mlp = next(c for c in result.candidates if c.architecture["kind"] == "mlp")
    assert mlp.architecture["hidden"] == [16, 16] and mlp.external_metrics["external_val_ic"] == 0.12
    assert mlp.external_metrics["external_train_rows_seen"] == len(slice_data.split()[0])  # it read the slice
    assert "val_ic" in mlp.metrics  # re-fitted and scored here, not taken on trust
    assert "cerebros: " in runner.last_stderr
    runs = client.search_runs([client.get_experiment_by_name("nas-bridge-ok").experiment_id])
    assert sum(r.data.tags.get("thunderline.nas.role") == "trial" for r in runs) == 2
    req = runner.request(slice_data, TARGET)
    assert json.loads(json.dumps(req))["protocol"] == "thunderline.nas/1"


@pytest.mark.parametrize("flag,match", [("--crash", r"exited with status 1; its stderr ends:[\s\S]*CUDA out of memory"),
                                        ("--garbage", "not one JSON document")])
def test_a_failing_external_program_is_a_clear_error_and_registers_nothing(slice_data, mlflow_store, flag, match):
    from mlflow import MlflowClient

    from thunderline.experts import ExpertRegistry

    uri, artifacts = mlflow_store
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = f"nas-bridge{flag}"
    tracker = NasTracker(client, artifact_location=artifacts, experiment=experiment)
    runner = ExternalNasRunner([sys.executable, str(FAKE), flag], timeout_s=120)
    target = NasTarget(f"bridge_{flag.strip('-')}", "order_flow", 1)
    with ExpertRegistry(client, artifact_location=artifacts) as reg:
        with pytest.raises(ExternalNasError, match=match):
            result = runner.search(slice_data, target, tracker=tracker)
            register_candidates(reg, result, slice_data)  # never reached
        assert target.name not in {e.name for e in reg.list_experts()}
    [study] = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert study.info.status == "FAILED" and "ExternalNasError" in study.data.tags["thunderline.nas.error"]
