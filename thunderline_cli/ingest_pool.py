"""``thunderline ingest --workers N``: the planned partition runs on N worker processes.

Why: the embedded ingest executes one Dagster run per partition (``execute_in_process``), one after
another, in one process: one core, however many the machine has. Partitions of different symbols share
no lake directory, no raw_tick_batches or feature_windows rows and no landing file, so they can run side
by side. The runs of one symbol stay in one worker, in plan order (a symbol's months follow each other),
and EDGAR runs stay in the parent before any market run (as in the serial loop).

Workers are forked after the plans are built, so the jobs and resources are inherited, not pickled; a
worker opens its own database connections inside its runs (the warehouse on SQLite is in WAL mode with
a 60 s busy timeout: a writer waits for the other's transaction). Each run's outcome comes back as plain
data (:class:`RunOutcome`). Memory: each worker holds one partition at a time, bounded like the serial
loop, so the peak is per worker process, not the sum of the month.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator

_PLANS: list = []  # the plans of the current ingest, inherited by the forked workers
_RUN: Callable | None = None


@dataclass
class RunOutcome:
    """What the ingest report keeps of one partition run (picklable)."""

    index: int
    success: bool
    failure_reason: str | None = None
    totals: Counter = field(default_factory=Counter)
    files_rejected: list[tuple[str, str]] = field(default_factory=list)
    reject_reasons: Counter = field(default_factory=Counter)


def symbol_groups(plans: list, market_job: str) -> tuple[list[int], list[list[int]]]:
    """(indexes run in the parent first, groups of market-plan indexes one worker runs in order):
    EDGAR runs first and serially, market runs grouped by (tenant, symbol)."""
    first, groups = [], {}
    for i, (tenant, _res, job, key, label) in enumerate(plans):
        if job.name != market_job:
            first.append(i)
        else:
            groups.setdefault((tenant, label.split("|")[-1]), []).append(i)
    return first, list(groups.values())


def _quiet_worker() -> None:
    """A forked worker inherits the parent's signal handlers (Dagster's turn SIGTERM/SIGINT into
    KeyboardInterrupt): an idle worker stopped by the pool printed a KeyboardInterrupt traceback at the end
    of a 100 M-tick backfill that succeeded. Workers stop quietly; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_group(indexes: list[int]) -> list[RunOutcome]:
    return [_RUN(i, _PLANS[i]) for i in indexes]


def run_parallel(plans: list, groups: list[list[int]], workers: int,
                 run_one: Callable[[int, tuple], RunOutcome]) -> Iterator[RunOutcome]:
    """Run each group of plan indexes on one of ``workers`` forked processes; yields outcomes as groups end."""
    global _PLANS, _RUN
    _PLANS, _RUN = plans, run_one
    try:
        ctx = mp.get_context("fork")
        # one task per group, largest first (a worker holds one partition at a time)
        order = sorted(groups, key=len, reverse=True)
        with ctx.Pool(min(workers, len(order)), initializer=_quiet_worker) as pool:
            for outcomes in pool.imap_unordered(_run_group, order):
                yield from outcomes
            pool.close()  # idle workers exit on the end-of-work sentinel, not on the pool's terminate()
            pool.join()
    finally:
        _PLANS, _RUN = [], None
