"""The suite on several pytest-xdist workers (``make test``: ``-n auto --dist loadscope``), and without them.

Each worker is a pytest session of its own with its own basetemp (``<run root>/popen-gwN``), so everything a
fixture keeps under ``tmp_path_factory`` (MLflow stores, DAGSTER_HOMEs, trained pools, landing sets) is already
per worker. What is not, and is handled here:

* work done once for the whole run (the shared demo): :func:`once` makes it under the run root, which every
  worker of the run shares, behind a ``FileLock`` and a marker (the pattern pytest-xdist documents);
* names outside the basetemp: PostgreSQL databases carry :func:`worker_tag` (tests/pg_support.py), and
  :func:`free_port` hands each worker ports of its own residue class, so two workers never get the same one;
* tests that must not run beside each other (they change one shared thing): an ``xdist_group`` (tests/conftest.py).
  Caveat: pytest-xdist 3.8's ``--dist loadgroup`` writes the group into ``Node._nodeid``, which pytest 9 no
  longer reads, so the groups are ignored and make test uses ``--dist loadscope`` (a module on one worker).

Without xdist (``-n 0``, ``-p no:xdist``) the run root is the session's basetemp and the worker tag ``main``.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … under xdist; "" in a plain session
DONE = ".done"


def worker_tag() -> str:
    """This process's worker id for names shared across the machine (databases): ``gw0``… or ``main``."""
    return WORKER or "main"


def run_root(tmp_path_factory) -> Path:
    """The folder every worker of this run shares: the parent of the workers' basetemps (it is the controller's
    basetemp, unique to the run); without xdist the session's basetemp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if WORKER else base


def once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """``<run root>/<name>``, made by ``make(folder)`` in the first worker that asks; the others wait on the lock
    and get the same folder. A ``make`` that raised leaves no marker: the folder is cleared and the next caller
    makes it again. ``make`` records an outcome it wants every caller to see (an exit status) in the folder."""
    folder = run_root(tmp_path_factory) / name
    with FileLock(str(folder) + ".lock"):
        if not (folder / DONE).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            make(folder)
            (folder / DONE).write_text(worker_tag())
    return folder


# ports handed out by this process: the kernel may give a just-released port again
_HANDED: set[int] = set()


def _slot() -> tuple[int, int]:
    """(this worker's index, number of workers); (0, 1) without xdist."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(WORKER[2:]) if WORKER.startswith("gw") and WORKER[2:].isdigit() else 0
    return index % count, count


def free_port(host: str = "127.0.0.1") -> int:
    """A free TCP port on ``host`` that no other worker of the run is handed (worker k of n only takes ports with
    ``(port >> 1) ≡ k (mod n)``: Linux gives bind(0) odd ports, so the port itself mod 2 would starve worker 0)
    and this process has not handed out before. Free when asked: a server binds it right after."""
    index, count = _slot()
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if (port >> 1) % count == index and port not in _HANDED:  # Linux hands bind(0) odd ports: halve first
            _HANDED.add(port)
            return port
    raise RuntimeError(f"no free port with (port >> 1) ≡ {index} (mod {count}) on {host} in 1000 tries")
