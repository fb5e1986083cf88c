"""Lineage edges (ThunderDAG): which input produced which output, per tenant.

An edge points downstream: ``from`` is the input, ``to`` what was derived from
it (tick_batch → feature_window, feature_window → decision_trace, …). Its id is
content-derived from (tenant, both ends, relation), so recording the same edge
again — a replay, a retried run — updates its ``meta`` and never duplicates it.

Node ids are the product's own ids (content-derived uuids for windows and
traces, batch ids, accession-derived doc ids); expert versions are written
``thunderline.expert.<name>/<version>`` (see :func:`expert_version_node`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from thunderline.hashing import content_id, content_ids_of_lists

#: Every node kind the product records. Add here before recording a new kind.
NODE_KINDS: frozenset[str] = frozenset({
    "tick_batch", "edgar_doc", "feature_window", "decision_trace", "expert_version",
    "router_version", "training_slice", "nas_candidate",
})

_EXPERT_VERSION = re.compile(r"^thunderline\.expert\.[^/\s]+/[^/\s]+$")
_MAX_ID, _MAX_KIND, _MAX_RELATION = 256, 32, 32


class LineageError(ValueError):
    """An edge cannot be recorded; the message names the edge (by position) and the field."""


def expert_version_node(name: str, version: str | int) -> str:
    """The node id of an expert model version: ``thunderline.expert.<name>/<version>``."""
    return f"thunderline.expert.{name}/{version}"


@dataclass(frozen=True)
class Edge:
    from_kind: str
    from_id: str
    to_kind: str
    to_id: str
    relation: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def edge_id(self, tenant_id: str) -> str:
        return content_id("lineage_edge", [tenant_id, self.from_kind, self.from_id, self.to_kind, self.to_id,
                                           self.relation])


def _kind_error(kind: str, end: str) -> str | None:
    if kind not in NODE_KINDS:
        return f"{end}_kind {kind!r} is not a known node kind ({', '.join(sorted(NODE_KINDS))})"
    return None


def _node_error(kind: str, node: Any, end: str) -> str | None:
    if type(node) is not str or not node or len(node) > _MAX_ID:
        return f"{end}_id must be a non-empty string of at most {_MAX_ID} characters"
    if kind == "expert_version" and not _EXPERT_VERSION.match(node):
        return f"{end}_id {node!r} is not 'thunderline.expert.<name>/<version>'"
    return None


def _relation_error(relation: str) -> str | None:
    if not relation or len(relation) > _MAX_RELATION:
        return f"relation must be 1-{_MAX_RELATION} characters, got {relation!r}"
    return None


def validate(edge: Edge, where: str = "edge") -> None:
    for end in ("from", "to"):
        kind, node = getattr(edge, f"{end}_kind"), getattr(edge, f"{end}_id")
        err = _kind_error(kind, end) or _node_error(kind, node, end)
        if err:
            raise LineageError(f"{where}: {err}")
    if err := _relation_error(edge.relation):
        raise LineageError(f"{where}: {err}")
    if edge.from_id == edge.to_id and edge.from_kind == edge.to_kind:
        raise LineageError(f"{where}: an edge from a node to itself ({edge.from_id!r}) is not lineage")


def as_edge(e: Edge | dict[str, Any]) -> Edge:
    return e if isinstance(e, Edge) else Edge(**e)


def edge_rows(tenant_id: str, edges: Iterable[Edge | dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated rows for ``lineage_edges``, one per distinct edge (the last meta wins)."""
    rows: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(edges):
        try:
            e = as_edge(raw)
        except TypeError as exc:
            raise LineageError(f"edge #{i}: {exc}") from None
        validate(e, f"edge #{i} ({e.from_kind} {e.from_id!r} → {e.to_kind} {e.to_id!r})")
        eid = e.edge_id(tenant_id)
        rows[eid] = {"id": eid, "from_kind": e.from_kind, "from_id": e.from_id, "to_kind": e.to_kind,
                     "to_id": e.to_id, "relation": e.relation, "meta": dict(e.meta)}
    return list(rows.values())


def column_edges(tenant_id: str, from_kind: str, from_ids: str | Sequence[str], to_kind: str,
                 to_ids: str | Sequence[str], relation: str) -> dict[str, list]:
    """Many edges of one (from_kind, to_kind, relation), as ``lineage_edges`` columns (meta empty).

    A ``str`` end is the same node on every edge. Same validation and same ids as
    :func:`edge_rows` (tests hold them equal), at a few microseconds per edge: a
    decision batch records several edges per trace. Duplicates collapse to one.
    """
    n = next((len(c) for c in (from_ids, to_ids) if not isinstance(c, str)), 1)
    for end, kind, ids in (("from", from_kind, from_ids), ("to", to_kind, to_ids)):
        if err := _kind_error(kind, end):
            raise LineageError(err)
        values = [ids] if isinstance(ids, str) else ids
        if len(values) not in (1, n):
            raise LineageError(f"{end}_ids: {len(values)} ids for {n} edges")
        for i, node in enumerate(values):  # the common case inline; the shared rule words the error
            if type(node) is not str or not node or len(node) > _MAX_ID or kind == "expert_version":
                if err := _node_error(kind, node, end):
                    raise LineageError(f"edge #{i} ({kind} {node!r}): {err}")
    if err := _relation_error(relation):
        raise LineageError(err)
    fcol = [from_ids] * n if isinstance(from_ids, str) else list(from_ids)
    tcol = [to_ids] * n if isinstance(to_ids, str) else list(to_ids)
    if from_kind == to_kind:
        same = next((i for i, (a, b) in enumerate(zip(fcol, tcol)) if a == b), None)
        if same is not None:
            raise LineageError(f"edge #{same}: an edge from a node to itself ({fcol[same]!r}) is not lineage")
    ids = content_ids_of_lists("lineage_edge", [tenant_id, from_kind, from_ids, to_kind, to_ids, relation])
    keep = list({eid: i for i, eid in enumerate(ids)}.values())
    if len(keep) < n:
        ids, fcol, tcol = [ids[i] for i in keep], [fcol[i] for i in keep], [tcol[i] for i in keep]
    m = len(ids)
    return {"id": ids, "from_kind": [from_kind] * m, "from_id": fcol, "to_kind": [to_kind] * m, "to_id": tcol,
            "relation": [relation] * m, "meta": [{}] * m}


def concat_columns(parts: Sequence[dict[str, list]]) -> dict[str, list]:
    """Columns of several :func:`column_edges` results, one after the other."""
    out: dict[str, list] = {}
    for p in parts:
        for k, v in p.items():
            out.setdefault(k, []).extend(v)
    return out
