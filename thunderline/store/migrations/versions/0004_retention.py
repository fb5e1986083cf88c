"""Retention: cold_files, retention_audit; EDGAR docs' sections_redacted and xbrl_hash

Why: tiering lake months to cold storage must record where every file went (restore, lineage,
audit), and deletion past the retention horizon must leave an audit row (thunderline.retention).
EDGAR documents name the sections dropped by policy (exhibits) and carry a hash of their XBRL
facts, so a retained document says what it no longer holds. Existing documents keep NULL in both
(they were ingested before the policy was recorded); new ingests fill them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from thunderline.store.migrations.tenancy import enable_tenant_isolation

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cold_files",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("data_class", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("tier_batch", sa.String(length=64), nullable=False),
        sa.Column("hot_path", sa.Text(), nullable=False),
        sa.Column("cold_url", sa.Text(), nullable=False),
        sa.Column("manifest_url", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tiered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", "tenant_id"),
    )
    op.create_index("ix_cold_files_tenant_month", "cold_files", ["tenant_id", "month"], unique=False)
    op.create_table(
        "retention_audit",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("data_class", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", "tenant_id"),
    )
    enable_tenant_isolation(["cold_files", "retention_audit"])
    with op.batch_alter_table("raw_edgar_docs") as batch:
        batch.add_column(sa.Column("sections_redacted", _JSON, nullable=True))
        batch.add_column(sa.Column("xbrl_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("raw_edgar_docs") as batch:
        batch.drop_column("xbrl_hash")
        batch.drop_column("sections_redacted")
    op.drop_table("retention_audit")
    op.drop_table("cold_files")  # its index and policy go with it
