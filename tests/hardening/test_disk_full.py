"""A full disk during ``ingest`` (issue 16, item 8): one line and the summary, nothing half-written, re-run recovers.

Two ways in, on SQLite and PostgreSQL:

* a real full disk: ``THUNDERLINE_HOME`` (lake, content store, SQLite warehouse, Dagster
  instance) on a tmpfs too small for the landing set, through the real CLI; the tmpfs is
  then grown and the re-run must equal a clean run. Needs root and ``mount``; skipped
  with the reason otherwise;
* ``ENOSPC`` injected at named points (``THUNDERLINE_FAULT=enospc:…``): deterministic, runs
  everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from .crash_harness import Home, cli, differences, forked_ingest


def _tmpfs(path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` at ``path``; None on success, else why not."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "mounting a tmpfs needs root and mount(8)"
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    return None if r.returncode == 0 else f"cannot mount a tmpfs here: {r.stderr.strip()}"


@pytest.mark.parametrize("fault", ["enospc:landing.file_stored@2", "enospc:lake.batch_written@2",
                                   "enospc:market_feature_windows.persisted@1"])
def test_injected_enospc_ends_with_one_line_and_rerun_recovers(fault, crash_backend, crash_landing,
                                                               crash_reference, tmp_path):
    _, make = crash_backend
    home = Home(tmp_path / "home", make(tmp_path), crash_landing)
    out = tmp_path / "failed.json"
    assert forked_ingest(home, fault=fault, result_path=out, snap=False) == 1
    failed = json.loads(out.read_text())
    assert failed["lines"][0].startswith("error: storage full"), failed["lines"]
    assert any(line.startswith("partitions materialized") for line in failed["lines"])  # the summary is there
    assert not list((home.root / "lake").rglob("*.tmp")) and not list((home.root / "landed").rglob("*.tmp"))
    rerun = tmp_path / "rerun.json"
    assert forked_ingest(home, result_path=rerun) == 0
    assert differences(crash_reference["snapshot"], json.loads(rerun.read_text())["snapshot"]) == []


def test_real_full_disk_through_the_cli(crash_backend, crash_landing, crash_reference, tmp_path):
    _, make = crash_backend
    root = tmp_path / "home"
    why = _tmpfs(root, "1200k")
    if why:
        pytest.skip(why)
    try:
        home = Home(root, make(root), crash_landing)
        p = cli(home)
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 1, (stdout, stderr)
        assert "Traceback" not in stdout + stderr, stderr[-3000:]
        lines = stdout.strip().splitlines()
        assert lines[0].startswith("error: storage full"), stdout
        assert any(line.startswith("partitions materialized") for line in lines), stdout
        subprocess.run(["mount", "-o", "remount,size=64m", str(root)], check=True)
        p = cli(home)
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, (stdout, stderr[-3000:])
        from .crash_harness import snapshot  # noqa: PLC0415 - read in a child: the parent opens no database

        out = tmp_path / "snap.json"
        pid = os.fork()
        if pid == 0:
            try:
                out.write_text(json.dumps(snapshot(home)))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert differences(crash_reference["snapshot"], json.loads(out.read_text())) == []
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)

