"""Recording and walking lineage in the warehouse.

``walk`` is one recursive CTE, the same SQL on SQLite and PostgreSQL. It is
tenant-scoped in both the anchor and the recursive member (and by row-level
security on PostgreSQL), and cycle-safe: the recursion stops at ``depth`` and
uses ``UNION`` (not ``UNION ALL``), so a cycle or a diamond costs at most
edges × depth rows, never an endless loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal

import sqlalchemy as sa

from thunderline.lineage import openlineage
from thunderline.lineage.edges import Edge, edge_rows
from thunderline.store.warehouse import TenantSession

Direction = Literal["up", "down"]
MAX_DEPTH = 64


@dataclass(frozen=True)
class LineageStep:
    """``node_id`` (of ``kind``) is reached from ``via`` over an edge labelled ``relation``.

    ``depth`` is the fewest edges between the start node and ``node_id`` along
    this (via, relation) hop; up-walks reach inputs, down-walks reach outputs.
    """

    node_id: str
    kind: str
    depth: int
    relation: str
    via: str


def record_edges(
    session: TenantSession,
    edges: Iterable[Edge | dict[str, Any]],
    *,
    job_name: str = "thunderline.lineage.record_edges",
    openlineage_file: str | None = None,
) -> int:
    """Upsert ``edges`` for the session's tenant; returns the number of distinct edges.

    When ``openlineage_file`` (or ``$THUNDERLINE_OPENLINEAGE_FILE``) is set, one
    OpenLineage RunEvent line is appended for the batch — after the session's
    transaction commits, so a rolled-back batch is never announced.
    """
    rows = edge_rows(session.tenant_id, edges)
    columns = {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
    return record_edge_columns(session, columns, job_name=job_name, openlineage_file=openlineage_file)


def record_edge_columns(session: TenantSession, columns: dict[str, list], *,
                        job_name: str = "thunderline.lineage.record_edges",
                        openlineage_file: str | None = None) -> int:
    """Upsert edges given as columns (as :func:`~thunderline.lineage.edges.column_edges` builds them;
    ids unique), through the warehouse's bulk path; announced like :func:`record_edges`."""
    n = len(columns.get("id", ()))
    if not n:
        return 0
    session.upsert_columns("lineage_edges", columns)
    announce(session, columns, job_name=job_name, openlineage_file=openlineage_file)
    return n


def announce(session: TenantSession, columns: dict[str, list], *, job_name: str,
             openlineage_file: str | None = None) -> None:
    """Append one OpenLineage event for these edges (columns as ``column_edges`` builds them) once the
    session's transaction commits — when an OpenLineage file is configured; a rolled-back batch is never
    announced."""
    target = openlineage.target_file(openlineage_file)
    if target is None or not len(columns.get("id", ())):
        return
    rows = [dict(zip(columns, vals)) for vals in zip(*columns.values())]
    event = openlineage.run_event(session.tenant_id, rows, job_name=job_name)
    sa.event.listen(session.conn, "commit", lambda _conn: openlineage.append_event(target, event), once=True)


# -- the edge sources a walk reads: (select, from, where) giving (node_id, kind, relation, via)
# one hop up/down from the node ``{near}``. Traces written with their lineage in the row
# (``lineage_batch`` set) contribute the edges they used to write one row each.
_BIT = "(r.bit IS NULL OR ((t.experts_used >> r.bit) & 1) = 1)"
_TRACE = "t.tenant_id = :tenant AND t.lineage_batch IS NOT NULL"


def _trace_side(end: str) -> tuple[str, str, str]:
    """From a trace to the batch nodes on its ``end`` side (router version above, expert versions below)."""
    return ("r.node_id, r.node_kind, r.relation, t.id", "decision_traces t, lineage_ranges r",
            f"{_TRACE} AND t.id = {{near}} AND r.tenant_id = t.tenant_id AND r.batch_id = t.lineage_batch "
            f"AND r.node_end = '{end}' AND {_BIT}")


def _node_side(end: str) -> tuple[str, str, str]:
    """From a batch node to the traces its ranges cover (a primary-key range, filtered by batch and bit)."""
    return ("t.id, 'decision_trace', r.relation, r.node_id", "lineage_ranges r, decision_traces t",
            f"r.tenant_id = :tenant AND r.node_id = {{near}} AND r.node_end = '{end}' AND {_TRACE} "
            f"AND t.id >= r.first_trace_id AND t.id <= r.last_trace_id AND t.lineage_batch = r.batch_id AND {_BIT}")


_SOURCES = {
    "up": [
        ("e.from_id, e.from_kind, e.relation, e.to_id", "lineage_edges e", "e.tenant_id = :tenant AND e.to_id = {near}"),
        ("t.feature_window_id, 'feature_window', 'decided', t.id", "decision_traces t", f"{_TRACE} AND t.id = {{near}}"),
        ("t.edgar_window_id, 'feature_window', 'joined_as_of', t.id", "decision_traces t",
         f"{_TRACE} AND t.id = {{near}} AND t.edgar_window_id IS NOT NULL"),
        _trace_side("from"),  # router version → this trace
        _node_side("to"),  # traces → this expert version
    ],
    "down": [
        ("e.to_id, e.to_kind, e.relation, e.from_id", "lineage_edges e", "e.tenant_id = :tenant AND e.from_id = {near}"),
        ("t.id, 'decision_trace', 'decided', t.feature_window_id", "decision_traces t",
         f"{_TRACE} AND t.feature_window_id = {{near}}"),
        ("t.id, 'decision_trace', 'joined_as_of', t.edgar_window_id", "decision_traces t",
         f"{_TRACE} AND t.edgar_window_id = {{near}}"),
        _node_side("from"),  # this router version → traces
        _trace_side("to"),  # this trace → expert versions
    ],
}


def walk_sql(dialect: str, direction: Direction) -> str:
    """The recursive CTE of :func:`walk` for ``dialect``; parameters ``:node``, ``:tenant``, ``:depth``.

    Every source is joined to the frontier directly, so each hop is an index lookup:
    SQLite takes one recursive SELECT per source (SQLite ≥ 3.34), PostgreSQL (one
    recursive reference only) a ``LATERAL`` union of the sources per frontier row.
    ``UNION`` (not ``UNION ALL``) across hops plus the depth bound make cycles finite.
    """
    sources = _SOURCES[direction]
    cols = "node_id, kind, relation, via"
    anchor = " UNION ALL ".join(f"SELECT {sel}, 1 FROM {frm} WHERE {where.format(near=':node')}"
                                for sel, frm, where in sources)
    if dialect == "postgresql":
        lateral = " UNION ALL ".join(f"SELECT {sel} FROM {frm} WHERE {where.format(near='w.node_id')}"
                                     for sel, frm, where in sources)
        recursive = (f"SELECT x.node_id, x.kind, x.relation, x.via, w.depth + 1 FROM lineage_walk w "
                     f"CROSS JOIN LATERAL ({lateral}) AS x({cols}) WHERE w.depth < :depth")
    else:
        recursive = " UNION ".join(
            f"SELECT {sel}, w.depth + 1 FROM lineage_walk w, {frm} "
            f"WHERE w.depth < :depth AND {where.format(near='w.node_id')}" for sel, frm, where in sources)
    return (f"WITH RECURSIVE lineage_walk({cols}, depth) AS ({anchor} UNION {recursive}) "
            f"SELECT node_id, kind, relation, via, MIN(depth) AS depth FROM lineage_walk WHERE node_id <> :node "
            f"GROUP BY node_id, kind, relation, via ORDER BY 5, node_id, via, relation")


def walk(session: TenantSession, node_id: str, direction: Direction = "up", depth: int = 5) -> list[LineageStep]:
    """Every node within ``depth`` edges upstream (``"up"``) or downstream (``"down"``) of ``node_id``.

    Ordered by depth, then node id. The start node itself is never returned
    (a cycle back to it is cut there). Edges are the tenant's ``lineage_edges`` plus
    those decision batches keep in trace rows and ``lineage_ranges`` (see
    :mod:`thunderline.lineage.ranges`): the same graph either way.
    """
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be an integer in 1..{MAX_DEPTH}, got {depth!r}")
    sql = sa.text(walk_sql(session.conn.dialect.name, direction))
    rows = session.conn.execute(sql, {"node": node_id, "tenant": session.tenant_id, "depth": depth})
    return [LineageStep(r.node_id, r.kind, int(r.depth), r.relation, r.via) for r in rows]


def node_kind(session: TenantSession, node_id: str) -> str | None:
    """The kind of ``node_id`` as recorded on any of the tenant's edges, or None if it has none."""
    e = session.table("lineage_edges")
    stmt = (
        sa.select(sa.case((e.c.from_id == node_id, e.c.from_kind), else_=e.c.to_kind).label("kind"))
        .where(e.c.tenant_id == session.tenant_id, sa.or_(e.c.from_id == node_id, e.c.to_id == node_id))
        .limit(1)
    )
    row = session.conn.execute(stmt).first()
    if row:
        return row.kind
    r = session.table("lineage_ranges")
    row = session.conn.execute(sa.select(r.c.node_kind).where(r.c.tenant_id == session.tenant_id,
                                                              r.c.node_id == node_id).limit(1)).first()
    if row:
        return row.node_kind
    t = session.table("decision_traces")
    mine = [t.c.tenant_id == session.tenant_id, t.c.lineage_batch.is_not(None)]
    if session.conn.execute(sa.select(t.c.id).where(*mine, t.c.id == node_id).limit(1)).first():
        return "decision_trace"
    for col in (t.c.feature_window_id, t.c.edgar_window_id):
        if session.conn.execute(sa.select(t.c.id).where(*mine, col == node_id).limit(1)).first():
            return "feature_window"
    return None
