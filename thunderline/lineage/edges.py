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
from typing import Any, Iterable

from thunderline.hashing import content_id

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


def validate(edge: Edge, where: str = "edge") -> None:
    for end in ("from", "to"):
        kind, node = getattr(edge, f"{end}_kind"), getattr(edge, f"{end}_id")
        if kind not in NODE_KINDS:
            raise LineageError(f"{where}: {end}_kind {kind!r} is not a known node kind ({', '.join(sorted(NODE_KINDS))})")
        if not isinstance(node, str) or not node or len(node) > _MAX_ID:
            raise LineageError(f"{where}: {end}_id must be a non-empty string of at most {_MAX_ID} characters")
        if kind == "expert_version" and not _EXPERT_VERSION.match(node):
            raise LineageError(f"{where}: {end}_id {node!r} is not 'thunderline.expert.<name>/<version>'")
    if not edge.relation or len(edge.relation) > _MAX_RELATION:
        raise LineageError(f"{where}: relation must be 1-{_MAX_RELATION} characters, got {edge.relation!r}")
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
