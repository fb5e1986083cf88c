"""``thunderline experts``: train on history and seed the router; list experts; show router versions."""

from __future__ import annotations

from thunderline.config import load_settings
from thunderline.stores import Stores, open_stores
from thunderline_cli.args import month, non_negative_int


def run_bootstrap(settings, months: list[str], *, seed: int = 0) -> dict:
    """Train the default experts on the market windows of ``months`` (all symbols), register them as
    champions in MLflow and publish the first router version. Returns the report as a dict."""
    from resources.ticker_map import TickerMapResource

    tmap = TickerMapResource(path=str(settings.ticker_map)).rows()
    with open_stores(settings, init_schema=True) as stores:
        return _bootstrap(stores, months, tmap, seed)


def _bootstrap(stores: Stores, months: list[str], tmap: list[dict], seed: int) -> dict:
    from thunderline.decisions.bootstrap import bootstrap_from_windows
    from thunderline.decisions.router_state import publish_router_version
    from thunderline.partitioning import month_bounds_us
    from thunderline.store.window_rows import load_edgar_windows, row_to_window

    with stores.session() as s:
        fw = s.table("feature_windows")
        windows = []
        for m in months:
            lo, hi = month_bounds_us(m)
            windows += [row_to_window(r) for r in s.select("feature_windows", fw.c.kind == "market",
                                                           fw.c.window_start >= lo, fw.c.window_start < hi)]
        if not windows:
            from thunderline_cli.args import CliError

            raise CliError(f"no market windows in {', '.join(months)}: ingest those months first "
                           "(thunderline ingest), then bootstrap")
        until = max(w.available_at_us for w in windows)
        edgar = load_edgar_windows(s, None, until)
    state, report = bootstrap_from_windows(stores.registry, windows, edgar_windows=edgar, ticker_map=tmap, seed=seed)
    with stores.session() as s:
        version = publish_router_version(s, state, reason=f"bootstrap on {','.join(months)} (seed {seed})")
    return {"router_version": version, "train_windows": report.train_windows, "experts": report.trained,
            "skipped": report.skipped}


def run_clock_bootstrap(settings, *, symbols: list[str] | None, lo_us: int, hi_us: int, seed: int = 0) -> dict:
    """Train the default experts on clock labels of the market windows of ``symbols`` in [lo, hi) (quotes
    from the lake; labels purged at ``hi``), fit their blend on that period only, register the experts
    as champions and publish the router version. Returns the report as a dict."""
    from resources.ticker_map import TickerMapResource
    from thunderline.decisions.bootstrap import bootstrap_on_clock
    from thunderline.decisions.router_state import publish_router_version
    from thunderline.evaluation.report import load_market_windows, load_mids
    from thunderline.store.window_rows import load_edgar_windows

    tmap = TickerMapResource(path=str(settings.ticker_map)).rows()
    with open_stores(settings, init_schema=True) as stores:
        with stores.session() as s:
            windows = [w for w in load_market_windows(s, symbols, lo_us, hi_us) if w.window_end_us <= hi_us]
            if not windows:
                raise ValueError(f"no market windows for {symbols or 'any symbol'} in that period: ingest it first")
            edgar = load_edgar_windows(s, None, hi_us)
        mids = load_mids(stores.lake, settings.tenant_id, sorted({w.key for w in windows}), lo_us, hi_us)
        state, report, fit = bootstrap_on_clock(stores.registry, windows, mids, known_until_us=hi_us, seed=seed,
                                                edgar_windows=edgar, ticker_map=tmap, tenant_id=settings.tenant_id)
        with stores.session() as s:
            version = publish_router_version(s, state, reason=f"bootstrap on clock labels of "
                                                              f"{symbols or 'all symbols'} [{lo_us}, {hi_us}) µs "
                                                              f"(seed {seed})")
    return {"router_version": version, "train_windows": report.train_windows, "experts": report.trained,
            "skipped": report.skipped, "fit": fit}


def cmd_bootstrap(args) -> int:
    settings = load_settings()
    if args.start or args.end or args.symbols:
        from thunderline.partitioning import month_bounds_us
        from thunderline_cli.evaluate import parse_time_us

        if args.start and args.end:
            lo, hi = parse_time_us(args.start, args.tz), parse_time_us(args.end, args.tz)
        elif args.months:
            lo = min(month_bounds_us(m)[0] for m in args.months)
            hi = max(month_bounds_us(m)[1] for m in args.months)
        else:
            from thunderline_cli.errors import CliError

            raise CliError("give --from and --to (or --months) with --symbols")
        out = run_clock_bootstrap(settings, symbols=args.symbols, lo_us=lo, hi_us=hi, seed=args.seed)
        fit = out["fit"]
        print(f"trained on {out['train_windows']:,} windows (clock labels; gaps {fit['label_gap_rate']}); "
              f"blend: {fit['chosen']}, thresholds ±{fit['blend']['thresholds'][0]:.3f}; "
              f"router version {out['router_version']} is active")
        for name, m in out["experts"].items():
            print(f"  {name:28} v{m['version']:<4} {m['horizon_ms']:>5} ms  calibration rank IC {m['rank_ic']:+.3f}  "
                  f"blend scale {m['alpha']:.2f}")
    else:
        if not args.months:
            from thunderline_cli.errors import CliError

            raise CliError("give --months, or --symbols with --from/--to")
        out = run_bootstrap(settings, args.months, seed=args.seed)
        print(f"trained on {out['train_windows']:,} windows; router version {out['router_version']} is active")
        for name, m in out["experts"].items():
            print(f"  {name:28} v{m['version']:<4} hold-out accuracy {m['accuracy']:.3f}  IC {m['ic']:+.3f}  "
                  f"coverage {m['coverage']:.2f}")
    for name, why in out["skipped"].items():
        print(f"  {name:28} not trained: {why}")
    return 0


def cmd_routers(args) -> int:
    from thunderline.decisions.router_state import router_history

    with open_stores(load_settings()) as stores, stores.session() as sess:
        for r in router_history(sess):
            print(f"{'*' if r['is_active'] else ' '} {r['version']}  parent={r['parent_version']}  {r['reason']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("experts", help="train/register experts and manage router versions")
    ex = p.add_subparsers(dest="experts_command", required=True)
    b = ex.add_parser("bootstrap", help="train the default experts on past months and publish a first router")
    b.add_argument("--months", nargs="+", type=month, help="YYYY-MM months of market windows to train on")
    b.add_argument("--symbols", nargs="+", help="train on these symbols only (clock labels from the lake)")
    b.add_argument("--from", dest="start", help="start of the training period (ISO time; with --to)")
    b.add_argument("--to", dest="end", help="end of the training period; labels reaching past it are purged")
    b.add_argument("--tz", default="UTC", help="time zone of times given without an offset")
    b.add_argument("--seed", type=non_negative_int, default=0, help="random seed of the training (default 0)")
    b.set_defaults(func=cmd_bootstrap)
    ex.add_parser("routers", help="list router versions (* = active)").set_defaults(func=cmd_routers)
