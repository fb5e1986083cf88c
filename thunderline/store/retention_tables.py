"""Warehouse tables of retention: where each tiered lake file went, and what retention did.

Why tables: a file moved to cold storage must stay findable — by ``thunderline restore``, by
lineage walks (a tick batch names its cold location) and by an auditor asking what was deleted
when and by whom. Both tables are tenant-scoped like every other (row-level security on
PostgreSQL), created by migration 0004.

* ``cold_files``: one row per (tenant, tick batch) ever tiered — or per raw EDGAR batch
  (``data_class`` ``raw_edgar``: a month's ``raw_edgar_docs`` rows as one Parquet file, ``symbol`` empty,
  ``hot_path`` ``warehouse:raw_edgar_docs``): the hot path it left, the cold
  URL it lives at, its sha256 and size (equal to ``raw_tick_batches.sha256``), the tier batch
  (one per tenant × month × run) and its manifest, and its status: ``cold`` (only in cold
  storage), ``restored`` (back in the lake; the cold copy stays) or ``deleted`` (purged).
* ``retention_audit``: one row per retention action (tier, restore, purge) with what it touched.
* ``cold_edgar_members``: which raw EDGAR batch holds which document (id and content hash as tiered), written
  in the transaction that deletes the document from the warehouse, so a lineage walk names a tiered
  document's cold file (migration 0006). Rows stay when the batch is restored or purged: ``cold_files.status``
  says where the document is now.
"""

from __future__ import annotations

import sqlalchemy as sa

from thunderline.store.schema import JSONType, metadata, utcnow

cold_files = sa.Table(
    "cold_files",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # raw_tick_batches.id
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("data_class", sa.String(16), nullable=False),  # raw_ticks
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("tier_batch", sa.String(64), nullable=False),  # content id of (tenant, month, batch ids)
    sa.Column("hot_path", sa.Text, nullable=False),
    sa.Column("cold_url", sa.Text, nullable=False),
    sa.Column("manifest_url", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # cold | restored | deleted
    sa.Column("tiered_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
    sa.Column("restored_at", sa.DateTime(timezone=True)),
    sa.Index("ix_cold_files_tenant_month", "tenant_id", "month"),
)

retention_audit = sa.Table(
    "retention_audit",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("action", sa.String(16), nullable=False),  # tier | restore | purge
    sa.Column("data_class", sa.String(16), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),  # cli:restore, dagster:<run id>, …
    sa.Column("detail", JSONType, nullable=False),  # files, rows, bytes, cold location, policy
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
)

cold_edgar_members = sa.Table(
    "cold_edgar_members",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # raw_edgar_docs.id
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("tier_batch", sa.String(64), primary_key=True),  # cold_files.id of the raw_edgar batch
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),  # as tiered
    sa.Index("ix_cold_edgar_members_batch", "tenant_id", "tier_batch"),
)
