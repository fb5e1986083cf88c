"""The warehouse on both backends: idempotent init, upsert, tenant isolation, rollback, partitions."""

import pytest
import sqlalchemy as sa

from thunderline.store import TenantViolation, Warehouse
from thunderline.store.bulk import copy_payload
from thunderline.store.schema import all_tables

JAN = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z in µs
FEB = 1_706_745_600_000_000  # 2024-02-01


def fw(id_, start, tenant=None, **over):
    row = dict(id=id_, kind="market", key="AMZN", window_start=start, window_end=start + 250_000,
               available_at=start + 250_000, feature_schema_version="fs-1", recipe_version="r1",
               status="filled", features={"x": 1.0}, provenance={"b": ["1"]}, content_hash="h")
    if tenant:
        row["tenant_id"] = tenant
    row.update(over)
    return row


def test_init_is_idempotent_and_creates_every_table(warehouse):
    warehouse.init_schema()
    names = set(sa.inspect(warehouse.engine).get_table_names())
    assert set(all_tables()) <= names
    assert {"raw_tick_batches", "raw_edgar_docs", "feature_windows", "decision_traces", "experts", "lineage_edges",
            "export_jobs", "quarantine", "telemetry_events", "router_configs"} <= names


def test_upsert_replaces_never_duplicates(warehouse):
    with warehouse.session("a") as s:
        s.upsert("feature_windows", [fw("w1", JAN), fw("w2", FEB)])
    with warehouse.session("a") as s:
        s.upsert("feature_windows", [fw("w1", JAN, features={"x": 2.0})])
        rows = s.select("feature_windows", order_by=["window_start"])
    assert [r["id"] for r in rows] == ["w1", "w2"]
    assert rows[0]["features"] == {"x": 2.0}


def test_tenant_cannot_read_or_write_another_tenant(warehouse):
    with warehouse.session("a") as s:
        s.upsert("feature_windows", [fw("wa", JAN)])
    with warehouse.session("b") as s:
        s.upsert("feature_windows", [fw("wb", JAN)])
        assert [r["id"] for r in s.select("feature_windows")] == ["wb"]
        assert s.count("feature_windows") == 1
        assert s.delete("feature_windows") == 1  # only its own row
    with warehouse.session("a") as s:
        assert [r["id"] for r in s.select("feature_windows")] == ["wa"]
    with pytest.raises(TenantViolation):
        with warehouse.session("b") as s:
            s.insert("feature_windows", [fw("evil", JAN, tenant="a")])


def test_same_content_id_in_two_tenants_never_collides(warehouse):
    """Two tenants ingesting the same bytes derive the same ids; each keeps its own row."""
    with warehouse.session("a") as s:
        s.upsert("quarantine", [dict(id="same", stage="t", source="f", reason="a's")])
    with warehouse.session("b") as s:
        s.upsert("quarantine", [dict(id="same", stage="t", source="f", reason="b's")])
    with warehouse.session("a") as s:
        assert [r["reason"] for r in s.select("quarantine")] == ["a's"]
    with warehouse.session("b") as s:
        assert [r["reason"] for r in s.select("quarantine")] == ["b's"]


def test_failed_batch_rolls_back_entirely(warehouse):
    with pytest.raises(sa.exc.IntegrityError):
        with warehouse.session("a") as s:
            s.insert("quarantine", [dict(id="q1", stage="t", source="f", reason="r")])
            s.insert("quarantine", [dict(id="q1", stage="t", source="f", reason="dup")])  # PK clash
    with warehouse.session("a") as s:
        assert s.count("quarantine") == 0


def test_month_partitions_are_created_on_demand(warehouse):
    with warehouse.session("a") as s:
        s.upsert("feature_windows", [fw("w1", JAN), fw("w2", FEB)])
        s.upsert("decision_traces", [dict(id="d1", feature_window_id="w1", symbol="AMZN", window_start=FEB,
                                          window_end=FEB + 1, router_version="v1", gate_scores=[], selected_experts=[],
                                          expert_actions=[], blended_action="hold", blended_confidence=0.0,
                                          risk_flags=[], embedding=[], content_hash="h")])
    if warehouse.is_postgres:
        with warehouse.engine.connect() as c:
            parts = {r[0] for r in c.execute(sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"))}
        assert {"feature_windows_2024_01", "feature_windows_2024_02", "decision_traces_2024_02"} <= parts


@pytest.mark.usefixtures("pg_database")
def test_postgres_row_level_security_binds_the_app_role(pg_database):
    """Raw SQL through the app role: RLS, not our WHERE clauses, keeps tenants apart."""
    app_url, admin_url, _ = pg_database
    wh = Warehouse(app_url)
    assert wh.init_schema() == []  # app role is not a superuser: no RLS-bypass warning
    with wh.session("a") as s:
        s.upsert("feature_windows", [fw("wa", JAN)])
    with wh.engine.begin() as c:
        c.execute(sa.text("SELECT set_config('thunderline.tenant_id', 'b', true)"))
        assert c.execute(sa.text("SELECT count(*) FROM feature_windows")).scalar() == 0
        assert c.execute(sa.text("UPDATE feature_windows SET status='open'")).rowcount == 0
        assert c.execute(sa.text("DELETE FROM feature_windows")).rowcount == 0
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
        with wh.engine.begin() as c:
            c.execute(sa.text("SELECT set_config('thunderline.tenant_id', 'b', true)"))
            c.execute(sa.text(
                "INSERT INTO feature_windows (id, tenant_id, kind, key, window_start, window_end, available_at, "
                "feature_schema_version, recipe_version, status, features, provenance, content_hash, inserted_at) "
                f"VALUES ('x', 'a', 'market', 'K', {JAN}, 1, 1, 'fs', 'r', 'filled', '{{}}', '{{}}', 'h', now())"))
    with wh.engine.begin() as c:  # no tenant set at all: sees nothing
        assert c.execute(sa.text("SELECT count(*) FROM feature_windows")).scalar() == 0
    with wh.session("a") as s:
        assert s.count("feature_windows") == 1
    # the superuser sees both the row and that the policy exists
    admin = Warehouse(admin_url.rsplit("/", 1)[0] + "/" + app_url.rsplit("/", 1)[1])
    with admin.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM feature_windows")).scalar() == 1
        forced = c.execute(sa.text("SELECT relforcerowsecurity FROM pg_class WHERE relname='feature_windows'")).scalar()
        assert forced is True
    admin.dispose()
    wh.dispose()


def _columns(rows):
    return {k: [r[k] for r in rows] for k in rows[0]}


def test_bulk_column_upsert_reads_back_like_upsert(warehouse):
    """upsert_columns (the decision path's driver-level bulk write) stores what upsert stores."""
    rows = [fw("b1", JAN, features={"x": None, "y": 1.5}), fw("b2", FEB, provenance={"b": ["ü"]})]
    with warehouse.session("a") as s:
        s.upsert("feature_windows", rows)
        via_upsert = s.select("feature_windows", order_by=["window_start"])
        s.delete("feature_windows")
        assert s.upsert_columns("feature_windows", _columns(rows)) == 2
        via_columns = s.select("feature_windows", order_by=["window_start"])
    strip = lambda rs: [{k: v for k, v in r.items() if k != "inserted_at"} for r in rs]  # noqa: E731
    assert strip(via_columns) == strip(via_upsert)
    assert all(r["inserted_at"] is not None for r in via_columns)
    assert via_columns[0]["inserted_at"].year >= 2026
    with warehouse.session("a") as s:  # a conflict replaces every non-key column
        s.upsert_columns("feature_windows", _columns([fw("b1", JAN, features={"x": 3.0})]))
        assert s.select("feature_windows", order_by=["window_start"])[0]["features"] == {"x": 3.0}
        assert s.count("feature_windows") == 2


def test_bulk_column_upsert_is_tenant_bound_and_atomic(warehouse):
    with pytest.raises(TenantViolation):
        with warehouse.session("b") as s:
            s.upsert_columns("feature_windows", _columns([fw("evil", JAN, tenant="a")]))
    with pytest.raises(Exception):
        with warehouse.session("b") as s:
            s.upsert_columns("feature_windows", _columns([fw("ok", JAN)]))
            s.upsert_columns("feature_windows", {"id": ["x"], "window_start": [JAN]})  # NOT NULL columns missing
    with warehouse.session("b") as s:
        assert s.count("feature_windows") == 0  # the first write rolled back with the second
    with warehouse.session("a") as s:
        assert s.count("feature_windows") == 0
    with pytest.raises(ValueError, match="unknown columns"):
        with warehouse.session("b") as s:
            s.upsert_columns("feature_windows", {"id": ["x"], "nope": [1]})


def test_bulk_column_upsert_keeps_empty_strings_nulls_and_quotes_apart(warehouse):
    """The PostgreSQL COPY path (text format, or CSV) must not confuse '' with NULL nor mangle quotes, commas,
    tabs, line ends, backslashes or text that looks like COPY's own NULL and end markers."""
    odd = 'a "quoted", comma\nnewline \\ backslash\ttab\rcr \\N \\. é'
    assert copy_payload(["v", "n"], {"v": [odd, ""], "n": [None, 1]})[0] == "text"  # the path tested here
    rows = [fw("e1", JAN, status="", recipe_version=odd, label_spec=None),
            fw("e2", JAN, features={"q": odd}, label_spec={"h": 1})]
    with warehouse.session("t") as s:
        s.upsert_columns("feature_windows", _columns(rows))
        got = {r["id"]: r for r in s.select("feature_windows")}
    assert got["e1"]["status"] == "" and got["e1"]["recipe_version"] == odd and got["e1"]["label_spec"] is None
    assert got["e2"]["features"] == {"q": odd} and got["e2"]["label_spec"] == {"h": 1}


def test_bulk_writes_compress_large_documents_with_lz4_on_postgresql(warehouse):
    """Documents over the TOAST threshold go in lz4-compressed (the warehouse's session setting), through the
    COPY staging table and the upsert alike; they read back unchanged."""
    if not warehouse.is_postgres:
        pytest.skip("TOAST compression is PostgreSQL's")
    with warehouse.engine.connect() as conn:
        if not conn.execute(sa.text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                    "WHERE name = 'default_toast_compression'")).scalar_one():
            pytest.skip("server built without lz4")
    big = {f"k{i}": [float(i)] * 8 for i in range(400)}  # ~20 KB of compressible JSON
    with warehouse.session("a") as s:
        s.upsert_columns("feature_windows", _columns([fw("z1", JAN, features=big)]))
        method = s.execute("SELECT pg_column_compression(features) FROM feature_windows WHERE id = 'z1'").scalar_one()
        assert s.select("feature_windows")[0]["features"] == big
    assert method == "lz4"


def test_bulk_column_upsert_across_statement_boundaries(warehouse):
    """More rows than one multi-row statement holds (SQLite: 256 per statement, remainder in a shorter one):
    every row lands once, and a second write of some keys replaces exactly those."""
    rows = [fw(f"r{i}", JAN + i, features={"x": float(i)}) for i in range(700)]
    again = [fw(f"r{i}", JAN + i, features={"x": -float(i)}) for i in range(100, 613)]
    with warehouse.session("a") as s:
        assert s.upsert_columns("feature_windows", _columns(rows)) == 700
        assert s.upsert_columns("feature_windows", _columns(again)) == 513
        got = {r["id"]: r["features"]["x"] for r in s.select("feature_windows")}
    assert got == {f"r{i}": (-float(i) if 100 <= i < 613 else float(i)) for i in range(700)}


def test_bulk_column_upsert_keeps_the_last_row_of_a_key_given_twice(warehouse):
    """A key repeated within one bulk write ends as its last row on both backends (PostgreSQL's single
    INSERT … ON CONFLICT would refuse to touch a row twice); keys apart from it are untouched, in order."""
    rows = [fw("k1", JAN, features={"x": 1.0}), fw("k2", JAN, features={"x": 2.0}),
            fw("k1", JAN, features={"x": 3.0}), fw("k3", FEB), fw("k1", JAN, features={"x": 4.0})]
    with warehouse.session("a") as s:
        s.upsert_columns("feature_windows", _columns([fw("k2", JAN, features={"x": 0.0})]))
        assert s.upsert_columns("feature_windows", _columns(rows)) == 3
        got = {r["id"]: r["features"] for r in s.select("feature_windows")}
    assert got == {"k1": {"x": 4.0}, "k2": {"x": 2.0}, "k3": {"x": 1.0}}
