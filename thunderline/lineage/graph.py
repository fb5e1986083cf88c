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
    target = openlineage.target_file(openlineage_file)
    if target is not None:
        rows = [dict(zip(columns, vals)) for vals in zip(*columns.values())]
        event = openlineage.run_event(session.tenant_id, rows, job_name=job_name)
        sa.event.listen(session.conn, "commit", lambda _conn: openlineage.append_event(target, event), once=True)
    return n


def walk(session: TenantSession, node_id: str, direction: Direction = "up", depth: int = 5) -> list[LineageStep]:
    """Every node within ``depth`` edges upstream (``"up"``) or downstream (``"down"``) of ``node_id``.

    Ordered by depth, then node id. The start node itself is never returned
    (a cycle back to it is cut there).
    """
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be an integer in 1..{MAX_DEPTH}, got {depth!r}")
    tenant = session.tenant_id
    edges = session.table("lineage_edges")

    def ends(t):
        # (the end we arrive from, the end we walk to, the kind of the latter)
        return (t.c.to_id, t.c.from_id, t.c.from_kind) if direction == "up" else (t.c.from_id, t.c.to_id, t.c.to_kind)

    near, far, far_kind = ends(edges)
    anchor = sa.select(
        far.label("node_id"), far_kind.label("kind"), edges.c.relation.label("relation"), near.label("via"),
        sa.cast(sa.literal(1), sa.Integer).label("depth"),
    ).where(edges.c.tenant_id == tenant, near == node_id)
    frontier = anchor.cte("lineage_walk", recursive=True)
    step = edges.alias("step")
    s_near, s_far, s_far_kind = ends(step)
    recursive = sa.select(
        s_far, s_far_kind, step.c.relation, s_near, (frontier.c.depth + 1).label("depth"),
    ).where(step.c.tenant_id == tenant, s_near == frontier.c.node_id, frontier.c.depth < depth)
    frontier = frontier.union(recursive)
    stmt = (
        sa.select(frontier.c.node_id, frontier.c.kind, frontier.c.relation, frontier.c.via,
                  sa.func.min(frontier.c.depth).label("depth"))
        .where(frontier.c.node_id != node_id)
        .group_by(frontier.c.node_id, frontier.c.kind, frontier.c.relation, frontier.c.via)
        .order_by("depth", frontier.c.node_id, frontier.c.via, frontier.c.relation)
    )
    return [LineageStep(r.node_id, r.kind, int(r.depth), r.relation, r.via) for r in session.conn.execute(stmt)]


def node_kind(session: TenantSession, node_id: str) -> str | None:
    """The kind of ``node_id`` as recorded on any of the tenant's edges, or None if it has none."""
    e = session.table("lineage_edges")
    stmt = (
        sa.select(sa.case((e.c.from_id == node_id, e.c.from_kind), else_=e.c.to_kind).label("kind"))
        .where(e.c.tenant_id == session.tenant_id, sa.or_(e.c.from_id == node_id, e.c.to_id == node_id))
        .limit(1)
    )
    row = session.conn.execute(stmt).first()
    return row.kind if row else None
