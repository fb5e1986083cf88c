"""Month partitions under the tenant policy

Why: row-level security on a partitioned parent binds queries through the parent only; a query
naming a month partition (``feature_windows_2024_01``) directly read every tenant's rows. New
partitions now get the policy when they are created (thunderline.store.postgres.ensure_month_partition);
this revision puts the partitions an existing warehouse already has under it. SQLite has no partitions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from thunderline.store.migrations.tenancy import enable_tenant_isolation
from thunderline.store.postgres import POLICY

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_PARTITIONS = sa.text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('feature_windows', 'decision_traces') "
    "AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname")


def _partitions() -> list[str]:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return []
    return [r[0] for r in bind.execute(_PARTITIONS)]


def upgrade() -> None:
    enable_tenant_isolation(_partitions())


def downgrade() -> None:
    names = _partitions()
    quote = op.get_bind().dialect.identifier_preparer.quote
    for name in names:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {quote(name)}")
        op.execute(f"ALTER TABLE {quote(name)} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {quote(name)} DISABLE ROW LEVEL SECURITY")
