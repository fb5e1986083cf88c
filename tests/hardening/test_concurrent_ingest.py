"""Two ingests at once (issue 16, item 7), on SQLite and PostgreSQL.

The second used to die with a raw ``IntegrityError`` on ``landing_files``. Now the
landing index is leased: a second ``thunderline ingest`` says in one line who holds it
and exits 75, or waits (``--wait``) and then does whatever is left; a holder killed with
SIGKILL releases the lease by dying.
"""

from __future__ import annotations

import json
import os
import signal
import time

from .crash_harness import Home, cli, differences, start_ingest, wait_ingest

EXIT_BUSY = 75


def _wait_for(path, timeout: float = 300.0) -> str:
    t0 = time.monotonic()
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() - t0 < timeout, f"{path} never appeared"
        time.sleep(0.1)
    return path.read_text()


def test_second_ingest_says_who_is_running_then_runs_after_a_kill(crash_backend, crash_landing, crash_reference,
                                                                  tmp_path, monkeypatch):
    _, make = crash_backend
    home = Home(tmp_path / "home", make(tmp_path), crash_landing)
    ready = tmp_path / "holder.ready"
    monkeypatch.setenv("THUNDERLINE_FAULT_READY", str(ready))
    holder = start_ingest(home, fault="pause:raw_ticks.committed", snap=False)  # holds the lease mid-ingest
    _wait_for(ready)

    p = cli(home)
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode == EXIT_BUSY, (stdout, stderr)
    assert stdout == ""
    [line] = stderr.strip().splitlines()
    assert f"another ingest is running (pid {holder}" in line, line

    os.kill(holder, signal.SIGKILL)  # the holder dies: its lease goes with it
    assert wait_ingest(holder) == -signal.SIGKILL
    out = tmp_path / "after.json"
    assert wait_ingest(start_ingest(home, result_path=out)) == 0
    assert differences(crash_reference["snapshot"], json.loads(out.read_text())["snapshot"]) == []


def test_two_ingests_started_together_with_wait_equal_one_clean_run(crash_backend, crash_landing, crash_reference,
                                                                     tmp_path):
    _, make = crash_backend
    home = Home(tmp_path / "home", make(tmp_path), crash_landing)
    home.root.mkdir(parents=True)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    pids = [start_ingest(home, result_path=a, wait_s=600, snap=False),
            start_ingest(home, result_path=b, wait_s=600)]
    assert [wait_ingest(p) for p in pids] == [0, 0]
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    # the landing set was ingested exactly once between them, and the state is a clean run's
    assert sorted(ra["partitions"] + rb["partitions"]) == sorted(crash_reference["partitions"])
    assert differences(crash_reference["snapshot"], rb["snapshot"]) == []
