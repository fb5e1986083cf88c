"""One ingest at a time per warehouse: a lease on the landing index that a crash releases by itself.

Why: two ``thunderline ingest`` processes indexing the same landing area both saw a
file as new and the second died on the primary key of ``landing_files`` (issue 16,
item 7). A lease *row* with an expiry would outlive a ``kill -9`` and block the
re-run until it expired; the locks used here die with their holder instead:

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection
  held for the whole ingest; the holder is named in that connection's
  ``application_name`` (``thunderline ingest pid=… since=…``), which a waiting process
  reads from ``pg_locks`` ⋈ ``pg_stat_activity``.
* SQLite: an exclusive ``flock`` on ``<warehouse file>.ingest.lock``; the holder writes
  its pid, host and start time into the file.

A second ingest waits up to ``wait_s`` seconds, then raises :class:`IngestBusy` whose
message is one line naming the holder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

LOCK_NAME = "thunderline.landing_index"
LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)


class IngestBusy(RuntimeError):
    """Another ingest holds the landing index; the message is one line naming it."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _busy(holder: str, waited: float) -> IngestBusy:
    return IngestBusy(f"another ingest is running ({holder}); waited {waited:.0f}s — "
                      f"try again when it has finished, or pass --wait SECONDS")


@contextlib.contextmanager
def landing_lease(warehouse_url: str, *, wait_s: float = 0.0, poll_s: float = 0.25) -> Iterator[str]:
    """Hold the landing-index lease of ``warehouse_url`` for the ``with`` block; yields the holder text."""
    url = make_url(warehouse_url)
    if url.get_backend_name() == "postgresql":
        with _pg_lease(warehouse_url, wait_s, poll_s) as me:
            yield me
    else:
        with _file_lease(_lock_path(url.database), wait_s, poll_s) as me:
            yield me


def _lock_path(database: str | None) -> Path:
    if database and database != ":memory:":
        return Path(database).with_name(Path(database).name + ".ingest.lock")
    return Path(tempfile.gettempdir()) / f"thunderline-{os.getuid()}-memory.ingest.lock"


@contextlib.contextmanager
def _file_lease(path: Path, wait_s: float, poll_s: float) -> Iterator[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    t0 = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - t0
                if waited >= wait_s:
                    holder = Path(path).read_text(errors="replace").strip() or "holder unknown"
                    raise _busy(holder, waited) from None
                time.sleep(poll_s)
        me = f"pid {os.getpid()} on {socket.gethostname()}, since {_now()}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, me.encode() + b"\n", 0)
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _pg_lease(warehouse_url: str, wait_s: float, poll_s: float) -> Iterator[str]:
    me = f"pid {os.getpid()} on {socket.gethostname()}, since {_now()}"
    app = f"thunderline ingest pid={os.getpid()} since={_now()}"[:63]
    engine = sa.create_engine(warehouse_url, poolclass=sa.pool.NullPool,
                              connect_args={"application_name": app})
    t0 = time.monotonic()
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar_one():
                waited = time.monotonic() - t0
                if waited >= wait_s:
                    raise _busy(_pg_holder(conn), waited)
                time.sleep(poll_s)
            try:
                yield me
            finally:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
    finally:
        engine.dispose()


def _pg_holder(conn: sa.Connection) -> str:
    key = LOCK_KEY & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(sa.text(
        "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND l.classid::bigint = :hi AND l.objid::bigint = :lo AND l.objsubid = 1"),
        {"hi": key >> 32, "lo": key & 0xFFFFFFFF}).first()
    if row is None:
        return "holder unknown"
    name = (row.application_name or "").removeprefix("thunderline ingest ").replace("=", " ")
    return f"{name}, client {row.client_addr or 'local'}" if name else f"connected since {row.backend_start:%Y-%m-%dT%H:%M:%SZ}"
