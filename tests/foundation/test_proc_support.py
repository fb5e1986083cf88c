"""The orphan check of tests/conftest.py finds a code server by the instance it names, and the fixtures' kill
reaches it and the children that carry its DAGSTER_HOME (tests/proc_support.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from proc_support import instance_processes, kill_instance_processes, leaked_code_servers

#: stands in for ``dagster api grpc … --instance-ref {…DAGSTER_HOME…}`` with a child (its multiprocessing worker)
FAKE = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); " \
       "time.sleep(120)"


def test_a_left_code_server_is_found_and_killed_with_its_child(tmp_path):
    home = tmp_path / "home" / "dagster"
    home.mkdir(parents=True)
    ref = '{"local_artifact_storage_data": {"base_dir": "%s/storage"}}' % home
    proc = subprocess.Popen([sys.executable, "-c", FAKE, "--instance-ref", ref], start_new_session=True,
                            env={**os.environ, "DAGSTER_HOME": str(home)})
    try:
        deadline = time.monotonic() + 60
        while len(instance_processes(home)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(instance_processes(home)) == 2  # the server and its child (found by its environment)
        assert proc.pid in [p.pid for p in leaked_code_servers(tmp_path)]
        assert len(leaked_code_servers(tmp_path)) == 2  # the child too: its DAGSTER_HOME is under tmp_path
        assert not leaked_code_servers(tmp_path / "elsewhere")
        assert len(kill_instance_processes(home, wait_s=5)) == 2
        proc.wait(10)
        assert not instance_processes(home) and not leaked_code_servers(tmp_path)
    finally:
        if proc.poll() is None:
            proc.kill()
