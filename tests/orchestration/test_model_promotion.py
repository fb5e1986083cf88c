"""model_promotion_sensor: moving a champion alias in MLflow publishes a router version that records it."""

from __future__ import annotations

import uuid

import dagster as dg
import numpy as np
import pytest
from orch_helpers import execute_request, resources_for, sensor_context

from jobs.router_jobs import JOBS as ROUTER_JOBS
from resources import MlflowResource
from sensors.model_promotion import build_model_promotion_sensor
from thunderline.decisions.embedding import fit_embedding
from thunderline.decisions.router_state import RouterState, active_router, publish_router_version, router_history
from thunderline.routing import RouterConfig, RouterLayerConfig, init_gates
from thunderline.store import Warehouse


def _router(settings, a: str, b: str) -> RouterState:
    cfg = RouterConfig(layers=(RouterLayerConfig(name="l0", n_experts=2, capacity_factor=2.0, p=0.65),), d=4)
    emb = fit_embedding(np.random.default_rng(0).standard_normal((20, 3)), ("f1", "f2", "f3"), d=4)
    state = RouterState(cfg, tuple(init_gates(cfg, 0)), ((a, b),), {a: "1", b: "1"}, emb)
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        publish_router_version(s, state, reason="test seed")
    wh.dispose()
    return state


def _active(settings) -> tuple[RouterState, list[dict]]:
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        out = active_router(s), router_history(s)
    wh.dispose()
    return out


def test_alias_move_publishes_router_version_and_rollback_restores_it(settings_env, ephemeral_instance, mlflow_uri):
    settings, instance = settings_env, ephemeral_instance
    resources = {**resources_for(settings), "mlflow": MlflowResource(tracking_uri=mlflow_uri)}
    sensor = build_model_promotion_sensor(10)
    defs = dg.Definitions(jobs=ROUTER_JOBS, sensors=[sensor], resources=resources)
    client = resources["mlflow"].client()
    tag = uuid.uuid4().hex[:8]  # the session's MLflow store is shared: names keep tests apart
    alpha, beta, gamma = (f"{n}_{tag}" for n in ("alpha", "beta", "gamma"))
    for name in (alpha, beta, gamma):  # gamma is registered but not routed to
        rm = f"thunderline.expert.{name}"
        client.create_registered_model(rm)
        for _ in range(2):
            client.create_model_version(rm, "file:///nonexistent", run_id=None)
        client.set_registered_model_alias(rm, "champion", "1")
    none_yet = sensor.evaluate_tick(sensor_context(instance, defs, resources))
    assert none_yet.run_requests == [] and "no active router" in none_yet.skip_message
    first = _router(settings, alpha, beta)

    quiet = sensor.evaluate_tick(sensor_context(instance, defs, resources, none_yet.cursor))
    assert quiet.run_requests == [] and "routes to the champions" in quiet.skip_message

    client.set_registered_model_alias(f"thunderline.expert.{gamma}", "champion", "2")  # not routed: nothing to do
    client.set_registered_model_alias(f"thunderline.expert.{alpha}", "challenger", "2")  # only champions are routed
    assert sensor.evaluate_tick(sensor_context(instance, defs, resources, quiet.cursor)).run_requests == []

    client.set_registered_model_alias(f"thunderline.expert.{alpha}", "champion", "2")
    moved = sensor.evaluate_tick(sensor_context(instance, defs, resources, quiet.cursor))
    [req] = moved.run_requests
    assert req.run_key.startswith(f"router:{first.version}:")
    assert execute_request(defs, instance, resources, req, "router_promotion_job").success
    state, history = _active(settings)
    assert state.expert_versions == {alpha: "2", beta: "1"} and state.version != first.version
    assert [h["parent_version"] for h in history] == [None, first.version]
    assert f"{alpha} v1→v2" in history[-1]["reason"]
    # the next tick sees the router already routing to the champions
    assert sensor.evaluate_tick(sensor_context(instance, defs, resources, moved.cursor)).run_requests == []

    client.set_registered_model_alias(f"thunderline.expert.{alpha}", "champion", "1")  # roll back
    back = sensor.evaluate_tick(sensor_context(instance, defs, resources, moved.cursor))
    assert execute_request(defs, instance, resources, back.run_requests[0], "router_promotion_job").success
    state, history = _active(settings)
    assert state.version == first.version and len(history) == 2  # the old version, re-activated


@pytest.mark.parametrize("aliases,expected", [
    ({"thunderline.expert.a": {"champion": "3", "shadow": "4"}, "other.model": {"champion": "1"}}, {"a": "3"}),
    ({"thunderline.expert.a": {"shadow": "4"}}, {}),
])
def test_champion_versions(aliases, expected):
    from thunderline.flow.promotion import champion_versions

    assert champion_versions(aliases) == expected
