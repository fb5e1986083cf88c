"""Gate retraining: learn every layer's W_g from realised outcomes and publish a new router version.

Reads the decided windows of an evidence period (default: the last 31 days of
decisions, data time) with their realised labels, replays every pool expert at
the version the active router version records — the version the new router
version will run, not a champion that moved ahead of its router promotion (the
report lists those) — on them to see which would have been right, fits the
gates (:mod:`thunderline.decisions.gates`) on the active router's own
embeddings, and publishes the result as a new router version whose parent is
the active one. Nothing else changes: same layers, pools, expert versions and
embedding, so every later trace says which gates it was routed with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import sqlalchemy as sa

from thunderline.decisions.gates import fit_router_gates
from thunderline.decisions.pool import load_routed
from thunderline.decisions.router_state import publish_router_version, resolve_router
from thunderline.hashing import content_hash

DAY_US = 86_400_000_000


class GateRetrainError(RuntimeError):
    """Gates cannot be retrained yet (no router, no decided windows with realised labels)."""


@dataclass
class GateRetrainReport:
    previous_version: str
    version: str
    windows: int
    evidence_start_us: int
    evidence_end_us: int
    layers: list[dict] = field(default_factory=list)
    #: routed experts whose champion alias moved ahead of the router: name → (recorded version, champion)
    champion_mismatch: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: who owned the version the gates were learned from: the tenant itself or the shared router
    previous_owner: str = ""
    #: whose outcomes trained the gates (kept with the published version): tenant, windows, their ids' hash
    trained_on: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.version != self.previous_version


def retrain_router_gates(warehouse, tenant_id: str, registry, *, lookback_days: float = 31.0,
                         start_us: int | None = None, end_us: int | None = None, C: float = 1.0,
                         margin: float = 1.0, ticker_map: Sequence[dict] = (), min_windows: int = 50,
                         actor: str = "thunderline.gate_retraining") -> GateRetrainReport:
    from thunderline.evaluation.harness import load_evidence

    with warehouse.session(tenant_id) as s:
        found = resolve_router(s)  # the tenant's own version, else the shared one it starts from
        if found is None:
            raise GateRetrainError("no active router version (own or shared): bootstrap experts first")
        state, owner = found
        if end_us is None:
            dt_ = s.table("decision_traces")
            last = s.execute(sa.select(sa.func.max(dt_.c.window_start)).where(dt_.c.tenant_id == tenant_id)).scalar()
            if last is None:
                raise GateRetrainError("no decided windows yet")
            end_us = int(last) + 1
        start_us = end_us - int(lookback_days * DAY_US) if start_us is None else start_us
        experts = load_routed(registry, state)
        horizons = sorted({int(e.horizon) for e in experts.values()})
        ev = load_evidence(s, start_us, end_us, horizons, ticker_map=ticker_map)
    if len(ev) < min_windows:
        raise GateRetrainError(f"{len(ev)} decided windows in the evidence period; gate retraining needs "
                               f"{min_windows}")
    F = ev.features.reindex(columns=list(state.embedding.feature_names)).to_numpy(np.float64)
    X = state.embedding.embed(F)
    actions, confidences, labels = {}, {}, {}
    for name, e in experts.items():
        pred = e.predict(ev.features)
        actions[name] = pred["action"].to_numpy(dtype=object)
        confidences[name] = pred["confidence"].to_numpy(np.float64)
        labels[name] = ev.labels[int(e.horizon)]["label"].to_numpy(dtype=object)
    mismatch = _champion_mismatch(registry, state, experts)
    gates, layers = fit_router_gates(X, state.pools, actions, confidences, labels, C=C, margin=margin,
                                     previous=state.gates)
    new_state = dataclasses.replace(state, gates=tuple(gates))
    learned = sum(1 for x in layers if x["learned"])
    reason = (f"gates learned from realised outcomes of {len(ev)} decided windows "
              f"({learned}/{len(layers)} layers; C={C:g}, margin={margin:g}) by {actor}")
    trained_on = {"tenant_id": tenant_id, "windows": len(ev), "evidence_start_us": int(start_us),
                  "evidence_end_us": int(end_us), "window_ids_sha256": content_hash(sorted(map(str, ev.window_ids)))}
    with warehouse.session(tenant_id) as s:  # published under the tenant: its own version from now on
        version = publish_router_version(s, new_state, reason=reason, parent=state.version, trained_on=trained_on)
    return GateRetrainReport(state.version, version, len(ev), int(start_us), int(end_us), layers, mismatch,
                             owner, trained_on)


def _champion_mismatch(registry, state, experts) -> dict[str, tuple[str, str]]:
    """Routed experts whose champion alias is not the version the router version records (a promotion the
    router has not followed yet): name → (recorded version, champion version)."""
    out = {}
    for n in experts:
        champion = registry.aliases(n).get("champion")
        recorded = str(state.expert_versions.get(n))
        if champion is not None and champion != recorded:
            out[n] = (recorded, champion)
    return out
