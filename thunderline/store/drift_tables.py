"""Warehouse tables of the drift monitor: stored baseline profiles and per-feature reports.

Why a module of their own: drift owns these two tables, but they live on the one
shared :data:`thunderline.store.schema.metadata`, so ``Warehouse.init_schema``
creates them (and, on PostgreSQL, puts them under the same row-level security)
like every other table. ``thunderline.store`` imports this module, so a
warehouse never exists without them.

* ``drift_profiles``: one row per (tenant, profile name, feature schema version).
  The baseline is computed once and reused; ``content_hash`` identifies the exact
  baseline a report was measured against.
* ``drift_reports``: one row per (tenant, profile, scope, feature); re-running a
  report for the same scope (e.g. a month partition) replaces its rows.
"""

from __future__ import annotations

import sqlalchemy as sa

from thunderline.store.schema import JSONType, metadata, utcnow

drift_profiles = sa.Table(
    "drift_profiles",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # content_id of (tenant, name, feature_schema_version)
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),  # e.g. "market_feature_windows"
    sa.Column("feature_schema_version", sa.String(32), nullable=False),
    sa.Column("n_bins", sa.Integer, nullable=False),
    sa.Column("epsilon", sa.Float, nullable=False),
    sa.Column("n_features", sa.Integer, nullable=False),
    sa.Column("profile", JSONType, nullable=False),  # DriftProfile.to_dict()
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
    sa.UniqueConstraint("tenant_id", "name", "feature_schema_version", name="uq_drift_profiles_name"),
)

drift_reports = sa.Table(
    "drift_reports",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # content_id of (tenant, profile, fsv, scope, feature)
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("profile_name", sa.String(128), nullable=False),
    sa.Column("profile_hash", sa.String(64), nullable=False),  # drift_profiles.content_hash measured against
    sa.Column("feature_schema_version", sa.String(32), nullable=False),
    sa.Column("scope", sa.String(64), nullable=False),  # what was compared, e.g. the month partition "2024-02"
    sa.Column("feature", sa.String(128), nullable=False),
    sa.Column("psi", sa.Float),  # NULL when the current sample has no finite value of the feature
    sa.Column("ks_statistic", sa.Float),
    sa.Column("ks_pvalue", sa.Float),
    sa.Column("status", sa.String(8), nullable=False),  # ok | warn | fail
    sa.Column("n_baseline", sa.BigInteger, nullable=False),
    sa.Column("n_current", sa.BigInteger, nullable=False),
    sa.Column("detail", JSONType, nullable=False),  # bin edges, both proportion vectors, note
    sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
    sa.Index("ix_drift_reports_scope", "tenant_id", "profile_name", "scope"),
)
