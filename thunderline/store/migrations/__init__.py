"""Warehouse schema migrations: Alembic, run from code on the caller's engine.

Why Alembic, and why here: the warehouse lives for years (months of partitions on
PostgreSQL) while the schema keeps moving; ``CREATE TABLE`` from the metadata cannot
change an existing table. Every schema change is therefore a revision in ``versions/``,
and there is one way tables get created: :func:`upgrade` to head (``db init``,
``Warehouse.init_schema`` and ``open_stores(init_schema=True)`` all call it). Revision
``0001`` is the schema as it was when migrations arrived; a warehouse created before then
(tables, no version table) is checked against that baseline and stamped, never
re-created. The script location is set in code, so no ``alembic.ini`` is needed.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from thunderline.store.errors import SchemaMismatch

#: The revision equal to the schema of the releases before migrations (adoption target).
BASELINE = "0001"
#: Serialises migrators on PostgreSQL (the key the pre-migration ``init_schema`` used).
PG_LOCK_KEY = 7405335102
#: An unknown or ambiguous revision, or a downgrade past base.
MigrationError = CommandError


#: Our own version table, not Alembic's default ``alembic_version``: the Dagster instance (dagster-postgres)
#: and MLflow's tracking store keep their Alembic revisions there, and may share the warehouse's database.
VERSION_TABLE = "thunderline_schema_version"

def config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config pointing at this package; ``connection`` is what env.py migrates."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.attributes["connection"] = connection
    return cfg


@functools.lru_cache(maxsize=1)
def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head()


def current(engine: sa.Engine) -> str | None:
    """The warehouse's revision; None for an empty or pre-migration warehouse."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def autogenerate_filter(dialect: str):
    """Alembic ``include_object`` for autogenerate: on SQLite, skip the expression (``DESC``) indexes.

    SQLite cannot reflect them, so autogenerate would draft a drop-and-recreate of each every time.
    PostgreSQL compares them, so a real change to one is still caught there.
    """
    def include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and name == VERSION_TABLE:
            return False  # ours, not the models'
        if dialect != "sqlite" or type_ != "index":
            return True
        index = compare_to if reflected else obj
        return index is None or not any(isinstance(e, sa.TextClause) for e in index.expressions)
    return include


@contextlib.contextmanager
def _locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction holding the migration lock, so check-then-migrate cannot race."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, waiting out busy_timeout
        else:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def upgrade(engine: sa.Engine, revision: str = "head") -> list[str]:
    """Bring the warehouse to ``revision`` (adopting a pre-migration one first). Returns notes.

    Fast when already at head: one read of the version table, no lock taken.
    """
    if revision == "head" and current(engine) == head():
        return []
    with _locked(engine) as conn:
        notes = adopt_legacy(conn)
        command.upgrade(config(conn), revision)
    return notes


def downgrade(engine: sa.Engine, revision: str) -> None:
    with _locked(engine) as conn:
        command.downgrade(config(conn), revision)


@functools.lru_cache(maxsize=1)
def baseline_shape() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """{table: (columns, index names)} of revision ``0001``, read from an in-memory SQLite built by it."""
    engine = sa.create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            command.upgrade(config(conn), BASELINE)
            return _shape(conn, None)
    finally:
        engine.dispose()


def _shape(conn: sa.Connection, only: set[str] | None) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    insp = sa.inspect(conn)
    names = [t for t in insp.get_table_names() if t != VERSION_TABLE and (only is None or t in only)]
    return {t: (frozenset(c["name"] for c in insp.get_columns(t)), _index_names(insp, t)) for t in names}


def _index_names(insp: sa.Inspector, table: str) -> frozenset[str]:
    """Indexes and unique constraints by name (PostgreSQL lists a unique constraint's index as an index too)."""
    indexes = {i["name"] for i in insp.get_indexes(table) if "duplicates_constraint" not in i}
    return frozenset(indexes | {u["name"] for u in insp.get_unique_constraints(table)})


def adopt_legacy(conn: sa.Connection) -> list[str]:
    """Stamp a warehouse created before migrations with the baseline, after checking it is one.

    A database without our version table but with warehouse tables was made by
    ``metadata.create_all`` of the previous releases: it must have exactly the baseline's
    tables, columns and indexes (and, on PostgreSQL, the tenant policies), else
    :class:`SchemaMismatch` names the difference and nothing is changed.
    """
    insp = sa.inspect(conn)
    present = set(insp.get_table_names())
    expected = baseline_shape()
    if VERSION_TABLE in present or not present & set(expected):
        return []
    have = _shape(conn, set(expected))
    problems = [f"table {t} missing" for t in sorted(set(expected) - set(have))]
    for t in sorted(have):
        (cols, idx), (want_cols, want_idx) = have[t], expected[t]
        problems += [f"{t}: {what} {sorted(diff)}" for what, diff in (
            ("unexpected columns", cols - want_cols), ("missing columns", want_cols - cols),
            ("unexpected indexes/uniques", idx - want_idx), ("missing indexes/uniques", want_idx - idx)) if diff]
    if conn.dialect.name == "postgresql":
        problems += [f"{t}: no tenant_isolation policy" for t in sorted(set(expected) - _policed(conn))]
    if problems:
        raise SchemaMismatch("warehouse predates migrations but is not the baseline schema "
                             f"{BASELINE}: " + "; ".join(problems))
    command.stamp(config(conn), BASELINE)
    return [f"adopted a warehouse created before migrations: stamped {BASELINE}"]


def _policed(conn: sa.Connection) -> set[str]:
    rows = conn.execute(sa.text("SELECT tablename FROM pg_policies WHERE schemaname = current_schema() "
                                "AND policyname = 'tenant_isolation'"))
    return {r[0] for r in rows}

