"""Tenant isolation for tables a revision creates: row-level security, ENABLEd and FORCEd.

Why a helper owned by the migrations: every revision that adds a table must put it under
the same policy as the baseline (the test suite checks every table at head has it), and
writing the three statements by hand in each revision is how one gets forgotten. FORCE binds
the owning app role too; only superusers and BYPASSRLS roles skip it. SQLite has no RLS:
there the tenant sessions' filters are the isolation.
"""

from __future__ import annotations

from typing import Iterable

from alembic import op

POLICY = "tenant_isolation"
TENANT_EXPR = "tenant_id = current_setting('thunderline.tenant_id', true)"


def enable_tenant_isolation(tables: Iterable[str]) -> None:
    """ENABLE + FORCE row-level security and create the tenant policy on each table (PostgreSQL)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quote = bind.dialect.identifier_preparer.quote
    for table in tables:
        q = quote(table)
        op.execute(f"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {q} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {q} USING ({TENANT_EXPR}) WITH CHECK ({TENANT_EXPR})")
