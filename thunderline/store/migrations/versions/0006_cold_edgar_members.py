"""cold_edgar_members: which cold EDGAR batch holds which document; raw_edgar_docs indexed by month

Why: tiering deletes a month's raw EDGAR documents from the warehouse once their cold batch is verified,
and nothing said which batch a document went to — a lineage walk from a window to a tiered document
could not name its cold location (tick batches can, through cold_files). One row per (document, batch),
committed in the transaction that deletes the document. Tiering pages through a month in id order, so
raw_edgar_docs gets an index on (tenant_id, month, id).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from thunderline.store.migrations.tenancy import enable_tenant_isolation

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "cold_edgar_members",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("tier_batch", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", "tenant_id", "tier_batch"),
    )
    op.create_index("ix_cold_edgar_members_batch", "cold_edgar_members", ["tenant_id", "tier_batch"], unique=False)
    enable_tenant_isolation(["cold_edgar_members"])
    op.create_index("ix_raw_edgar_docs_month", "raw_edgar_docs", ["tenant_id", "month", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_raw_edgar_docs_month", table_name="raw_edgar_docs")
    op.drop_table("cold_edgar_members")  # its index and policy go with it
