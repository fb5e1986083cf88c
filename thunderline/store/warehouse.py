"""The warehouse: tenant-scoped, transactional access to the schema.

Why a wrapper rather than bare engines: two promises must hold on both
backends. (1) One tenant never reads or writes another's rows: every
:class:`TenantSession` filters by its tenant and refuses rows stamped with a
different one; on PostgreSQL the database enforces it as well (row-level
security keyed by a per-transaction setting). (2) A batch is all or nothing:
a session is one transaction, rolled back on any error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from thunderline.store import postgres as pg
from thunderline.store.schema import PARTITIONED_BY_MONTH, metadata

TENANT_SETTING = "thunderline.tenant_id"


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; the message names the setting and the cause."""


class TenantViolation(PermissionError):
    """A row stamped with another tenant was offered to a tenant session."""


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable url>"


def month_of_us(ts_us: int) -> str:
    return dt.datetime.fromtimestamp(ts_us / 1e6, tz=dt.timezone.utc).strftime("%Y-%m")


class Warehouse:
    """Owns the engine. Cheap to share; create one per process and reuse it."""

    def __init__(self, url: str, *, setting_name: str = "THUNDERLINE_WAREHOUSE_URL") -> None:
        self.url = url
        self.setting_name = setting_name
        backend = make_url(url).get_backend_name()
        self.dialect = backend
        if backend == "sqlite":
            self.engine: Engine = sa.create_engine(url, connect_args={"timeout": 60})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        self._known_partitions: set[str] = set()

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def check(self) -> None:
        """Connect once; raise WarehouseError naming the setting when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            cause = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise WarehouseError(f"{self.setting_name}={redact(self.url)}: cannot connect ({cause})") from None

    def init_schema(self) -> list[str]:
        """Create every table, index, partition parent and RLS policy. Idempotent. Returns notes."""
        self.check()
        notes: list[str] = []
        if self.is_postgres:
            with self.engine.begin() as conn:
                notes += pg.create_schema(conn, metadata)
        else:
            metadata.create_all(self.engine)
        return notes

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def session(self, tenant_id: str) -> Iterator["TenantSession"]:
        """One transaction scoped to ``tenant_id``; commits on success, rolls back on any error."""
        if not tenant_id:
            raise ValueError("a tenant_id is required")
        with self.engine.begin() as conn:
            if self.is_postgres:
                conn.execute(sa.select(sa.func.set_config(TENANT_SETTING, tenant_id, True)))
            yield TenantSession(self, conn, tenant_id)

    def ensure_partitions(self, conn: sa.Connection, table: str, months: Iterable[str]) -> None:
        if not self.is_postgres or table not in PARTITIONED_BY_MONTH:
            return
        for month in sorted(set(months)):
            name = f"{table}_{month.replace('-', '_')}"
            if name in self._known_partitions:
                continue
            pg.ensure_month_partition(conn, table, month)
            self._known_partitions.add(name)


class TenantSession:
    """Everything a tenant may do inside one transaction."""

    def __init__(self, warehouse: Warehouse, conn: sa.Connection, tenant_id: str) -> None:
        self.warehouse = warehouse
        self.conn = conn
        self.tenant_id = tenant_id

    # -- helpers
    def table(self, name: str) -> sa.Table:
        return metadata.tables[name]

    def _stamp(self, table: sa.Table, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in rows:
            r = dict(r)
            t = r.setdefault("tenant_id", self.tenant_id)
            if t != self.tenant_id:
                raise TenantViolation(
                    f"{table.name}: row for tenant {t!r} offered to a session of tenant {self.tenant_id!r}"
                )
            out.append(r)
        return out

    def _prepare(self, name: str, rows: Iterable[Mapping[str, Any]]) -> tuple[sa.Table, list[dict]]:
        table = self.table(name)
        rows = self._stamp(table, rows)
        part_col = PARTITIONED_BY_MONTH.get(name)
        if rows and part_col:
            self.warehouse.ensure_partitions(self.conn, name, {month_of_us(r[part_col]) for r in rows})
        return table, rows

    # -- writes
    def insert(self, name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        table, rows = self._prepare(name, rows)
        if rows:
            self.conn.execute(table.insert(), rows)
        return len(rows)

    def upsert(self, name: str, rows: Sequence[Mapping[str, Any]], chunk: int = 2000) -> int:
        """Insert or replace by primary key: re-running a computation never duplicates rows."""
        table, rows = self._prepare(name, rows)
        if not rows:
            return 0
        if self.warehouse.is_postgres:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        pk = [c.name for c in table.primary_key.columns]
        for i in range(0, len(rows), chunk):
            part = rows[i : i + chunk]
            stmt = dialect_insert(table)
            cols = [c for c in part[0] if c not in pk and c != "inserted_at"]
            stmt = stmt.on_conflict_do_update(
                index_elements=pk, set_={c: stmt.excluded[c] for c in cols}
            ) if cols else stmt.on_conflict_do_nothing(index_elements=pk)
            self.conn.execute(stmt, part)
        return len(rows)

    def delete(self, name: str, *where: sa.ColumnElement[bool]) -> int:
        table = self.table(name)
        res = self.conn.execute(table.delete().where(table.c.tenant_id == self.tenant_id, *where))
        return res.rowcount or 0

    # -- reads
    def select(
        self,
        name: str,
        *where: sa.ColumnElement[bool],
        columns: Sequence[str] | None = None,
        order_by: Sequence[Any] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        table = self.table(name)
        cols = [table.c[c] for c in columns] if columns else [table]
        stmt = sa.select(*cols).where(table.c.tenant_id == self.tenant_id, *where)
        if order_by:
            stmt = stmt.order_by(*order_by)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [dict(r._mapping) for r in self.conn.execute(stmt)]

    def count(self, name: str, *where: sa.ColumnElement[bool]) -> int:
        table = self.table(name)
        stmt = sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == self.tenant_id, *where)
        return int(self.conn.execute(stmt).scalar_one())

    def execute(self, stmt, params: Mapping[str, Any] | None = None) -> sa.CursorResult:
        """Run a raw statement inside this tenant's transaction (RLS still applies on PostgreSQL)."""
        if isinstance(stmt, str):
            stmt = sa.text(stmt)
        return self.conn.execute(stmt, params or {})


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()
