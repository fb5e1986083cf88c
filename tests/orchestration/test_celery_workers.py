"""The scale-out profile for real: two Celery worker processes, RabbitMQ, the daemon, a PostgreSQL instance.

One deployment per module (its own PostgreSQL database, dropped after; the ``dagster`` queue purged before
and after), started exactly as docs/scaling.md tells an operator to. Skipped only when nothing listens on
127.0.0.1:5672 (no broker); PostgreSQL follows the suite's rule (skip without THUNDERLINE_TEST_PG_URL, fail in CI).

- ``thunderline ingest`` spreads 2 months × 2 symbols over both workers: the event log shows every step ran in
  a worker process (not the run's), both workers took steps, their steps overlapped in time, and windows and
  decision traces hash exactly as an in-process (embedded) ingest of the same files.
- A worker killed with SIGKILL in the middle of a step: the broker hands the step to the other worker, the
  partition completes and hashes as undisturbed, the lake holds the same files.
- A run longer than its ``dagster/max_runtime`` is failed by run monitoring and leaves nothing committed.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from celery_cluster import (
    BROKER,
    Cluster,
    broker_open,
    partition_hashes,
    purge_queue,
    queue_consumers,
    step_runs,
    stop_group,
    worker_names,
)
from orch_helpers import write_ticks
from proc_support import kill_instance_processes

from thunderline.config import load_settings

JAN, FEB, MAR, APR = 1_704_205_800_000_000, 1_706_884_200_000_000, 1_709_562_600_000_000, 1_712_068_200_000_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, trained, mlflow_uri):
    if not broker_open():
        pytest.skip("RabbitMQ is not reachable at 127.0.0.1:5672: the Celery scale-out tests need a broker")
    if queue_consumers():  # another deployment's workers on this broker would take (and run) our steps
        pytest.fail("workers of another deployment consume the 'dagster' queue on 127.0.0.1:5672 (dagster-celery "
                    "routes every deployment's steps to that one queue): stop them, or give each its own vhost")
    from pg_support import APP_ROLE, database_name, require_pg

    from thunderline.decisions.router_state import publish_router_version
    from thunderline.store import Warehouse
    from thunderline.store.postgres import drop_database, provision_database
    from thunderline_cli.main import main

    admin = require_pg()
    db = database_name("tl_celery")
    app_url = provision_database(admin, db, APP_ROLE)
    root = tmp_path_factory.mktemp("celery")
    home, logs = root / "home", root / "logs"
    logs.mkdir()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("THUNDERLINE_", "DAGSTER_"))}
    env.update({"THUNDERLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
                "THUNDERLINE_WAREHOUSE_URL": app_url, "MLFLOW_TRACKING_URI": mlflow_uri,
                "THUNDERLINE_FIRST_MONTH": "2024-01", "THUNDERLINE_LAST_MONTH": "current",
                "THUNDERLINE_SENSOR_INTERVAL_S": "3600", "PYTHONUNBUFFERED": "1"})
    wh = Warehouse(app_url)
    wh.init_schema()
    with wh.session("default") as s:
        publish_router_version(s, trained[0], reason="celery scale-out test")
    wh.dispose()
    # run retries off: these tests look at the first run of each partition (the profile's default is 2)
    assert main(["deploy", "celery", "--pg-url", app_url, "--home", env["DAGSTER_HOME"], "--broker", BROKER,
                 "--max-concurrent-runs", "4", "--max-runtime-s", "3600", "--run-retries", "0",
                 "--monitor-poll-s", "2"]) == 0
    purge_queue()
    c = Cluster(env, logs)
    daemon = c.spawn([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
                     "daemon.log", track=False)
    try:
        yield c
    finally:
        c.stop_all()
        stop_group(daemon)
        kill_instance_processes(env["DAGSTER_HOME"])  # code servers the daemon and the runs started (proc_support)
        purge_queue()
        drop_database(admin, db)


def _embedded_hashes(tmp_path: Path, landing: Path, mlflow_uri: str, state) -> dict:
    """The same landing files through the embedded default (in-process runs, SQLite, an ephemeral instance)."""
    from thunderline.decisions.router_state import publish_router_version
    from thunderline.store import Warehouse
    from thunderline_cli.ingest import run_ingest

    home = tmp_path / "embedded"
    settings = load_settings({"THUNDERLINE_HOME": str(home), "MLFLOW_TRACKING_URI": mlflow_uri,
                              "THUNDERLINE_FIRST_MONTH": "2024-01", "THUNDERLINE_LAST_MONTH": "current"})
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session("default") as s:
        publish_router_version(s, state, reason="embedded reference")
    wh.dispose()
    with dg.instance_for_test() as instance:
        report = run_ingest(settings, landing, show_progress=False, instance=instance)
        assert not report.runs_failed, report.lines()
        return partition_hashes(instance)


def _ingest(cluster: Cluster, landing: Path, log_name: str):
    return cluster.cli("ingest", "--landing", str(landing), "--quiet", log_name=log_name)


def test_two_workers_share_the_steps_and_match_an_in_process_run(cluster, trained, mlflow_uri, tmp_path):
    landing = tmp_path / "landing"
    for sym in ("CAA", "CBB"):
        for i, start in enumerate((JAN, FEB)):
            write_ticks(landing / "ticks" / f"{sym}_{i}.parquet", sym, n=6_000, seed=10 + i, start_us=start)
    (landing / "edgar").mkdir()
    ingest = _ingest(cluster, landing, "ingest-two.log")
    with cluster.instance() as instance:
        # workers start once runs are waiting on the broker, so both find work at once
        cluster.wait_for(lambda: len(instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))) >= 2,
                         "two runs started", proc=ingest)
        workers = {name: cluster.worker(name, wait=False) for name in ("w1", "w2")}  # started together
        for name, proc in workers.items():
            cluster.wait_ready(name, proc)
        assert ingest.wait(900) == 0, cluster.log("ingest-two.log")[-3000:]
        runs = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
        assert len(runs) == 4 and all(r.tags.get("dagster/backfill") for r in runs)  # a backfill (Backfills tab)
        steps = [s for r in runs for s in step_runs(instance, r.run_id)]
        celery_hashes = partition_hashes(instance)
    assert len(steps) == 12  # raw_ticks → windows → decisions for each of the four partitions
    assert {s.worker.split("@")[0] for s in steps} == {"w1", "w2"}
    assert all(s.pid != s.run_pid and s.run_pid for s in steps)  # no step ran in its run's process
    pids = {w: {s.pid for s in steps if s.worker.startswith(w + "@")} for w in ("w1", "w2")}
    assert not pids["w1"] & pids["w2"]
    overlaps = [(a, b) for a in steps for b in steps
                if a.worker != b.worker and a.start < b.end and b.start < a.end]
    assert overlaps, [(s.worker, s.step, s.start, s.end) for s in steps]
    assert "partitions materialized: 4; failed runs: 0" in cluster.log("ingest-two.log")
    assert celery_hashes == _embedded_hashes(tmp_path, landing, mlflow_uri, trained[0])
    assert len(celery_hashes) == 4 and all(w and t for w, t in celery_hashes.values())
    cluster.stop_all()


def _lake_files(root: Path, symbol: str) -> dict[str, int]:
    return {str(p.relative_to(root)).split("tenant=")[-1]: p.stat().st_size
            for p in root.rglob("*") if p.is_file() and f"symbol={symbol}" in str(p)}


def test_a_worker_killed_mid_step_is_replaced_and_the_partition_ends_identical(cluster, trained, mlflow_uri,
                                                                              tmp_path):
    landing = tmp_path / "landing"
    write_ticks(landing / "ticks" / "CKK.parquet", "CKK", n=8_000, seed=21, start_us=MAR)
    (landing / "edgar").mkdir()
    ready = tmp_path / "paused"
    # the doomed worker stops inside raw_ticks: Parquet batches in the lake, index rows written, not committed
    doomed = cluster.worker("wk", THUNDERLINE_FAULT="pause:raw_ticks.written", THUNDERLINE_FAULT_READY=str(ready))
    ingest = _ingest(cluster, landing, "ingest-kill.log")
    cluster.wait_for(ready.exists, "the step paused mid-write", proc=ingest)
    cluster.worker("wr")
    stop_group(doomed, signal.SIGKILL)  # the whole worker: main process and the pool process running the step
    assert ingest.wait(900) == 0, cluster.log("ingest-kill.log")[-3000:]
    with cluster.instance() as instance:
        [run] = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": "2024-03-01|CKK"}))
        assert run.status == dg.DagsterRunStatus.SUCCESS
        tried = worker_names(instance, run.run_id, "raw_ticks")
        assert [t.split("@")[0] for t in tried] == ["wk", "wr"], tried  # begun on wk, redelivered to wr
        celery_hashes = {k: v for k, v in partition_hashes(instance).items() if k.endswith("|CKK")}
    embedded = _embedded_hashes(tmp_path, landing, mlflow_uri, trained[0])
    assert celery_hashes == embedded and all(embedded["2024-03|CKK"])
    settings = load_settings(cluster.env, create_dirs=False)
    assert _lake_files(settings.lake_dir, "CKK") == _lake_files(tmp_path / "embedded" / "lake", "CKK")
    assert not list(settings.lake_dir.rglob("*.tmp"))
    cluster.stop_all()


def test_a_run_over_its_runtime_is_failed_by_run_monitoring_and_commits_nothing(cluster, tmp_path):
    from jobs.keys import MARKET_JOB, month_symbol_key
    from thunderline.flow.landing import candidate_files, index_files
    from thunderline.flow.ledger import incomplete_partitions
    from thunderline.flow.tick_files import classify_tick_file
    from thunderline.store.content import ContentStore
    from thunderline.stores import open_stores
    from thunderline_assets.definitions import build_definitions
    from thunderline_cli.dagster_runs import submit_backfill, wait_backfill

    landing = tmp_path / "landing"
    write_ticks(landing / "ticks" / "CMM.parquet", "CMM", n=4_000, seed=31, start_us=APR)
    settings = load_settings(cluster.env, create_dirs=False)
    with open_stores(settings) as stores, stores.session() as s:
        index_files(s, "ticks", candidate_files(landing / "ticks"), classify_tick_file, default_tenant="default",
                    store=ContentStore(settings.landed_dir / "tenant=default"))
    stuck = cluster.worker("wp", THUNDERLINE_FAULT="pause:raw_ticks.written",
                           THUNDERLINE_FAULT_READY=str(tmp_path / "paused"))
    with cluster.instance() as instance:
        instance.add_dynamic_partitions("symbols", ["CMM"])
        backfill_id = submit_backfill(build_definitions(settings), instance, MARKET_JOB,
                                      [month_symbol_key("2024-04-01", "CMM")],
                                      tags={"dagster/max_runtime": "20"}, title="runtime ceiling test")
        runs = wait_backfill(instance, backfill_id, timeout_s=600)
        [result] = runs.results
        assert result.run.status == dg.DagsterRunStatus.FAILURE
        messages = [e.message for e in instance.all_logs(result.run.run_id) if e.message]
        assert any("maximum runtime of 20 seconds" in m for m in messages), messages[-10:]
    assert (tmp_path / "paused").exists()  # it was stuck inside the step, not waiting for a worker
    stop_group(stuck, signal.SIGKILL)
    time.sleep(1.0)  # the killed worker's PostgreSQL session is rolled back as its socket closes
    with open_stores(settings) as stores, stores.session() as s:
        assert s.count("raw_tick_batches", s.table("raw_tick_batches").c.symbol == "CMM") == 0
        assert "2024-04|CMM" in incomplete_partitions(s, "ticks")  # the next ingest redoes it
    purge_queue()  # the killed worker's task was returned to the queue
    cluster.stop_all()
