"""``thunderline experts``: train on history and seed the router; list experts; show router versions."""

from __future__ import annotations

from thunderline.config import load_settings
from thunderline.stores import Stores, open_stores


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
    from thunderline.store.window_rows import load_edgar_windows, row_to_window
    from thunderline.partitioning import month_bounds_us

    with stores.session() as s:
        fw = s.table("feature_windows")
        windows = []
        for m in months:
            lo, hi = month_bounds_us(m)
            windows += [row_to_window(r) for r in s.select("feature_windows", fw.c.kind == "market",
                                                           fw.c.window_start >= lo, fw.c.window_start < hi)]
        if not windows:
            raise ValueError(f"no market windows in {months}: ingest those months first")
        until = max(w.available_at_us for w in windows)
        edgar = load_edgar_windows(s, None, until)
    state, report = bootstrap_from_windows(stores.registry, windows, edgar_windows=edgar, ticker_map=tmap, seed=seed)
    with stores.session() as s:
        version = publish_router_version(s, state, reason=f"bootstrap on {','.join(months)} (seed {seed})")
    return {"router_version": version, "train_windows": report.train_windows, "experts": report.trained,
            "skipped": report.skipped}


def cmd_bootstrap(args) -> int:
    out = run_bootstrap(load_settings(), args.months, seed=args.seed)
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
    b.add_argument("--months", nargs="+", required=True, help="YYYY-MM months of market windows to train on")
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=cmd_bootstrap)
    ex.add_parser("routers", help="list router versions (* = active)").set_defaults(func=cmd_routers)
