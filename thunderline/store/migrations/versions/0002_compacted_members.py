"""compacted_members: which compacted landing file each retired small tick file now lives in

Why: ingest's compaction (thunderline.flow.compaction, ba60f02) added this ledger table while
migrations were being introduced. A warehouse created by the pre-migration code after that change
already has it (metadata.create_all made it, with the tenant policy): adopted as 0001, it keeps its
table and rows here; every other warehouse gets it created, under the tenant policy.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from thunderline.store.migrations.tenancy import enable_tenant_isolation

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("compacted_members"):
        return  # made by create_all between ba60f02 and migrations (see the module docstring)
    op.create_table(
        "compacted_members",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("compacted_id", sa.String(length=64), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "tenant_id"),
    )
    op.create_index("ix_compacted_members_compacted_id", "compacted_members", ["compacted_id"], unique=False)
    enable_tenant_isolation(["compacted_members"])


def downgrade() -> None:
    op.drop_table("compacted_members")  # its index and policy go with it
