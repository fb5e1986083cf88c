"""After ``thunderline demo`` the MLflow registry shows the learning loop working (issue 13): an expert promoted on
evidence shadow → challenger → champion, the deliberately poor candidate rejected, and a champion rolled back by
the champion guard — as aliases, version tags and runs of ``thunderline-promotions``; and the demo printed the
evaluation table. Reads the session's shared demo (``tests/demo_support.py``): no demo of its own."""

from __future__ import annotations

import json

import pytest
from demo_support import demo_output

from thunderline.evaluation.promotion import LIFECYCLE_TAG, PROMOTION_EXPERIMENT, TRANSITION_TAG
from thunderline.experts.catalog import EXPERT_MODEL_PREFIX


@pytest.fixture(scope="module")
def client(demo_home):
    from mlflow import MlflowClient

    uri = f"sqlite:///{demo_home / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _runs(client) -> list:
    exp = client.get_experiment_by_name(PROMOTION_EXPERIMENT)
    assert exp is not None, "no promotion was recorded in MLflow"
    return client.search_runs([exp.experiment_id], max_results=1000)


def test_an_expert_promoted_on_evidence_to_champion(client):
    runs = _runs(client)
    steps = {(r.data.params["expert"], r.data.params["version"], r.data.params["from_state"],
              r.data.params["to_state"], r.data.params["decision"]) for r in runs}
    promoted = [(e, v) for e, v, f, t, d in steps if (f, t, d) == ("challenger", "champion", "promoted")]
    assert promoted, f"no challenger → champion promotion among {sorted(steps)}"
    expert, version = promoted[0]
    assert (expert, version, "shadow", "challenger", "promoted") in steps
    rm = client.get_registered_model(EXPERT_MODEL_PREFIX + expert)
    assert str(rm.aliases.get("champion")) == version  # still the champion at the end of the demo
    mv = client.get_model_version(rm.name, version)
    assert mv.tags[LIFECYCLE_TAG] == "champion"
    assert json.loads(mv.tags[TRANSITION_TAG])["decision"] == "promoted"
    run = next(r for r in runs if (r.data.params["expert"], r.data.params["version"], r.data.params["to_state"],
                                   r.data.params["decision"]) == (expert, version, "champion", "promoted"))
    assert run.data.metrics["candidate_ic"] > run.data.metrics["champion_ic"]  # promoted on evidence


def test_the_poor_candidate_is_rejected_and_a_forced_champion_rolled_back(client):
    runs = _runs(client)
    by_decision: dict[str, list] = {}
    for r in runs:
        by_decision.setdefault(r.data.params["decision"], []).append(r)
    rejected = [r for r in by_decision.get("rejected", []) if r.data.params["from_state"] == "shadow"]
    assert rejected, "no shadow was rejected"
    (back,) = by_decision.get("rolled_back", [])
    expert, version = back.data.params["expert"], back.data.params["version"]
    assert any(r.data.params["expert"] == expert and r.data.params["version"] == version for r in rejected)
    assert any(r.data.params["version"] == version for r in by_decision.get("forced", []))
    assert "champion guard" in back.data.tags["mlflow.note.content"]
    assert back.data.metrics["candidate_ic"] < back.data.metrics["champion_ic"]
    rm = client.get_registered_model(EXPERT_MODEL_PREFIX + expert)
    assert str(rm.aliases.get("champion")) == back.data.params["champion_after"] != version
    mv = client.get_model_version(rm.name, version)
    assert mv.tags[LIFECYCLE_TAG] == "rolled_back" and "inverted" in mv.tags.get("thunderline.candidate", "")


def test_the_demo_prints_the_evaluation_table(demo_home):
    out = demo_output(demo_home)
    if out is None:
        pytest.skip("THUNDERLINE_DEMO_HOME given: the demo's output was not captured")
    stdout = out[0]
    assert "rank IC [95% CI]" in stdout and "baseline:linear_ofi" in stdout
    assert "shuffled labels at 250ms: every model inside" in stdout
    assert "rollback drill" in stdout and "rolled_back" in stdout
