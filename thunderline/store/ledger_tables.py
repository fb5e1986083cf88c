"""Warehouse tables of ingest progress: which step of which partition committed what, and landed content.

Why tables of our own: "the landing file is processed" used to be one status set by
the *first* step of a partition, so a crash before the next step left a partition
that no later run would revisit (issue 16, item 3). Progress is now recorded per
step, in the same transaction as the step's rows, so it can never claim more than
what was committed; planning reads it back. ``thunderline.store`` imports this
module, so ``Warehouse.init_schema`` creates both tables (with row-level security
on PostgreSQL).

* ``partition_steps``: one row per (tenant, kind, partition, step) — the step's last
  committed run and ``inputs``, the digest of the landing contents it was built from
  (for a downstream step: the digest its upstream step had when it read it). A
  partition is complete when every step of its kind carries the digest of the
  partition's current landing contents.
* ``landed_content``: one row per (tenant, sha256) — where the content-addressed copy
  of a landing file lives. Partition runs read the copy, so deleting, archiving or
  rewriting the landing path never changes what an ingested content id means.
* ``compacted_members``: one row per small landing file retired into a compacted file
  (status ``compacted`` in ``landing_files``), naming the compacted content that holds its rows.
"""

from __future__ import annotations

import sqlalchemy as sa

from thunderline.store.schema import metadata, utcnow

partition_steps = sa.Table(
    "partition_steps",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # ticks | edgar
    sa.Column("partition_key", sa.String(160), primary_key=True),  # YYYY-MM|SYMBOL or YYYY-MM
    sa.Column("step", sa.String(64), primary_key=True),  # the asset name
    sa.Column("inputs", sa.String(64), nullable=False),  # sha256 over the sorted landing content ids
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
)

landed_content = sa.Table(
    "landed_content",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the bytes == landing_files.id
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("stored_path", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
)

# Small landed tick files merged into one content-addressed file (thunderline.flow.compaction): which
# file each retired member's rows now live in, and where (its ordinal and rows in the compacted file).
compacted_members = sa.Table(
    "compacted_members",
    metadata,
    sa.Column("member_id", sa.String(64), primary_key=True),  # the small file's landing_files.id
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("compacted_id", sa.String(64), nullable=False, index=True),  # the compacted file's landing_files.id
    sa.Column("ordinal", sa.Integer, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
)
