"""Batch-level lineage: edges that are the same for a whole decision batch, recorded once.

Why: a decision used to write ~6 ``lineage_edges`` rows (window → trace, EDGAR window →
trace, router version → trace, trace → each expert version), each into three B-trees
keyed by random uuids — more rows than the decisions themselves. Now:

* the per-trace ends live in the trace row: ``feature_window_id`` ("decided"),
  ``edgar_window_id`` ("joined_as_of"), and ``experts_used``, a bit mask over the
  batch's expert versions;
* what a whole batch shares is one ``lineage_ranges`` row per (node, relation):
  router version → the batch's traces ("routed"), and the batch's traces → expert
  version *i* ("used", for traces with bit *i* set). Each row names its batch and
  the first and last trace id it covers (time-ordered ids: a primary-key range).

:func:`thunderline.lineage.graph.walk` reads both as edges, so every walk answers
exactly what the per-trace edges answered (tests compare walks on the demo).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from thunderline.hashing import content_id, content_ids_of_lists
from thunderline.lineage.edges import LineageError, _node_error

#: Bits of the signed 64-bit ``experts_used`` column available to expert versions.
MAX_BITS = 63


def batch_id(tenant_id: str, router_version: str, trace_ids: Sequence[str]) -> str:
    """Deterministic id of a decision batch: same traces under the same router → same id."""
    digest = hashlib.sha256("\n".join(trace_ids).encode()).hexdigest()
    return content_id("decision_batch", [tenant_id, router_version, digest])


def range_columns(tenant_id: str, batch: str, trace_ids: Sequence[str], router_version: str,
                  used: Sequence[tuple[str, np.ndarray]]) -> tuple[dict[str, list], list[int], list[tuple[str, np.ndarray]]]:
    """``lineage_ranges`` columns of one batch, each trace's ``experts_used`` mask, and overflow.

    ``used``: (expert-version node, boolean mask over the traces) per expert version the
    batch lists. The first :data:`MAX_BITS` nodes get a bit each; any beyond (a pool that
    large is not expected) are returned as overflow, for the caller to record as
    per-trace edges. A node no trace uses gets no row.
    """
    n = len(trace_ids)
    if not n:
        return {}, [], []
    if err := _node_error("router_version", router_version, "from"):
        raise LineageError(f"router_version: {err}")
    first, last = min(trace_ids), max(trace_ids)
    rows = [("router_version", router_version, "from", "routed", None, n)]
    mask = np.zeros(n, dtype=np.int64)
    overflow = []
    bit = 0
    for node, m in used:
        if err := _node_error("expert_version", node, "to"):
            raise LineageError(f"expert_version: {err}")
        m = np.asarray(m, dtype=bool)
        if not m.any():
            continue
        if bit >= MAX_BITS:
            overflow.append((node, m))
            continue
        mask |= m.astype(np.int64) << bit
        rows.append(("expert_version", node, "to", "used", bit, int(m.sum())))
        bit += 1
    ids = content_ids_of_lists("lineage_range", [tenant_id, batch, [r[1] for r in rows], [r[3] for r in rows]])
    cols = {
        "id": ids, "node_kind": [r[0] for r in rows], "node_id": [r[1] for r in rows],
        "node_end": [r[2] for r in rows], "relation": [r[3] for r in rows], "batch_id": [batch] * len(rows),
        "bit": [r[4] for r in rows], "first_trace_id": [first] * len(rows), "last_trace_id": [last] * len(rows),
        "traces": [r[5] for r in rows],
    }
    return cols, mask.tolist(), overflow
