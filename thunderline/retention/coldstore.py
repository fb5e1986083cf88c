"""Cold storage: a directory or an object store, opened through pyarrow filesystems (fsspec as fallback).

Why streaming copies with a sha256 on the way: a lake month is gigabytes; a file is copied in
bounded chunks, hashed as it goes, written under a temporary name and moved into place, so a
crash leaves either no file or a whole one — never a half file under the final name.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from thunderline.durable_files import fsync_path

CHUNK = 8 << 20  # bytes read and written at a time


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


def copy_file(src_fs: pafs.FileSystem, src: str, dst_fs: pafs.FileSystem, dst: str) -> tuple[str, int]:
    """Stream ``src`` to ``dst`` (temporary name, then a move); returns (sha256, bytes) of what was written."""
    parent, name = posixpath.split(dst)
    tmp = posixpath.join(parent, f".{name}.tmp")
    dst_fs.create_dir(parent, recursive=True)
    digest, size = hashlib.sha256(), 0
    try:
        with src_fs.open_input_stream(src) as fin, dst_fs.open_output_stream(tmp) as fout:
            while chunk := fin.read(CHUNK):
                digest.update(chunk)
                fout.write(chunk)
                size += len(chunk)
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
    parent, name = posixpath.split(path)
    tmp = posixpath.join(parent, f".{name}.tmp")
    fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(tmp) as out:
        out.write(data)
    if isinstance(fs, pafs.LocalFileSystem):
        fsync_path(tmp)
    fs.move(tmp, path)



def remove_quietly(fs: pafs.FileSystem, path: str) -> None:
    try:
        fs.delete_file(path)
    except (OSError, FileNotFoundError):
        pass
