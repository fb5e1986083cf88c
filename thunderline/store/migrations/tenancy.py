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

from thunderline.store.postgres import tenant_isolation_statements


def enable_tenant_isolation(tables: Iterable[str]) -> None:
    """ENABLE + FORCE row-level security and create the tenant policy on each table (PostgreSQL)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quote = bind.dialect.identifier_preparer.quote
    for table in tables:
        for statement in tenant_isolation_statements(quote(table)):
            op.execute(statement)
