"""``thunderline demo``: the whole platform on generated data, embedded storage, no server.

Generates deterministic sample data into the landing area (synthetic ticks in
the canonical Parquet format, synthetic filings in real EDGAR formats), then
runs the same code paths a user runs (``ingest`` through the Dagster instance,
expert training and registration in MLflow, ...) and ends by printing what it
produced and how to look at it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from thunderline.config import Settings, load_settings

# The demo filers' tickers (thunderline.edgar.demo_filings' dated map): in 2025 TLDM is the US-GAAP
# filer (its 10-K and 10-K/A of Feb/Mar 2025 carry year-over-year deltas) and TLDX the IFRS filer
# (20-F accepted 2025-04-10), so the point-in-time join has something to find, and not too early.
DEMO_SYMBOLS = ("TLDM", "TLDX")
TRAIN_MONTH, TRAIN_START_US = "2025-03", 1_742_304_600_000_000  # 2025-03-18 13:30 UTC (09:30 New York, EDT)
LIVE_MONTH, LIVE_START_US = "2025-04", 1_744_723_800_000_000  # 2025-04-15 13:30 UTC
DEMO_TICKS_PER_SYMBOL = 240_000
#: Planted structure: mid moves follow book imbalance in the calm regime and a latent trend in the
#: volatile one, so the experts have something to learn (thunderline.market.synthetic).
DEMO_OFI_IMPACT = 0.3
#: ``signal_evaluation``'s config in the demo: one walk-forward fold over the month (what
#: ``thunderline evaluate --months <month> --folds 1`` runs)
DEMO_WALK_FORWARD = {"folds": 1, "train_fraction": 0.5, "embargo_ms": 5000.0, "seed": 0, "bootstrap": 200,
                     "permutations": 100}


def write_demo_ticks(settings: Settings, month: str, start_us: int, *,
                     ticks_per_symbol: int = DEMO_TICKS_PER_SYMBOL) -> list[Path]:
    """Synthetic ticks for every demo symbol in ``month`` (idempotent: same seed, same bytes, same sha256)."""
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    written = []
    for i, sym in enumerate(DEMO_SYMBOLS):
        path = settings.ticks_landing / f"synthetic_{sym}_{month}.parquet"
        if not path.exists():
            spec = SyntheticSpec(n_ticks=ticks_per_symbol, seed=100 + i + 10 * int(month[-2:]), symbol=sym,
                                 venue="DEMO", start_us=start_us, start_price_ticks=10_000 + 2_500 * i,
                                 ofi_impact=DEMO_OFI_IMPACT)
            write_canonical_parquet(synthetic_ticks(spec, settings.tenant_id), path)
        written.append(path)
    return written


def generate_demo_data(settings: Settings) -> list[Path]:
    """History (March 2025 ticks) and filings; April arrives later in the demo."""
    written = write_demo_ticks(settings, TRAIN_MONTH, TRAIN_START_US)
    try:
        from thunderline.edgar.demo_filings import write_demo_filings
    except ImportError:
        return written
    manifest = write_demo_filings(settings.edgar_landing)
    written += list(manifest.files)
    from resources.ticker_map import TickerMapResource

    TickerMapResource.write(settings.ticker_map, manifest.ticker_map)
    return written


def run_demo(args) -> int:
    from thunderline_cli.ingest import run_ingest

    t0 = time.perf_counter()
    settings = load_settings()
    if args.fresh and settings.home.exists():
        shutil.rmtree(settings.home)
        settings = load_settings()
    print(f"Thunderline demo in {settings.home}")
    files = generate_demo_data(settings)
    print(f"[1] sample data: {len(files)} landing files under {settings.landing_dir}")
    report = run_ingest(settings, verbose=args.verbose)
    print(f"[2] ingest of the history ({TRAIN_MONTH}) and filings through the Dagster instance:")
    for line in report.lines():
        print(f"    {line}")
    if report.runs_failed:
        print("demo: some runs failed; see the Dagster UI for their logs")
        return 1
    from thunderline.partitioning import month_bounds_us
    from thunderline_cli.experts import run_clock_bootstrap

    boot = run_clock_bootstrap(settings, symbols=None, lo_us=month_bounds_us(TRAIN_MONTH)[0],
                               hi_us=month_bounds_us(TRAIN_MONTH)[1])
    fit = boot["fit"]
    print(f"[3] experts trained on clock labels of {boot['train_windows']:,} windows of {TRAIN_MONTH}, registered in "
          f"MLflow as champions; blend {fit['chosen']}, thresholds ±{fit['blend']['thresholds'][0]:.3f}; "
          f"router {boot['router_version']} published")
    for name, m in boot["experts"].items():
        print(f"    {name:28} v{m['version']}  {m['horizon_ms']:>5} ms  calibration rank IC {m['rank_ic']:+.3f}  "
              f"blend scale {m['alpha']:.2f}")
    for name, why in boot["skipped"].items():
        print(f"    {name:28} not trained: {why}")
    from thunderline_cli.gates import demo_lines, share_version

    print(f"    seeded router shared as {share_version(settings, boot['router_version'])}: the fallback of tenants "
          "without gates of their own")
    files = write_demo_ticks(settings, LIVE_MONTH, LIVE_START_US)
    report = run_ingest(settings, verbose=args.verbose)
    print(f"[4] {LIVE_MONTH} ticks land → windows → decisions:")
    for line in report.lines():
        print(f"    {line}")
    if report.runs_failed:
        print("demo: some runs failed; see the Dagster UI for their logs")
        return 1
    from thunderline_cli.drift import month_worst_features, run_drift_reports

    drift_months = [TRAIN_MONTH, LIVE_MONTH]
    print(f"[drift] drift_reports for {', '.join(drift_months)} against the {TRAIN_MONTH} baseline (PSI, KS):")
    drift_runs = run_drift_reports(settings, drift_months, baseline_month=TRAIN_MONTH, verbose=args.verbose)
    for month, ok in drift_runs:
        worst = ", ".join(f"{w['kind']}.{w['feature']} {'–' if w['psi'] is None else format(w['psi'], '.3f')} "
                          f"({w['status']})" for w in month_worst_features(settings, month)) if ok else "run FAILED"
        print(f"    {month}: worst {worst}")
    if not all(ok for _, ok in drift_runs):
        print("demo: a drift_reports run failed; see the Dagster UI for its logs")
        return 1
    from thunderline_cli.learning_runs import run_learning_loop

    t_learn = time.perf_counter()
    print(f"[learn] the learning group as Dagster runs: labels → paper PnL → training slice of {TRAIN_MONTH} → NAS → "
          f"shadow → evaluation on {LIVE_MONTH}'s realised labels → promotion → learned gates → walk-forward "
          f"evaluation of {LIVE_MONTH} (train on its first half, decide the second, 5 s embargo):")
    run_learning_loop(settings, history_months=[TRAIN_MONTH], promotion_rounds=2,
                      poor_candidate="order_flow_logit_h1", walk_forward=DEMO_WALK_FORWARD, source="cli:demo",
                      verbose=args.verbose)
    print(f"    learning loop: {time.perf_counter() - t_learn:.1f}s")
    print("[gates] per-tenant gates (thunderline gates show): learned only from the tenant's own outcomes")
    for line in demo_lines(settings, "demo-b"):
        print(f"    {line}")
    from thunderline_cli.drift import run_observability_models

    if not run_observability_models(settings, verbose=args.verbose):
        print("demo: the observability_models_job run failed; see the Dagster UI for its logs")
        return 1
    print("[models] the SQL models (sql/*) and flow_telemetry rebuilt from the warehouse (observability_models_job)")
    from thunderline_cli.retention import demo_retention

    demo_retention(settings, TRAIN_MONTH, verbose=args.verbose)  # tier the history month, restore it (sha256)
    _print_where_to_look(settings, t0)
    return 0


def _print_where_to_look(settings: Settings, t0: float) -> None:
    print(f"\nDone in {time.perf_counter() - t0:.1f}s. What it produced and how to look at it:")
    print(f"  warehouse        {settings.warehouse_url}")
    print(f"  lake (Parquet)   {settings.lake_dir}")
    print(f"  Dagster UI       DAGSTER_HOME={settings.dagster_home} .venv/bin/dagster dev -w workspace.yaml"
          "   → http://127.0.0.1:3000 (Assets, Runs)")
    print(f"  MLflow UI        .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}"
          "   → http://127.0.0.1:5000")
    print(f"  lineage          .venv/bin/thunderline lineage {_a_trace_id(settings)} --up --depth 3")
    print("  scale out        thunderline deploy celery … then thunderline worker start -n w1 on each host "
          "(README \"Scaling out\")")


def _a_trace_id(settings: Settings) -> str:
    """One real decision trace id of the demo, for the lineage example."""
    from thunderline.stores import open_stores

    with open_stores(settings) as stores, stores.session() as s:
        t = s.table("decision_traces")
        rows = s.select("decision_traces", columns=["id"], order_by=[t.c.window_start, t.c.id], limit=1)
    return rows[0]["id"] if rows else "<decision trace id>"


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole platform on generated sample data (embedded storage)")
    p.add_argument("--fresh", action="store_true", help="delete THUNDERLINE_HOME first")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show Dagster's log lines of every run (default: errors only; the UI keeps every event)")
    p.set_defaults(func=run_demo)
