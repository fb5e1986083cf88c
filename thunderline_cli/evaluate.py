"""``thunderline evaluate`` and ``thunderline decide``: judge decisions out of sample; decide stored windows.

Thin: parsing and printing only; the work is :mod:`thunderline.evaluation.report` (walk-forward,
storage, MLflow) and :func:`thunderline.flow.decision_partition.decide_partition`.
"""

from __future__ import annotations

import json

import pandas as pd

from thunderline.config import load_settings
from thunderline.decisions import gate_storage
from thunderline.stores import open_stores


def parse_time_us(text: str, tz: str = "UTC") -> int:
    """ISO date/time → µs since the epoch; a time without offset is read in ``tz``."""
    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        from thunderline_cli.errors import CliError

        raise CliError(f"cannot read time {text!r}: {exc}") from None
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    return int(ts.tz_convert("UTC").value // 1000)


def _folds(args, session=None):
    from thunderline.evaluation.report import single_fold, walk_forward_folds
    from thunderline.partitioning import month_bounds_us

    embargo = int(args.embargo_ms * 1000)
    if args.train_from:
        if not (args.train_to and args.start and args.end):
            from thunderline_cli.errors import CliError

            raise CliError("--train-from needs --train-to, --from and --to")
        return [single_fold(parse_time_us(args.train_from, args.tz), parse_time_us(args.train_to, args.tz),
                            parse_time_us(args.start, args.tz), parse_time_us(args.end, args.tz), embargo_us=embargo)]
    if args.months:
        from thunderline.evaluation.report import window_span

        lo = min(month_bounds_us(m)[0] for m in args.months)
        hi = max(month_bounds_us(m)[1] for m in args.months)
        span = window_span(session, args.symbols, lo, hi) if session is not None else None
        if span is None:
            from thunderline_cli.errors import CliError

            raise CliError(f"no market windows of {args.symbols} in {args.months}: ingest them first")
        lo, hi = span[0], span[1] + 1
    else:
        from thunderline_cli.errors import CliError

        if not (args.start and args.end):
            raise CliError("give --train-from/--train-to/--from/--to, or --months, or --from/--to")
        lo, hi = parse_time_us(args.start, args.tz), parse_time_us(args.end, args.tz)
    return walk_forward_folds(lo, hi, args.folds, embargo_us=embargo, train_fraction=args.train_fraction)


def cmd_evaluate(args) -> int:
    from resources.ticker_map import TickerMapResource
    from thunderline.evaluation.report import evaluate_period, log_mlflow, store_run

    s = load_settings()
    tmap = TickerMapResource(path=str(s.ticker_map)).rows()
    with open_stores(s, init_schema=True) as stores:
        with stores.session() as sess:
            folds = _folds(args, sess)
            run = evaluate_period(sess, stores.lake, s.tenant_id, symbols=args.symbols, folds=folds, seed=args.seed,
                                  shuffle_train=args.shuffle_train, n_boot=args.bootstrap, n_perm=args.permutations,
                                  ticker_map=tmap)
        with stores.session() as sess:
            n = store_run(sess, run)
    mlflow_id = log_mlflow(s.mlflow_tracking_uri, run, artifact_location=s.mlflow_artifacts)
    print(run.tables())
    for line in run.verdict_lines():
        print(line)
    print(f"stored {n} rows in signal_evaluations (run {run.run_id}); MLflow run {mlflow_id} "
          f"in experiment thunderline-evaluation")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"run_id": run.run_id, "verdicts": run.verdicts(),
                       "rows": [r for res in run.results for r in res.rows]}, fh, indent=1, default=str)
    return 0


def _stored_window_keys(sess, months: list[str], symbols: list[str] | None) -> set[tuple[str, str]]:
    """(month, symbol) of every stored market window of ``months`` (only ``symbols`` when given)."""
    from thunderline.partitioning import month_bounds_us

    fw = sess.table("feature_windows")
    keys = set()
    for m in months:
        lo, hi = month_bounds_us(m)
        for r in sess.select("feature_windows", fw.c.kind == "market", fw.c.window_start >= lo,
                             fw.c.window_start < hi, columns=["key"]):
            if not symbols or r["key"] in symbols:
                keys.add((m, r["key"]))
    return keys


def cmd_decide(args) -> int:
    from resources.ticker_map import TickerMapResource
    from thunderline.decisions.pool import load_pool
    from thunderline.decisions.router_state import active_router
    from thunderline.flow.decision_partition import decide_partition
    from thunderline_cli.errors import CliError

    s = load_settings()
    tmap = TickerMapResource(path=str(s.ticker_map)).rows()
    with open_stores(s, init_schema=True) as stores:
        with stores.session() as sess:
            state = active_router(sess)
            keys = _stored_window_keys(sess, args.months, args.symbols)
        if state is None:
            raise CliError("no active router version: run `thunderline experts bootstrap` first")
        experts, shadows = load_pool(stores.registry, state)
        for m, sym in sorted(keys):
            with stores.session() as sess:
                summary = decide_partition(sess, m, sym, state, experts, shadows=shadows, ticker_map=tmap,
                                           storage=gate_storage.of_settings(stores.settings))
            print(f"{m}|{sym}: {summary.traces:,} traces with router {state.version} "
                  f"({summary.skipped_existing:,} already decided); actions {summary.actions}")
    return 0


def register(sub) -> None:
    e = sub.add_parser("evaluate", help="walk-forward evaluation: rank IC/IC with CIs, hit rate, turnover, net PnL, "
                                        "permutation null, per expert, blend and linear OFI baseline")
    e.add_argument("--symbols", nargs="+", required=True, help="symbols to evaluate")
    e.add_argument("--train-from", help="start of the training period (ISO time; with --train-to, --from, --to)")
    e.add_argument("--train-to", help="end of the training period")
    e.add_argument("--from", dest="start", help="start of the test period (or of the walk-forward range)")
    e.add_argument("--to", dest="end", help="end of the test period (or of the walk-forward range)")
    e.add_argument("--months", nargs="+", help="walk forward over these YYYY-MM months instead")
    e.add_argument("--folds", type=int, default=2, help="walk-forward test periods (not with --train-from)")
    e.add_argument("--train-fraction", type=float, default=0.5, help="share of the range the first fold trains on")
    e.add_argument("--embargo-ms", type=float, default=5000.0, help="gap between training end and test start")
    e.add_argument("--tz", default="UTC", help="time zone of times given without an offset (e.g. America/New_York)")
    e.add_argument("--seed", type=int, default=0, help="random seed (default 0): same seed, same result")
    e.add_argument("--bootstrap", type=int, default=400, help="bootstrap resamples for the confidence intervals")
    e.add_argument("--permutations", type=int, default=200, help="label shuffles for the null band")
    e.add_argument("--shuffle-train", action="store_true",
                   help="negative control: permute the training labels (nothing should be learned)")
    e.add_argument("--json", help="also write verdicts and rows to this JSON file")
    e.set_defaults(func=cmd_evaluate)
    d = sub.add_parser("decide", help="decide stored market windows with the active router (e.g. windows that "
                                      "arrived before the experts were bootstrapped)")
    d.add_argument("--months", nargs="+", required=True, help="YYYY-MM months of windows to decide")
    d.add_argument("--symbols", nargs="*", help="only these symbols (default: every symbol with windows)")
    d.set_defaults(func=cmd_decide)
