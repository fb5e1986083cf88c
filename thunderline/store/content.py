"""Content-addressed copies of landing files: what was ingested stays readable under its sha256.

Why: a landing path is the operator's, not ours. A processed file gets archived,
deleted, or rewritten with more rows; a later re-run of its partition must still
read exactly the bytes the content id names (issue 16, item 9). Each new content is
copied once, while hashing it, to ``<root>/<kind>/<sha[:2]>/<sha>/<original name>``
(the name is kept: readers detect formats by it and EDGAR sources cite it). A
LOBSTER message file's orderbook partner is copied into the same entry, since the
reader opens the pair together, and only there (the landing index stores no orderbook
on its own); the entry's id covers both files, since the message file's ``prefix``
names the orderbook's sha256.

Writes go to a hidden temporary file, are fsynced and renamed into place, so an
entry is either complete or absent; a crash leaves at most a ``.tmp`` file that the
next :meth:`ContentStore.put` of the same content replaces.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from thunderline.durable_files import fsync_dir

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredContent:
    sha256: str
    path: Path  # the stored copy (same file name as the landing path)
    size: int


class ContentStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def entry_dir(self, kind: str, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a sha256: {sha!r}")
        return self.root / kind / sha[:2] / sha

    def put(self, path: Path, kind: str, *, sha: str | None = None,
            companions: Sequence[Path] = (), prefix: bytes = b"") -> StoredContent:
        """Copy ``path`` (and ``companions``) into the store; the content id is the hash of ``prefix`` and
        the bytes copied. ``prefix`` is what the file's name means beyond its bytes (a LOBSTER file's day,
        see :func:`thunderline.market.identity.tick_identity_prefix`): without it, the same bytes landed
        as two days would be filed, and deduplicated, as one.

        ``sha``: the caller's hash of the file. If the file changed since, the copy's own hash
        wins (the copy is what gets indexed and read). An existing complete entry is reused.
        """
        path = Path(path)
        if sha is not None:
            final = self.entry_dir(kind, sha) / path.name
            if final.exists():
                return StoredContent(sha, final, final.stat().st_size)
        tmp_dir = self.root / kind / ".incoming"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f".{uuid.uuid4().hex}.tmp"
        h = hashlib.sha256(prefix)
        size = 0
        try:
            with open(path, "rb") as src, open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            digest = h.hexdigest()
            entry = self.entry_dir(kind, digest)
            entry.mkdir(parents=True, exist_ok=True)
            for c in companions:
                if Path(c).exists() and not (entry / Path(c).name).exists():
                    ctmp = entry / f".{Path(c).name}.tmp"
                    shutil.copyfile(c, ctmp)
                    os.replace(ctmp, entry / Path(c).name)
            final = entry / path.name
            os.replace(tmp, final)
            fsync_dir(entry)
        finally:
            if tmp.exists():
                tmp.unlink()
        return StoredContent(digest, final, size)

    def sweep_incoming(self) -> int:
        """Remove temporary files a crashed copy left behind; returns how many."""
        n = 0
        for d in self.root.glob("*/.incoming"):
            for f in d.glob(".*.tmp"):
                f.unlink(missing_ok=True)
                n += 1
        return n



def tenant_store(landed_dir: str | Path, tenant_id: str) -> ContentStore:
    """The content store of ``tenant_id`` under ``landed_dir`` (``$THUNDERLINE_HOME/landed``).

    The one place the layout is decided: ``thunderline ingest``, the landing sensors and
    ``thunderline live`` all index landing files into this store, so a content id read by any
    of them is the same copy."""
    from thunderline.identifiers import check_tenant, safe_join

    return ContentStore(safe_join(landed_dir, f"tenant={check_tenant(tenant_id)}"))
