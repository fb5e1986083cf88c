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

# TLDX is the demo filer's ticker (thunderline.edgar.demo_filings), so its windows join the
# 10-K accepted on 2024-02-20; DEMOB has no filings and trades on market features alone.
DEMO_SYMBOLS = ("TLDX", "DEMOB")
DEMO_START_US = 1_709_649_000_000_000  # 2024-03-05 14:30 UTC (09:30 New York)
DEMO_TICKS_PER_SYMBOL = 240_000


def generate_demo_data(settings: Settings, *, ticks_per_symbol: int = DEMO_TICKS_PER_SYMBOL) -> list[Path]:
    """Write the demo's landing files (idempotent: same seed, same bytes, same sha256)."""
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    written = []
    for i, sym in enumerate(DEMO_SYMBOLS):
        path = settings.ticks_landing / f"synthetic_{sym}_2024-03.parquet"
        if not path.exists():
            spec = SyntheticSpec(n_ticks=ticks_per_symbol, seed=100 + i, symbol=sym, venue="DEMO", start_us=DEMO_START_US,
                                 start_price_ticks=10_000 + 2_500 * i)
            write_canonical_parquet(synthetic_ticks(spec, settings.tenant_id), path)
        written.append(path)
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
    from thunderline_assets.ingest_command import run_ingest

    t0 = time.perf_counter()
    settings = load_settings()
    if args.fresh and settings.home.exists():
        shutil.rmtree(settings.home)
        settings = load_settings()
    print(f"Thunderline demo in {settings.home}")
    files = generate_demo_data(settings)
    print(f"[1] sample data: {len(files)} landing files under {settings.landing_dir}")
    report = run_ingest(settings)
    print("[2] ingest through the Dagster instance:")
    for line in report.lines():
        print(f"    {line}")
    if report.runs_failed:
        print("demo: some runs failed; see the Dagster UI for their logs")
        return 1
    print(f"\nDone in {time.perf_counter() - t0:.1f}s. What it produced and how to look at it:")
    print(f"  warehouse        {settings.warehouse_url}")
    print(f"  lake (Parquet)   {settings.lake_dir}")
    print(f"  Dagster UI       DAGSTER_HOME={settings.dagster_home} .venv/bin/dagster dev -w workspace.yaml"
          "   → http://127.0.0.1:3000 (Assets, Runs)")
    print(f"  MLflow UI        .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}"
          "   → http://127.0.0.1:5000")
    print("  lineage          .venv/bin/thunderline lineage <decision or window id> --up")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole platform on generated sample data (embedded storage)")
    p.add_argument("--fresh", action="store_true", help="delete THUNDERLINE_HOME first")
    p.set_defaults(func=run_demo)
