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
import json
import sqlite3
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import orjson
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from thunderline.partitioning import month_of_us, months_of_us
from thunderline.store import bulk, migrations
from thunderline.store import postgres as pg
from thunderline.store.errors import SchemaMismatch
from thunderline.store.schema import PARTITIONED_BY_MONTH, metadata, utcnow

_PARTITION_DDL_LOCK = 0x544C5044  # advisory lock key ("TLPD") serialising month-partition DDL across processes

TENANT_SETTING = "thunderline.tenant_id"


PG_CONNECT_TIMEOUT_S = 5


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; the message names the setting and the cause."""


class TenantViolation(PermissionError):
    """A row stamped with another tenant was offered to a tenant session."""


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable url>"


class Warehouse:
    """Owns the engine. Cheap to share; create one per process and reuse it."""

    def __init__(self, url: str, *, setting_name: str = "THUNDERLINE_WAREHOUSE_URL") -> None:
        self.url = url
        self.setting_name = setting_name
        backend = make_url(url).get_backend_name()
        self.dialect = backend
        if backend == "sqlite":
            self.engine: Engine = sa.create_engine(url, connect_args={"timeout": 60}, json_serializer=json_dumps,
                                                   json_deserializer=json_loads)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            # a down or unroutable server fails in seconds with WarehouseError, never hangs a command
            connect_args = {} if "connect_timeout" in url else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
            self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                                           connect_args=connect_args,
                                           json_serializer=json_dumps, json_deserializer=json_loads)
            sa.event.listen(self.engine, "connect", _pg_session_settings)
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
        """Upgrade the schema to the head migration (creating it when empty). Idempotent. Returns notes.

        The one way tables get created (see :mod:`thunderline.store.migrations`); a warehouse
        already at head costs one read of its version table.
        """
        return self.migrate("upgrade", "head")

    def migrate(self, direction: str, revision: str) -> list[str]:
        """``upgrade`` or ``downgrade`` to ``revision``; WarehouseError names a bad revision or schema."""
        self.check()
        try:
            if direction == "upgrade":
                notes = migrations.upgrade(self.engine, revision)
            else:
                migrations.downgrade(self.engine, revision)
                notes = []
        except (SchemaMismatch, migrations.MigrationError) as exc:
            raise WarehouseError(f"{self.setting_name}={redact(self.url)}: {exc}") from None
        if self.is_postgres:
            with self.engine.connect() as conn:
                notes += pg.rls_bypass_notes(conn)
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

    def ensure_months(self, months: Iterable[str]) -> None:
        """Create the month partitions of every month-partitioned table before a writing transaction opens.

        Why outside the writer's transaction: ``CREATE TABLE … PARTITION OF`` takes an ACCESS EXCLUSIVE lock on
        the parent, so two workers writing the same new month in parallel (the scale-out profile) deadlock when
        each creates it inside its own transaction. Here each partition is created in its own short transaction,
        serialised across processes by an advisory lock; the writer then finds it and takes no DDL lock.
        """
        if not self.is_postgres:
            return
        wanted = [(t, m) for m in sorted(set(months)) for t in sorted(PARTITIONED_BY_MONTH)
                  if f"{t}_{m.replace('-', '_')}" not in self._known_partitions]
        if not wanted:
            return
        with self.engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PARTITION_DDL_LOCK)))
            for table, month in wanted:  # an existing partition takes no lock at all (to_regclass reads the catalog)
                name = f"{table}_{month.replace('-', '_')}"
                if conn.execute(sa.select(sa.func.to_regclass(name))).scalar() is None:
                    pg.ensure_month_partition(conn, table, month)
        self._known_partitions.update(f"{t}_{m.replace('-', '_')}" for t, m in wanted)

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

    def insert_new(self, name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows whose primary key is not there yet; existing rows are left untouched.

        Why: two writers that both saw a key missing (a sensor and an ``ingest``) must not
        turn the second insert into an IntegrityError. Returns the rows actually inserted.
        """
        table, rows = self._prepare(name, rows)
        if not rows:
            return 0
        if self.warehouse.is_postgres:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        pk = [c.name for c in table.primary_key.columns]
        n = 0
        for r in rows:
            n += self.conn.execute(dialect_insert(table).values(**r).on_conflict_do_nothing(index_elements=pk)).rowcount or 0
        return n

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

    def upsert_columns(self, name: str, columns: Mapping[str, Sequence[Any]], *, json_text: bool = False,
                       chunk: int = 5000) -> int:
        """:meth:`upsert` for many rows given as columns, through the driver's bulk path.

        Why: SQLAlchemy's per-row parameter processing cost more than the database
        write for decision traces and their lineage (tens of thousands of rows a
        second). Columns are equal-length sequences; ``tenant_id`` is stamped here
        (a column that disagrees with the session raises), ``inserted_at`` is now.
        ``json_text=True``: JSON columns already hold serialised text (for example
        from orjson); otherwise they are serialised with :func:`json_dumps`.
        Same semantics as :meth:`upsert`: insert, or replace every non-key column.
        A column may also be an Arrow array (PostgreSQL serialises it for COPY as is).
        A key given twice is written once, as its last row (both backends; PostgreSQL
        would refuse the batch otherwise); the count returned is of distinct keys.
        """
        table = self.table(name)
        cols = dict(columns)
        n = len(next(iter(cols.values()))) if cols else 0
        if any(len(v) != n for v in cols.values()):
            raise ValueError(f"{name}: columns of different lengths {sorted({len(v) for v in cols.values()})}")
        if n == 0:
            return 0
        unknown = set(cols) - set(table.c.keys())
        if unknown:
            raise ValueError(f"{name}: unknown columns {sorted(unknown)}")
        if "tenant_id" in cols:
            bad = next((t for t in cols["tenant_id"] if t != self.tenant_id), None)
            if bad is not None:
                raise TenantViolation(f"{name}: row for tenant {bad!r} offered to a session of tenant {self.tenant_id!r}")
        cols["tenant_id"] = [self.tenant_id] * n
        pk = [c.name for c in table.primary_key.columns]
        cols, n = _last_row_per_key(cols, [c for c in pk if c != "tenant_id"], n)
        part_col = PARTITIONED_BY_MONTH.get(name)
        if part_col and self.warehouse.is_postgres:  # months in bulk: one month_of_us per row was 30 % of a write
            starts = np.unique(np.asarray(cols[part_col], dtype=np.int64))
            self.warehouse.ensure_partitions(self.conn, name, set(months_of_us(starts).tolist()))
        json_cols = {c.name for c in table.c if isinstance(c.type, sa.JSON)}
        for c in json_cols & set(cols):
            if not json_text:
                cols[c] = _json_column(cols[c])
        stamp = "inserted_at" in table.c and "inserted_at" not in cols
        if self.warehouse.is_postgres:
            # COPY into a staging table, one INSERT … SELECT … ON CONFLICT per chunk (see store.bulk)
            names = list(cols)
            cur = self.conn.connection.dbapi_connection.cursor()
            try:
                for i in range(0, n, chunk):
                    part = {c: v[i:i + chunk] for c, v in cols.items()}
                    bulk.copy_upsert(cur, name, names, part, pk, {"inserted_at": utcnow()} if stamp else None)
            finally:
                cur.close()
            return n
        if stamp:
            proc = table.c.inserted_at.type._cached_bind_processor(self.conn.dialect)
            now = utcnow()
            cols["inserted_at"] = [proc(now) if proc else now] * n  # stored exactly as upsert() stores it
        names = list(cols)
        for c in names:
            if isinstance(cols[c], (pa.Array, pa.ChunkedArray)):
                cols[c] = cols[c].to_pylist()
        update = [c for c in names if c not in pk and c != "inserted_at"]
        quoted = ", ".join(f'"{c}"' for c in names)
        conflict = (f'ON CONFLICT ({", ".join(pk)}) DO UPDATE SET '
                    + ", ".join(f'"{c}" = excluded."{c}"' for c in update)) if update else \
            f'ON CONFLICT ({", ".join(pk)}) DO NOTHING'
        _sqlite_insert(self.conn, f'INSERT INTO "{name}" ({quoted}) VALUES', conflict, names, cols, n)
        return n

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


def _last_row_per_key(cols: dict[str, Any], key: list[str], n: int) -> tuple[dict[str, Any], int]:
    """``cols`` with only the last row of every key, in their order; the same ``cols`` when no key repeats.

    Why: one ``INSERT … ON CONFLICT`` cannot touch a row twice on PostgreSQL ("ON CONFLICT DO
    UPDATE command cannot affect row a second time") while SQLite applies the rows in order and
    keeps the last; deduplicating here makes both keep the last row. One Arrow group-by (C++)
    over the key columns, so a batch without repeats costs ~microseconds per thousand rows.
    """
    if not key or n < 2 or any(k not in cols for k in key):
        return cols, n
    keys = pa.table({k: _as_arrow(cols[k]) for k in key}).append_column("__row", pa.array(np.arange(n)))
    last = keys.group_by(key, use_threads=False).aggregate([("__row", "max")]).column("__row_max").to_numpy()
    if last.shape[0] == n:
        return cols, n
    rows = np.sort(last)
    keep = rows.tolist()
    out = {c: (v.take(pa.array(rows)) if isinstance(v, (pa.Array, pa.ChunkedArray)) else
               v[rows] if isinstance(v, np.ndarray) else [v[i] for i in keep]) for c, v in cols.items()}
    return out, len(keep)


def _as_arrow(v: Any) -> pa.Array | pa.ChunkedArray:
    return v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v if isinstance(v, (list, np.ndarray)) else list(v))


#: Host parameters one SQLite statement may bind (SQLITE_MAX_VARIABLE_NUMBER: 32766 since 3.32, 999 before).
_SQLITE_MAX_VARS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_SQLITE_ROWS_PER_STATEMENT = 256


def _sqlite_insert(conn, head: str, conflict: str, names: list[str], cols: Mapping[str, Sequence[Any]],
                   n: int) -> None:
    """Insert ``n`` rows of ``cols`` with multi-row ``VALUES`` statements, one prepared statement per row count.

    Why not ``executemany`` of a one-row statement: Python's sqlite3 releases the GIL around every
    ``sqlite3_step`` and takes it back for the next row, so a writer thread next to the deciding
    thread queued for the GIL once per row (4,096 times a batch). A statement of 256 rows is one
    step: the B-tree work of 256 rows runs without the GIL, and binding is one flat list. Rows of
    one statement apply in order, so a key repeated within a batch ends as its last row, as before.
    """
    k = max(1, min(_SQLITE_ROWS_PER_STATEMENT, _SQLITE_MAX_VARS // max(len(names), 1)))
    row = "(" + ", ".join("?" for _ in names) + ")"
    width = len(names)
    statements: dict[int, str] = {}
    for i in range(0, n, k):
        m = min(k, n - i)
        sql = statements.get(m)
        if sql is None:
            sql = statements[m] = f"{head} {', '.join([row] * m)} {conflict}"
        flat: list[Any] = [None] * (m * width)
        for j, c in enumerate(names):
            flat[j::width] = cols[c][i:i + m]
        conn.exec_driver_sql(sql, tuple(flat))


def _json_column(values: Sequence[Any]) -> list[str | None]:
    """Serialise a JSON column, once per distinct object: bulk rows often share one value
    (every lineage edge of a decision batch carries the same empty ``meta``)."""
    done: dict[int, str] = {}
    out: list[str | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        text = done.get(id(v))
        if text is None:
            text = done[id(v)] = json_dumps(v)
        out.append(text)
    return out


def json_dumps(obj: Any) -> str:
    """JSON columns' serializer: orjson where it writes what ``json.dumps`` would mean, else ``json.dumps``.

    Why: decision traces write several JSON columns per row and the stdlib encoder
    was a third of persisting them. orjson differs from ``json.dumps`` in three ways
    that matter here, and each falls back: NaN/±inf become ``null`` (so any output
    containing ``null`` is re-encoded, keeping NaN where the stdlib kept it),
    integers beyond 64 bits and non-string keys raise.
    """
    try:
        out = orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj)
    if b"null" in out:
        return json.dumps(obj)
    return out.decode()


def json_loads(text: str | bytes) -> Any:
    """orjson, or the stdlib for what it refuses (NaN and Infinity literals)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _pg_session_settings(dbapi_conn, _record) -> None:
    """PostgreSQL session settings for a bulk-writing warehouse (chosen with bench/decisions.py):

    * ``default_toast_compression = lz4`` where the server has it: a decision trace row carries
      ~2 KB of JSON, over the TOAST threshold, so its documents are compressed on the way in —
      first in the COPY staging table, whose compressed values the upsert then moves as they are.
      pglz (the default) cost ~6 of the ~18 µs of server CPU a raw COPY spends per trace row;
      lz4 gives the same size on these documents. Values already stored keep their method;
      both read back transparently.
    """
    cur = dbapi_conn.cursor()
    try:
        cur.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        row = cur.fetchone()
        if row and row[0]:
            cur.execute("SET default_toast_compression = 'lz4'")
        dbapi_conn.commit()  # a session setting: kept whatever the first transaction does
    finally:
        cur.close()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """SQLite settings for a bulk-writing warehouse (chosen with bench/decisions.py):

    * 16 KB pages (takes effect when the file is created; an existing file keeps its size):
      decision traces are ~2 KB rows, and 16 KB pages cost 25-30 % less CPU per persisted
      decision than the 4 KB default (fewer page splits and B-tree levels);
    * WAL with ``synchronous=NORMAL``: one fsync per checkpoint instead of per commit;
      a crash loses at most the last transactions, never consistency;
    * a 128 MB page cache, so a month-sized batch's index pages stay in memory.
    Writes themselves go through multi-row ``INSERT … VALUES`` statements (:func:`_sqlite_insert`)
    over the batch, inside the session's single transaction (:meth:`TenantSession.upsert_columns`).
    """
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA page_size=16384")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    # 128 MB page cache (the default is 2 MB): with the default, inserts into a month-sized index
    # (feature_window_id is a random uuid) missed it.
    cur.execute("PRAGMA cache_size=-131072")
    cur.close()
