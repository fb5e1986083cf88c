"""Warehouse migrations on SQLite and PostgreSQL: head equals the models, pre-migration warehouses are adopted.

Why these tests: migrations are now the only way tables get created, so (1) an empty database
upgraded to head must be exactly what ``metadata.create_all`` (plus RLS on PostgreSQL) builds,
(2) the models and the head revision must not drift (autogenerate finds nothing), (3) a warehouse
made by the release before migrations — the checked-in DDL snapshot in ``snapshots/``, produced by
that code — is adopted with its rows intact, and (4) the latest revision can be downgraded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from thunderline.store import Warehouse, WarehouseError, metadata, migrations

SNAPSHOTS = Path(__file__).parent / "snapshots"
JAN = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z in µs
FEB = 1_706_745_600_000_000


@pytest.fixture
def empty_url(warehouse_url):
    """The parametrised (empty) warehouse database; nothing initialises it."""
    return warehouse_url


@pytest.fixture
def second_url(warehouse_url, tmp_path):
    """A second empty database on the same backend (for the create_all reference)."""
    if warehouse_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'reference.db'}"
        return
    from pg_support import APP_ROLE, database_name, drop_database_later, require_pg

    from thunderline.store.postgres import provision_database

    admin, name = require_pg(), database_name()
    try:
        yield provision_database(admin, name, APP_ROLE)
    finally:
        drop_database_later(admin, name)  # pg_support's background dropper


def shape(engine: sa.Engine) -> dict:
    """Tables, columns, keys and indexes as SQLAlchemy inspection sees them (+ RLS and partitioning on PG)."""
    insp = sa.inspect(engine)
    out = {}
    for t in sorted(set(insp.get_table_names()) - {migrations.VERSION_TABLE}):
        cols = [(c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in insp.get_columns(t)]
        idx = sorted((i["name"], tuple(map(str, i["column_names"])), tuple(map(str, i.get("expressions") or ())),
                      bool(i["unique"]), sorted((k, str(v)) for k, v in (i.get("dialect_options") or {}).items()))
               for i in insp.get_indexes(t))
        uniq = sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(t))
        out[t] = (cols, tuple(insp.get_pk_constraint(t)["constrained_columns"]), idx, uniq)
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            out["<policies>"] = sorted(map(tuple, c.execute(sa.text(
                "SELECT tablename, policyname, qual, with_check FROM pg_policies WHERE schemaname = 'public'"))))
            out["<rls>"] = sorted(map(tuple, c.execute(sa.text(
                "SELECT relname, relrowsecurity, relforcerowsecurity, relkind FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') "
                f"AND relname <> '{migrations.VERSION_TABLE}'"))))
            out["<partitioning>"] = sorted(map(tuple, c.execute(sa.text(
                "SELECT partrelid::regclass::text, pg_get_partkeydef(partrelid) FROM pg_partitioned_table"))))
    return out


def reference_shape(url: str) -> dict:
    """What the pre-migration init_schema built: ``metadata.create_all``, then RLS on every table."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            if conn.dialect.name == "postgresql":
                from thunderline.store.postgres import POLICY, TENANT_EXPR
                for t in metadata.sorted_tables:
                    conn.exec_driver_sql(f'ALTER TABLE "{t.name}" ENABLE ROW LEVEL SECURITY')
                    conn.exec_driver_sql(f'ALTER TABLE "{t.name}" FORCE ROW LEVEL SECURITY')
                    conn.exec_driver_sql(f'CREATE POLICY {POLICY} ON "{t.name}" USING ({TENANT_EXPR}) '
                                         f"WITH CHECK ({TENANT_EXPR})")
                from thunderline.store.postgres import SHARED_READ_TABLES, shared_read_statement
                for name in SHARED_READ_TABLES:  # 0005: the shared router versions are readable by every tenant
                    conn.exec_driver_sql(shared_read_statement(f'"{name}"'))
        return shape(engine)
    finally:
        engine.dispose()


def test_upgrade_of_an_empty_database_equals_create_all(empty_url, second_url):
    wh = Warehouse(empty_url)
    try:
        assert wh.init_schema() == []
        assert migrations.current(wh.engine) == migrations.head()
        got = shape(wh.engine)
    finally:
        wh.dispose()
    want = reference_shape(second_url)
    assert set(got) == set(want)
    for key in want:
        assert got[key] == want[key], key


def test_models_and_head_migration_do_not_drift(warehouse):
    """Autogenerate against a head warehouse reports nothing: a model change without a revision fails here."""
    with warehouse.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": migrations.autogenerate_filter(conn.dialect.name)})
        diffs = compare_metadata(ctx, metadata)
    assert diffs == []


def test_downgrade_of_the_latest_revision_on_an_empty_database(empty_url):
    from alembic.script import ScriptDirectory

    latest = ScriptDirectory.from_config(migrations.config()).get_revision(migrations.head())
    wh = Warehouse(empty_url)
    try:
        wh.init_schema()
        wh.migrate("downgrade", "-1")
        assert migrations.current(wh.engine) == latest.down_revision
        if latest.down_revision is None:  # the baseline: nothing of ours is left
            assert set(sa.inspect(wh.engine).get_table_names()) <= {migrations.VERSION_TABLE}
        wh.init_schema()  # and back up again
        assert migrations.current(wh.engine) == migrations.head()
    finally:
        wh.dispose()


def test_db_current_prints_the_head(settings_env, capsys):
    from thunderline_cli.main import main

    assert main(["db", "init"]) == 0
    assert "warehouse ready at revision " + migrations.head() in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == f"{migrations.head()} (head)"
    assert main(["db", "upgrade", "no-such-rev"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no-such-rev" in err


def load_pre_migration_snapshot(url: str) -> None:
    """Build the previous release's schema from the checked-in DDL (as the app role, on PG)."""
    dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
    sql = (SNAPSHOTS / f"pre_migration_{dialect}.sql").read_text()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if dialect == "sqlite":
                conn.connection.driver_connection.executescript(sql)
            else:
                conn.exec_driver_sql(sql)
                conn.commit()
    finally:
        engine.dispose()


def fill(wh: Warehouse) -> None:
    """Rows in the big partitioned tables (two months), JSON columns and small tables, for two tenants."""
    for tenant in ("a", "b"):
        with wh.session(tenant) as s:
            s.upsert("feature_windows", [dict(
                id=f"{tenant}{i}", kind="market", key="AMZN", window_start=start + i, window_end=start + i + 250_000,
                available_at=start + i + 250_000, feature_schema_version="fs-1", recipe_version="r1",
                status="filled", features={"mid": 100.0 + i, "spread": [1, 2]}, provenance={"batch": [tenant]},
                content_hash=f"h{i}") for i, start in enumerate([JAN, JAN, FEB] * 3)])
            s.upsert("decision_traces", [dict(
                id=f"d{tenant}{i}", feature_window_id=f"{tenant}{i}", symbol="AMZN", window_start=FEB + i,
                window_end=FEB + i + 1, router_version="v1", gate_scores=[[0.25, 0.75]], selected_experts=[1],
                expert_actions=[{"a": "buy"}], blended_action="buy", blended_confidence=0.5, blended_score=0.4,
                risk_flags=[], embedding=[0.1, 0.2], content_hash=f"c{i}") for i in range(5)])
            s.upsert("quarantine", [dict(id=f"q{tenant}", stage="raw_ticks", source="f.csv", row_number=3,
                                         field="px", reason="not a number", raw="x")])
            s.upsert("router_configs", [dict(id=f"r{tenant}", version="v1", config={"d": 4}, gates=[[[0.0]]],
                                             experts=[["x"]], is_active=True)])


def digest(wh: Warehouse) -> dict[str, str]:
    """sha256 per tenant and table of its rows, canonically ordered (inserted_at left out: bookkeeping)."""
    out = {}
    for tenant in ("a", "b"):
        with wh.session(tenant) as s:
            for table in ("feature_windows", "decision_traces", "quarantine", "router_configs"):
                rows = sorted(json.dumps({k: v for k, v in r.items() if k != "inserted_at"}, sort_keys=True,
                                         default=str) for r in s.select(table))
                out[f"{tenant}/{table}"] = hashlib.sha256("\n".join(rows).encode()).hexdigest() + f":{len(rows)}"
    return out


def test_a_pre_migration_warehouse_is_adopted_with_nothing_lost(empty_url):
    load_pre_migration_snapshot(empty_url)
    wh = Warehouse(empty_url)
    try:
        fill(wh)  # the previous release's code path writes without any migration
        before = digest(wh)
        assert migrations.current(wh.engine) is None
        notes = wh.init_schema()
        assert notes[0] == f"adopted a warehouse created before migrations: stamped {migrations.BASELINE}"
        assert migrations.current(wh.engine) == migrations.head()
        assert digest(wh) == before
        assert wh.init_schema() == []  # at head: nothing more to do
        with wh.session("b") as s:  # tenant isolation holds after the upgrade
            assert {r["id"][0] for r in s.select("feature_windows")} == {"b"}
            raw = s.execute(sa.text("SELECT count(*) FROM feature_windows")).scalar()  # no WHERE: RLS alone
        if wh.is_postgres:
            assert raw == 9
    finally:
        wh.dispose()


def test_a_warehouse_that_is_not_the_baseline_is_refused_and_left_alone(empty_url):
    load_pre_migration_snapshot(empty_url)
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE quarantine DROP COLUMN field")
        conn.exec_driver_sql("ALTER TABLE experts ADD COLUMN extra TEXT")
    engine.dispose()
    wh = Warehouse(empty_url)
    try:
        with pytest.raises(WarehouseError, match=r"quarantine: missing columns \['field'\].*experts|"
                                                 r"experts: unexpected columns \['extra'\].*quarantine"):
            wh.init_schema()
        assert migrations.current(wh.engine) is None
        assert migrations.VERSION_TABLE not in sa.inspect(wh.engine).get_table_names()
    finally:
        wh.dispose()


@pytest.mark.usefixtures("pg_database")
def test_every_table_at_head_is_under_the_tenant_policy(pg_database):
    """A later revision that adds a table must call enable_tenant_isolation: this is where forgetting fails."""
    wh = Warehouse(pg_database[0])
    try:
        wh.init_schema()
        with wh.engine.connect() as c:
            rls = {r[0]: (r[1], r[2]) for r in c.execute(sa.text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"))}
            policed = {r[0] for r in c.execute(sa.text(
                "SELECT tablename FROM pg_policies WHERE policyname = 'tenant_isolation'"))}
        tables = {t.name for t in metadata.sorted_tables}
        assert all(rls[t] == (True, True) for t in tables) and tables <= policed
    finally:
        wh.dispose()


def test_a_pre_migration_warehouse_that_already_has_compacted_members_keeps_it(empty_url):
    """Revision 0002's table arrived (by create_all) shortly before migrations: such a warehouse keeps its rows."""
    from thunderline.store.ledger_tables import compacted_members

    load_pre_migration_snapshot(empty_url)
    engine = sa.create_engine(empty_url)
    with engine.begin() as conn:
        compacted_members.create(conn)
        conn.execute(compacted_members.insert(), [dict(member_id="m", tenant_id="a", compacted_id="c", ordinal=0,
                                                      rows=7)])  # inserted_at: the column's Python default
    engine.dispose()
    wh = Warehouse(empty_url)
    try:
        wh.init_schema()
        assert migrations.current(wh.engine) == migrations.head()
        with wh.engine.connect() as c:
            assert c.execute(sa.text("SELECT member_id, rows FROM compacted_members")).all() == [("m", 7)]
    finally:
        wh.dispose()


@pytest.mark.usefixtures("pg_database")
def test_month_partitions_are_under_the_tenant_policy_new_and_old(pg_database):
    """The parent's policy binds queries through the parent only: a query naming a month partition directly
    must not read another tenant's rows. New partitions get the policy when created; 0003 adds it to the
    partitions a warehouse already had (made here by hand, as the code before 0003 made them)."""
    wh = Warehouse(pg_database[0])
    try:
        migrations.upgrade(wh.engine, "0002")
        with wh.engine.begin() as c:  # an old partition: no policy of its own
            c.execute(sa.text(f"CREATE TABLE feature_windows_2024_02 PARTITION OF feature_windows "
                              f"FOR VALUES FROM ({FEB}) TO ({FEB + 29 * 86_400_000_000})"))
        wh.init_schema()  # → head
        fill(wh)  # tenants a and b, January (a new partition) and February (the old one)
        for tenant, other in (("a", "b"), ("b", "a")):
            with wh.session(tenant) as s:
                for part in ("feature_windows_2024_01", "feature_windows_2024_02", "decision_traces_2024_02"):
                    seen = {r[0] for r in s.execute(sa.text(f"SELECT DISTINCT tenant_id FROM {part}"))}
                    assert seen == {tenant}, (part, seen)
        migrations.downgrade(wh.engine, "0002")  # and back: the old partition loses its own policy again
        with wh.engine.connect() as c:
            forced = c.execute(sa.text("SELECT relrowsecurity FROM pg_class "
                                       "WHERE relname = 'feature_windows_2024_02'")).scalar()
        assert forced is False
    finally:
        wh.dispose()
