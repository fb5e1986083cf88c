"""PostgreSQL specifics: month range partitions, the RLS-bypass check, app-role provisioning.

Why: in production the warehouse holds months of windows and traces for many
tenants. Month partitions keep indexes small and let old months be detached;
row-level security makes tenant isolation a property of the database, not only
of our queries (the policies are created by the migrations, see
:mod:`thunderline.store.migrations.tenancy`). RLS is FORCEd so the owning app role is bound by it too; only
superusers (and BYPASSRLS roles) skip it, so the app must never connect as one.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from thunderline.partitioning import month_bounds_us


def _quote(conn: sa.Connection, ident: str) -> str:
    return conn.dialect.identifier_preparer.quote(ident)


def rls_bypass_notes(conn: sa.Connection) -> list[str]:
    """A warning when this connection's role skips row-level security (superuser or BYPASSRLS)."""
    row = conn.execute(
        sa.text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).scalar_one()
    if not row:
        return []
    return ["connected as a superuser/BYPASSRLS role: row-level security is NOT enforced for this "
            "connection; point THUNDERLINE_WAREHOUSE_URL at a plain application role"]


#: the one tenant policy every table carries (the migrations create it on tables, this module on partitions)
POLICY = "tenant_isolation"
TENANT_EXPR = "tenant_id = current_setting('thunderline.tenant_id', true)"


def tenant_isolation_statements(quoted_table: str) -> list[str]:
    """ENABLE + FORCE row-level security and the tenant policy on one table (idempotent: a policy made
    concurrently by another process is kept)."""
    policy = f"CREATE POLICY {POLICY} ON {quoted_table} USING ({TENANT_EXPR}) WITH CHECK ({TENANT_EXPR})"
    return [f"ALTER TABLE {quoted_table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {quoted_table} FORCE ROW LEVEL SECURITY",
            f"DO $$ BEGIN {policy}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"]


#: the tenant whose router versions every tenant may read (never write): the shared fallback router
SHARED_TENANT = "_shared"
SHARED_READ_POLICY = "shared_router_read"
#: tables whose ``SHARED_TENANT`` rows every tenant may SELECT (a permissive policy OR-ed with the tenant one;
#: INSERT/UPDATE/DELETE stay under the tenant policy alone)
SHARED_READ_TABLES = ("router_configs",)


def shared_read_statement(quoted_table: str) -> str:
    """The SELECT-only policy that lets every tenant read ``SHARED_TENANT``'s rows of one table (idempotent)."""
    policy = (f"CREATE POLICY {SHARED_READ_POLICY} ON {quoted_table} FOR SELECT "
              f"USING (tenant_id = '{SHARED_TENANT}')")
    return f"DO $$ BEGIN {policy}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"


def ensure_month_partition(conn: sa.Connection, table: str, month: str) -> None:
    """Create ``<table>_YYYY_MM`` for ``month`` if missing (on demand, before a write), under the tenant policy.

    Why the policy on the partition too: the parent's policy binds queries through the parent only; a query
    naming ``feature_windows_2024_01`` directly would read every tenant's rows.
    """
    lo, hi = month_bounds_us(month)
    name = f"{table}_{month.replace('-', '_')}"
    if conn.execute(sa.select(sa.func.to_regclass(name))).scalar() is not None:
        return
    quoted = _quote(conn, name)
    conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {quoted} PARTITION OF {_quote(conn, table)} "
                         f"FOR VALUES FROM ({lo}) TO ({hi})"))
    for statement in tenant_isolation_statements(quoted):
        conn.execute(sa.text(statement))


def provision_database(admin_url: str, database: str, app_role: str) -> str:
    """As an admin: create ``app_role`` (tolerating an existing one) and ``database`` owned by it.

    Returns the app role's URL for ``database``. Used by tests and by operators
    setting up a warehouse; the app itself never runs with admin rights.
    """
    url = make_url(admin_url)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app_role}).first()
            if not exists:
                try:
                    conn.execute(sa.text(f"CREATE ROLE {_quote(conn, app_role)} LOGIN NOSUPERUSER NOBYPASSRLS"))
                except (sa.exc.ProgrammingError, sa.exc.IntegrityError):
                    # created concurrently by another process: "already exists" once it committed, a unique
                    # violation on pg_authid when our CREATE waited for its uncommitted one (parallel test workers)
                    pass
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(conn, database)} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {_quote(conn, database)} OWNER {_quote(conn, app_role)}"))
    finally:
        engine.dispose()
    return url.set(username=app_role, password=None, database=database).render_as_string(hide_password=False)


def drop_database(admin_url: str, database: str) -> None:
    engine = sa.create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(conn, database)} WITH (FORCE)"))
    finally:
        engine.dispose()
