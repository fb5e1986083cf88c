"""Running compiled models against the warehouse, one tenant at a time.

Outputs are named ``sqlm_<model>`` and shared by all tenants; every row carries
``tenant_id`` (stamped by the compiler, never chosen by the model), and every
read goes through a tenant filter. How a run replaces *only its tenant's* rows:

* **table**: the model runs into a temporary stage table (``CREATE TEMP TABLE …
  AS``); if the output table exists with the same columns, the tenant's rows are
  deleted and the stage's inserted; otherwise (first run, or the model's columns
  changed) the output is dropped and re-created from the stage (``CREATE TABLE
  AS``) — other tenants then re-materialise to refill it. On PostgreSQL a new
  output table gets the warehouse's row-level-security policy, so the database
  enforces tenant isolation on it too. All of it is one transaction (on SQLite
  a ``BEGIN`` is issued first so the DDL is transactional as well).
* **view**: dropped and re-created. On PostgreSQL the view filters by
  ``current_setting('thunderline.tenant_id')`` and so answers for whichever
  tenant reads it (plus RLS underneath). SQLite has no session setting, so a
  view there is pinned to the tenant that last materialised it; readers filter
  by tenant, so another tenant sees no rows (never someone else's) until it
  re-materialises. Dropping a table or view on PostgreSQL cascades to views
  built on it; running models in dependency order re-creates them.

A database error becomes a :class:`SqlModelError` naming the model file and
line: PostgreSQL reports the statement line (``LINE n:``) and the rendered SQL
keeps the file's lines, so the mapping is exact; SQLite reports no position,
so the line is the first one of the rendered SQL holding the name in the
message (the missing column/table/function or the token near a syntax error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa

from thunderline.sqlmodels.parse import SqlModel, SqlModelError
from thunderline.sqlmodels.project import CompiledModel, SqlProject
from thunderline.sqlmodels.render import PG_TENANT_SETTING
from thunderline.store.warehouse import TenantSession, Warehouse

POLICY = "tenant_isolation"  # the name thunderline.store.postgres uses for warehouse tables


@dataclass(frozen=True)
class ModelRun:
    name: str
    relation: str
    materialized: str
    rows: int  # the tenant's rows in the output after the run
    rebuilt: bool  # the output was (re-)created rather than its tenant slice replaced
    sql: str  # the compiled SELECT that ran


def materialize(session: TenantSession, project: SqlProject, name: str, *,
                vars: Mapping[str, Any] | None = None) -> ModelRun:
    """Materialise model ``name`` for the session's tenant inside the session's transaction."""
    conn, tenant = session.conn, session.tenant_id
    dialect = session.warehouse.dialect
    model = project[name]
    compiled = project.compile(name, dialect, tenant, vars=vars)
    for call in model.calls:
        if call.fn == "ref" and _relkind(conn, project[call.args[0]].relation) is None:
            raise model.error(call.line, f"ref({call.args[0]!r}): {project[call.args[0]].relation} does not exist "
                                         f"yet; materialise model {call.args[0]!r} first")
    _begin_transactional_ddl(conn)
    runner = _Runner(conn, model, compiled, tenant)
    rebuilt = runner.table() if compiled.materialized == "table" else runner.view()
    rows = conn.execute(sa.text(f"SELECT COUNT(*) FROM {compiled.relation} WHERE tenant_id = :t"),
                        {"t": tenant}).scalar_one()
    return ModelRun(name, compiled.relation, compiled.materialized, int(rows), rebuilt, compiled.select)


def run_models(warehouse: Warehouse, tenant_id: str, project: SqlProject, select: list[str] | None = None, *,
               vars: Mapping[str, Any] | None = None) -> list[ModelRun]:
    """Materialise ``select`` (default: all) in dependency order, one transaction per model."""
    runs = []
    for name in project.order(select):
        with warehouse.session(tenant_id) as s:
            runs.append(materialize(s, project, name, vars=vars))
    return runs


def read_model(session: TenantSession, project: SqlProject, name: str) -> list[dict[str, Any]]:
    """The tenant's rows of a materialised model."""
    rel = project[name].relation
    stmt = sa.text(f"SELECT * FROM {rel} WHERE tenant_id = :t")
    return [dict(r._mapping) for r in session.conn.execute(stmt, {"t": session.tenant_id})]


# --------------------------------------------------------------------------- internals
class _Runner:
    def __init__(self, conn: sa.Connection, model: SqlModel, compiled: CompiledModel, tenant_id: str) -> None:
        self.conn, self.model, self.c, self.tenant_id = conn, model, compiled, tenant_id
        self.pg = compiled.dialect == "postgresql"
        self.cascade = " CASCADE" if self.pg else ""

    def ddl(self, sql: str) -> None:
        self.conn.execute(_verbatim(sql))

    def run_model_sql(self, header: str, footer: str = "") -> sa.CursorResult:
        """Run ``header`` + newline + the compiled SELECT (+ footer); map a failure to the model's line."""
        statement = f"{header}\n{self.c.select}{footer}"
        try:
            return self.conn.execute(_verbatim(statement))
        except sa.exc.DBAPIError as exc:
            raise _model_error(self.model, self.c, exc, offset=1 + self.c.body_offset) from exc

    def _tenant_column_clash(self) -> SqlModelError:
        return self.model.error(None, "the model's output has its own tenant_id column; the compiler adds tenant_id "
                                      "to every output, so select explicit columns (not alias.* of a ref/source)")

    def table(self) -> bool:
        target = self.c.relation
        stage = f"sqlm__stage_{self.c.name}"
        qstage = f"pg_temp.{stage}" if self.pg else f"temp.{stage}"
        self.ddl(f"DROP TABLE IF EXISTS {qstage}")
        try:
            self.run_model_sql(f"CREATE TEMP TABLE {stage} AS")
        except SqlModelError as exc:
            if "tenant_id" in exc.reason and "more than once" in exc.reason:
                raise self._tenant_column_clash() from exc
            raise
        cols = _columns(self.conn, qstage, self.pg)
        if [n for n, _ in cols].count("tenant_id") != 1 or any(n.startswith("tenant_id:") for n, _ in cols):
            raise self._tenant_column_clash()
        kind = _relkind(self.conn, target)
        if kind == "view":
            self.ddl(f"DROP VIEW {target}{self.cascade}")
        if kind == "table" and _columns(self.conn, target, self.pg) == cols:
            self.conn.execute(sa.text(f"DELETE FROM {target} WHERE tenant_id = :t"), {"t": self.tenant_id})
            self.ddl(f"INSERT INTO {target} SELECT * FROM {qstage}")
            rebuilt = False
        else:
            self.ddl(f"DROP TABLE IF EXISTS {target}{self.cascade}")
            self.ddl(f"CREATE TABLE {target} AS SELECT * FROM {qstage}")
            self.ddl(f"CREATE INDEX ix_{target}_tenant ON {target} (tenant_id)")
            if self.pg:
                self.ddl(f"ALTER TABLE {target} ENABLE ROW LEVEL SECURITY")
                self.ddl(f"ALTER TABLE {target} FORCE ROW LEVEL SECURITY")
                expr = f"tenant_id = {PG_TENANT_SETTING}"
                self.ddl(f"CREATE POLICY {POLICY} ON {target} USING ({expr}) WITH CHECK ({expr})")
            rebuilt = True
        self.ddl(f"DROP TABLE {qstage}")
        return rebuilt

    def view(self) -> bool:
        target = self.c.relation
        probe = self.run_model_sql("SELECT * FROM (", "\n) AS sqlm_probe LIMIT 0")
        if list(probe.keys()).count("tenant_id") != 1:
            raise self._tenant_column_clash()
        probe.close()
        kind = _relkind(self.conn, target)
        if kind is not None:
            self.ddl(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} {target}{self.cascade}")
        self.run_model_sql(f"CREATE VIEW {target} AS")
        return True


def _verbatim(sql: str) -> sa.TextClause:
    """``sql`` as a text clause with no bind parameters: every ':' is literal (e.g. in '…T%H:00:00Z').

    Going through ``text()`` (not the raw driver) lets SQLAlchemy escape '%' for psycopg2.
    """
    return sa.text(sql.replace(":", "\\:"))


def _begin_transactional_ddl(conn: sa.Connection) -> None:
    """pysqlite opens a transaction only before DML; open it now so DDL rolls back with the rest."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if not raw.in_transaction:
            conn.exec_driver_sql("BEGIN")


def _relkind(conn: sa.Connection, name: str) -> str | None:
    """'table', 'view' or None for a relation in the main schema / search path."""
    if conn.dialect.name == "sqlite":
        row = conn.execute(sa.text("SELECT type FROM sqlite_master WHERE name = :n AND type IN ('table', 'view')"),
                           {"n": name}).first()
        return row[0] if row else None
    row = conn.execute(sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}).first()
    if not row:
        return None
    return {"r": "table", "p": "table", "v": "view"}.get(row[0], "table")


def _columns(conn: sa.Connection, qualified: str, pg: bool) -> list[tuple[str, str]]:
    """(name, declared type) of each column, in order."""
    if pg:
        rows = conn.execute(sa.text(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(:n) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"), {"n": qualified})
        return [(r[0], r[1]) for r in rows]
    schema, _, table = qualified.rpartition(".")
    rows = conn.exec_driver_sql(f"PRAGMA {schema or 'main'}.table_info({table})")
    return [(r[1], r[2]) for r in rows]


_SQLITE_TOKEN = [
    re.compile(r"no such column: (?P<t>\S+)"),
    re.compile(r"no such table: (?:main\.|temp\.)?(?P<t>\S+)"),
    re.compile(r"no such function: (?P<t>\w+)"),
    re.compile(r"ambiguous column name: (?P<t>\S+)"),
    re.compile(r'near "(?P<t>[^"]+)": syntax error'),
    re.compile(r"misuse of (?:aggregate|window) function (?P<t>\w+)\(\)"),
    re.compile(r"(?:misuse of aliased aggregate|no such window:) (?P<t>\w+)"),
]


def _model_error(model: SqlModel, compiled: CompiledModel, exc: sa.exc.DBAPIError, offset: int) -> SqlModelError:
    orig = getattr(exc, "orig", None) or exc
    message = str(orig).strip()
    reason = message.splitlines()[0] if message else type(orig).__name__
    line: int | None = None
    m = re.search(r"^LINE (\d+):", message, re.MULTILINE)
    if m:
        line = int(m.group(1)) - offset
    else:
        pos = getattr(getattr(orig, "diag", None), "statement_position", None)
        if pos:
            statement = getattr(exc, "statement", "") or ""
            line = statement.count("\n", 0, int(pos) - 1) + 1 - offset
        else:
            line = _line_of_token(compiled.sql, reason)
    n_lines = len(compiled.sql.splitlines())
    if line is not None and not 1 <= line <= n_lines:
        line = None
    return model.error(line, reason)


def _line_of_token(sql: str, reason: str) -> int | None:
    for pattern in _SQLITE_TOKEN:
        m = pattern.search(reason)
        if not m:
            continue
        token = m.group("t")
        for candidate in dict.fromkeys([token, token.rsplit(".", 1)[-1]]):
            lead = r"(?<![\w.])" if candidate[:1].isalnum() or candidate[:1] == "_" else ""
            tail = r"(?!\w)" if candidate[-1:].isalnum() or candidate[-1:] == "_" else ""
            rx = re.compile(lead + re.escape(candidate) + tail, re.IGNORECASE)
            for i, line in enumerate(sql.splitlines(), start=1):
                code = line.split("--", 1)[0]
                if rx.search(code):
                    return i
    return None
