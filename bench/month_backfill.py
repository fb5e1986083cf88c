"""A month of vendor files at real volume, backfilled through ``thunderline ingest`` on the embedded default.

    python bench/month_backfill.py [--scale 1.0] [--symbols 10] [--days 21] [--depth 10] [--compression gzip]

At ``--scale 1`` this is the issue's month: 10 symbols × 10 M ticks (100 M), a 10-level book, one
LOBSTER day file pair per symbol-day (21 trading days of January 2024). ``--scale 0.01`` is the same
month with 1 % of the ticks per file (same files, same days), for a quick run.

The full month in one command (needs ~20 GB of disk with zstd; uncompressed, the landing files and
their content-store copies take ~80 GB): ``python bench/month_backfill.py --compression zstd``.

Stages, each timed on its own:

1. **generate** the vendor files (two worker processes; not part of the backfill);
2. **backfill**: ``thunderline ingest --quiet --workers 2`` in a fresh ``THUNDERLINE_HOME`` (SQLite warehouse,
   local lake, SQLite Dagster instance) as a child process — wall time and its peak RSS
   (``wait4``'s ``ru_maxrss``: every Dagster run executes in that one process);
3. per asset step inside the backfill (from the Dagster instance's step stats): seconds and ticks/s
   for ``raw_ticks`` (read + validate + lake), ``market_feature_windows`` and ``decision_traces``;
   the remainder of the wall time is landing (index + classify) and start-up.

Figures only: nothing passes or fails on time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thunderline.market.synthetic import SyntheticSpec, write_lobster_day  # noqa: E402

MONTH = (2024, 1)
SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ", "KKK", "LLL"]


def trading_days(n: int) -> list[dt.date]:
    """The first ``n`` weekdays of January 2024 after New Year's Day."""
    out, d = [], dt.date(*MONTH, 2)
    while len(out) < n:
        if d.weekday() < 5 and d != dt.date(2024, 1, 15):  # MLK day
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def _write(job: tuple) -> int:
    symbol, day, n, depth, seed, compression, out = job
    start = int(dt.datetime(day.year, day.month, day.day, 14, 30, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
    spec = SyntheticSpec(n_ticks=n, seed=seed, symbol=symbol, venue="NASDAQ", start_us=start, depth=depth)
    p = write_lobster_day(spec, out, compression=compression)
    return p.stat().st_size + Path(str(p).replace("_message_", "_orderbook_")).stat().st_size


def _generate(jobs: list[tuple], landing: Path) -> int:
    """Write the month's LOBSTER pairs (two worker processes); a kept ``--workdir`` that already holds
    them all is reused as it is."""
    names = list(landing.glob("*_message_*")) if landing.exists() else []
    if len(names) == len(jobs):
        return sum(p.stat().st_size + Path(str(p).replace("_message_", "_orderbook_")).stat().st_size for p in names)
    with ProcessPoolExecutor(2) as pool:
        return sum(pool.map(_write, jobs))


def _children(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    """Samples the RSS of the ingest process and every descendant twice a second: the peak per
    process, and the largest RSS over time (to show it stays flat as the month is backfilled)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.peak: dict[int, tuple[float, str]] = {}
        self.series: list[tuple[float, float]] = []

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self.stop.wait(0.5):
            top = 0.0
            for p in _children(self.pid):
                mb = _rss_mb(p)
                if mb is None:
                    continue
                top = max(top, mb)
                if mb > self.peak.get(p, (0.0, ""))[0]:
                    try:
                        cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode()[:60]
                    except OSError:
                        cmd = "?"
                    self.peak[p] = (mb, cmd)
            self.series.append((time.perf_counter() - t0, top))

    def report(self) -> None:
        print(f"processes seen: {len(self.peak)}; peak RSS per process (largest 5):")
        for pid, (mb, cmd) in sorted(self.peak.items(), key=lambda kv: -kv[1][0])[:5]:
            print(f"  pid {pid:>7} {mb:>8,.0f} MB  {cmd}")
        if len(self.series) >= 4:
            q = len(self.series) // 4
            quarters = [max(v for _, v in self.series[i * q:(i + 1) * q]) for i in range(4)]
            print("largest process RSS by quarter of the backfill (flat = bounded):",
                  " / ".join(f"{v:,.0f} MB" for v in quarters))


def step_stats(dagster_home: Path) -> dict[str, float]:
    """Seconds per asset step, summed over every run in the instance."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    total: dict[str, float] = {}
    for rec in instance.get_run_records():
        for st in instance.get_run_step_stats(rec.dagster_run.run_id):
            if st.start_time and st.end_time:
                total[st.step_key] = total.get(st.step_key, 0.0) + (st.end_time - st.start_time)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the 10 M ticks per symbol")
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--compression", choices=["none", "gzip", "zstd"], default="none")
    ap.add_argument("--workers", type=int, default=2, help="thunderline ingest --workers (partitions of "
                    "different symbols on that many processes; 1 = the serial loop)")
    ap.add_argument("--no-expectations", action="store_true", help="thunderline ingest --no-expectations "
                    "(the Great Expectations suite is ~1.3 of the core's ~4.9 CPU-µs a tick: bench/ingest_stages.py)")
    ap.add_argument("--workdir", help="keep the month here (default: a temp dir, removed afterwards)")
    args = ap.parse_args()
    per_symbol = int(10_000_000 * args.scale)
    per_day = per_symbol // args.days
    total = per_day * args.days * args.symbols
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tl-month-"))
    landing = work / "landing" / "ticks" / "lobster"
    home = work / "home"
    try:
        jobs = [(sym, day, per_day, args.depth, 1_000 * i + j, None if args.compression == "none" else args.compression,
                 str(landing))
                for i, sym in enumerate(SYMBOLS[: args.symbols]) for j, day in enumerate(trading_days(args.days))]
        t0 = time.perf_counter()
        size = _generate(jobs, landing)
        gen = time.perf_counter() - t0
        print(f"month {MONTH[0]}-{MONTH[1]:02d}: {args.symbols} symbols × {args.days} days × {per_day:,} ticks = "
              f"{total:,} ticks, {args.depth} levels, {len(jobs)} LOBSTER pairs, {size / 1e9:.2f} GB "
              f"({args.compression}); generated in {gen:.0f}s")

        shutil.rmtree(home, ignore_errors=True)  # a kept --workdir re-runs the backfill from scratch
        env = dict(os.environ, THUNDERLINE_HOME=str(home), THUNDERLINE_LANDING_DIR=str(work / "landing"),
                   DAGSTER_HOME=str(home / "dagster"), THUNDERLINE_FIRST_MONTH=f"{MONTH[0]}-{MONTH[1]:02d}")
        for k in ("THUNDERLINE_WAREHOUSE_URL", "THUNDERLINE_LAKE_DIR", "MLFLOW_TRACKING_URI"):
            env.pop(k, None)
        cli = Path(sys.executable).with_name("thunderline")
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(cli), "ingest", "--quiet", "--workers", str(args.workers)]
                                + (["--no-expectations"] if args.no_expectations else []), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        sampler = RssSampler(proc.pid)
        sampler.start()
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        sampler.stop.set()
        code = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        print(out.rstrip())
        print(f"\nbackfill: exit {code}, wall {wall:.1f}s, {total / wall:,.0f} ticks/s end to end; CPU "
              f"{cpu:.1f}s (ingest and its children) = {total / max(cpu, 1e-9):,.0f} ticks per CPU-second; "
              f"peak RSS of any process {usage.ru_maxrss / 1024:,.0f} MB")
        sampler.report()
        stats = step_stats(home / "dagster")
        print(f"{'stage (seconds summed over ' + str(args.workers) + ' worker(s))':<44} {'seconds':>9} "
              f"{'ticks/s':>12}")
        for key in ("raw_ticks", "market_feature_windows", "decision_traces"):
            secs = sum(v for k, v in stats.items() if k.split(".")[-1] == key or k == key)
            if secs:
                print(f"{key:<44} {secs:>9.1f} {total / secs:>12,.0f}")
        rest = wall - sum(stats.values()) / max(args.workers, 1)
        print(f"{'landing index + start-up (wall, approx.)':<44} {rest:>9.1f}")
        other = {k: round(v, 1) for k, v in stats.items() if k not in ("raw_ticks", "market_feature_windows",
                                                                       "decision_traces")}
        if other:
            print("other steps:", json.dumps(other))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
