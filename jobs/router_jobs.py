"""Router jobs: publish a router version when champions move (model_promotion_sensor), retrain the gates."""

import dagster as dg

from jobs.keys import ROUTER_PROMOTION_JOB
from jobs.metadata import clean
from resources import WarehouseResource


class PromotionConfig(dg.Config):
    champions: dict[str, str]  # expert name → champion model version, as read from MLflow by the sensor


@dg.op(description="Publish the active router with the new champions' versions (atomic; no-op if up to date).")
def publish_champions(context: dg.OpExecutionContext, config: PromotionConfig, warehouse: WarehouseResource):
    from thunderline.flow.promotion import promote_champions

    with warehouse.session() as s:
        p = promote_champions(s, config.champions)
    if p.missing:
        context.log.warning(f"routed experts without a champion alias (kept at their recorded version): {p.missing}")
    if p.version is None:
        context.log.info("router already routes to the current champions" if p.previous else
                         "no active router version yet: nothing to promote")
    else:
        context.log.info(f"router {p.previous} → {p.version}: {p.changes}")
    return dg.Output(p.version, metadata=clean({
        "previous_version": p.previous or "none", "router_version": p.version or p.previous or "none",
        "changes": dg.MetadataValue.json({k: list(v) for k, v in p.changes.items()})}))


@dg.job(name=ROUTER_PROMOTION_JOB, description="Publish a router version that routes to the current MLflow champions.",
        tags={"thunderline/kind": "router"})
def router_promotion_job():
    publish_champions()


JOBS = [router_promotion_job]
