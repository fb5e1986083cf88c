"""Keeping native thread pools (OpenMP, BLAS) to one thread around fits and predictions.

Why: experts run side by side in the runner's threads, and Dagster runs
partitions side by side in processes. A boosted-tree model left to itself starts
an OpenMP team as wide as the machine for every call; several of them on a busy
host spin against each other and a 3 ms prediction becomes a 300 ms one (measured
on a 2-core host under load), which is exactly the stall a latency budget exists
to prevent. One thread per expert call keeps latency predictable and fits
bitwise reproducible. OpenMP limits are per calling thread; BLAS limits are
process-wide, so only training (a batch job) limits BLAS as well.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

_lock = threading.Lock()
_controller = None


def _get_controller():
    global _controller
    with _lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return _controller


@contextlib.contextmanager
def single_threaded(user_api: str | None = "openmp") -> Iterator[None]:
    """Limit native pools of ``user_api`` (``"openmp"``, ``"blas"`` or None for both) to one thread."""
    with _get_controller().limit(limits=1, user_api=user_api):
        yield
