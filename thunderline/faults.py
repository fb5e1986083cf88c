"""Named fault points: deterministic crashes and failures for crash-consistency tests.

Why: a ``kill -9`` sent from outside lands wherever the process happens to be, so a
test that wants to prove "a crash *between the tick step and the windows step* loses
nothing" cannot aim it. Like SQLite's and FoundationDB's crash tests, the code names
the moments that matter (``fault_point("raw_ticks.committed")``) and the environment
picks one:

    THUNDERLINE_FAULT=kill:raw_ticks.committed        SIGKILL this process the 1st time it is reached
    THUNDERLINE_FAULT=kill:lake.batch_written@3       ... the 3rd time
    THUNDERLINE_FAULT=pause:raw_ticks.committed       write $THUNDERLINE_FAULT_READY (if set), then sleep
                                                      until killed from outside
    THUNDERLINE_FAULT=enospc:lake.batch_written       raise OSError(ENOSPC) as a full disk would
    THUNDERLINE_FAULT=wait:retention.edgar_copied     write $THUNDERLINE_FAULT_READY, then wait until the file
                                                      $THUNDERLINE_FAULT_GO exists and carry on (a test acts
                                                      in between: another writer racing this one)

Unset (production), a fault point is a dictionary lookup. :data:`POINTS` lists every
name in the code, so the crash harness can check it covers them all.
"""

from __future__ import annotations

import errno
import os
import signal
import time

ENV = "THUNDERLINE_FAULT"
READY_ENV = "THUNDERLINE_FAULT_READY"
GO_ENV = "THUNDERLINE_FAULT_GO"

# every fault point placed in the code, in the order an ingest reaches them
POINTS = (
    "ingest.locked",  # the landing lease is held, nothing indexed yet
    "landing.file_stored",  # a landing file copied into the content store, its index row not yet committed
    "landing.indexed",  # the landing index committed
    "compaction.stored",  # a compacted file durable in the content store, not indexed yet
    "compaction.committed",  # compacted files indexed and their members retired, members' copies not removed
    "raw_filings.written",  # EDGAR documents written, transaction open
    "raw_filings.committed",
    "edgar_feature_windows.written",
    "edgar_feature_windows.committed",
    "lake.batch_written",  # a Parquet batch renamed into the lake, its index row not yet committed
    "raw_ticks.written",  # raw_tick_batches rows written, transaction open
    "raw_ticks.committed",  # committed, stale lake files not yet removed
    "raw_ticks.finalized",
    "market_feature_windows.persisted",  # a chunk of windows upserted, transaction open
    "market_feature_windows.written",
    "market_feature_windows.committed",
    "decision_traces.written",
    "decision_traces.committed",
    "ingest.partition_done",  # one partition's run finished, the next not started
)

#: Fault points of retention's tiering (thunderline.retention.tiering), aimed at by tests/retention, not by
#: the ingest crash harness: a chunk of a file written under its temporary cold name / the file copied to
#: cold storage / recorded cold / its hot copy removed.
TIERING_POINTS = ("retention.copying", "retention.copied", "retention.recorded", "retention.file_tiered")
#: ... and of raw EDGAR's (thunderline.retention.edgar): a chunk of the month's batch written to its temporary /
#: the batch verified in cold storage / recorded cold and its warehouse rows deleted (one transaction).
EDGAR_TIERING_POINTS = ("retention.edgar_writing", "retention.edgar_copied", "retention.edgar_recorded")

_hits: dict[str, int] = {}


def _parse(spec: str) -> tuple[str, str, int]:
    action, _, rest = spec.partition(":")
    name, _, nth = rest.partition("@")
    return action, name, int(nth or 1)


def fault_point(name: str) -> None:
    """Crash, pause or fail here if ``THUNDERLINE_FAULT`` names this point (see the module docstring)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    action, target, nth = _parse(spec)
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != nth:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        ready = os.environ.get(READY_ENV)
        if ready:
            with open(ready, "w") as fh:
                fh.write(f"{os.getpid()} {name}\n")
        while True:  # until killed from outside
            time.sleep(3600)
    elif action == "wait":
        _wait_for_go(name)
    elif action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"fault point {name}")
    else:
        raise ValueError(f"{ENV}={spec!r}: unknown action {action!r} (kill, pause, wait, enospc)")


def _wait_for_go(name: str) -> None:
    ready, go = os.environ.get(READY_ENV), os.environ.get(GO_ENV)
    if not ready or not go:
        raise ValueError(f"{ENV}=wait:{name} needs {READY_ENV} and {GO_ENV} (files) set")
    with open(ready, "w") as fh:
        fh.write(f"{os.getpid()} {name}\n")
    while not os.path.exists(go):
        time.sleep(0.02)
