"""A month backfill on the Celery scale-out profile with 1 and 2 workers, against the embedded in-process run.

    python bench/scale_out.py [--symbols 4] [--ticks 200000] [--pg-admin postgresql+psycopg2://postgres@127.0.0.1/test]

Size: ``--symbols`` symbols × ``--ticks`` synthetic ticks each, all in January 2024 (default 4 × 200 k =
800 k ticks, 4 month × symbol partitions, 12 steps) — the 100 M-tick month does not fit two shared cores
three times over. Decisions are skipped (no router is bootstrapped), so a step is raw ticks or windows
work plus the decision step's no-op; what is compared is how the same steps spread.

Three phases from one invocation, each in a fresh home (and, for Celery, a fresh PostgreSQL database,
dropped after, and a purged ``dagster`` queue):

1. **in-process**: ``thunderline ingest`` on the embedded default (SQLite, runs in the CLI's process);
2. **celery ×1**: ``thunderline deploy celery``, the daemon, one ``thunderline worker start``, then ``ingest``;
3. **celery ×2**: the same with two workers.

Printed per phase: wall time of the ingest, summed step time, and the per-step overhead = (run time −
its steps' time) / steps, from the event log (Celery: broker round trip, the run's 1 s poll, events shipped
back; in-process: Dagster's own bookkeeping). Then ratios from this run: 2 workers vs 1, and Celery's
per-step overhead vs in-process. Needs RabbitMQ at 127.0.0.1:5672 and PostgreSQL. Figures only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
JAN_2 = 1_704_205_800_000_000  # 2024-01-02 14:30 UTC


def write_landing(landing: Path, symbols: int, ticks: int) -> None:
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    (landing / "ticks").mkdir(parents=True)
    (landing / "edgar").mkdir()
    for i in range(symbols):
        sym = f"SX{i:02d}"
        spec = SyntheticSpec(n_ticks=ticks, seed=100 + i, symbol=sym, venue="BENCH", start_us=JAN_2)
        path = landing / "ticks" / f"{sym}.parquet"
        write_canonical_parquet(synthetic_ticks(spec, "default"), path)
        os.utime(path, (time.time() - 3600,) * 2)


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "DAGSTER_"))}
    env.update({"THUNDERLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
                "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}", "THUNDERLINE_FIRST_MONTH": "2024-01",
                "THUNDERLINE_LAST_MONTH": "current", "THUNDERLINE_SENSOR_INTERVAL_S": "3600"})
    return env


def _cli(env: dict, *args: str, log: Path | None = None, wait: bool = True):
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "thunderline_cli.main", *args], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    if wait and proc.wait() != 0:
        raise SystemExit(f"thunderline {' '.join(args)} failed (exit {proc.returncode}); see {log}")
    return proc


def step_stats(dagster_home: Path) -> tuple[int, float, float]:
    """(steps, summed step seconds, summed run seconds) over every successful run of the instance."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    steps = step_s = run_s = 0.0
    with dg.DagsterInstance.get() as instance:
        for rec in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS])):
            run_s += rec.end_time - rec.start_time
            for st in instance.get_run_step_stats(rec.dagster_run.run_id):
                if st.end_time and st.start_time:
                    steps += 1
                    step_s += st.end_time - st.start_time
    return int(steps), step_s, run_s


def in_process(landing: Path, work: Path) -> dict:
    env = _base_env(work / "embedded")
    t0 = time.perf_counter()
    _cli(env, "ingest", "--landing", str(landing), "--quiet", log=work / "embedded.log")
    wall = time.perf_counter() - t0
    return {"wall": wall, **dict(zip(("steps", "step_s", "run_s"), step_stats(work / "embedded" / "dagster")))}


def _purge() -> None:
    from kombu import Connection

    with Connection(BROKER, connect_timeout=5) as conn:
        try:
            conn.default_channel.queue_purge("dagster")
        except Exception:  # noqa: BLE001 - the queue does not exist yet
            pass


def celery(landing: Path, work: Path, admin: str, workers: int) -> dict:
    from thunderline.store.postgres import drop_database, provision_database

    db = f"tl_bench_{uuid.uuid4().hex[:8]}"
    url = provision_database(admin, db, "thunderline_app")
    home = work / f"celery{workers}"
    env = {**_base_env(home), "THUNDERLINE_WAREHOUSE_URL": url}
    procs = []
    try:
        _cli(env, "deploy", "celery", "--pg-url", url, "--home", env["DAGSTER_HOME"], "--broker", BROKER,
             "--run-retries", "0", log=work / f"deploy{workers}.log")
        _purge()
        daemon_log = open(work / f"daemon{workers}.log", "w")
        procs.append(subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w",
                                       "workspace.yaml"], cwd=ROOT, env=env, stdout=daemon_log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
        for i in range(workers):
            log = work / f"worker{workers}-{i}.log"
            procs.append(_cli(env, "worker", "start", "-n", f"bench{i}", log=log, wait=False))
            while " ready." not in log.read_text(errors="replace"):
                time.sleep(0.5)
        t0 = time.perf_counter()
        _cli(env, "ingest", "--landing", str(landing), "--quiet", log=work / f"ingest{workers}.log")
        wall = time.perf_counter() - t0
        return {"wall": wall, **dict(zip(("steps", "step_s", "run_s"), step_stats(Path(env["DAGSTER_HOME"]))))}
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(60)
        _purge()
        drop_database(admin, db)


def _overhead(r: dict) -> float:
    return (r["run_s"] - r["step_s"]) / r["steps"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=4)
    ap.add_argument("--ticks", type=int, default=200_000)
    ap.add_argument("--pg-admin", default=os.environ.get("THUNDERLINE_TEST_PG_URL",
                                                         "postgresql+psycopg2://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        print("scale_out: skipped, no RabbitMQ at 127.0.0.1:5672 (make bench runs every bench; this one needs a broker)")
        return
    with tempfile.TemporaryDirectory(prefix="tl-scale-out-") as tmp:
        work = Path(tmp)
        write_landing(work / "landing", args.symbols, args.ticks)
        print(f"month backfill: {args.symbols} symbols x {args.ticks:,} ticks (January 2024), "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        cpu0 = time.process_time()
        results = {"in-process": in_process(work / "landing", work)}
        for n in (1, 2):
            results[f"celery x{n}"] = celery(work / "landing", work, args.pg_admin, n)
        for name, r in results.items():
            print(f"{name:11} wall {r['wall']:7.1f}s  steps {r['steps']:3d}  step time {r['step_s']:7.1f}s  "
                  f"run time {r['run_s']:7.1f}s  overhead/step {_overhead(r):5.2f}s")
        one, two, ref = results["celery x1"], results["celery x2"], results["in-process"]
        print(f"ratio wall 2 workers / 1 worker: {two['wall'] / one['wall']:.2f}")
        print(f"ratio per-step overhead celery / in-process: {_overhead(one) / max(_overhead(ref), 1e-3):.1f}")
        print(f"ratio wall celery x1 / in-process: {one['wall'] / ref['wall']:.2f}")
        print(f"load at end {os.getloadavg()[0]:.1f}; this process's CPU {time.process_time() - cpu0:.1f}s")


if __name__ == "__main__":
    main()
