"""Live-path latency: tick burst → persisted DecisionTrace through ``thunderline live``, plus the daemon path
and a synthetic 10× lag spike through the backpressure ladder.

    python bench/live_latency.py [--bursts 1000,10000] [--max-batch 5000] [--daemon]

1. Trains two market experts on synthetic history (real MLflow), publishes a router
   version, then feeds bursts of canonical CSV ticks to the live runner's stdin path
   (the code ``thunderline live --stdin`` runs: micro-batch, spool + fsync, ingest,
   windows, decisions, commit). Per tick: commit time of its micro-batch − arrival
   time of the tick. Prints p50/p99 per burst size and the per-micro-batch split.
   Warehouse: SQLite under a temp home, or ``THUNDERLINE_BENCH_PG_URL`` (PostgreSQL).
2. With ``--daemon`` (needs ``THUNDERLINE_BENCH_PG_URL``): the real dagster-daemon on
   PostgreSQL, one landing file → the sensor's run → windows persisted (wall time).
3. The ladder under a synthetic 10× spike of the measured lag p95: which step is
   taken at which interval, up in order and back down in reverse.

Figures only: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from thunderline.config import load_settings  # noqa: E402


def _settings(home: Path, warehouse_url: str | None):
    env = {"THUNDERLINE_HOME": str(home)}
    if warehouse_url:
        env["THUNDERLINE_WAREHOUSE_URL"] = warehouse_url
    return load_settings(env)


def _seed_router(settings) -> str:
    from thunderline.decisions.bootstrap import bootstrap_from_windows
    from thunderline.decisions.router_state import publish_router_version
    from thunderline.experts import DEFAULT_EXPERT_SPECS
    from thunderline.experts.registry import ExpertRegistry
    from thunderline.market.features import build_windows, to_feature_windows
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
    from thunderline.store import Warehouse

    specs = [s for s in DEFAULT_EXPERT_SPECS if s.family != "filing"][:2]
    history = to_feature_windows(build_windows(synthetic_ticks(SyntheticSpec(n_ticks=60_000, seed=11, symbol="HIST"))),
                                 tenant_id=settings.tenant_id, symbol="HIST")
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with ExpertRegistry(tracking_uri=settings.mlflow_tracking_uri) as reg:
        state, _ = bootstrap_from_windows(reg, history, specs=specs, seed=3)
    with wh.session(settings.tenant_id) as s:
        version = publish_router_version(s, state, reason="bench")
    wh.dispose()
    return version


def _burst_csv(n: int, seed: int, symbol: str, start_us: int) -> str:
    from thunderline.market import write_canonical_csv
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "burst.csv"
        write_canonical_csv(synthetic_ticks(SyntheticSpec(n_ticks=n, seed=seed, symbol=symbol, start_us=start_us)), p)
        return p.read_text()


def _burst_arrow(n: int, seed: int, symbol: str, start_us: int) -> bytes:
    import pyarrow as pa

    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    batches = list(synthetic_ticks(SyntheticSpec(n_ticks=n, seed=seed, symbol=symbol, start_us=start_us)))
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, batches[0].schema) as w:
        for b in batches:
            w.write_batch(b)
    return sink.getvalue()


def _stream(fmt: str, n: int, seed: int, symbol: str, start_us: int):
    if fmt == "arrow":
        return io.BytesIO(_burst_arrow(n, seed, symbol, start_us))
    return io.StringIO(_burst_csv(n, seed, symbol, start_us))


def live_bursts(settings, sizes: list[int], max_batch: int, fmt: str) -> dict:
    from thunderline.flow.live import percentiles_ms
    from thunderline_cli.live_service import LiveRunner, run_stdin

    runner = LiveRunner(settings, instance=None, interval_s=1.0, keep_latencies=True)
    assert runner.decisions is not None, "no router version"
    t0 = 1_704_205_800_000_000
    run_stdin(runner, _stream(fmt, 500, 1, f"WARM{fmt.upper()}", t0), fmt=fmt, max_batch=max_batch)  # JIT, caches
    out = {}
    for i, n in enumerate(sizes):
        stream = _stream(fmt, n, 100 + i, f"B{n}{fmt.upper()}", t0)
        runner.stats.tick_latency_us.clear()
        b0, tr0 = runner.stats.batches, runner.stats.traces
        run_stdin(runner, stream, fmt=fmt, max_batch=max_batch)
        lat = runner.stats.latencies_us()
        out[n] = {**percentiles_ms(lat), "batches": runner.stats.batches - b0, "traces": runner.stats.traces - tr0}
    runner.close()
    return out


def daemon_round_trip(pg_url: str, timeout_s: float = 600.0) -> float | None:
    """Seconds from a landing file dropped to its windows persisted, through the real daemon (PostgreSQL)."""
    import dagster as dg

    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
    from thunderline.store import Warehouse
    from thunderline.store.postgres import drop_database, provision_database

    name = f"tl_bench_{os.getpid()}"
    url = provision_database(pg_url, name, "thunderline_app")
    home = Path(tempfile.mkdtemp(prefix="tl_bench_daemon_"))
    dg_home = home / "dagster"
    dg_home.mkdir(parents=True)
    shutil.copy(REPO / "dagster.yaml", dg_home / "dagster.yaml")
    env = {**os.environ, "THUNDERLINE_HOME": str(home), "DAGSTER_HOME": str(dg_home), "DAGSTER_PG_URL": url,
           "THUNDERLINE_WAREHOUSE_URL": url, "THUNDERLINE_SENSOR_INTERVAL_S": "1"}
    Warehouse(url).init_schema()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    os.environ["DAGSTER_PG_URL"] = url
    try:
        with dg.DagsterInstance.from_config(str(dg_home)) as inst:
            # wait for the daemon to be up (first sensor tick), so the figure is the landing → windows path
            t_up = time.monotonic()
            while time.monotonic() - t_up < 120 and not inst.get_daemon_heartbeats():
                time.sleep(0.5)
            time.sleep(3)
            tmp = home / "landing" / "ticks" / "BENCH.parquet.tmp"
            tmp.parent.mkdir(parents=True, exist_ok=True)
            write_canonical_parquet(synthetic_ticks(SyntheticSpec(n_ticks=5_000, seed=9, symbol="BENCH")), tmp)
            os.replace(tmp, tmp.with_suffix(""))
            t0 = time.monotonic()
            while time.monotonic() - t0 < timeout_s:
                runs = inst.get_runs(dg.RunsFilter(tags={"dagster/sensor_name": "tick_landing_sensor"}))
                if runs and runs[0].is_finished:
                    return time.monotonic() - t0 if runs[0].status == dg.DagsterRunStatus.SUCCESS else None
                time.sleep(0.25)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        drop_database(pg_url, name)
        shutil.rmtree(home, ignore_errors=True)
    return None


def ladder_spike(base_lag_ms: float, factor: float = 10.0) -> list[tuple[int, str, str, int]]:
    from thunderline.flow.backpressure import LadderPolicy, LadderState, Measurement, advance

    policy = LadderPolicy(lag_high_ms=3 * base_lag_ms, lag_low_ms=1.5 * base_lag_ms)
    profile = [base_lag_ms] * 3 + [base_lag_ms * factor] * 12 + [base_lag_ms] * 20
    state, moves = LadderState(), []
    for i, lag in enumerate(profile):
        m = Measurement(i, lag_p95_ms=lag, backlog=0, experts_per_token=1.0,
                        expert_latency_ms={"slow_expert": 200.0}, expert_budget_ms={"slow_expert": 50.0})
        state, change = advance(state, m, policy)
        if change:
            moves.append((i, change.direction, change.step, change.level_after))
    return moves


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bursts", default="1000,10000")
    ap.add_argument("--max-batch", type=int, default=5_000)
    ap.add_argument("--daemon", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    pg = os.environ.get("THUNDERLINE_BENCH_PG_URL")
    home = Path(tempfile.mkdtemp(prefix="tl_bench_live_"))
    wh_url = None
    if pg:
        from thunderline.store.postgres import provision_database

        wh_url = provision_database(pg, f"tl_bench_live_{os.getpid()}", "thunderline_app")
    try:
        settings = _settings(home, wh_url)
        t = time.perf_counter()
        version = _seed_router(settings)
        print(f"router {version} seeded in {time.perf_counter() - t:.1f}s; warehouse "
              f"{'postgresql' if wh_url else 'sqlite'}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        sizes = [int(x) for x in args.bursts.split(",")]
        print("\n== tick → persisted DecisionTrace through thunderline live (stdin, one burst at a time, 10-level book)")
        print(f"{'input':>6} {'burst':>8} {'p50 ms':>9} {'p99 ms':>9} {'micro-batches':>14} {'traces':>7}")
        for fmt in ("arrow", "csv"):
            res = live_bursts(settings, sizes, args.max_batch, fmt)
            for n, r in res.items():
                print(f"{fmt:>6} {n:>8} {r['p50']:>9.1f} {r['p99']:>9.1f} {r['batches']:>14} {r['traces']:>7}")
            if fmt == "arrow":
                base = res[min(res)]["p50"]
        print(f"\n== backpressure ladder, synthetic 10× spike of lag p95 (base {base:.1f} ms; high mark 3×, low 1.5×)")
        for i, direction, step, level in ladder_spike(base):
            print(f"  interval {i:>2}: {direction:>4} {step:<16} → level {level}")
        if args.daemon:
            if not pg:
                print("\n--daemon needs THUNDERLINE_BENCH_PG_URL")
            else:
                s = daemon_round_trip(pg)
                print(f"\n== landing file → windows persisted through the dagster-daemon (PostgreSQL): "
                      f"{'failed' if s is None else f'{s:.1f}s'}")
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if wh_url:
            from thunderline.store.postgres import drop_database

            drop_database(pg, f"tl_bench_live_{os.getpid()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
