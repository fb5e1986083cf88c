"""The publication outbox: every decision trace and feature window, queued in the warehouse until the broker has it.

Why an outbox: the code that writes decisions must never wait for (or fail because of)
the broker, and a decision must never be lost when the broker is down. So publication is
two steps, both in the warehouse:

1. **capture** — rows of ``decision_traces`` / ``feature_windows`` that have no outbox
   row for their (id, content hash) get one (``pending``). :func:`enqueue` does it inside
   the writer's own transaction (exactly-with-the-data); :func:`capture` finds anything a
   writer did not enqueue (an anti-join, bounded per call), so no writer needs to know
   about publication at all.
2. **relay** — pending rows whose ``next_attempt_us`` has come are published; accepted ids
   become ``sent``, failures back off exponentially (``attempts``; at most
   :data:`MAX_BACKOFF_S`) and are retried, never dropped.

Everything is per tenant (the session's), like every other table.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import sqlalchemy as sa

from thunderline.publish.messages import KIND_DECISION, KIND_FEATURE, Message, decision_message, feature_message
from thunderline.store.ingress_tables import outbox
from thunderline.store.schema import decision_traces, feature_windows
from thunderline.store.warehouse import TenantSession

MAX_BACKOFF_S = 60.0
BASE_BACKOFF_S = 0.5
_SOURCES = {KIND_DECISION: (decision_traces, decision_message), KIND_FEATURE: (feature_windows, feature_message)}


def now_us() -> int:
    return time.time_ns() // 1000


def _row(m: Message, now: int) -> dict:
    return dict(id=m.id, tenant_id=m.tenant_id, kind=m.kind, ref_id=m.ref_id, ref_hash=m.ref_hash, symbol=m.symbol,
                subject=m.subject, payload=m.payload.decode(), status="pending", attempts=0, next_attempt_us=now,
                last_error=None, created_us=now, sent_us=None)


def enqueue(session: TenantSession, messages: Iterable[Message], now: int | None = None) -> int:
    """Queue messages in the session's transaction; an id already queued (or sent) is left alone."""
    now = now_us() if now is None else now
    rows = list({m.id: _row(m, now) for m in messages}.values())
    if not rows:
        return 0
    if session.warehouse.is_postgres:
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    n = 0
    for i in range(0, len(rows), 1000):
        part = session._stamp(outbox, rows[i : i + 1000])
        res = session.conn.execute(insert(outbox).on_conflict_do_nothing(index_elements=["id", "tenant_id"]), part)
        n += res.rowcount if res.rowcount and res.rowcount > 0 else 0
    return n


def enqueue_decisions(session: TenantSession, rows: Iterable[Mapping]) -> int:
    """Queue ``decision_traces`` rows (as written) for publication, in the writer's transaction."""
    return enqueue(session, [decision_message({**r, "tenant_id": session.tenant_id}) for r in rows])


def enqueue_features(session: TenantSession, rows: Iterable[Mapping]) -> int:
    """Queue ``feature_windows`` rows (as written) for publication, in the writer's transaction."""
    return enqueue(session, [feature_message({**r, "tenant_id": session.tenant_id}) for r in rows])


def capture(session: TenantSession, kind: str, *, since: dt.datetime | None = None, limit: int = 2000) -> int:
    """Queue up to ``limit`` rows of ``kind`` that have no outbox entry for their current content.

    ``since`` bounds the scan to rows inserted at or after it (the relay passes a watermark
    with a safety margin and sweeps fully from time to time). Returns rows queued.
    """
    table, build = _SOURCES[kind]
    o = outbox
    missing = ~sa.exists().where(o.c.tenant_id == table.c.tenant_id, o.c.kind == kind, o.c.ref_id == table.c.id,
                                 o.c.ref_hash == table.c.content_hash)
    where = [table.c.tenant_id == session.tenant_id, missing]
    if since is not None:
        where.append(table.c.inserted_at >= since)
    stmt = sa.select(table).where(*where).order_by(table.c.inserted_at, table.c.id).limit(limit)
    rows = [dict(r._mapping) for r in session.conn.execute(stmt)]
    if not rows:
        return 0
    return enqueue(session, [build(r) for r in rows])


def claim(session: TenantSession, limit: int = 500, now: int | None = None) -> list[Message]:
    """Pending messages whose time has come, oldest first (rows locked on PostgreSQL, skipping locked ones)."""
    now = now_us() if now is None else now
    o = outbox
    stmt = (sa.select(o.c.id, o.c.kind, o.c.ref_id, o.c.ref_hash, o.c.symbol, o.c.subject, o.c.payload)
            .where(o.c.tenant_id == session.tenant_id, o.c.status == "pending", o.c.next_attempt_us <= now)
            .order_by(o.c.created_us, o.c.id).limit(limit))
    if session.warehouse.is_postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    return [Message(r.id, session.tenant_id, r.kind, r.ref_id, r.ref_hash, r.symbol, r.subject, r.payload.encode())
            for r in session.conn.execute(stmt)]


def mark_sent(session: TenantSession, ids: Sequence[str], now: int | None = None) -> int:
    if not ids:
        return 0
    now = now_us() if now is None else now
    n = 0
    for i in range(0, len(ids), 1000):
        res = session.conn.execute(sa.update(outbox).where(outbox.c.tenant_id == session.tenant_id,
                                                           outbox.c.id.in_(list(ids[i : i + 1000])))
                                   .values(status="sent", sent_us=now, last_error=None))
        n += res.rowcount or 0
    return n


def mark_failed(session: TenantSession, ids: Sequence[str], error: str, now: int | None = None) -> int:
    """Back off: next attempt after min(MAX_BACKOFF_S, BASE_BACKOFF_S · 2^attempts)."""
    if not ids:
        return 0
    now = now_us() if now is None else now
    o = outbox
    rows = session.conn.execute(sa.select(o.c.id, o.c.attempts).where(o.c.tenant_id == session.tenant_id,
                                                                       o.c.id.in_(list(ids)))).all()
    for r in rows:
        delay = min(MAX_BACKOFF_S, BASE_BACKOFF_S * (2 ** min(r.attempts, 16)))
        session.conn.execute(sa.update(o).where(o.c.tenant_id == session.tenant_id, o.c.id == r.id)
                             .values(attempts=r.attempts + 1, next_attempt_us=now + int(delay * 1e6),
                                     last_error=error[:2000]))
    return len(rows)


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    sent: int
    failing: int  # pending with at least one failed attempt
    oldest_pending_us: int | None


def stats(session: TenantSession) -> OutboxStats:
    o = outbox
    rows = session.conn.execute(
        sa.select(o.c.status, sa.func.count(), sa.func.min(o.c.created_us),
                  sa.func.sum(sa.case((o.c.attempts > 0, 1), else_=0)))
        .where(o.c.tenant_id == session.tenant_id).group_by(o.c.status)).all()
    by = {r[0]: r for r in rows}
    p = by.get("pending")
    return OutboxStats(pending=int(p[1]) if p else 0, sent=int(by["sent"][1]) if "sent" in by else 0,
                       failing=int(p[3] or 0) if p else 0, oldest_pending_us=int(p[2]) if p and p[2] is not None else None)


def compact_sent(session: TenantSession, older_than_us: int) -> int:
    """Drop the payloads of messages sent before ``older_than_us`` (the broker keeps them).

    The rows stay: they are what tells :func:`capture` that a decision was already published,
    so compaction never causes a re-publication.
    """
    res = session.conn.execute(sa.update(outbox).where(outbox.c.tenant_id == session.tenant_id,
                                                       outbox.c.status == "sent", outbox.c.sent_us < older_than_us,
                                                       outbox.c.payload != "")
                               .values(payload=""))
    return res.rowcount or 0
