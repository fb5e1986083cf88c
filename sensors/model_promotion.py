"""model_promotion_sensor: MLflow champion aliases of ``thunderline.expert.*`` → a new router version.

Each tick reads every expert's aliases in one registry query and compares the
champions with the expert versions the *active router version* records (the
warehouse is the source of truth, so a lost cursor or a daemon restart cannot
miss or repeat a promotion). When a routed expert's champion moved, it requests
``router_promotion_job``, keyed by (active router version → target champions):
the same transition is requested once, and a later move back is a new
transition. The JSON cursor keeps the last alias snapshot for the UI.
"""

from __future__ import annotations

import dagster as dg

from jobs.keys import ROUTER_PROMOTION_JOB, TRIGGER_TAG
from resources import MlflowResource, WarehouseResource
from sensors._common import dump_cursor, ready_warehouse
from thunderline.experts.catalog import EXPERT_MODEL_PREFIX
from thunderline.hashing import content_hash
from thunderline.run_tags import run_tags


def alias_snapshot(mlflow: MlflowResource) -> dict[str, dict[str, str]]:
    """``{registered model: {alias: version}}`` of every ``thunderline.expert.*`` model."""
    models = mlflow.client().search_registered_models(filter_string=f"name LIKE '{EXPERT_MODEL_PREFIX}%'")
    return {m.name: {a: str(v) for a, v in sorted(m.aliases.items())} for m in sorted(models, key=lambda m: m.name)}


def evaluate_model_promotion(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                             mlflow: MlflowResource):
    from thunderline.decisions.router_state import active_router
    from thunderline.flow.promotion import champion_versions, pending_change

    snapshot = alias_snapshot(mlflow)
    champions = champion_versions(snapshot)
    with ready_warehouse(warehouse) as wh, wh.session(warehouse.tenant_id) as s:
        state = active_router(s)
    cursor = dump_cursor({"aliases": snapshot})
    changes = pending_change(state, champions)
    if not changes:
        why = "no active router version yet" if state is None else f"router {state.version} routes to the champions"
        return dg.SensorResult(skip_reason=why, cursor=cursor)
    target = {n: champions[n] for n in sorted({e for pool in state.pools for e in pool}) if n in champions}
    return dg.SensorResult(run_requests=[dg.RunRequest(
        run_key=f"router:{state.version}:{content_hash(target)[:24]}",
        run_config={"ops": {"publish_champions": {"config": {"champions": target}}}},
        tags={**run_tags(warehouse.tenant_id, "sensor:model_promotion_sensor", state.version),
              TRIGGER_TAG: "model_promotion_sensor",
              "thunderline/router_version": state.version,
              "thunderline/changes": ",".join(f"{n}:{o}->{v}" for n, (o, v) in sorted(changes.items()))[:4000]},
    )], cursor=cursor)


def build_model_promotion_sensor(interval_s: int) -> dg.SensorDefinition:
    @dg.sensor(name="model_promotion_sensor", job_name=ROUTER_PROMOTION_JOB, minimum_interval_seconds=interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="MLflow champion aliases of thunderline.expert.* moved → publish a router version "
                           "that routes to them (atomically) and records their versions.")
    def model_promotion_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                               mlflow: MlflowResource):
        return evaluate_model_promotion(context, warehouse, mlflow)

    return model_promotion_sensor
