"""Cold storage: a directory or an object store, opened through pyarrow filesystems (fsspec as fallback).

Why streaming copies with a sha256 on the way: a lake month is gigabytes; a file is copied in
bounded chunks, hashed as it goes, written under a temporary name and moved into place, so a
crash leaves either no file or a whole one — never a half file under the final name.

Why temporaries carry a time and a token (``.<name>.<created µs>-<token>.tmp``): a ``kill -9`` mid-write
leaves its temporary behind, and nothing serialises two tiering runs of one tenant-month (the retention
job has no per-month run limit, the CLI and the nightly schedule can overlap). :func:`sweep_stale_temps`
therefore removes only temporaries created before the sweeping attempt started — never one a later
attempt is writing — and never a completed file (no leading dot, no ``.tmp``). An earlier attempt still
alive loses its temporary and fails before it records anything (its move finds no file), so nothing is
lost; its month is finished by the next run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import time
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from thunderline.durable_files import fsync_path
from thunderline.faults import fault_point

log = logging.getLogger(__name__)
CHUNK = 8 << 20  # bytes read and written at a time
#: a temporary: ``.<name>.<µs since the epoch, 16+ digits>-<12 hex>.tmp``; without the time and token, one
#: an earlier release wrote (``.<name>.tmp``)
_TEMP = re.compile(r"^\.(?P<name>.+?)(?:\.(?P<us>\d{16,})-[0-9a-f]{12})?\.tmp$")


@dataclass(frozen=True)
class ColdStore:
    """``url`` as configured (THUNDERLINE_COLD_URL); ``fs`` and ``root`` as pyarrow sees them."""

    url: str
    fs: pafs.FileSystem
    root: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def url_of(self, rel: str) -> str:
        return f"{self.url.rstrip('/')}/{rel}"

    def path_of(self, url: str) -> str:
        """The filesystem path of a URL this store produced (refuses one under another root)."""
        prefix = self.url.rstrip("/") + "/"
        if not url.startswith(prefix):
            raise ValueError(f"{url!r} is not under the cold location {self.url!r}")
        return posixpath.join(self.root, url[len(prefix):])


def open_cold(url: str) -> ColdStore:
    """A :class:`ColdStore` for a directory or a URL (``file://``, ``s3://``, ``gs://``, any fsspec protocol)."""
    if "://" not in url:
        return ColdStore(url, pafs.LocalFileSystem(), os.path.abspath(url))
    try:
        fs, root = pafs.FileSystem.from_uri(url)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import fsspec

        ffs, root = fsspec.core.url_to_fs(url)
        fs = pafs.PyFileSystem(pafs.FSSpecHandler(ffs))
    return ColdStore(url, fs, root.rstrip("/"))


def now_us() -> int:
    """Wall-clock microseconds since the epoch: the time a temporary is named with, and an attempt starts at."""
    return time.time_ns() // 1000


def temp_path(path: str) -> str:
    """A fresh temporary beside ``path``: hidden, stamped with its creation time and a unique token."""
    parent, name = posixpath.split(path)
    return posixpath.join(parent, f".{name}.{now_us():016d}-{uuid.uuid4().hex[:12]}.tmp")


def copy_file(src_fs: pafs.FileSystem, src: str, dst_fs: pafs.FileSystem, dst: str) -> tuple[str, int]:
    """Stream ``src`` to ``dst`` (temporary name, then a move); returns (sha256, bytes) of what was written."""
    parent = posixpath.dirname(dst)
    tmp = temp_path(dst)
    dst_fs.create_dir(parent, recursive=True)
    digest, size = hashlib.sha256(), 0
    try:
        with src_fs.open_input_stream(src) as fin, dst_fs.open_output_stream(tmp) as fout:
            while chunk := fin.read(CHUNK):
                digest.update(chunk)
                fout.write(chunk)
                size += len(chunk)
                fault_point("retention.copying")  # a chunk written under the temporary name, not moved yet
        if isinstance(dst_fs, pafs.LocalFileSystem):
            fsync_path(tmp)
        dst_fs.move(tmp, dst)
    except BaseException:
        remove_quietly(dst_fs, tmp)
        raise
    return digest.hexdigest(), size


def sha256_of(fs: pafs.FileSystem, path: str, chunk_bytes: int = CHUNK) -> str:
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as fin:
        while chunk := fin.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type == pafs.FileType.File


def write_bytes(fs: pafs.FileSystem, path: str, data: bytes) -> None:
    """Write a small file (a manifest) atomically: temporary name, then a move."""
    parent = posixpath.dirname(path)
    tmp = temp_path(path)
    fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(tmp) as out:
        out.write(data)
    if isinstance(fs, pafs.LocalFileSystem):
        fsync_path(tmp)
    fs.move(tmp, path)


def sweep_stale_temps(cold: ColdStore, rel: str, started_us: int) -> int:
    """Remove the temporaries under ``rel`` created before ``started_us`` (dead attempts'); returns how many.

    Only hidden ``….tmp`` names are candidates, so completed files are never touched; one without a time
    in its name (an earlier release's) is judged by its modification time, and taken as stale when the store
    reports none."""
    base = cold.path_of(cold.url_of(rel))
    removed = 0
    for info in cold.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True)):
        m = _TEMP.match(info.base_name)
        if info.type != pafs.FileType.File or m is None:
            continue
        if m["us"] is not None:
            created = int(m["us"])
        else:
            created = int(info.mtime_ns // 1000) if info.mtime_ns is not None else -1
        if created < started_us:
            remove_quietly(cold.fs, info.path)
            removed += 1
    if removed:
        log.info("removed %d stale temporaries of interrupted tiering attempts from %s", removed, cold.url_of(rel))
    return removed


def remove_quietly(fs: pafs.FileSystem, path: str) -> None:
    try:
        fs.delete_file(path)
    except (OSError, FileNotFoundError):
        pass
