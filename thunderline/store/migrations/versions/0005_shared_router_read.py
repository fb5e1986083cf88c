"""router_configs: every tenant may read the shared router versions, none may write them

Why: a tenant without its own learned gates routes with the shared router version (tenant
``_shared``, thunderline.decisions.router_state); a tenant's own versions are trained only on its
outcomes and stay invisible to other tenants. A SELECT-only permissive policy for the ``_shared``
rows is OR-ed with the tenant policy for reads; writes (INSERT/UPDATE/DELETE) are still checked by
the tenant policy alone, so only a session of ``_shared`` publishes shared versions. SQLite has no
RLS: there the router's queries name the shared tenant explicitly.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from typing import Sequence, Union

from alembic import op

from thunderline.store.postgres import SHARED_READ_POLICY, SHARED_READ_TABLES, shared_read_statement

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in SHARED_READ_TABLES:
        op.execute(shared_read_statement(bind.dialect.identifier_preparer.quote(table)))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in SHARED_READ_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {SHARED_READ_POLICY} ON {bind.dialect.identifier_preparer.quote(table)}")
