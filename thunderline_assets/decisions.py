"""decision_traces: every market window of a month × symbol routed through the hybrid MoE router.

Thin: loads the active router version and the expert versions it records (and the shadows)
from MLflow, then calls :func:`thunderline.flow.decision_partition.decide_partition`.
Until a router version exists (no experts trained yet) the asset materializes
nothing and its ``router_ready`` check says why, instead of failing the run.
"""

import time

import dagster as dg

from jobs.keys import MLFLOW_POOL, Partitions, split_key
from jobs.metadata import clean, mlflow_version_url, table_definition_metadata
from jobs.router_jobs import JOBS as ROUTER_JOBS
from resources import MlflowResource, TickerMapResource, WarehouseResource
from sensors.model_promotion import build_model_promotion_sensor
from thunderline.config import Settings
from thunderline.decisions.pool import load_pool
from thunderline.decisions.router_state import active_router
from thunderline.faults import fault_point
from thunderline.flow.decision_partition import decide_partition
from thunderline.flow.ledger import record_step
from thunderline.store import schema
from thunderline_assets.asset_specs import AssetSpecs

ASSETS = AssetSpecs()  # decision_traces, made per Settings (asset_specs.py)


class DecisionConfig(dg.Config):
    """Set by the backpressure ladder (tick_landing_sensor) or by hand in the launchpad."""

    p_shift: float = 0.0  # "lower p": every layer routes with p - p_shift
    abstain_experts: list[str] = []  # "force abstain": these experts are not run


def expert_links(mlflow: MlflowResource, experts) -> dict[str, dg.UrlMetadataValue]:
    """``mlflow/<expert>@<alias>`` → the model version's page in the MLflow UI, for every expert used."""
    return {f"mlflow/{e.name}@{e.alias}": mlflow_version_url(mlflow.ui_base(), e.registered_model, e.version)
            for e in sorted(experts, key=lambda e: (e.name, e.alias))}


@ASSETS.asset(
    "month_symbol",
    pool=MLFLOW_POOL,
    deps=["market_feature_windows",
          dg.AssetDep("edgar_feature_windows", partition_mapping=dg.AllPartitionMapping())],
    group_name="decisions",
    kinds={"sql", "mlflow"},
    owners=["team:research"],
    description="Auditable, replayable DecisionTrace per market window (router + experts + blend + risk).",
    metadata=table_definition_metadata(schema.decision_traces),
    checks=[("router_ready", "an active router version and its champion experts exist"),
            ("undercovered", "no layer leaves more than 5% of windows without an expert")],
)
def decision_traces(context: dg.AssetExecutionContext, config: DecisionConfig, warehouse: WarehouseResource,
                    mlflow: MlflowResource, ticker_map: TickerMapResource):
    month, symbol = split_key(context.partition_key)
    with warehouse.session() as s:
        state = active_router(s)
    if state is None:
        context.log.warning("no active router version yet: run `thunderline experts bootstrap` first")
        with warehouse.session() as s:  # nothing to decide: the step is done for these windows
            record_step(s, "ticks", f"{month}|{symbol}", "decision_traces")
        fault_point("decision_traces.committed")
        yield dg.MaterializeResult(metadata=clean({"traces": 0, "router_version": "none"}))
        yield dg.AssetCheckResult(check_name="router_ready", passed=False, severity=dg.AssetCheckSeverity.WARN,
                                  description="no router version: train experts with `thunderline experts bootstrap`")
        yield dg.AssetCheckResult(check_name="undercovered", passed=True, severity=dg.AssetCheckSeverity.WARN)
        return
    t0 = time.perf_counter()
    warehouse.get().ensure_months([month])  # DDL before the transaction: parallel workers, same new month
    with mlflow.registry(warehouse) as registry:
        experts, shadows = load_pool(registry, state)
        with warehouse.session() as s:
            summary = decide_partition(s, month, symbol, state, experts, shadows=shadows,
                                       ticker_map=ticker_map.rows(), p_shift=config.p_shift,
                                       abstain_experts=config.abstain_experts, storage=warehouse.gate_storage())
    fault_point("decision_traces.committed")
    elapsed = time.perf_counter() - t0
    context.log.info(f"{summary.partition}: {summary.traces:,} traces ({summary.skipped_existing:,} already decided) "
                     f"with router {summary.router_version} in {elapsed:.2f}s")
    worst = max((st.get("undercovered_fraction", 0.0) for st in summary.layer_stats), default=0.0)
    rows = [f"| {i} | {st.get('n_experts')} | {st.get('capacity')} | {st.get('avg_experts_per_token', 0):.3f} | "
            f"{st.get('load_balance', 0):.2f} | {st.get('capacity_utilization', 0):.3f} | {st.get('entropy', 0):.3f} | "
            f"{st.get('undercovered_fraction', 0):.4f} |" for i, st in enumerate(summary.layer_stats)]
    table = "\n".join(["| layer | experts | K | experts/token | load balance | capacity util. | entropy | undercovered |",
                       "|---|---|---|---|---|---|---|---|", *rows])
    yield dg.MaterializeResult(metadata=clean({
        "traces": summary.traces,
        "windows": summary.windows,
        "skipped_existing": summary.skipped_existing,
        "router_version": summary.router_version,
        "actions": dg.MetadataValue.json(summary.actions),
        "risk_flags": dg.MetadataValue.json(summary.flags),
        "router_stats": dg.MetadataValue.md(table),
        "expert_latency_ms": dg.MetadataValue.json(summary.expert_latency_ms),
        "traces_hash": summary.hash_of_hashes,
        "windows_per_s": dg.MetadataValue.float(summary.traces / elapsed if elapsed else 0.0),
        **expert_links(mlflow, [*experts.values(), *shadows]),
    }))
    yield dg.AssetCheckResult(check_name="router_ready", passed=True, severity=dg.AssetCheckSeverity.WARN,
                              metadata=clean({"router_version": summary.router_version}))
    yield dg.AssetCheckResult(check_name="undercovered", passed=worst <= 0.05, severity=dg.AssetCheckSeverity.WARN,
                              metadata=clean({"worst_layer_undercovered_fraction": worst}))


def defs(settings: Settings, parts: Partitions) -> dg.Definitions:
    """The decisions domain: decision traces, and the router promotion job with the sensor that starts it."""
    return dg.Definitions(assets=ASSETS.build(parts, settings), jobs=ROUTER_JOBS,
                          sensors=[build_model_promotion_sensor(settings.sensor_interval_s)])
