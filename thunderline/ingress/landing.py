"""Durable, tenant-carrying writes into the landing area.

Layout (under ``$THUNDERLINE_LANDING_DIR``)::

    ticks/tenant=<tenant>/<YYYY-MM-DD>/<HHMMSSffffff>-<sha>.parquet   canonical tick Parquet (TICK_SCHEMA)
    edgar/tenant=<tenant>/<YYYY-MM-DD>/<HHMMSSffffff>-<sha>.<ext>      an uploaded EDGAR file, bytes as sent
    <kind>/tenant=<tenant>/.ids/<sha[:2]>/.<sha>                        "already landed" marker (hidden symlink to the file)

Names sort in acceptance order (UTC date and time of the write), because the landing
index feeds a partition's files in path order and the tick validator expects each
(venue, symbol) stream's ``seq`` to rise across them — post one stream's batches one after
another. ``<sha>`` is the sha256 of the file's bytes, the id the landing index
(``thunderline.flow.landing``) gives a file: the same batch posted twice is answered
``duplicate`` from the marker, and even if it landed twice (a crash between file and
marker) the index processes its content once.

Guarantee, in this order, before :meth:`DurableLanding.write_ticks` returns: the bytes
are written to a hidden ``.<sha>.tmp`` name (skipped by ``candidate_files``), fsynced,
renamed into place with :func:`os.replace` (atomic), and the directory is fsynced so the
rename itself survives a crash. A reader therefore sees no file or the whole file.
A crash before the rename leaves only a hidden temp file, which
:meth:`DurableLanding.sweep` removes at start-up.

**Reading the tenant back** (for the landing index, sensors and the live path): a file
belongs to the tenant named by the first path component below ``ticks/`` or ``edgar/``
when that component is ``tenant=<id>`` — see :func:`tenant_of_landing_path`. Files
without such a component are operator-dropped and belong to ``THUNDERLINE_TENANT``.
A consumer indexing for tenant T must take exactly the files whose
``tenant_of_landing_path(path) or settings.tenant_id`` equals T (:func:`files_of_tenant`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from thunderline.contracts import TICK_SCHEMA
from thunderline.durable_files import fsync_dir

TENANT_DIR_RE = re.compile(r"^tenant=([a-z0-9][a-z0-9_-]{0,62})$")
KINDS = ("ticks", "edgar")
_EDGAR_EXT = {"submission": "txt", "html": "htm", "xbrl_instance": "xml", "companyfacts": "json", "submissions_json": "json"}


def tenant_of_landing_path(path: str | Path, landing_dir: str | Path | None = None) -> str | None:
    """The tenant a landing file belongs to, from its ``tenant=<id>`` directory; None if it has none.

    With ``landing_dir`` the component must sit directly below ``ticks/`` or ``edgar/`` of that
    directory (a path outside it gives None); without it, the first ``tenant=<id>`` component
    that directly follows a ``ticks`` or ``edgar`` component counts.
    """
    p = Path(path)
    if landing_dir is not None:
        try:
            rel = p.resolve().relative_to(Path(landing_dir).resolve())
        except ValueError:
            return None
        parts = rel.parts
        if len(parts) >= 3 and parts[0] in KINDS:
            m = TENANT_DIR_RE.match(parts[1])
            return m.group(1) if m else None
        return None
    parts = p.parts
    for i in range(len(parts) - 2):
        if parts[i] in KINDS:
            m = TENANT_DIR_RE.match(parts[i + 1])
            if m:
                return m.group(1)
    return None


def files_of_tenant(paths: Iterable[Path], tenant_id: str, default_tenant: str,
                    landing_dir: str | Path | None = None) -> list[Path]:
    """The paths that belong to ``tenant_id``: its ``tenant=`` files, plus untagged files when it is the default."""
    return [p for p in paths if (tenant_of_landing_path(p, landing_dir) or default_tenant) == tenant_id]


def landing_tenants(landing_dir: str | Path) -> list[str]:
    """Tenants that have a ``tenant=<id>`` directory under ``ticks/`` or ``edgar/``."""
    out: set[str] = set()
    for kind in KINDS:
        d = Path(landing_dir) / kind
        if d.is_dir():
            for child in d.iterdir():
                m = TENANT_DIR_RE.match(child.name)
                if m and child.is_dir():
                    out.add(m.group(1))
    return sorted(out)


@dataclass(frozen=True)
class Landed:
    """Where an accepted batch is: its content sha (= landing index id), path, rows and whether it was already there."""

    sha256: str
    path: Path
    rows: int
    size: int
    duplicate: bool


def parquet_bytes(table: pa.Table) -> pa.Buffer:
    """Canonical tick Parquet of ``table`` — deterministic bytes for the same rows (content addressing).

    An Arrow buffer (bytes-like, no copy out of the writer's stream)."""
    if table.schema != TICK_SCHEMA:
        table = table.cast(TICK_SCHEMA)
    buf = pa.BufferOutputStream()
    # uncompressed, dictionaries only for the repeated strings: cheapest to write on the request path
    # (the lake re-encodes with zstd); statistics on ts/seq let readers skip row groups
    pq.write_table(table, buf, compression="none", use_dictionary=["tenant_id", "venue", "symbol", "source"],
                   write_statistics=["ts", "seq"])
    return buf.getvalue()


class DurableLanding:
    """Writes accepted batches into ``landing_dir`` so that a 2xx implies the bytes survive a crash."""

    def __init__(self, landing_dir: str | Path, *, fsync: bool = True) -> None:
        self.root = Path(landing_dir)
        self.fsync = fsync
        self._dirs: set[Path] = set()  # directories known to exist (saves a stat and a mkdir per write)
        self._durable: set[Path] = set()  # directories whose own entries this process has fsynced

    def tenant_dir(self, kind: str, tenant_id: str) -> Path:
        if kind not in KINDS:
            raise ValueError(f"landing kind {kind!r}: expected one of {KINDS}")
        if not TENANT_DIR_RE.match(f"tenant={tenant_id}"):
            raise ValueError(f"tenant {tenant_id!r} is not a valid tenant id")
        return self.root / kind / f"tenant={tenant_id}"

    def write_ticks(self, tenant_id: str, table: pa.Table) -> Landed:
        return self.write_parquet(tenant_id, parquet_bytes(table), table.num_rows)

    def write_parquet(self, tenant_id: str, data, rows: int) -> Landed:
        """Land tick Parquet already encoded by :func:`parquet_bytes` (the server encodes on its CPU
        thread and lands on an I/O thread, so one request's fsync never holds up the next one's parsing)."""
        return self._land("ticks", tenant_id, data, "parquet", rows)

    def write_filing(self, tenant_id: str, data: bytes, doc_kind: str) -> Landed:
        return self._land("edgar", tenant_id, data, _EDGAR_EXT.get(doc_kind, "bin"), 0)

    def _land(self, kind: str, tenant_id: str, data, ext: str, rows: int) -> Landed:
        sha = hashlib.sha256(data).hexdigest()
        base = self.tenant_dir(kind, tenant_id)
        marker = base / ".ids" / sha[:2] / f".{sha}"
        prior = self._marked(base, marker)
        if prior is not None:
            return Landed(sha, prior, rows, len(data), True)
        now = dt.datetime.now(dt.timezone.utc)
        path = base / now.strftime("%Y-%m-%d") / f"{now.strftime('%H%M%S%f')}-{sha}.{ext}"
        self._write(path, data)
        # the marker only saves a second copy of a retried batch (the index would skip it anyway): no
        # fsync. A relative symlink to the file: created atomically in one call, read with readlink.
        self._ensure_dir(marker.parent)
        target = os.path.relpath(path, marker.parent)
        try:
            os.symlink(target, marker)
        except FileExistsError:  # a marker whose file is gone (or a concurrent twin): point it here
            tmp = marker.with_name(f"{marker.name}.{os.getpid()}.{threading.get_ident():x}.tmp")
            tmp.unlink(missing_ok=True)
            os.symlink(target, tmp)
            os.replace(tmp, marker)
        return Landed(sha, path, rows, len(data), False)

    @staticmethod
    def _marked(base: Path, marker: Path) -> Path | None:
        """The file a marker names, when that file still exists (symlink markers; text ones from before)."""
        try:
            prior = marker.parent / os.readlink(marker)
        except FileNotFoundError:
            return None
        except OSError:  # not a symlink: a marker written by an older version holds the path as text
            try:
                prior = base / marker.read_text().strip()
            except OSError:
                return None
        return prior if prior.exists() else None

    def _ensure_dir(self, d: Path) -> None:
        """mkdir -p ``d`` unless this process already made or saw it."""
        if d in self._dirs:
            return
        d.mkdir(parents=True, exist_ok=True)
        if len(self._dirs) > 10_000:
            self._dirs.clear()
        self._dirs.add(d)

    def _write(self, final: Path, data) -> None:
        """Durably place ``data`` at ``final``: temp name, fsync, atomic rename, fsync of the directory."""
        d = final.parent
        self._ensure_dir(d)
        tmp = d / f".{final.name}.{os.getpid()}.{threading.get_ident():x}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except FileNotFoundError:  # the directory was removed behind this process's back
            self._dirs.discard(d)
            self._durable.discard(d)
            self._ensure_dir(d)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        try:
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self.fsync:
            fsync_dir(d)
            if d not in self._durable:
                # the directories' own entries must survive too: fsynced by every write until one of
                # them has finished doing it (a write racing the directory's creator fsyncs as well,
                # so no 2xx ever rests on a directory entry still in flight); once per process after
                # that, which also covers a directory a crashed process made but never fsynced
                fsync_dir(d.parent)
                fsync_dir(d.parent.parent)
                if len(self._durable) > 10_000:
                    self._durable.clear()
                self._durable.add(d)

    def sweep(self) -> int:
        """Remove temp files a crash left behind (they were never acknowledged); returns how many."""
        n = 0
        for kind in KINDS:
            base = self.root / kind
            if not base.is_dir():
                continue
            for tdir in base.iterdir():
                if not TENANT_DIR_RE.match(tdir.name):
                    continue
                for tmp in tdir.rglob(".*.tmp"):
                    tmp.unlink(missing_ok=True)
                    n += 1
        return n

