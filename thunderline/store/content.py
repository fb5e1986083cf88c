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
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

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

    def put(self, path: Path, kind: str, *, sha: str | None = None, companions: Sequence[Path] = (),
            prefix: bytes | Callable[[list[str | None]], bytes] = b"") -> StoredContent:
        """Copy ``path`` (and ``companions``) into the store; the content id is the hash of ``prefix`` and
        the bytes copied. ``prefix`` is what the file's name means beyond its bytes (a LOBSTER file's day,
        see :func:`thunderline.market.identity.tick_identity_prefix`): without it, the same bytes landed
        as two days would be filed, and deduplicated, as one. A callable ``prefix`` is given the sha256 of
        each companion *as copied* (None for one that is absent), so an id that covers a companion
        (a LOBSTER message file's orderbook) hashes exactly the bytes stored, in the read that copies them:
        a partner rewritten between the landing scan's hash and this copy cannot end up under the wrong id.

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
        tmps: list[Path] = []
        try:
            copied = [_copy_hashing(Path(c), tmp_dir, tmps) for c in companions]
            head = prefix([c[1] if c else None for c in copied]) if callable(prefix) else prefix
            tmp, digest, size = _copy_hashing(path, tmp_dir, tmps, hashlib.sha256(head), missing_ok=False)
            entry = self.entry_dir(kind, digest)
            entry.mkdir(parents=True, exist_ok=True)
            for c, got in zip(companions, copied):
                if got and not (entry / Path(c).name).exists():
                    os.replace(got[0], entry / Path(c).name)
            final = entry / path.name
            os.replace(tmp, final)
            fsync_dir(entry)
        finally:
            for t in tmps:
                t.unlink(missing_ok=True)
        return StoredContent(digest, final, size)

    def sweep_incoming(self) -> int:
        """Remove temporary files a crashed copy left behind; returns how many."""
        n = 0
        for d in self.root.glob("*/.incoming"):
            for f in d.glob(".*.tmp"):
                f.unlink(missing_ok=True)
                n += 1
        return n



def _copy_hashing(src: Path, tmp_dir: Path, tmps: list[Path], h=None,
                  missing_ok: bool = True) -> tuple[Path, str, int] | None:
    """``src`` copied to a fresh fsynced temporary in ``tmp_dir`` while hashing it (one read):
    (temporary, sha256 hex, size); None when ``src`` is absent and ``missing_ok``."""
    h = h or hashlib.sha256()
    tmp = tmp_dir / f".{uuid.uuid4().hex}.tmp"
    size = 0
    try:
        src_fh = open(src, "rb")
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
    tmps.append(tmp)
    with src_fh, open(tmp, "wb") as dst:
        while chunk := src_fh.read(CHUNK):
            h.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return tmp, h.hexdigest(), size


def tenant_store(landed_dir: str | Path, tenant_id: str) -> ContentStore:
    """The content store of ``tenant_id`` under ``landed_dir`` (``$THUNDERLINE_HOME/landed``).

    The one place the layout is decided: ``thunderline ingest``, the landing sensors and
    ``thunderline live`` all index landing files into this store, so a content id read by any
    of them is the same copy."""
    from thunderline.identifiers import check_tenant, safe_join

    return ContentStore(safe_join(landed_dir, f"tenant={check_tenant(tenant_id)}"))
