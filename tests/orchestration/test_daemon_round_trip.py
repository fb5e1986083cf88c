"""The real dagster-daemon against a PostgreSQL instance: a dropped tick file becomes windows, untouched by hand.

Starts ``dagster-daemon run -w workspace.yaml`` with the repo's dagster.yaml (PostgreSQL
storage, queued run coordinator) and a warehouse on the same database, drops one
landing file, and waits for the sensor-requested run to finish. Bounded: the daemon
is stopped (its process group, which this test started) whatever happens, and the
wait gives up after DEADLINE_S.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from orch_helpers import write_ticks
from proc_support import kill_instance_processes

from thunderline.store import Warehouse

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 420


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def test_daemon_turns_a_landing_file_into_windows(pg_database, tmp_path, monkeypatch):
    app_url = pg_database[0]
    home, dg_home = tmp_path / "home", tmp_path / "home" / "dagster"
    dg_home.mkdir(parents=True)
    shutil.copy(REPO / "dagster.yaml", dg_home / "dagster.yaml")
    env = {**os.environ, "THUNDERLINE_HOME": str(home), "DAGSTER_HOME": str(dg_home), "DAGSTER_PG_URL": app_url,
           "THUNDERLINE_WAREHOUSE_URL": app_url, "THUNDERLINE_SENSOR_INTERVAL_S": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    for k in ("THUNDERLINE_LAKE_DIR", "THUNDERLINE_LANDING_DIR", "THUNDERLINE_TENANT"):
        env.pop(k, None)
    wh = Warehouse(app_url)
    wh.init_schema()
    exe = Path(sys.executable).with_name("dagster-daemon")
    log = open(tmp_path / "daemon.log", "w")
    proc = subprocess.Popen([str(exe), "run", "-w", "workspace.yaml"], cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        write_ticks(home / "landing" / "ticks" / "DMN.parquet", "DMN")
        dropped = time.monotonic()
        monkeypatch.setenv("DAGSTER_PG_URL", app_url)
        with dg.DagsterInstance.from_config(str(dg_home)) as instance:
            run = None
            while time.monotonic() - dropped < DEADLINE_S and proc.poll() is None:
                runs = instance.get_runs(dg.RunsFilter(tags={"dagster/sensor_name": "tick_landing_sensor"}))
                if runs and runs[0].is_finished:
                    run = runs[0]
                    break
                time.sleep(1.0)
            assert proc.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            assert run is not None, f"no finished run within {DEADLINE_S}s:\n" + (tmp_path / "daemon.log").read_text()[-3000:]
            assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
            assert run.tags["dagster/partition"] == "2024-01-01|DMN"
            assert instance.get_dynamic_partitions("symbols") == ["DMN"]
        elapsed = time.monotonic() - dropped
        with wh.session("default") as s:
            t = s.table("feature_windows")
            assert s.count("feature_windows", t.c.key == "DMN") > 0
            assert s.select("landing_files")[0]["status"] == "processed"
        print(f"landing file → windows persisted through the daemon: {elapsed:.1f}s")
    finally:
        _stop(proc)
        kill_instance_processes(dg_home)  # the daemon's code server outlives its group (proc_support)
        log.close()
        wh.dispose()


pytestmark = pytest.mark.postgres
