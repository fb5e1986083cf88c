"""``thunderline learn``: the learning loop in one process (the demo's last step), promotion and rollback by hand.

``run_learning_loop`` runs what the learning assets run, in order, on what the
warehouse holds: labels for every month × symbol with windows → paper PnL and
monthly metrics of the decided months → a training slice of the history months
→ NAS (a few seeded Optuna trials) → the best candidate of each target
registered as ``shadow`` → its evaluation against the champion on realised
labels → one promotion step → gate retraining → a router version for any moved
champion (what the model promotion sensor does under the daemon).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from thunderline.config import load_settings
from thunderline.stores import Stores, open_stores
from thunderline_cli.args import month, non_negative_int, positive_int

DEMO_TARGETS = ("momentum_gbm_h1",)


def run_learning_loop(settings, *, history_months: Sequence[str], targets: Sequence[str] = DEMO_TARGETS,
                      n_trials: int = 8, seed: int = 0, min_count: int = 200, retrain_gates: bool = True,
                      promotion_rounds: int = 1, poor_candidate: str | None = None,
                      actor: str = "thunderline learn", show: Callable[[str], None] = print) -> dict:
    """Labels → PnL → evaluation → rolling slice → NAS → promotion → gates, on the stores of ``settings``."""
    with open_stores(settings, init_schema=True) as stores:
        return _learning_loop(stores, history_months=history_months, targets=targets, n_trials=n_trials, seed=seed,
                              min_count=min_count, retrain_gates=retrain_gates, actor=actor, show=show,
                              promotion_rounds=promotion_rounds, poor_candidate=poor_candidate)


def _learning_loop(stores: Stores, *, history_months: Sequence[str], targets: Sequence[str], n_trials: int,
                   seed: int, min_count: int, retrain_gates: bool, actor: str, show: Callable[[str], None],
                   promotion_rounds: int = 1, poor_candidate: str | None = None) -> dict:
    loop = _Loop(stores, actor=actor, show=show)
    loop.labels_and_pnl(history_months)
    data = loop.training_slice(history_months)
    outcomes = loop.nas(data, targets, n_trials=n_trials, seed=seed)
    transitions = loop.promotion(outcomes, min_count=min_count, rounds=promotion_rounds,
                                 poor_candidate=poor_candidate, history_months=history_months, seed=seed)
    if retrain_gates:
        loop.gates()
    loop.follow_champions(transitions)
    return loop.out


class _Loop:
    """The learning loop's phases over one set of stores; ``out`` collects what each phase reports."""

    def __init__(self, stores: Stores, *, actor: str, show: Callable[[str], None]) -> None:
        from resources.ticker_map import TickerMapResource
        from thunderline.evaluation import CostModel

        self.stores, self.actor, self.show = stores, actor, show
        self.tmap = TickerMapResource(path=str(stores.settings.ticker_map)).rows()
        self.cost = CostModel()
        self.out: dict = {"timings_s": {}}
        self._clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.out["timings_s"][name] = now - self._clock
        self._clock = now

    def labels_and_pnl(self, history_months: Sequence[str]) -> list[str]:
        from thunderline.evaluation.harness import evaluate_month
        from thunderline.flow.learning_partition import months_with_windows, pnl_partition, realise_label_partition

        show, cost = self.show, self.cost
        with self.stores.session() as s:
            parts = months_with_windows(s)
            status: dict[str, int] = {}
            lat = []
            for month, sym in parts:
                ls = realise_label_partition(s, month, sym)
                for k, v in ls.status.items():
                    status[k] = status.get(k, 0) + v
                if ls.latency_ms_p50 is not None:
                    lat.append(ls.latency_ms_p50)
        self.lap("labels")
        show(f"    labels: {sum(status.values()):,} (window × spec: horizons 1, 4, 10 windows) over {len(parts)} "
             f"partitions: {status}"
             + (f"; median realisation latency {sorted(lat)[len(lat) // 2]:.0f} ms" if lat else ""))
        decided = sorted({m for m, _ in parts} - set(history_months))
        with self.stores.session() as s:
            priced = sum(pnl_partition(s, m, sym, cost).priced for m, sym in parts if m in decided)
            evals = [evaluate_month(s, m, cost) for m in decided]
        self.lap("pnl")
        show(f"    paper PnL ({cost.id}): {priced:,} decisions priced in {', '.join(decided) or '-'}")
        for ev in evals:
            b = ev.get("blend", "blend")
            if b:
                show(f"      {ev.month} blend: n {b['n']:,}, hit rate {_f(b['hit_rate'])}, "
                     f"IC {_f(b['ic'], sign=True)}, turnover {_f(b['turnover'])}, "
                     f"max drawdown {_f(b['max_drawdown'], 5)}, net {b['net']:+.5f}")
        return decided

    def training_slice(self, history_months: Sequence[str]):
        from thunderline.export import open_slice
        from thunderline.flow.learning_loop import build_rolling_slice

        with self.stores.session() as s:
            sl = build_rolling_slice(s, self.stores.settings.lake_dir, history_months[-1], prefix="demo",
                                     lookback_months=len(history_months), ticker_map=self.tmap)
        data = open_slice(sl.path)
        self.lap("slice")
        folds = ", ".join(f"f{f['fold']}: {f['counts']['train']}/{f['counts']['validation']} "
                          f"(purged {f['counts']['purged']}, embargoed {f['counts']['embargoed']})"
                          for f in sl.manifest["folds"])
        self.show(f"    training slice {sl.slice_id[:8]}: {sl.rows:,} rows of "
                  f"{', '.join(sl.manifest['spec']['months'])} in {len(sl.manifest['files'])} Parquet files, "
                  f"manifest {sl.manifest_sha256[:12]}; train/validation {folds}")
        self.out["slice"] = {"id": sl.slice_id, "rows": sl.rows, "path": str(sl.path),
                             "manifest_sha256": sl.manifest_sha256}
        return data

    def nas(self, data, targets: Sequence[str], *, n_trials: int, seed: int) -> list:
        from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME
        from thunderline.flow.learning_loop import search_and_register
        from thunderline.nas import NasTarget, NasTracker, OptunaNasRunner

        reg = self.stores.registry
        tracker = NasTracker(reg.client, artifact_location=reg.artifact_location)
        runner = OptunaNasRunner(n_trials=n_trials, seed=seed, max_trees=100, max_epochs=20)
        nas_targets = [NasTarget.from_spec(DEFAULT_SPECS_BY_NAME[t]) for t in targets]
        outcomes = search_and_register(reg, self.stores.warehouse, self.stores.tenant_id, data, nas_targets, runner,
                                       top_k=1, tracker=tracker, actor=self.actor)
        self.lap("nas")
        for o in outcomes:
            if o.error:
                self.show(f"    NAS {o.target}: failed: {o.error}")
                continue
            r = o.registered[0] if o.registered else None
            self.show(f"    NAS {o.target}: {o.trials_tried} Optuna trials ({o.pruned} pruned) in MLflow "
                      f"'thunderline-nas'; best {o.best_architecture.get('kind')} val IC {o.best_val_ic:+.3f}"
                      + (f" → thunderline.expert.{o.target} v{r.version} @shadow" if r else ""))
        self.out["nas"] = [{"target": o.target, "trials": o.trials_tried, "best_val_ic": o.best_val_ic,
                            "registered": [r.version for r in o.registered], "error": o.error} for o in outcomes]
        return outcomes

    def promotion(self, outcomes: list, *, min_count: int, rounds: int = 1, poor_candidate: str | None = None,
                  history_months: Sequence[str] = (), seed: int = 0) -> list:
        """Up to ``rounds`` steps per NAS shadow (shadow → challenger → champion while the evidence holds);
        with ``poor_candidate``, that expert trained on inverted labels enters as shadow and is judged too."""
        from thunderline.evaluation.promotion import GatePolicy, Promoter
        from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME

        promoter = Promoter(self.stores.registry, self.stores.warehouse, self.stores.tenant_id,
                            policy=GatePolicy(min_count=min_count, cost=self.cost), actor=self.actor,
                            ticker_map=self.tmap)
        names = [o.target for o in outcomes if o.registered]
        if poor_candidate:
            from thunderline.flow.learning_loop import register_inverted_candidate

            with self.stores.session() as s:
                pv, _ = register_inverted_candidate(self.stores.registry, s, DEFAULT_SPECS_BY_NAME[poor_candidate],
                                                    history_months, seed=seed, actor=self.actor)
            promoter.register_shadow(poor_candidate, pv, reason="deliberately poor candidate: trained on inverted "
                                                                "labels", actor=self.actor)
            self.show(f"    deliberately poor candidate: thunderline.expert.{poor_candidate} v{pv} (inverted labels) "
                      f"@shadow")
            names.append(poor_candidate)
        transitions = []
        for name in names:
            for _ in range(max(1, rounds)):
                t = promoter.step(name)
                if t is None:
                    break
                transitions.append(t)
                if t.decision != "promoted" or t.to_state == "champion":
                    break
        self.lap("promotion")
        for t in transitions:
            ev = t.metrics or {}
            c, k = ev.get("candidate") or {}, ev.get("champion") or {}
            self.show(f"    promotion {t.expert} v{t.version}: {t.from_state} → {t.to_state} ({t.decision}) on "
                      f"{c.get('n', 0):,} realised trades: IC {_f(c.get('ic'), sign=True)} vs champion "
                      f"{_f(k.get('ic'), sign=True)}, net {_f(c.get('net'), 5, True)} vs {_f(k.get('net'), 5, True)}")
        self.out["promotion"] = [{"expert": t.expert, "version": t.version, "decision": t.decision, "to": t.to_state}
                                 for t in transitions]
        return transitions

    def gates(self) -> None:
        from thunderline.flow.gate_retraining import GateRetrainError, retrain_router_gates

        try:
            g = retrain_router_gates(self.stores.warehouse, self.stores.tenant_id, self.stores.registry,
                                     ticker_map=self.tmap, actor=self.actor)
            learned = sum(x["learned"] for x in g.layers)
            self.show(f"    gates: {learned}/{len(g.layers)} layers learned from {g.windows:,} decided windows → "
                      f"router {g.version} (parent {g.previous_version})")
            self.out["router_version"] = g.version
        except GateRetrainError as exc:
            self.show(f"    gates: not retrained ({exc})")
        self.lap("gates")

    def follow_champions(self, transitions: list) -> None:
        from thunderline.flow.promotion import publish_router_for_champions

        if any(t.moved_champion for t in transitions):
            with self.stores.session() as s:
                p = publish_router_for_champions(self.stores.registry.client, s)
            self.show(f"    champion moved → router {p.version} (what model_promotion_sensor publishes under "
                      "the daemon)")
            self.out["router_version"] = p.version or self.out.get("router_version")


def _f(x, digits: int = 3, sign: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def cmd_loop(args) -> int:
    settings = load_settings()
    t0 = time.perf_counter()
    run_learning_loop(settings, history_months=args.history, targets=args.targets, n_trials=args.trials,
                      seed=args.seed, min_count=args.min_count, retrain_gates=not args.no_gates)
    print(f"learning loop done in {time.perf_counter() - t0:.1f}s")
    return 0


def cmd_promote(args) -> int:
    from thunderline.evaluation.promotion import GatePolicy, Promoter

    with open_stores(load_settings()) as stores:
        p = Promoter(stores.registry, stores.warehouse, stores.tenant_id, policy=GatePolicy(min_count=args.min_count), actor=args.actor)
        if args.rollback:
            t = p.rollback(args.expert, reason=args.reason or "manual rollback", actor=args.actor)
        else:
            t = p.step(args.expert)
    if t is None:
        print(f"{args.expert}: no shadow or challenger to judge")
    else:
        print(f"{t.expert} v{t.version}: {t.from_state} → {t.to_state} ({t.decision}) by {t.actor}: {t.reason}")
    return 0


def register(sub) -> None:
    import getpass

    p = sub.add_parser("learn", help="the learning loop: labels, PnL, slices, NAS, promotion")
    lc = p.add_subparsers(dest="learn_command", required=True)
    loop = lc.add_parser("loop", help="labels → PnL → slice → NAS → shadow → evaluation → promotion → gates")
    loop.add_argument("--history", nargs="+", required=True, type=month, help="YYYY-MM months to slice and search on")
    loop.add_argument("--targets", nargs="+", default=list(DEMO_TARGETS), help="expert names to search for")
    loop.add_argument("--trials", type=positive_int, default=20,
                      help="Optuna trials per NAS target (default 20; each trial trains one candidate)")
    loop.add_argument("--seed", type=non_negative_int, default=0,
                      help="seed of the NAS sampler and of every candidate's training (default 0)")
    loop.add_argument("--min-count", type=positive_int, default=200,
                      help="realised trades a shadow/challenger needs before the promotion gate judges it (default 200)")
    loop.add_argument("--no-gates", action="store_true", help="do not retrain the router gates")
    loop.set_defaults(func=cmd_loop)
    pr = lc.add_parser("promote", help="one blue/green step for an expert, or --rollback its champion")
    pr.add_argument("expert", help="expert name, e.g. momentum_gbm_h1 (registered as thunderline.expert.<name>)")
    pr.add_argument("--rollback", action="store_true",
                    help="move champion back to the previous champion instead of judging a candidate")
    pr.add_argument("--reason", default="", help="why (recorded with the transition; default 'manual rollback')")
    pr.add_argument("--min-count", type=positive_int, default=200,
                    help="realised trades the candidate needs before it is judged (default 200)")
    pr.add_argument("--actor", default=f"{getpass.getuser()} (thunderline learn)",
                    help="who is recorded as having made the step (default: your user name)")
    pr.set_defaults(func=cmd_promote)
