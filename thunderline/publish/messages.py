"""What is published: one message per decision trace or feature window, on a per-tenant subject.

Subjects: ``thunderline.<tenant>.decisions.<symbol>`` and ``thunderline.<tenant>.features.<key>``
(``key`` = symbol for market windows, CIK for EDGAR windows). A symbol is one subject
token: characters other than ``A-Z a-z 0-9 _ - : ^ = +`` are percent-encoded (``BRK.B``
→ ``BRK%2EB``), so ``thunderline.acme.decisions.*`` matches every symbol of a tenant.

The message id is ``<kind>.<row id>.<content hash[:16]>``: the same decision captured
twice, or re-sent after a crash, has the same id (JetStream drops it as a duplicate);
a recomputed window whose content changed gets a new id and is published again.
Payloads are JSON objects with sorted keys; NaN features are ``null``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

SUBJECT_ROOT = "thunderline"
KIND_DECISION = "decision"
KIND_FEATURE = "feature"
_SUBJECT_KIND = {KIND_DECISION: "decisions", KIND_FEATURE: "features"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-:^=+]")


def subject_token(text: str) -> str:
    """``text`` as one NATS subject token (percent-encoding what a token may not contain)."""
    if not text:
        return "%00"
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), text)


def subject_for(tenant_id: str, kind: str, symbol: str) -> str:
    return f"{SUBJECT_ROOT}.{tenant_id}.{_SUBJECT_KIND[kind]}.{subject_token(symbol)}"


def tenant_subjects(tenant_id: str) -> str:
    """The wildcard subject of everything a tenant publishes."""
    return f"{SUBJECT_ROOT}.{tenant_id}.>"


@dataclass(frozen=True)
class Message:
    id: str
    tenant_id: str
    kind: str
    ref_id: str
    ref_hash: str
    symbol: str
    subject: str
    payload: bytes


def message_id(kind: str, ref_id: str, content_hash: str) -> str:
    return f"{kind}.{ref_id}.{content_hash[:16]}"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str).encode()


def _clean(v: Any) -> Any:
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def decision_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``decision_traces`` row as the published/served JSON object."""
    return _clean({
        "type": "decision_trace",
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "feature_window_id": row["feature_window_id"],
        "symbol": row["symbol"],
        "window_start_us": int(row["window_start"]),
        "window_end_us": int(row["window_end"]),
        "router_version": row["router_version"],
        "gate_scores": row["gate_scores"],
        "selected_experts": row["selected_experts"],
        "expert_actions": row["expert_actions"],
        "blended_action": row["blended_action"],
        "blended_confidence": float(row["blended_confidence"]),
        "blended_score": float(row.get("blended_score") or 0.0),
        "risk_flags": row["risk_flags"],
        "embedding": row["embedding"],
        "content_hash": row["content_hash"],
    })


def feature_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``feature_windows`` row as the published/served JSON object."""
    return _clean({
        "type": "feature_window",
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "kind": row["kind"],
        "key": row["key"],
        "window_start_us": int(row["window_start"]),
        "window_end_us": int(row["window_end"]),
        "available_at_us": int(row["available_at"]),
        "status": row["status"],
        "recipe_version": row["recipe_version"],
        "feature_schema_version": row["feature_schema_version"],
        "features": row["features"],
        "provenance": row["provenance"],
        "label_spec": row.get("label_spec"),
        "content_hash": row["content_hash"],
    })


def decision_message(row: Mapping[str, Any]) -> Message:
    t, sym = row["tenant_id"], row["symbol"]
    return Message(message_id(KIND_DECISION, row["id"], row["content_hash"]), t, KIND_DECISION, row["id"],
                   row["content_hash"], sym, subject_for(t, KIND_DECISION, sym), _dumps(decision_payload(row)))


def feature_message(row: Mapping[str, Any]) -> Message:
    t, key = row["tenant_id"], row["key"]
    return Message(message_id(KIND_FEATURE, row["id"], row["content_hash"]), t, KIND_FEATURE, row["id"],
                   row["content_hash"], key, subject_for(t, KIND_FEATURE, key), _dumps(feature_payload(row)))
