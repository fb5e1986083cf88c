"""The learning loop as Dagster runs of the ``learning`` assets: what ``thunderline learn loop`` and the demo run.

Why: the loop used to be sequenced by hand in this process, so the UI's ``learning`` group
said "Never materialized" and the two orchestrations of one graph could drift apart. Now
the CLI only decides *which* partitions to run and submits the learning assets' own named
jobs (``jobs/learning_jobs.py``) against the instance, like ``thunderline ingest`` does, and
reads what it prints from the runs' materializations:

1. ``learning_labels_job`` (labels → pnl), one backfill over every month × symbol with windows;
2. ``learning_evaluation_job``, one backfill over the decided months (not the history);
3. ``monthly_retrain_job`` (training_slices → nas_candidates) for the last history month;
4. ``promotion_job``: up to ``rounds`` steps per shadow/challenger;
5. ``gate_retraining_job``: learned gates → a router version;
6. ``router_promotion_job`` when a champion moved (what ``model_promotion_sensor`` requests under the daemon);
7. optionally ``signal_evaluation_job`` (walk-forward, what ``thunderline evaluate`` prints) over the decided months.

Every run carries the run tags (tenant, source, router version, code version); the steps that
run several partitions are backfills (Backfills tab). A failed run stops the loop with
:class:`LearningRunFailed` naming the job and the failed step.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from thunderline_cli.dagster_runs import Runs, RunSession

DEMO_TARGETS = ("momentum_gbm_h1",)


class LearningRunFailed(RuntimeError):
    """A run of the learning loop failed (the UI has its logs)."""


def run_learning_loop(settings, *, history_months: Sequence[str], targets: Sequence[str] = DEMO_TARGETS,
                      n_trials: int = 8, seed: int = 0, min_count: int = 200, retrain_gates: bool = True,
                      promotion_rounds: int = 1, poor_candidate: str | None = None,
                      walk_forward: Mapping | None = None, source: str = "cli:learn", verbose: bool = False,
                      progress: bool = True, show: Callable[[str], None] | None = None, instance=None) -> dict:
    """Labels → PnL → evaluation → slice → NAS → promotion → gates → router, each a Dagster run of its job.

    ``walk_forward`` (config of ``signal_evaluation``, e.g. ``{"folds": 1}``) adds the walk-forward judgement
    of the decided months; ``poor_candidate`` registers that expert trained on inverted labels as a shadow
    before the promotion run (the demo's candidate the gate must reject). Returns what the steps reported.
    """
    session = RunSession(settings, source=source, instance=instance, verbose=verbose, progress=progress,
                         desc="learn")
    loop = _LearningRuns(session, show or session.write)
    try:
        loop.check_history(history_months)
        decided = loop.labels_and_pnl(history_months)
        loop.evaluation(decided)
        loop.retrain(history_months, targets, n_trials=n_trials, seed=seed)
        if poor_candidate:
            loop.poor_candidate(poor_candidate, history_months, seed=seed)
        moved = loop.promotion(min_count=min_count, rounds=promotion_rounds)
        if poor_candidate:
            loop.rollback_drill(poor_candidate, min_count=min_count)
        if retrain_gates:
            loop.gates()
        if moved:
            loop.follow_champions()
        if walk_forward is not None:
            loop.walk_forward(decided, walk_forward)
    finally:
        session.close()
    return loop.out


class _LearningRuns:
    """The loop's steps over one :class:`RunSession`; ``out`` collects what each step's runs reported."""

    def __init__(self, session: RunSession, show: Callable[[str], None]) -> None:
        self.session, self.show = session, show
        self.settings = session.settings
        self.out: dict = {}

    def _check(self, runs: Runs, job: str) -> Runs:
        why = runs.failure()
        if why:
            raise LearningRunFailed(f"{job} failed: {why} (its logs are in the Dagster UI)")
        return runs

    def _backfill(self, job: str, keys: list, title: str, config: Mapping | None = None) -> Runs:
        self.session.expect(len(keys))
        return self._check(self.session.backfill(job, keys, title=title, config=config), job)

    def _run(self, job: str, *, partition_key=None, config: Mapping | None = None) -> Runs:
        self.session.expect(1)
        return self._check(self.session.run(job, partition_key=partition_key, config=config), job)

    def check_history(self, history_months: Sequence[str]) -> None:
        """The retrain runs on the last history month's partition: it must be a complete monthly partition (of
        the definitions this session runs: the months of its settings)."""
        complete_months = self.session.defs.get_assets_def("training_slices").partitions_def
        if not complete_months.has_partition_key(f"{history_months[-1]}-01"):
            first, last = complete_months.get_first_partition_key(), complete_months.get_last_partition_key()
            raise LearningRunFailed(f"--history {history_months[-1]}: not a complete monthly partition "
                                    f"({first[:7] if first else '-'}..{last[:7] if last else '-'}; see "
                                    "THUNDERLINE_FIRST_MONTH / THUNDERLINE_LAST_MONTH)")

    def labels_and_pnl(self, history_months: Sequence[str]) -> list[str]:
        from jobs.keys import month_symbol_key
        from jobs.metadata import table_rows
        from thunderline.flow.learning_partition import months_with_windows
        from thunderline.stores import open_stores

        with open_stores(self.settings, init_schema=True) as stores, stores.session() as s:
            parts = months_with_windows(s)
        if not parts:
            raise LearningRunFailed("no market windows in the warehouse: run `thunderline ingest` first")
        self._add_symbols(sorted({sym for _, sym in parts}))
        runs = self._backfill("learning_labels_job", [month_symbol_key(f"{m}-01", sym) for m, sym in parts],
                              f"labels + pnl {parts[0][0]}..{parts[-1][0]}")
        status: dict[str, int] = {}
        for mat in runs.materializations("labels"):
            for row in table_rows(mat.metadata["status"]):
                status[row["status"]] = status.get(row["status"], 0) + int(row["labels"])
        decided = sorted({m for m, _ in parts} - set(history_months))
        priced = sum(int(mat.metadata["priced"].value) for mat in runs.materializations("pnl")
                     if str(mat.partition)[:7] in decided)
        self.show(f"    labels + pnl: {len(parts)} month × symbol runs (backfill {runs.backfill_id}); labels "
                  f"{sum(status.values()):,} {status}; {priced:,} decisions priced in {', '.join(decided) or '-'}")
        gaps: dict[str, list[int]] = {}
        for mat in runs.materializations("labels"):
            n = sum(int(r["labels"]) for r in table_rows(mat.metadata["status"]))
            for row in table_rows(mat.metadata["gap_rate_by_spec"]) if "gap_rate_by_spec" in mat.metadata else ():
                acc = gaps.setdefault(row["spec"], [0.0, 0])
                acc[0], acc[1] = acc[0] + float(row["gap_rate"]) * n, acc[1] + n
        if gaps:
            self.show("    gap rate per label spec: " + ", ".join(f"{k} {g / max(n, 1):.1%}"
                                                            for k, (g, n) in sorted(gaps.items())))
        self.out["labels"] = status
        return decided

    def _add_symbols(self, symbols: list[str]) -> None:
        """Symbols with windows become partitions (ingest adds them; a warehouse filled elsewhere may not have)."""
        known = set(self.session.instance.get_dynamic_partitions("symbols"))
        new = [s for s in symbols if s not in known]
        if new:
            self.session.instance.add_dynamic_partitions("symbols", new)

    def evaluation(self, decided: Sequence[str]) -> None:
        if not decided:
            return
        runs = self._backfill("learning_evaluation_job", [f"{m}-01" for m in decided],
                              f"learning_evaluation {decided[0]}..{decided[-1]}")
        for mat in runs.materializations("learning_evaluation"):
            md = {k: v.value for k, v in mat.metadata.items()}
            self.show(f"      {str(mat.partition)[:7]} blend: n {md['blend_n']:,}, hit rate {md['blend_hit_rate']:.3f}, "
                      f"IC {md['blend_ic']:+.3f}, turnover {md['blend_turnover']:.3f}, "
                      f"max drawdown {md['blend_max_drawdown']:.5f}, net {md['blend_net']:+.5f}")

    def retrain(self, history_months: Sequence[str], targets: Sequence[str], *, n_trials: int, seed: int) -> None:
        from jobs.metadata import table_rows

        config = {"ops": {
            "training_slices": {"config": {"lookback_months": len(history_months)}},
            "nas_candidates": {"config": {"targets": list(targets), "n_trials": n_trials, "seed": seed,
                                          "max_trees": 100, "max_epochs": 20, "top_k": 1}}}}
        runs = self._run("monthly_retrain_job", partition_key=f"{history_months[-1]}-01", config=config)
        (sl,), (nas,) = runs.materializations("training_slices"), runs.materializations("nas_candidates")
        md = {k: v.value for k, v in sl.metadata.items()}
        folds = ", ".join(f"f{f['fold']}: {f['train']}/{f['validation']} (purged {f['purged']}, embargoed "
                          f"{f['embargoed']})" for f in table_rows(sl.metadata["folds"]))
        months = ", ".join(r["value"] for r in table_rows(sl.metadata["months"]))
        self.show(f"    training slice {md['slice_id'][:8]}: {md['rows']:,} rows of {months} in {md['files']} "
                  f"Parquet files, manifest {md['manifest_sha256'][:12]}; train/validation {folds}")
        self.out["slice"] = {"id": md["slice_id"], "rows": md["rows"], "manifest_sha256": md["manifest_sha256"]}
        self.out["nas"] = []
        for o in table_rows(nas.metadata["outcomes"]):
            self.out["nas"].append(o)
            if o["error"]:
                self.show(f"    NAS {o['target']}: failed: {o['error']}")
                continue
            import json

            reg = json.loads(o["registered"] or "[]")
            self.show(f"    NAS {o['target']}: {o['trials_tried']} Optuna trials ({o['pruned']} pruned) in MLflow "
                      f"'thunderline-nas'; best {o['best_kind']} val IC {o['best_val_ic']:+.3f}"
                      + (f" → thunderline.expert.{o['target']} v{reg[0]['version']} @shadow" if reg else ""))

    def poor_candidate(self, name: str, history_months: Sequence[str], *, seed: int) -> None:
        """The demo's deliberately poor shadow (trained on inverted labels), registered for the promotion run."""
        from thunderline.evaluation.promotion import GatePolicy, Promoter
        from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME
        from thunderline.flow.learning_loop import register_inverted_candidate
        from thunderline.stores import open_stores

        actor = f"thunderline ({self.session.source})"
        with open_stores(self.settings) as stores:
            with stores.session() as s:
                pv, _ = register_inverted_candidate(stores.registry, s, DEFAULT_SPECS_BY_NAME[name], history_months,
                                                    seed=seed, actor=actor)
            Promoter(stores.registry, stores.warehouse, stores.tenant_id, policy=GatePolicy(), actor=actor)\
                .register_shadow(name, pv, reason="deliberately poor candidate: trained on inverted labels",
                                 actor=actor)
        self.show(f"    deliberately poor candidate: thunderline.expert.{name} v{pv} (inverted labels) @shadow")
        self.poor_version = pv

    def rollback_drill(self, name: str, *, min_count: int) -> None:
        """The rejected poor candidate made champion by hand, then judged by the champion guard against the
        champion it replaced on realised labels and rolled back (:func:`thunderline.flow.promotion.rollback_drill`;
        both transitions are MLflow runs of ``thunderline-promotions`` and tags on the versions)."""
        from thunderline.evaluation.promotion import GatePolicy, Promoter
        from thunderline.flow.promotion import rollback_drill
        from thunderline.stores import open_stores

        pv = getattr(self, "poor_version", None)
        if pv is None:
            return
        actor = f"thunderline ({self.session.source})"
        with open_stores(self.settings) as stores:
            promoter = Promoter(stores.registry, stores.warehouse, stores.tenant_id,
                                policy=GatePolicy(min_count=min_count), actor=actor)
            forced, guarded = rollback_drill(promoter, name, pv)
        self.show(f"    rollback drill {name}: v{pv} forced to champion by hand (replacing v{forced.previous_champion});"
                  f" champion guard → {guarded.decision}, champion v{guarded.champion_after}: {guarded.reason}")
        self.out["rollback"] = {"expert": name, "forced": pv, "decision": guarded.decision,
                                "champion_after": guarded.champion_after}

    def promotion(self, *, min_count: int, rounds: int) -> bool:
        """One run of ``promotion_job``; True when a champion moved."""
        from jobs.metadata import table_rows

        runs = self._run("promotion_job", config={"ops": {"promotion": {"config": {"min_count": min_count,
                                                                                    "rounds": rounds}}}})
        (mat,) = runs.materializations("promotion")
        rows = table_rows(mat.metadata["transitions"])
        for t in rows:
            self.show(f"    promotion {t['expert']} v{t['version']}: {t['from']} → {t['to']} ({t['decision']}) on "
                      f"{t['trades']:,} realised trades: IC {_f(t['ic'], sign=True)} vs champion "
                      f"{_f(t['champion_ic'], sign=True)}, net {_f(t['net'], 5, True)} vs "
                      f"{_f(t['champion_net'], 5, True)}")
        self.out["promotion"] = [{"expert": t["expert"], "version": t["version"], "decision": t["decision"],
                                  "to": t["to"]} for t in rows]
        return any(t["moved_champion"] for t in rows)

    def gates(self) -> None:
        from jobs.metadata import table_rows

        runs = self._run("gate_retraining_job")
        (md,) = runs.output_metadata("retrain_gates")
        if "skipped" in md:
            self.show(f"    gates: not retrained ({md['skipped']})")
            return
        layers = table_rows(md["layers"])
        learned = sum(bool(x.get("learned")) for x in layers)
        self.show(f"    gates: {learned}/{len(layers)} layers learned from {md['windows']:,} decided windows → "
                  f"router {md['router_version']} (parent {md['previous_version']})")
        self.out["router_version"] = md["router_version"]

    def follow_champions(self) -> None:
        """``router_promotion_job`` with the MLflow champions: the run ``model_promotion_sensor`` would request."""
        from thunderline.evaluation.promotion import alias_snapshot
        from thunderline.flow.promotion import champion_versions
        from thunderline.stores import open_stores

        with open_stores(self.settings) as stores:
            champions = champion_versions(alias_snapshot(stores.registry.client))
        runs = self._run("router_promotion_job",
                         config={"ops": {"publish_champions": {"config": {"champions": champions}}}})
        (md,) = runs.output_metadata("publish_champions")
        self.show(f"    champion moved → router {md['router_version']} (router_promotion_job, what "
                  "model_promotion_sensor requests under the daemon)")
        self.out["router_version"] = md["router_version"]

    def walk_forward(self, decided: Sequence[str], config: Mapping) -> None:
        if not decided:
            return
        runs = self._backfill("signal_evaluation_job", [f"{m}-01" for m in decided],
                              f"signal_evaluation {decided[0]}..{decided[-1]}",
                              config={"ops": {"signal_evaluation": {"config": dict(config)}}})
        for mat in runs.materializations("signal_evaluation"):
            md = {k: v.value for k, v in mat.metadata.items()}
            self.show(md["report"])
            self.show(f"stored {md['rows']} rows in signal_evaluations (run {md['run_id']}); MLflow run "
                      f"{md['mlflow_run_id']} in experiment thunderline-evaluation")


def _f(x, digits: int = 3, sign: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"
