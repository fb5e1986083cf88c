"""ThunderDAG: lineage edges between ticks, filings, windows, decisions, experts and exports.

    with warehouse.session(tenant) as s:
        record_edges(s, [Edge("tick_batch", batch_id, "feature_window", window_id, "feature_input")])
        print(format_tree(trace_id, node_kind(s, trace_id), walk(s, trace_id, "up", 5), "up", 5))
"""

from thunderline.lineage.edges import NODE_KINDS, Edge, LineageError, expert_version_node
from thunderline.lineage.graph import LineageStep, node_kind, record_edge_columns, record_edges, walk
from thunderline.lineage.tree import format_tree

__all__ = [
    "NODE_KINDS", "Edge", "LineageError", "LineageStep", "expert_version_node", "format_tree", "node_kind",
    "record_edges", "record_edge_columns", "walk", "describe",
]


def describe(session, node_id: str, direction: str = "up", depth: int = 5) -> str | None:
    """The printed tree of ``node_id``'s lineage, or None when the tenant has no edge touching it."""
    kind = node_kind(session, node_id)
    if kind is None:
        return None
    steps = walk(session, node_id, direction, depth)
    batches = {s.node_id for s in steps if s.kind == "tick_batch"} | ({node_id} if kind == "tick_batch" else set())
    return format_tree(node_id, kind, steps, direction, depth, notes=storage_notes(session, batches))


def storage_notes(session, batch_ids: set[str]) -> dict[str, str]:
    """Where tick batches that left the lake are (``cold_files``, thunderline.retention): node id → note.

    A batch tiered to cold storage keeps its lineage; the walk names its cold URL (``thunderline restore
    MONTH`` brings it back), or says it was purged past the retention horizon.
    """
    if not batch_ids:
        return {}
    c = session.table("cold_files")
    rows = session.select("cold_files", c.c.id.in_(sorted(batch_ids)), columns=["id", "status", "cold_url", "month"])
    notes = {"cold": "cold: {cold_url} (thunderline restore {month})", "deleted": "deleted past retention ({month})"}
    return {r["id"]: notes[r["status"]].format(**r) for r in rows if r["status"] in notes}
