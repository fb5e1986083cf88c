"""Warehouse table of the flow controller: small named state documents (backpressure ladders, live offsets).

Why a table and not a file: the ladder's level must survive a restart of the
daemon or of ``thunderline live`` and be visible to every process that applies it
(the sensor that configures runs, the live loop); the warehouse is already shared
by all of them and is per-tenant. ``thunderline.store`` imports this module, so
``Warehouse.init_schema`` creates the table (with row-level security on PostgreSQL).

* ``flow_state``: one row per (tenant, name); ``state`` is the JSON document,
  ``revision`` counts writes (a reader can tell whether anything changed).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from thunderline.store.schema import JSONType, metadata, utcnow

flow_state = sa.Table(
    "flow_state",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),  # the state's name, e.g. "backpressure:market"
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("state", JSONType, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow),
)


def load_flow_state(session, name: str) -> dict[str, Any] | None:
    """The JSON document stored under ``name`` for the session's tenant, or None."""
    rows = session.select("flow_state", flow_state.c.id == name, columns=["state"])
    return dict(rows[0]["state"]) if rows else None


def save_flow_state(session, name: str, state: dict[str, Any]) -> int:
    """Store ``state`` under ``name`` in the session's transaction; returns the new revision."""
    rows = session.select("flow_state", flow_state.c.id == name, columns=["revision"])
    revision = (int(rows[0]["revision"]) if rows else 0) + 1
    session.upsert("flow_state", [dict(id=name, state=state, revision=revision, updated_at=utcnow())])
    return revision
