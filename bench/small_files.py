"""Ingest of many small HTTP-landed tick files: one by one (baseline) vs compacted per symbol-day first.

Lands ``--files`` small canonical-Parquet files (``--ticks`` each, spread over ``--symbols``
symbols) exactly as ``thunderline serve`` lands them (``DurableLanding``: fsynced, one file per
request, under ``ticks/tenant=<id>/<day>/``), then runs ``thunderline ingest`` twice on the same
landing directory, each time into a fresh home: with ``--no-compact`` (baseline, the same run)
and with compaction (the default), both with the CLI's defaults (the Great Expectations suite
on ticks included, as an operator runs it; ``--no-expectations`` passes that flag to both). Prints files, ticks, wall seconds and CPU seconds of each
ingest (the child process's, from ``getrusage``), the ratios, and whether both ingests built the
same feature windows (ids and feature values) from the same ticks. Judge by the CPU ratio on a
loaded machine.

    .venv/bin/python bench/small_files.py [--files 2000] [--symbols 50] [--ticks 200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from thunderline.ingress.landing import DurableLanding  # noqa: E402
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks  # noqa: E402

LAUNCHER = "import sys; from thunderline_cli.main import main; sys.argv[0] = 'thunderline'; sys.exit(main())"


def land(landing: Path, files: int, symbols: int, ticks: int) -> int:
    """``files`` small files of ``ticks`` ticks, one symbol's stream after another; returns ticks landed."""
    out = DurableLanding(landing)
    per = [files // symbols + (1 if i < files % symbols else 0) for i in range(symbols)]
    total = 0
    for i, n in enumerate(per):
        spec = SyntheticSpec(n_ticks=n * ticks, seed=i, symbol=f"SF{i:03d}")
        for b in synthetic_ticks(spec, "default", chunk_rows=ticks):
            out.write_ticks("default", pa.Table.from_batches([b]))
            total += b.num_rows
    return total


def ingest(home: Path, landing: Path, *extra: str) -> tuple[float, float, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THUNDERLINE_")}
    env |= {"THUNDERLINE_HOME": str(home), "THUNDERLINE_LANDING_DIR": str(landing),
            "DAGSTER_HOME": str(home / "dagster"), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
            "THUNDERLINE_FIRST_MONTH": "2024-01"}
    (home / "dagster").mkdir(parents=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", LAUNCHER, "ingest", "--quiet", *extra],
                       env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"ingest {' '.join(extra)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout.splitlines()


def windows_digest(home: Path) -> tuple[int, str]:
    """Feature windows (id, start, features) of a home: the same ticks must give the same windows."""
    from thunderline.store import Warehouse

    wh = Warehouse(f"sqlite:///{home / 'warehouse.db'}")
    try:
        with wh.session("default") as s:
            rows = sorted([r["id"], str(r["window_start"]), r["features"]] for r in s.select(
                "feature_windows", columns=["id", "window_start", "features"]))
    finally:
        wh.dispose()
    return len(rows), hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2_000)
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--ticks", type=int, default=200, help="ticks per landed file")
    ap.add_argument("--no-expectations", action="store_true",
                    help="pass --no-expectations to both ingests (default: the CLI's default, expectations on)")
    args = ap.parse_args()
    flags = ("--no-expectations",) if args.no_expectations else ()
    with tempfile.TemporaryDirectory(prefix="tl-small-files-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        ticks = land(root / "landing", args.files, args.symbols, args.ticks)
        print(f"landed: {args.files:,} files, {ticks:,} ticks, {args.symbols} symbols in "
              f"{time.perf_counter() - t0:.1f} s (load average {os.getloadavg()[0]:.1f})")
        runs = {}
        for name, extra in (("one by one", ("--no-compact",)), ("compacted", ())):
            wall, cpu, lines = ingest(root / name.replace(" ", "_"), root / "landing", *flags, *extra)
            runs[name] = (wall, cpu, windows_digest(root / name.replace(" ", "_")))
            said = next((ln for ln in lines if ln.startswith("ticks:")), "")
            print(f"{name:>10}: {args.files:,} files, {said.removeprefix('ticks: ')}; "
                  f"{wall:.1f} s wall, {cpu:.1f} s CPU, {wall / args.files * 1000:.1f} ms wall per file")
        (w0, c0, d0), (w1, c1, d1) = runs["one by one"], runs["compacted"]
        print(f"ratio one by one / compacted: {w0 / w1:.1f}x wall, {c0 / c1:.1f}x CPU; "
              f"windows {d1[0]:,}, identical: {d0 == d1} (load average {os.getloadavg()[0]:.1f})")
        return 0 if d0 == d1 else 1


if __name__ == "__main__":
    sys.exit(main())
