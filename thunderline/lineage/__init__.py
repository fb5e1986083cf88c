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
    "record_edges", "record_edge_columns", "walk", "describe", "storage_notes", "edgar_doc_notes",
]


def describe(session, node_id: str, direction: str = "up", depth: int = 5) -> str | None:
    """The printed tree of ``node_id``'s lineage, or None when the tenant has no edge touching it."""
    kind = node_kind(session, node_id)
    if kind is None:
        return None
    steps = walk(session, node_id, direction, depth)
    nodes = [(s.kind, s.node_id) for s in steps] + [(kind, node_id)]
    batches = {n for k, n in nodes if k == "tick_batch"}
    docs = {n for k, n in nodes if k == "edgar_doc"}
    notes = {**storage_notes(session, batches), **edgar_doc_notes(session, docs)}
    return format_tree(node_id, kind, steps, direction, depth, notes=notes)


_NOTES = {"cold": "cold: {cold_url} (thunderline restore {month})", "deleted": "deleted past retention ({month})"}


def storage_notes(session, batch_ids: set[str]) -> dict[str, str]:
    """Where tick batches that left the lake are (``cold_files``, thunderline.retention): node id → note.

    A batch tiered to cold storage keeps its lineage; the walk names its cold URL (``thunderline restore
    MONTH`` brings it back), or says it was purged past the retention horizon.
    """
    if not batch_ids:
        return {}
    c = session.table("cold_files")
    rows = session.select("cold_files", c.c.id.in_(sorted(batch_ids)), columns=["id", "status", "cold_url", "month"])
    return {r["id"]: _NOTES[r["status"]].format(**r) for r in rows if r["status"] in _NOTES}


def edgar_doc_notes(session, doc_ids: set[str]) -> dict[str, str]:
    """Where raw EDGAR documents tiered out of the warehouse are: document id → note naming its cold batch.

    From ``cold_edgar_members`` (written when tiering deleted the document) and the batch's ``cold_files``
    row: ``cold`` names the batch file, ``deleted`` says it was purged; a restored batch needs no note. A
    document in several batches (tiered, restored, tiered again) is named by a cold one first.
    """
    if not doc_ids:
        return {}
    m, c = session.table("cold_edgar_members"), session.table("cold_files")
    members = session.select("cold_edgar_members", m.c.id.in_(sorted(doc_ids)), columns=["id", "tier_batch"])
    wanted = sorted({x["tier_batch"] for x in members})
    batches = {r["id"]: r for r in session.select("cold_files", c.c.id.in_(wanted),
                                                  columns=["id", "status", "cold_url", "month"])} if wanted else {}
    rank = {"cold": 0, "deleted": 1}
    best: dict[str, tuple] = {}
    for x in members:
        b = batches.get(x["tier_batch"])
        if b is not None and b["status"] in rank:
            best[x["id"]] = min(best.get(x["id"], (9, "")), (rank[b["status"]], b["id"]))
    return {doc: _NOTES[batches[bid]["status"]].format(**batches[bid]) for doc, (_, bid) in best.items()}
