"""Warehouse rows of decision traces and feature windows for tests (shapes as the writers store them)."""

from __future__ import annotations

from thunderline.hashing import content_hash, content_id

T0 = 1_704_205_800_000_000  # 2024-01-02 14:30 UTC


def decision_row(tenant: str, i: int, symbol: str = "AAPL", *, experts=(("e0", "e1"),), scores=((0.6, 0.3, 0.1),),
                 action: str = "buy") -> dict:
    fw = content_id("feature_window", [tenant, symbol, i])
    body = dict(tenant_id=tenant, feature_window_id=fw, symbol=symbol, window_start=T0 + i * 60_000_000,
                window_end=T0 + (i + 1) * 60_000_000, router_version="rv-1",
                gate_scores=[list(s) for s in scores], selected_experts=[list(e) for e in experts],
                expert_actions=[{"layer": 0, "expert": e, "action": action, "confidence": 0.7, "latency_ms": 1.0}
                                for e in experts[0]],
                blended_action=action, blended_confidence=0.7, risk_flags=[], embedding=[0.1, 0.2])
    return dict(id=content_id("decision_trace", [tenant, fw, "rv-1"]), content_hash=content_hash(body), **body)


def feature_row(tenant: str, i: int, key: str = "AAPL", *, status: str = "filled", value: float = 1.0) -> dict:
    body = dict(tenant_id=tenant, kind="market", key=key, window_start=T0 + i * 60_000_000,
                window_end=T0 + (i + 1) * 60_000_000, available_at=T0 + (i + 1) * 60_000_000,
                feature_schema_version="fs-1", recipe_version="r1", status=status,
                features={"ofi": value, "spread": float("nan")}, provenance={"batches": []}, label_spec=None)
    row = dict(body)
    row["features"] = {"ofi": value, "spread": None}
    return dict(id=content_id("feature_window", [tenant, key, i, "r1"]), content_hash=content_hash(body), **row)


def seed(warehouse, tenant: str, decisions: list[dict] = (), features: list[dict] = ()) -> None:
    with warehouse.session(tenant) as s:
        if decisions:
            s.upsert("decision_traces", list(decisions))
        if features:
            s.upsert("feature_windows", list(features))
