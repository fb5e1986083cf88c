"""Router versions: what a decision was routed with, published atomically.

A :class:`RouterState` is everything the router needs for a batch: the layer
config, each layer's gate ``W_g`` (d × e), each layer's pool of experts (one
expert name per gate column, with the model version it pointed to) and the
embedding spec. Its ``version`` is a content hash, so two identical states are
the same version. Publishing inserts the row and flips ``is_active`` in one
transaction (readers see the old or the new version, never a mix); every
DecisionTrace records the version it used.

Ownership: a tenant's versions live under its ``tenant_id`` and are trained only on its outcomes
(RLS on PostgreSQL, the tenant filter on SQLite). The versions of :data:`SHARED_TENANT` are the shared
router: every tenant may read them (migration 0005's SELECT-only policy), only a session of
``_shared`` publishes them. A tenant without an active version of its own routes with the shared
active version (:func:`resolve_router`); a trace routed with it names it, and :func:`router_version`
finds it from the tenant's session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sqlalchemy as sa

from thunderline.decisions.embedding import EmbeddingSpec
from thunderline.hashing import content_hash
from thunderline.routing import RouterConfig, RouterLayerConfig
from thunderline.store.postgres import SHARED_TENANT
from thunderline.store.warehouse import TenantSession

__all__ = ["SHARED_TENANT", "BlendSpec", "RouterState", "publish_router_version", "active_router", "resolve_router",
           "router_version", "router_history", "router_record", "state_of_row"]


@dataclass(frozen=True)
class BlendSpec:
    """How a router version turns its experts' signed scores into one decision, fitted on training data.

    ``scale``: expert name → α in [0, 1], the share of its score the blend trusts (experts whose
    score did not predict the realised move out of sample get 0; the best gets 1). ``thresholds``:
    (buy, sell) — ``buy`` when the blended score exceeds the first, ``sell`` when it is below minus
    the second. ``horizon_ms``: the clock horizon the blend was fitted for; ``fit``: what the fit
    saw (windows, validation IC...), kept for the record.
    """

    thresholds: tuple[float, float]
    scale: dict = field(default_factory=dict)
    horizon_ms: int | None = None
    fit: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        tb, ts = self.thresholds
        if not (0.0 <= tb <= 1.0 and 0.0 <= ts <= 1.0):
            raise ValueError(f"blend thresholds {self.thresholds!r} must be in [0, 1]")
        for name, a in self.scale.items():
            if not (np.isfinite(a) and 0.0 <= a <= 1.0):
                raise ValueError(f"blend scale of {name!r} = {a!r} must be in [0, 1]")

    def to_json(self) -> dict:
        return {"thresholds": [float(self.thresholds[0]), float(self.thresholds[1])],
                "scale": {k: float(v) for k, v in sorted(self.scale.items())},
                "horizon_ms": self.horizon_ms, "fit": self.fit}

    @classmethod
    def from_json(cls, d: dict | None) -> "BlendSpec | None":
        if not d:
            return None
        return cls((float(d["thresholds"][0]), float(d["thresholds"][1])), dict(d.get("scale") or {}),
                   d.get("horizon_ms"), dict(d.get("fit") or {}))


@dataclass(frozen=True)
class RouterState:
    config: RouterConfig
    gates: tuple[np.ndarray, ...]
    pools: tuple[tuple[str, ...], ...]  # per layer: expert name per gate column
    expert_versions: dict  # expert name -> registered model version routed to
    embedding: EmbeddingSpec
    #: fitted score scales and action thresholds; None for versions published before they existed
    blend: BlendSpec | None = None

    def __post_init__(self) -> None:
        if len(self.gates) != len(self.config.layers) or len(self.pools) != len(self.config.layers):
            raise ValueError("router state: one gate and one expert pool per layer")
        for i, (g, pool, layer) in enumerate(zip(self.gates, self.pools, self.config.layers)):
            if g.shape != (self.config.d, layer.n_experts) or len(pool) != layer.n_experts:
                raise ValueError(f"router state layer {i}: gate {g.shape} / pool {len(pool)} do not match "
                                 f"d={self.config.d}, e={layer.n_experts}")
        if self.embedding.d != self.config.d:
            raise ValueError(f"router state: embedding d={self.embedding.d} differs from router d={self.config.d}")

    def to_json(self) -> dict:
        out = {
            "config": self.config.model_dump(mode="json"),
            "gates": [g.tolist() for g in self.gates],
            "pools": [list(p) for p in self.pools],
            "expert_versions": dict(sorted(self.expert_versions.items())),
            "embedding": self.embedding.to_json(),
        }
        if self.blend is not None:  # absent from older versions, so their version hashes are unchanged
            out["blend"] = self.blend.to_json()
        return out

    def scale_of(self, expert: str) -> float:
        """α of ``expert`` (1 when the version has no fitted blend or does not name it)."""
        if self.blend is None:
            return 1.0
        return float(self.blend.scale.get(expert, 1.0))

    @property
    def thresholds(self) -> tuple[float, float]:
        from thunderline.experts.blend import UNFITTED_THRESHOLD

        return self.blend.thresholds if self.blend is not None else (UNFITTED_THRESHOLD, UNFITTED_THRESHOLD)

    @cached_property
    def version(self) -> str:  # frozen: hashed once per state, not once per trace
        return "rv-" + content_hash(self.to_json())[:20]

    @classmethod
    def from_json(cls, d: dict) -> "RouterState":
        cfg = RouterConfig(layers=tuple(RouterLayerConfig(**l) for l in d["config"]["layers"]), d=d["config"]["d"])
        return cls(cfg, tuple(np.asarray(g, dtype=np.float64) for g in d["gates"]),
                   tuple(tuple(p) for p in d["pools"]), dict(d["expert_versions"]),
                   EmbeddingSpec.from_json(d["embedding"]), BlendSpec.from_json(d.get("blend")))


def publish_router_version(session: TenantSession, state: RouterState, *, reason: str,
                           parent: str | None = None, trained_on: dict | None = None) -> str:
    """Store ``state`` (if new) and make it the active version, atomically within ``session``.

    ``trained_on`` (learned gates): whose outcomes the gates were fitted on — kept with the version,
    outside its content hash; a version derived from ``parent`` without new gates (e.g. a champion
    moved) inherits the parent's, since it routes with the same gates."""
    if trained_on is None and parent is not None:
        prev = router_record(session, parent)
        trained_on = (prev or {}).get("experts", {}).get("trained_on")
    t = session.table("router_configs")
    version = state.version
    body = state.to_json()
    session.execute(sa.update(t).where(t.c.tenant_id == session.tenant_id, t.c.is_active.is_(True))
                    .values(is_active=False))
    if session.count("router_configs", t.c.version == version):
        session.execute(sa.update(t).where(t.c.tenant_id == session.tenant_id, t.c.version == version)
                        .values(is_active=True))
    else:
        session.insert("router_configs", [dict(
            id=version, version=version, parent_version=parent, config=body["config"],
            gates={"gates": body["gates"], "embedding": body["embedding"]},
            experts={"pools": body["pools"], "expert_versions": body["expert_versions"],
                     **({"blend": body["blend"]} if "blend" in body else {}),
                     **({"trained_on": trained_on} if trained_on else {})},
            reason=reason, is_active=True)])
    return version


def state_of_row(row: dict) -> RouterState:
    return RouterState.from_json({"config": row["config"], "gates": row["gates"]["gates"],
                                  "pools": row["experts"]["pools"],
                                  "expert_versions": row["experts"]["expert_versions"],
                                  "embedding": row["gates"]["embedding"], "blend": row["experts"].get("blend")})


def _row(session: TenantSession, tenant: str, *where) -> dict | None:
    """One router_configs row of ``tenant`` (the session's own or the shared one), newest first."""
    t = session.table("router_configs")
    stmt = sa.select(t).where(t.c.tenant_id == tenant, *where).order_by(t.c.inserted_at.desc()).limit(1)
    got = session.execute(stmt).mappings().first()
    return dict(got) if got is not None else None


def router_record(session: TenantSession, version: str | None = None) -> dict | None:
    """The row of ``version`` (default: the version the tenant routes with), own first, then shared, with
    ``owner`` = the tenant that owns it."""
    t = session.table("router_configs")
    where = [t.c.is_active.is_(True)] if version is None else [t.c.version == version]
    for owner in dict.fromkeys((session.tenant_id, SHARED_TENANT)):
        row = _row(session, owner, *where)
        if row is not None:
            return {**row, "owner": owner}
    return None


def active_version(session: TenantSession) -> str | None:
    """The id of the version the tenant routes with (own first, then shared), reading one column, no gates:
    cheap enough for a live session to poll between micro-batches."""
    t = session.table("router_configs")
    for owner in dict.fromkeys((session.tenant_id, SHARED_TENANT)):
        got = session.execute(sa.select(t.c.version).where(t.c.tenant_id == owner, t.c.is_active.is_(True))
                              .order_by(t.c.inserted_at.desc()).limit(1)).scalar()
        if got is not None:
            return str(got)
    return None


def resolve_router(session: TenantSession) -> tuple[RouterState, str] | None:
    """(state, owner) the tenant routes with: its own active version, else the shared active one."""
    row = router_record(session)
    return (state_of_row(row), row["owner"]) if row is not None else None


def active_router(session: TenantSession) -> RouterState | None:
    found = resolve_router(session)
    return found[0] if found is not None else None


def router_version(session: TenantSession, version: str) -> RouterState:
    row = router_record(session, version)
    if row is None:
        raise LookupError(f"router version {version!r} not found for tenant {session.tenant_id!r} "
                          "nor among the shared versions")
    return state_of_row(row)


def router_history(session: TenantSession) -> list[dict]:
    t = session.table("router_configs")
    return session.select("router_configs", columns=["version", "parent_version", "reason", "is_active",
                                                     "inserted_at"], order_by=[t.c.inserted_at])
