"""Many small landed tick files → one content-addressed file per (venue, symbol, UTC day), before ingest plans.

Why: the HTTP ingress lands one Parquet file per accepted request, so a busy symbol-day is
thousands of files of a few hundred ticks. Ingested one by one, each costs a lake batch (write,
fsync, hash), an index row and a window-builder call: 5,378 such files took 836 s. Compacted,
a partition reads one file and writes one batch per chunk.

**Which files.** Indexed canonical-Parquet tick files landed in a ``tenant=<id>`` directory (the
ingress's; an operator's own files keep their per-file reports), of at most ``small_bytes``
bytes and :data:`MAX_MEMBER_ROWS` rows, touching one partition, that read cleanly (no row
rejected by the reader), hold one venue and one UTC day. Walking a partition's files in the
order ingest reads them, consecutive such files of one (venue, day) form a group while each
starts no earlier than the previous one ends (and later than it starts). A group of two or more is compacted only if its time range
shares no instant with any other file of the partition.

**Exactly the same ticks and windows.** The compacted file (:mod:`thunderline.market.compacted`)
holds the rows the reader gave for each member, each still citing its member's landing path
and row; its reader hands them out in whole members. Validation state is per stream (venue,
symbol, source), so every member is checked as when read alone; with no instant shared with
another file, no duplicate, conflict or time merge involves another file. Lake batches, and
the batch ids windows cite as provenance, are the compacted file's: one per chunk instead of
one per member (``tests/hardening/test_compaction.py`` compares both ways).

**Crash safety** (fault points ``compaction.stored``, ``compaction.committed``):

1. each group is written to a temporary file and copied durably into the content store
   (``landed/ticks/<sha>``; fsync, rename, fsync of the directory). A kill here leaves an
   unindexed store entry, which the re-run's identical group reuses;
2. one transaction indexes every compacted file and retires its members (status
   ``compacted``, a ``compacted_members`` row each). Before the commit the members are the
   indexed ones, after it the compacted file: never both, never neither;
3. after the commit the members' own content-addressed copies are removed, file first, then
   their ``landed_content`` row, so a kill in between is finished by the next pass.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from thunderline.faults import fault_point
from thunderline.market.compacted import COMPACTED_FORMAT, compacted_schema
from thunderline.store.content import ContentStore, StoredContent
from thunderline.store.warehouse import TenantSession

SMALL_FILE_BYTES = 4 << 20
MAX_MEMBER_ROWS = 65_536
MAX_GROUP_ROWS = 2_000_000
DAY_US = 86_400_000_000
_CACHE_BYTES = 256 << 20  # member rows kept in memory between reading and writing; beyond, read again

SessionFactory = Callable[[], ContextManager[TenantSession]]


@dataclass
class Member:
    """One landing file of a partition, as its reader sees it."""

    id: str
    path: str
    read_path: str
    eligible: bool = False
    rows: int = 0
    venue: str | None = None
    ts_min: int | None = None
    ts_max: int | None = None

    @property
    def day(self) -> int | None:
        return None if self.ts_min is None else self.ts_min // DAY_US


@dataclass
class Group:
    partition: str
    members: list[Member] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.members)

    @property
    def span(self) -> tuple[int, int]:
        return self.members[0].ts_min, self.members[-1].ts_max  # type: ignore[return-value]


@dataclass
class CompactionSummary:
    groups: int = 0
    files: int = 0
    rows: int = 0
    removed_copies: int = 0

    def line(self) -> str | None:
        if not self.groups:
            return None
        return f"compacted: {self.files:,} small tick files ({self.rows:,} ticks) into {self.groups:,} files"


def compact_landed(session: SessionFactory, store: ContentStore, *, small_bytes: int = SMALL_FILE_BYTES) -> CompactionSummary:
    """Compact the session tenant's small landed tick files (see the module docstring); call under the ingest lease."""
    summary = CompactionSummary()
    cache: dict[str, pa.Table] = {}
    clear_unfinished(store)
    with session() as s:
        tenant = s.tenant_id
        groups = plan_groups(s, small_bytes, cache)
    stored: list[StoredContent] = []
    for g in groups:
        stored.append(write_group(store, tenant, g, cache))
        fault_point("compaction.stored")
    cache.clear()
    if groups:
        with session() as s:
            for g, st in zip(groups, stored):
                if record_group(s, g, st):
                    summary.groups += 1
                    summary.files += len(g.members)
                    summary.rows += g.rows
        fault_point("compaction.committed")
    with session() as s:
        summary.removed_copies = remove_retired_copies(s)
    return summary


def _candidates(session: TenantSession, small_bytes: int) -> dict[str, list[dict]]:
    """Every live tick file, by the partition it touches, in ingest's reading order; ``small`` marks candidates."""
    from thunderline.flow.landing import with_read_paths
    from thunderline.flow.ledger import LIVE_FILE_STATUSES
    from thunderline.ingress.landing import tenant_of_landing_path

    t = session.table("landing_files")
    rows = session.select("landing_files", t.c.kind == "ticks", t.c.status.in_(LIVE_FILE_STATUSES),
                          order_by=[t.c.path, t.c.id])
    by_part: dict[str, list[dict]] = {}
    for r in rows:
        for p in r["partitions"] or []:
            by_part.setdefault(p, []).append(r)
    with_read_paths(session, rows)
    for r in rows:
        r["small"] = (r["status"] == "indexed" and r["format"] == "canonical_parquet" and len(r["partitions"]) == 1
                      and int(r["size"]) <= small_bytes and r["read_path"] != r["path"]
                      and tenant_of_landing_path(r["path"]) is not None)
    return {p: fs for p, fs in by_part.items() if sum(f["small"] for f in fs) >= 2}


def plan_groups(session: TenantSession, small_bytes: int, cache: dict[str, pa.Table]) -> list[Group]:
    """The groups worth compacting, partition by partition (reads every candidate once; see the module docstring)."""
    tenant = session.tenant_id
    budget = [_CACHE_BYTES]
    out: list[Group] = []
    for part, files in sorted(_candidates(session, small_bytes).items()):
        members: list[Member] = []
        others: list[tuple[int, int]] = []
        for f in files:
            if f["small"]:
                m = _profile(tenant, f, cache, budget)
                members.append(m)
                if not m.eligible and m.ts_min is not None:
                    others.append((m.ts_min, m.ts_max))
            elif f["status"] == "processed":
                others += _batch_ranges(session, part, f["path"])
            else:  # an indexed file not read here: its times are unknown, so nothing may move past it
                members = []
                break
        groups = _form_groups(part, members)
        spans = others + [g.span for g in groups]
        for g in groups:
            if len(g.members) > 1 and sum(_overlaps(g.span, s) for s in spans) == 1:  # itself only
                out.append(g)
            else:
                for m in g.members:
                    cache.pop(m.id, None)
    return out


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _form_groups(partition: str, members: list[Member]) -> list[Group]:
    """Runs of eligible members of one (venue, day), each starting where the previous one ended or later.

    (Touching at one instant is fine: the window builder orders batches by first tick and streams
    batches that only touch one after the other, which is file order here too.)"""
    groups: list[Group] = []
    cur: Group | None = None
    for m in members:
        if not m.eligible:
            cur = None
            continue
        last = cur.members[-1] if cur else None
        if (last is not None and cur is not None and (m.venue, m.day) == (last.venue, last.day)
                and m.ts_min >= last.ts_max and m.ts_min > last.ts_min and cur.rows + m.rows <= MAX_GROUP_ROWS):
            cur.members.append(m)
        else:
            cur = Group(partition, [m])
            groups.append(cur)
    return groups


def _batch_ranges(session: TenantSession, partition: str, path: str) -> list[tuple[int, int]]:
    """Time ranges of the lake batches an already-processed file of ``partition`` wrote."""
    month, symbol = partition.split("|")
    t = session.table("raw_tick_batches")
    return [(r["ts_min"], r["ts_max"]) for r in session.select(
        "raw_tick_batches", t.c.month == month, t.c.symbol == symbol, t.c.source_file == path,
        columns=["ts_min", "ts_max"])]


def read_member(tenant: str, m: Member) -> tuple[pa.Table, bool]:
    """The ticks the ingest reads from member ``m`` (citing its landing path), and whether no row was rejected."""
    from thunderline.contracts import TICK_SCHEMA
    from thunderline.flow.tick_ingest import cite_landing_path
    from thunderline.market import iter_tick_chunks

    parts, clean = [], True
    for chunk in iter_tick_chunks(m.read_path, tenant, chunk_rows=MAX_MEMBER_ROWS + 1, fmt="canonical_parquet"):
        clean = clean and not chunk.rejects
        if chunk.batch.num_rows:
            parts.append(cite_landing_path(chunk.batch, m.read_path, m.path))
    return pa.Table.from_batches(parts, schema=TICK_SCHEMA), clean


def _profile(tenant: str, f: dict, cache: dict[str, pa.Table], budget: list[int]) -> Member:
    import pyarrow.compute as pc

    m = Member(f["id"], f["path"], f["read_path"])
    try:
        t, clean = read_member(tenant, m)
    except (ValueError, OSError):  # the ingest reads it again and reports why, naming the file
        return m
    m.rows = t.num_rows
    if not m.rows:
        return m
    ts = pc.min_max(t.column("ts"))
    m.ts_min, m.ts_max = int(ts["min"].as_py()), int(ts["max"].as_py())
    venues = pc.unique(t.column("venue"))
    m.venue = venues[0].as_py()
    m.eligible = (clean and len(venues) == 1 and m.rows <= MAX_MEMBER_ROWS
                  and m.ts_min // DAY_US == m.ts_max // DAY_US)
    if m.eligible and t.nbytes <= budget[0]:
        cache[m.id] = t
        budget[0] -= t.nbytes
    return m


def write_group(store: ContentStore, tenant: str, g: Group, cache: dict[str, pa.Table]) -> StoredContent:
    """Write ``g``'s members, in order, as one compacted file into ``store`` (durably); returns its entry."""
    tmp_dir = store.root / "ticks" / ".compacting" / uuid.uuid4().hex
    tmp_dir.mkdir(parents=True)
    tmp = tmp_dir / "compacted.parquet"
    try:
        with pq.ParquetWriter(tmp, compacted_schema([m.rows for m in g.members]), compression="zstd") as w:
            pending: list[pa.Table] = []
            for m in g.members:
                t = cache.pop(m.id, None)
                pending.append(t if t is not None else read_member(tenant, m)[0])
                if sum(p.num_rows for p in pending) >= MAX_MEMBER_ROWS:
                    w.write_table(pa.concat_tables(pending), row_group_size=1 << 20)
                    pending = []
            if pending:
                w.write_table(pa.concat_tables(pending), row_group_size=1 << 20)
        return store.put(tmp, "ticks")
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def record_group(session: TenantSession, g: Group, stored: StoredContent) -> bool:
    """In the caller's transaction: index the compacted file, retire its members. False if a member moved on."""
    t = session.table("landing_files")
    ids = [m.id for m in g.members]
    live = session.select("landing_files", t.c.id.in_(ids), t.c.status == "indexed", columns=["id"])
    if len(live) != len(ids):  # another indexer got to one of them: leave the group as it is
        return False
    first, day = g.members[0], g.members[0].day
    session.upsert("landed_content", [dict(id=stored.sha256, kind="ticks", stored_path=str(stored.path),
                                           size=stored.size)])
    detail = (f"{len(ids)} small files of {first.venue} {g.partition.split('|')[1]} on day {day} "
              f"(UTC days since 1970) compacted")
    if not session.insert_new("landing_files", [dict(
            id=stored.sha256, kind="ticks", path=f"{first.path}+{len(ids) - 1}", format=COMPACTED_FORMAT,
            size=stored.size, partitions=[g.partition], status="indexed", detail=detail)]):
        return False
    session.execute(sa.update(t).where(t.c.tenant_id == session.tenant_id, t.c.id.in_(ids))
                    .values(status="compacted", detail=f"compacted into {stored.sha256}"))
    session.insert("compacted_members", [dict(member_id=m.id, compacted_id=stored.sha256, ordinal=i, rows=m.rows)
                                         for i, m in enumerate(g.members)])
    return True


def remove_retired_copies(session: TenantSession) -> int:
    """Remove the content-addressed copies of compacted members (their rows live on in the compacted file)."""
    lc, lf = session.table("landed_content"), session.table("landing_files")
    rows = session.execute(
        sa.select(lc.c.id, lc.c.stored_path)
        .join(lf, sa.and_(lf.c.id == lc.c.id, lf.c.tenant_id == lc.c.tenant_id))
        .where(lc.c.tenant_id == session.tenant_id, lf.c.status == "compacted")).all()
    for sha, stored in rows:
        entry = Path(stored).parent
        if entry.name == sha:  # never anything but that content's own entry
            shutil.rmtree(entry, ignore_errors=True)
    if rows:
        session.delete("landed_content", lc.c.id.in_([r[0] for r in rows]))
    return len(rows)


def clear_unfinished(store: ContentStore) -> None:
    """Temporary files of a compaction a crash interrupted (under the ingest lease: none is running)."""
    shutil.rmtree(store.root / "ticks" / ".compacting", ignore_errors=True)
