"""Persistent daemon threads for expert calls: one per call in flight, reused between calls.

Why: starting a thread per ``predict`` cost up to 15-20 ms of wall time per micro-batch on a
loaded host (thread creation plus its first scheduling); a parked worker only needs a wake-up.
The isolation of :mod:`thunderline.experts.runner` is unchanged: a call runs alone on a worker,
and a worker whose call never returns is simply never parked again (one stuck thread per hung
call, as before). Idle workers wait for work; at most ``MAX_IDLE`` stay parked, and one idle for
``IDLE_S`` seconds exits on its own, so a process that stops deciding holds no threads for long.
:func:`shutdown_idle` ends the parked ones now (the live runner calls it on close).
"""

from __future__ import annotations

import itertools
import queue
import threading
from typing import Callable

MAX_IDLE = 8
IDLE_S = 60.0

_lock = threading.Lock()
_idle: list["_Worker"] = []
_ids = itertools.count(1)


class _Worker:
    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=f"expert-worker-{next(_ids)}", daemon=True)

    def _loop(self) -> None:
        while True:
            try:
                job = self.jobs.get(timeout=IDLE_S)
            except queue.Empty:
                with _lock:
                    if self in _idle:  # still parked: nobody handed it work, retire
                        _idle.remove(self)
                        return
                continue  # taken by submit() just now: its job is on the way
            if job is None:
                return
            run, after = job
            run()  # never raises: the runner's job catches everything the expert raises
            with _lock:  # parked before `after` wakes the caller: its next call finds this worker idle
                park = len(_idle) < MAX_IDLE
                if park:
                    _idle.append(self)
            after()
            if not park:
                return


def submit(run: Callable[[], None], after: Callable[[], None]) -> None:
    """Run ``run`` on a parked worker (a new one when none is idle; RuntimeError if none can start),
    park the worker, then call ``after`` (which signals the caller). Neither may raise."""
    with _lock:
        worker = _idle.pop() if _idle else None
    if worker is None:
        worker = _Worker()
        worker.thread.start()
    worker.jobs.put((run, after))


def shutdown_idle() -> int:
    """End every parked worker; busy ones finish their call and park again later. Returns how many."""
    with _lock:
        parked = list(_idle)
        _idle.clear()
    for w in parked:
        w.jobs.put(None)
    return len(parked)


def idle_count() -> int:
    with _lock:
        return len(_idle)
