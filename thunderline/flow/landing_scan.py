"""One pass over a landing directory: which files are new, and which partitions now have work.

Why a scan module: the Dagster sensors and ``thunderline live --tail`` must agree on
what "new" means. A file is known by the sha256 of its bytes (the landing index),
so it is processed once however often it is seen, renamed or copied — also after a
restart. Hashing every file on every pass would be slow for a large directory, so a
*stat cache* (relative path → size, mtime) remembers files already indexed; only
files whose size or mtime changed are read again. Files the classifier rejected
(e.g. a LOBSTER message file whose orderbook partner has not arrived) are retried
whenever something new lands.

Work is grouped per partition: the files of one pass that touch a partition become
one :class:`PartitionWork`, whose :attr:`~PartitionWork.run_key` is derived from the
partition and the files' sha256s, so requesting the same work twice is recognisable.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from thunderline.flow.landing import Classifier, LandedFile, candidate_files, index_files
from thunderline.store.content import ContentStore
from thunderline.store.warehouse import TenantSession

CURSOR_VERSION = 1


@dataclass(frozen=True)
class PartitionWork:
    """The files of one scan that touch ``partition`` (``YYYY-MM|SYMBOL`` or ``YYYY-MM``)."""

    kind: str
    partition: str
    shas: tuple[str, ...]  # sorted
    paths: tuple[str, ...]  # same order as shas
    landed_at_us: int  # earliest mtime of the files: when the data became available

    @property
    def run_key(self) -> str:
        digest = self.shas[0] if len(self.shas) == 1 else hashlib.sha256("\n".join(self.shas).encode()).hexdigest()
        return f"{self.kind}:{self.partition}:{digest}"


@dataclass
class ScanResult:
    cursor: dict[str, Any]
    landed: list[LandedFile] = field(default_factory=list)  # files read this pass (new or re-seen content)
    work: list[PartitionWork] = field(default_factory=list)

    @property
    def rejected(self) -> list[LandedFile]:
        return [f for f in self.landed if f.status == "rejected"]

    @property
    def new_files(self) -> list[LandedFile]:
        return [f for f in self.landed if f.is_new and f.status != "rejected"]


def _stat(p: Path) -> tuple[int, int]:
    st = p.stat()
    return st.st_size, st.st_mtime_ns


def scan_landing(
    session: TenantSession,
    kind: str,
    root: Path,
    classify: Classifier,
    cursor: dict[str, Any] | None = None,
    *,
    order: Callable[[list[Path]], list[Path]] | None = None,
    settle_s: float = 1.0,
    now_s: float | None = None,
    default_tenant: str | None = None,
    store: ContentStore | None = None,
) -> ScanResult:
    """Index what changed under ``root`` since ``cursor`` and group unprocessed files by partition.

    Files whose landing-index status is ``processed`` produce no work (another path —
    ``ingest``, ``live``, an earlier run — already consumed them). The returned cursor
    is JSON-serialisable; pass it back on the next call. A file modified less than
    ``settle_s`` ago is left for the next pass (it may still be being written; writers
    that rename ``NAME.tmp`` → ``NAME`` when done need no settling).

    Only the session tenant's files are looked at: those under a ``tenant=<id>`` directory
    naming it (as ``thunderline serve`` lands them) and, when it is ``default_tenant``
    (default: the session's tenant, i.e. ``THUNDERLINE_TENANT``), untagged files an operator
    dropped. Another tenant's files are never indexed under this one.

    ``store``: the tenant's content store (:func:`thunderline.store.content.tenant_store`); new
    content is indexed through it exactly as ``thunderline ingest`` indexes it, so the same bytes
    are one content id whichever path saw them first.
    """
    from thunderline.ingress.landing import files_of_tenant

    now_s = time.time() if now_s is None else now_s
    cache: dict[str, list] = dict((cursor or {}).get("files", {})) if (cursor or {}).get("v") == CURSOR_VERSION else {}
    tenant = session.tenant_id
    present = files_of_tenant(candidate_files(root), tenant, default_tenant or tenant)
    stats: dict[str, tuple[int, int]] = {}
    changed: list[Path] = []
    retry: list[Path] = []
    stats_keep: set[str] = set()
    for p in present:
        rel = os.path.relpath(p, root)
        try:
            stats[rel] = _stat(p)
        except FileNotFoundError:  # removed between listing and stat
            continue
        if now_s - stats[rel][1] / 1e9 < settle_s:
            del stats[rel]  # not settled: not seen yet (and not dropped from the cache either)
            if rel in cache:
                stats_keep.add(rel)
            continue
        hit = cache.get(rel)
        if hit is None or tuple(hit[:2]) != stats[rel]:
            changed.append(p)
        elif len(hit) > 2 and hit[2] == "rejected":
            retry.append(p)
    todo = changed + retry if changed else []
    if order is not None:
        todo = order(todo)
    landed = index_files(session, kind, todo, classify, store=store) if todo else []  # one result per path, in order
    seen = {os.path.relpath(p, root): (p, f) for p, f in zip(todo, landed)}
    new_cache: dict[str, list] = {}
    for rel, st in stats.items():  # files no longer present drop out: the cache never outgrows the directory
        if rel in seen:
            new_cache[rel] = [*st, "rejected"] if seen[rel][1].status == "rejected" else list(st)
        elif rel in cache:
            new_cache[rel] = cache[rel]
    for rel in stats_keep:
        new_cache[rel] = cache[rel]
    work = group_work(kind, [(p, f) for p, f in seen.values() if f.status == "indexed"])
    return ScanResult({"v": CURSOR_VERSION, "files": new_cache}, landed, work)


def group_work(kind: str, files: Iterable[tuple[Path, LandedFile]]) -> list[PartitionWork]:
    """One :class:`PartitionWork` per partition touched by ``files`` (path as seen, index entry), by partition."""
    by_part: dict[str, dict[str, tuple[str, int]]] = {}
    for path, f in files:
        mtime_us = _mtime_us(path)
        for part in f.partitions:
            by_part.setdefault(part, {})[f.sha256] = (str(path), mtime_us)
    out = []
    for part in sorted(by_part):
        items = sorted(by_part[part].items())
        out.append(PartitionWork(kind, part, tuple(s for s, _ in items), tuple(v[0] for _, v in items),
                                 min(v[1] for _, v in items)))
    return out


def _mtime_us(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns // 1000
    except OSError:
        return 0


def backlog(session: TenantSession, kind: str) -> int:
    """Landed files of ``kind`` indexed but not yet processed."""
    t = session.table("landing_files")
    return session.count("landing_files", t.c.kind == kind, t.c.status == "indexed")
