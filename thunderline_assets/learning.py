"""The learning loop as assets (group ``learning``): labels → pnl → evaluation; training_slices → nas_candidates
→ promotion.

Thin by design: each asset opens the warehouse (and MLflow), calls one function
of ``thunderline`` and turns its summary into metadata a person reads in the UI.

* ``labels`` / ``pnl`` (month × symbol): realise labels as the future windows
  arrive (re-materialize a month later to fill its last windows), then price the
  month's decisions; scheduled daily by ``jobs/learning_jobs.py``.
* ``learning_evaluation`` (monthly): blend / attributed / standalone metrics per
  month — the promotion gate's evidence in the UI (picked up by the nightly job).
* ``training_slices`` / ``nas_candidates`` (complete months): the rolling slice of
  the months up to the partition, and the NAS over it whose best candidates
  become ``shadow`` versions in MLflow; monthly retrain schedule.
* ``promotion`` (unpartitioned): one blue/green step for every expert with a
  shadow or challenger; a moved champion is published by the model promotion sensor.
"""

import time
from pathlib import Path

# Month × symbol → monthly deps below name no partition mapping: Dagster infers one on the month dimension
# (the same mapping as MultiToSingleDimensionPartitionMapping, without its Beta warning in every command).
import dagster as dg

from jobs.keys import Partitions, split_key
from jobs.learning_jobs import JOBS as LEARNING_JOBS
from jobs.learning_jobs import build_learning_schedules
from jobs.metadata import clean, mlflow_version_url, table_definition_metadata
from resources import LakeResource, MlflowResource, TickerMapResource, WarehouseResource
from thunderline.config import Settings
from thunderline.experts.catalog import registered_model_name
from thunderline.store import learning_tables
from thunderline_assets.asset_specs import AssetSpecs

ASSETS = AssetSpecs()  # labels → pnl → evaluation, slices → NAS → promotion, made per Settings (asset_specs.py)
OWNERS = ["team:research"]
GROUP = "learning"


class PnlConfig(dg.Config):
    fee_bps: float = 0.5
    spread_share: float = 0.5
    horizon: int = 1


def _cost(config: PnlConfig):
    from thunderline.evaluation import CostModel

    return CostModel(config.fee_bps, config.spread_share, config.horizon)


class LabelsConfig(dg.Config):
    definition: str = ""  # clock | chained; empty: THUNDERLINE_LABELS (default clock)
    horizons_ms: list[int] = []  # clock horizons; empty: THUNDERLINE_LABEL_HORIZONS_MS (default 250, 1000, 5000)


@ASSETS.asset("month_symbol", deps=["market_feature_windows"], group_name=GROUP, kinds={"sql"}, owners=OWNERS,
              with_settings=True,
              description="Each market window's label: on a clock (mid as of the window's end and 250 ms / 1 s / 5 s "
                          "later, from the lake's quotes) or chained to the next non-overlapping windows; realised "
                          "asynchronously once the future exists; fill status, gap rate per spec and latency.",
              metadata=table_definition_metadata(learning_tables.labels))
def labels(settings: Settings):
    """The labels asset's body, bound to the settings the definitions were built with (label definition and
    clock horizons: THUNDERLINE_LABELS / THUNDERLINE_LABEL_HORIZONS_MS, unless the run config names them)."""

    def labels(context: dg.AssetExecutionContext, config: LabelsConfig, warehouse: WarehouseResource,
               lake: LakeResource) -> dg.MaterializeResult:
        return realise_labels(context, config, warehouse, lake, settings)

    return labels


def realise_labels(context: dg.AssetExecutionContext, config: LabelsConfig, warehouse: WarehouseResource,
                   lake: LakeResource, settings: Settings) -> dg.MaterializeResult:
    from thunderline.flow.learning_partition import realise_label_partition
    from thunderline.labels.clock_realise import label_specs_for

    specs = label_specs_for(settings, config.definition or None, config.horizons_ms or None)
    month, symbol = split_key(context.partition_key)
    with warehouse.session() as s:
        summary = realise_label_partition(s, month, symbol, specs, lake=lake.get())
    context.log.info(f"{summary.partition}: {summary.newly_filled:,} labels filled, status {summary.status}")
    return dg.MaterializeResult(metadata=clean({
        "windows": summary.windows, "newly_filled": summary.newly_filled, "already_final": summary.already_final,
        "specs": ", ".join(sp.id for sp in specs),
        "gap_rate_by_spec": dg.MetadataValue.json(summary.gap_rate_by_spec),
        "status": dg.MetadataValue.json(summary.status), "fill_rate": dg.MetadataValue.float(summary.fill_rate),
        "latency_ms_p50": dg.MetadataValue.float(summary.latency_ms_p50 or 0.0),
        "latency_ms_p95": dg.MetadataValue.float(summary.latency_ms_p95 or 0.0)}))


@ASSETS.asset("month_symbol", deps=["decision_traces", "labels"], group_name=GROUP, kinds={"sql"},
              owners=OWNERS,
              description="Paper PnL of every decision whose label is realised: unit positions from the blended action, "
                          "costs from the spread crossed plus a fee, net attributed to experts by blend weight.",
              metadata=table_definition_metadata(learning_tables.pnl))
def pnl(context: dg.AssetExecutionContext, config: PnlConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from thunderline.flow.learning_partition import pnl_partition

    month, symbol = split_key(context.partition_key)
    with warehouse.session() as s:
        summary = pnl_partition(s, month, symbol, _cost(config))
    context.log.info(f"{summary.partition}: {summary.priced:,} of {summary.traces:,} decisions priced, "
                     f"net {summary.net:+.6f}")
    return dg.MaterializeResult(metadata=clean({
        "traces": summary.traces, "priced": summary.priced, "waiting_for_labels": summary.waiting_for_labels,
        "positions": summary.positions, "gross": summary.gross, "cost": summary.cost, "net": summary.net,
        "cost_model": summary.cost_model, "net_by_router_version": dg.MetadataValue.json(summary.by_router_version)}))


@ASSETS.asset("months", deps=["pnl"], group_name=GROUP, kinds={"sql"}, owners=OWNERS,
              description="Hit rate, IC, turnover, drawdown and PnL per month for the blend (per router version) and "
                          "every expert (attributed and standalone, shadows included).",
              metadata=table_definition_metadata(learning_tables.evaluation_metrics))
def learning_evaluation(context: dg.AssetExecutionContext, config: PnlConfig,
                        warehouse: WarehouseResource) -> dg.MaterializeResult:
    from thunderline.evaluation.harness import evaluate_month

    month = context.partition_key[:7]
    with warehouse.session() as s:
        ev = evaluate_month(s, month, _cost(config))
    blend = ev.get("blend", "blend") or {}
    rows = [f"| {r['actor']} | {r['version']} | {r['basis']} | {r['n']} | {_f(r['hit_rate'])} | {_f(r['ic'])} | "
            f"{_f(r['turnover'])} | {_f(r['max_drawdown'], 6)} | {_f(r['net'], 6)} |" for r in ev.rows]
    table = "\n".join(["| actor | version | basis | n | hit rate | IC | turnover | max DD | net |",
                       "|---|---|---|---|---|---|---|---|---|", *rows])
    return dg.MaterializeResult(metadata=clean({
        "rows": len(ev.rows), "cost_model": ev.cost_model, "metrics": dg.MetadataValue.md(table),
        "blend_net": dg.MetadataValue.float(float(blend.get("net") or 0.0)),
        "blend_ic": dg.MetadataValue.float(float(blend.get("ic") or 0.0)),
        "blend_hit_rate": dg.MetadataValue.float(float(blend.get("hit_rate") or 0.0)),
        "blend_n": int(blend.get("n") or 0),
        "blend_turnover": dg.MetadataValue.float(float(blend.get("turnover") or 0.0)),
        "blend_max_drawdown": dg.MetadataValue.float(float(blend.get("max_drawdown") or 0.0))}))


class SignalEvaluationConfig(dg.Config):
    folds: int = 2
    train_fraction: float = 0.5
    embargo_ms: float = 5000.0
    seed: int = 0
    bootstrap: int = 200
    permutations: int = 100


@ASSETS.asset("months", deps=["market_feature_windows"],
              group_name=GROUP, kinds={"sql", "mlflow"},
              owners=OWNERS,
              description="Walk-forward out-of-sample judgement of the decision stack over the month: per expert, the "
                          "blend and the linear OFI line, rank IC and IC with bootstrap CIs, hit rate on moved windows, "
                          "turnover, net PnL, permutation-null band (clock labels, purge and embargo).")
def signal_evaluation(context: dg.AssetExecutionContext, config: SignalEvaluationConfig,
                      warehouse: WarehouseResource, lake: LakeResource, mlflow: MlflowResource,
                      ticker_map: TickerMapResource) -> dg.MaterializeResult:
    from thunderline.evaluation.report import evaluate_period, log_mlflow, store_run, walk_forward_folds
    from thunderline.partitioning import month_bounds_us

    month = context.partition_key[:7]
    lo, hi = month_bounds_us(month)
    from thunderline.evaluation.report import window_span

    with warehouse.session() as s:
        fw = s.table("feature_windows")
        span = window_span(s, None, lo, hi)
        if span is None:
            return dg.MaterializeResult(metadata={"folds": 0, "note": f"no market windows in {month}"})
        symbols = sorted({r["key"] for r in s.select("feature_windows", fw.c.kind == "market",
                                                     fw.c.window_start >= lo, fw.c.window_start < hi,
                                                     columns=["key"])})
        folds = walk_forward_folds(int(span[0]), int(span[1]), config.folds, embargo_us=int(config.embargo_ms * 1e3),
                                   train_fraction=config.train_fraction)
        run = evaluate_period(s, lake.get(), s.tenant_id, symbols=symbols, folds=folds, seed=config.seed,
                              n_boot=config.bootstrap, n_perm=config.permutations, ticker_map=ticker_map.rows())
    with warehouse.session() as s:
        stored = store_run(s, run)
    run_id = log_mlflow(mlflow.tracking_uri, run, artifact_location=mlflow.artifact_location)
    table = ["| fold | model | horizon | rank IC [95% CI] | IC | hit rate | turnover | net bps | null band |",
             "|---|---|---|---|---|---|---|---|---|"]
    for res in run.results:
        for r in sorted(res.rows, key=lambda r: (r["horizon_ms"], -(r["rank_ic"] or 0))):
            table.append(f"| {res.fold.index} | {r['model']} | {r['horizon_ms']} ms | {r['rank_ic']:+.4f} "
                         f"[{r['rank_ic_lo']:+.3f}, {r['rank_ic_hi']:+.3f}] | {r['ic']:+.4f} | {_f(r['hit_rate'])} | "
                         f"{_f(r['turnover'])} | {r['net_bps']:.1f} | {_f(r.get('null_band'), 4)} |")
    blend = {f"f{res.fold.index}_{r['horizon_ms']}ms": r["rank_ic"] for res in run.results for r in res.rows
             if r["model"] == "blend"}
    return dg.MaterializeResult(metadata={
        "folds": len(run.results), "rows": stored, "run_id": run.run_id, "mlflow_run_id": run_id,
        "symbols": ", ".join(symbols), "metrics": dg.MetadataValue.md("\n".join(table)),
        "verdicts": dg.MetadataValue.json(run.verdicts()), "blend_rank_ic": dg.MetadataValue.json(blend),
        "report": dg.MetadataValue.text("\n".join([run.tables(), *run.verdict_lines()]))})


def _f(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


class SliceConfig(dg.Config):
    prefix: str = "rolling"
    lookback_months: int = 3
    horizons: list[int] = [1, 4, 10]
    n_folds: int = 3
    embargo_windows: int = 2


def export_root(lake: LakeResource) -> Path:
    """Slices live in the lake beside the ticks: ``<lake>/tenant=<t>/training_slices/...``."""
    return Path(lake.root)


@ASSETS.asset("complete_months",
              deps=["labels"],
              group_name=GROUP, kinds={"parquet"}, owners=OWNERS,
              description="Parquet training slice of the months up to the partition: features + realised labels + "
                          "provenance, walk-forward splits with purge and embargo, a manifest and an export_jobs row.")
def training_slices(context: dg.AssetExecutionContext, config: SliceConfig, warehouse: WarehouseResource,
                    lake: LakeResource, ticker_map: TickerMapResource) -> dg.MaterializeResult:
    from thunderline.flow.learning_loop import build_rolling_slice

    month = context.partition_key[:7]
    with warehouse.session() as s:
        res = build_rolling_slice(s, export_root(lake), month, prefix=config.prefix,
                                  lookback_months=config.lookback_months, horizons=config.horizons,
                                  n_folds=config.n_folds, embargo_windows=config.embargo_windows,
                                  ticker_map=ticker_map.rows())
    m = res.manifest
    return dg.MaterializeResult(metadata=clean({
        "slice_id": res.slice_id, "manifest_sha256": res.manifest_sha256, "rows": res.rows,
        "months": dg.MetadataValue.json(m["spec"]["months"]), "path": dg.MetadataValue.path(str(res.path)),
        "folds": dg.MetadataValue.json([{"fold": f["fold"], **f["counts"]} for f in m["folds"]]),
        "dead_bands": dg.MetadataValue.json(m["dead_bands"]), "files": len(m["files"]),
        "dagster/row_count": res.rows}))


class NasConfig(dg.Config):
    targets: list[str] = ["order_flow_logit_h1", "momentum_gbm_h1"]
    runner: str = "optuna"  # optuna | external
    n_trials: int = 20
    seed: int = 0
    top_k: int = 1
    max_trees: int = 200
    max_epochs: int = 30
    external_command: list[str] = []
    external_timeout_s: float = 1800.0
    slice_prefix: str = "rolling"


@ASSETS.asset("complete_months", deps=["training_slices"], group_name=GROUP, kinds={"mlflow", "optuna"},
              owners=OWNERS,
              description="NAS over the partition's training slice (Optuna TPE by default, or an external program); "
                          "every trial an MLflow run in thunderline-nas; the best become shadow versions.")
def nas_candidates(context: dg.AssetExecutionContext, config: NasConfig, warehouse: WarehouseResource,
                   mlflow: MlflowResource) -> dg.MaterializeResult:
    from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME
    from thunderline.flow.learning_loop import latest_slice, rolling_slice_name, search_and_register
    from thunderline.nas import ExternalNasRunner, NasTarget, NasTracker, OptunaNasRunner

    name = rolling_slice_name(config.slice_prefix, context.partition_key[:7])
    with warehouse.session() as s:
        data = latest_slice(s, name)
    if data is None:
        raise dg.Failure(f"no training slice {name!r} yet: materialize training_slices for this month first")
    unknown = [t for t in config.targets if t not in DEFAULT_SPECS_BY_NAME]
    if unknown:
        raise dg.Failure(f"unknown NAS targets {unknown}; known experts: {sorted(DEFAULT_SPECS_BY_NAME)}")
    targets = [NasTarget.from_spec(DEFAULT_SPECS_BY_NAME[t]) for t in config.targets]
    if config.runner == "external":
        runner = ExternalNasRunner(config.external_command, timeout_s=config.external_timeout_s,
                                   max_candidates=max(config.top_k, 4), seed=config.seed)
    else:
        runner = OptunaNasRunner(n_trials=config.n_trials, seed=config.seed, max_trees=config.max_trees,
                                 max_epochs=config.max_epochs)
    t0 = time.perf_counter()
    with mlflow.registry(warehouse) as registry:
        tracker = NasTracker(registry.client, artifact_location=registry.artifact_location)
        outcomes = search_and_register(registry, warehouse.get(), warehouse.tenant_id, data, targets, runner,
                                       top_k=config.top_k, tracker=tracker,
                                       actor=f"dagster:{context.run.run_id}")
    failed = [o for o in outcomes if o.error]
    for o in failed:
        context.log.error(f"NAS for {o.target} failed: {o.error}")
    return dg.MaterializeResult(metadata=clean({
        "slice_id": data.slice_id, "manifest_sha256": data.manifest_sha256, "runner": runner.name,
        "seconds": dg.MetadataValue.float(time.perf_counter() - t0),
        "outcomes": dg.MetadataValue.json([{"target": o.target, "trials_tried": o.trials_tried, "pruned": o.pruned,
                                            "best_val_ic": o.best_val_ic,
                                            "best_kind": o.best_architecture.get("kind"),
                                            "architecture": o.best_architecture,
                                            "registered": [{"version": r.version, "alias": r.alias}
                                                           for r in o.registered], "error": o.error}
                                           for o in outcomes]),
        "failed_targets": len(failed),
        **{f"mlflow/{o.target} v{r.version}": mlflow_version_url(mlflow.ui_base(), registered_model_name(o.target),
                                                                 r.version)
           for o in outcomes for r in o.registered}}))


class PromotionConfig(dg.Config):
    min_count: int = 200
    shadow_min_ic: float = 0.0
    ic_margin: float = 0.0
    pnl_margin: float = 0.0
    lookback_days: float = 31.0
    fee_bps: float = 0.5
    spread_share: float = 0.5
    rounds: int = 1  # steps per candidate while it keeps being promoted (2: shadow → challenger → champion)


@ASSETS.asset(deps=["learning_evaluation", "nas_candidates"], group_name=GROUP, kinds={"mlflow"}, owners=OWNERS,
              description="One blue/green step per expert with a shadow or challenger, judged on realised labels; "
                          "moves MLflow aliases (the model promotion sensor then publishes a router version).")
def promotion(context: dg.AssetExecutionContext, config: PromotionConfig, warehouse: WarehouseResource,
              mlflow: MlflowResource, ticker_map: TickerMapResource) -> dg.MaterializeResult:
    from thunderline.evaluation import CostModel
    from thunderline.evaluation.promotion import GatePolicy, Promoter

    policy = GatePolicy(config.min_count, config.shadow_min_ic, config.ic_margin, config.pnl_margin,
                        config.lookback_days, CostModel(config.fee_bps, config.spread_share))
    with mlflow.registry(warehouse) as registry:
        promoter = Promoter(registry, warehouse.get(), warehouse.tenant_id, policy=policy,
                            actor=f"dagster:{context.run.run_id}", ticker_map=ticker_map.rows())
        transitions = promoter.step_all(rounds=config.rounds)
    for t in transitions:
        context.log.info(f"{t.expert} v{t.version}: {t.from_state} → {t.to_state} ({t.decision}): {t.reason}")
    return dg.MaterializeResult(metadata=clean({
        "transitions": dg.MetadataValue.json([_transition_row(t) for t in transitions]),
        "champions_moved": sum(t.moved_champion for t in transitions),
        **{f"mlflow/{t.expert} v{t.version}": mlflow_version_url(mlflow.ui_base(), registered_model_name(t.expert),
                                                                 t.version) for t in transitions}}))


def _transition_row(t) -> dict:
    """One promotion step as a table row: the states, the decision and both sides' evidence."""
    c, k = (t.metrics or {}).get("candidate") or {}, (t.metrics or {}).get("champion") or {}
    return {"expert": t.expert, "version": t.version, "from": t.from_state, "to": t.to_state,
            "decision": t.decision, "trades": int(c.get("n") or 0), "ic": c.get("ic"), "champion_ic": k.get("ic"),
            "net": c.get("net"), "champion_net": k.get("net"), "moved_champion": t.moved_champion,
            "reason": t.reason, "mlflow_run_id": t.mlflow_run_id}


def defs(settings: Settings, parts: Partitions) -> dg.Definitions:
    """The learning domain: labels, PnL, evaluation, slices, NAS, promotion; its daily/monthly jobs."""
    return dg.Definitions(assets=ASSETS.build(parts, settings), jobs=LEARNING_JOBS,
                          schedules=build_learning_schedules(parts))
