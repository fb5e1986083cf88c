"""Crash consistency: ``ingest`` killed (SIGKILL) at 24 named points, then re-run, equals a clean run.

Issue 16, item 3: a crash between the tick step and the windows step used to leave a
partition with 0 windows that no re-run revisited. Every kill point below is a fault
point in the code (``thunderline.faults``), so each test kills at the same moment every
time: inside open transactions, between a commit and the lake clean-up, between steps,
between partitions, in the middle of indexing. The re-run must exit 0 and leave a
warehouse (every table: row count and content hash) and lake + content store (every
file's sha256) identical to a run that was never interrupted. One clean reference run
per backend is shared by all kill points.
"""

from __future__ import annotations

import json

import pytest

from thunderline.faults import POINTS

from .crash_harness import KILLED, Home, differences, forked_ingest

# (fault spec, what is interrupted). @n = the n-th time the point is reached in the run.
KILL_POINTS = [
    ("kill:ingest.locked", "lease held, nothing indexed"),
    ("kill:landing.file_stored@1", "first landing file copied, index transaction open"),
    ("kill:landing.file_stored@8", "mid-indexing, EDGAR files"),
    ("kill:landing.indexed", "index committed, no partition run yet"),
    ("kill:compaction.stored@1", "small files' compacted file in the content store, not indexed"),
    ("kill:compaction.committed@1", "compacted file indexed, members retired, their copies not removed"),
    ("kill:raw_filings.written@1", "EDGAR documents written, transaction open"),
    ("kill:raw_filings.committed@1", "between raw_filings and edgar_feature_windows"),
    ("kill:edgar_feature_windows.written@1", "EDGAR windows written, transaction open"),
    ("kill:edgar_feature_windows.committed@1", "EDGAR partition done, before the next"),
    ("kill:edgar_feature_windows.committed@2", "second EDGAR month done"),
    ("kill:lake.batch_written@1", "first Parquet batch in the lake, its index row uncommitted"),
    ("kill:lake.batch_written@2", "second batch of a two-file partition"),
    ("kill:raw_ticks.written@1", "tick batches written, transaction open"),
    ("kill:raw_ticks.committed@1", "between the tick step and the windows step (the reported bug)"),
    ("kill:raw_ticks.finalized@1", "lake cleaned, windows not started"),
    ("kill:market_feature_windows.persisted@1", "windows half persisted, transaction open"),
    ("kill:market_feature_windows.written@1", "windows written, transaction open"),
    ("kill:market_feature_windows.committed@1", "between the windows step and the decisions step"),
    ("kill:decision_traces.committed@1", "first market partition complete"),
    ("kill:ingest.partition_done@3", "between two market partitions"),
    ("kill:raw_ticks.committed@2", "second market partition: between ticks and windows"),
    ("kill:market_feature_windows.committed@2", "second market partition: between windows and decisions"),
    ("kill:ingest.partition_done@5", "every run done, before the ingest returns"),
]


def test_kill_points_cover_every_fault_point():
    """A new fault point in the code must join the harness (decision_traces.written needs a router)."""
    aimed = {spec.split(":", 1)[1].split("@")[0] for spec, _ in KILL_POINTS}
    assert set(POINTS) - aimed == {"decision_traces.written"}
    assert len(KILL_POINTS) >= 20


@pytest.mark.parametrize("fault,where", KILL_POINTS, ids=[k.split(":", 1)[1].replace(".", "_").replace("@", "_") for k, _ in KILL_POINTS])
def test_rerun_after_kill_equals_clean_run(fault, where, crash_backend, crash_landing, crash_reference, tmp_path):
    _, make = crash_backend
    home = Home(tmp_path / "home", make(tmp_path), crash_landing)
    assert forked_ingest(home, fault=fault) == KILLED, f"{fault} ({where}) was never reached"
    out = tmp_path / "rerun.json"
    status = forked_ingest(home, result_path=out)
    result = json.loads(out.read_text())
    assert status == 0, "\n".join(result["lines"])
    diffs = differences(crash_reference["snapshot"], result["snapshot"])
    assert diffs == [], f"after a kill at {fault} ({where}):\n" + "\n".join(diffs)


def test_kill_9_of_the_cli_from_outside(crash_backend, crash_landing, crash_reference, tmp_path):
    """The operator's view: a running `thunderline ingest` (with its own Dagster instance) killed by
    `kill -9` from another process between the tick and the windows step; the next run completes it."""
    import os
    import signal
    import time

    from .crash_harness import cli

    _, make = crash_backend
    home = Home(tmp_path / "home", make(tmp_path), crash_landing)
    ready = tmp_path / "ready"
    p = cli(home, env={"THUNDERLINE_FAULT": "pause:raw_ticks.committed", "THUNDERLINE_FAULT_READY": str(ready)})
    t0 = time.monotonic()
    while not ready.exists() and p.poll() is None:
        assert time.monotonic() - t0 < 600
        time.sleep(0.1)
    assert p.poll() is None, p.communicate()
    os.kill(p.pid, signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL
    p.communicate()
    out = tmp_path / "rerun.json"
    assert forked_ingest(home, result_path=out) == 0
    diffs = differences(crash_reference["snapshot"], json.loads(out.read_text())["snapshot"])
    assert diffs == [], "\n".join(diffs)
