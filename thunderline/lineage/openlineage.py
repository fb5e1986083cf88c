"""OpenLineage export: one RunEvent JSON line per recorded batch of edges.

Why hand-built: the format is a small JSON document (spec 2-0-2) and the file
transport is "append a line"; no client library is needed. Each event is a
``COMPLETE`` run of the job that recorded the batch; the edges' upstream nodes
are its input datasets, the downstream nodes its outputs, and the exact edges
ride along in a custom run facet so a consumer can rebuild the graph.

Guarantees: the ``runId`` is a uuid5 of the tenant and the batch's edge ids
(replaying a batch gives the same run id); dataset namespace is
``thunderline://<tenant>`` and a dataset's name is ``<kind>/<node id>``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any, Sequence

from thunderline.hashing import THUNDERLINE_NAMESPACE

ENV_FILE = "THUNDERLINE_OPENLINEAGE_FILE"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/thunderline/thunderline/tree/main/thunderline/lineage"
JOB_NAMESPACE = "thunderline"
_JOB_TYPE_SCHEMA = "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
_CUSTOM_SCHEMA = PRODUCER + "/openlineage.py"


def _facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema, **fields}


def _dataset(tenant_id: str, kind: str, node_id: str) -> dict[str, Any]:
    return {
        "namespace": f"thunderline://{tenant_id}",
        "name": f"{kind}/{node_id}",
        "facets": {"thunderline_node": _facet(_CUSTOM_SCHEMA + "#ThunderlineNodeDatasetFacet", kind=kind, id=node_id)},
    }


def run_event(tenant_id: str, rows: Sequence[dict[str, Any]], *, job_name: str,
              event_time: dt.datetime | None = None) -> dict[str, Any]:
    """The RunEvent for one batch of ``lineage_edges`` rows (as produced by ``edge_rows``)."""
    ids = sorted(r["id"] for r in rows)
    run_id = str(uuid.uuid5(THUNDERLINE_NAMESPACE, "openlineage_run:" + tenant_id + ":" + ",".join(ids)))
    when = (event_time or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    inputs = sorted({(r["from_kind"], r["from_id"]) for r in rows})
    outputs = sorted({(r["to_kind"], r["to_id"]) for r in rows})
    return {
        "eventType": "COMPLETE",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {
            "runId": run_id,
            "facets": {
                "thunderline_lineage": _facet(
                    _CUSTOM_SCHEMA + "#ThunderlineLineageRunFacet",
                    tenant_id=tenant_id,
                    edges=[{"id": r["id"], "from_kind": r["from_kind"], "from_id": r["from_id"],
                            "to_kind": r["to_kind"], "to_id": r["to_id"], "relation": r["relation"]}
                           for r in sorted(rows, key=lambda r: r["id"])],
                ),
            },
        },
        "job": {
            "namespace": JOB_NAMESPACE,
            "name": job_name,
            "facets": {"jobType": _facet(_JOB_TYPE_SCHEMA, processingType="BATCH", integration="THUNDERLINE",
                                         jobType="LINEAGE")},
        },
        "inputs": [_dataset(tenant_id, k, n) for k, n in inputs],
        "outputs": [_dataset(tenant_id, k, n) for k, n in outputs],
    }


def target_file(explicit: str | os.PathLike | None = None) -> Path | None:
    """Where events go: ``explicit``, else ``$THUNDERLINE_OPENLINEAGE_FILE`` (read at call time), else nowhere."""
    value = explicit if explicit is not None else os.environ.get(ENV_FILE)
    return Path(value) if value else None


def append_event(path: Path, event: dict[str, Any]) -> None:
    """Append one JSON line (a single write, so concurrent appenders do not interleave lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
