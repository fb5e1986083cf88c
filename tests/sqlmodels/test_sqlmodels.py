"""The SQL models compile and run on both backends, compute the hand-checked values, stay per tenant,
and a broken model's error names the model file and line."""

import shutil
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from seed import DAY, T0, seed  # noqa: E402

from thunderline.sqlmodels import SqlModelError, SqlProject, materialize, read_model, run_models  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "dbt_like_sql" / "models"
ALL = ["blend_quality", "decision_mix", "decision_outcomes", "expert_stats", "feature_window_counts",
       "label_fill_latency"]
DAY0 = (T0 // DAY) * DAY  # 2024-01-02T00:00Z


@pytest.fixture(scope="module")
def project():
    return SqlProject.load(MODELS)


@pytest.fixture
def seeded(warehouse):
    seed(warehouse, "a")
    seed(warehouse, "b")
    return warehouse


def rows(warehouse, project, name, tenant="a"):
    with warehouse.session(tenant) as s:
        return read_model(s, project, name)


def by(rows_, *keys):
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows_}


# --------------------------------------------------------------------------- compile (no database)
def test_project_graph_and_order(project):
    assert sorted(project.models) == ALL
    order = project.order()
    assert order.index("decision_outcomes") < order.index("blend_quality")
    assert order.index("decision_outcomes") < order.index("label_fill_latency")
    assert project.upstream("blend_quality") == ("decision_outcomes",)
    assert project.downstream("decision_outcomes") == ("blend_quality", "label_fill_latency")
    assert project["decision_mix"].materialized == "view" and project["expert_stats"].materialized == "table"
    assert project["blend_quality"].sources == ("decision_traces",)
    assert project["feature_window_counts"].description.startswith("Feature windows per kind")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_model_compiles_line_for_line(project, dialect):
    for name in ALL:
        c = project.compile(name, dialect, "a")
        assert "{{" not in c.sql and "}}" not in c.sql
        assert len(c.sql.splitlines()) == len(project[name].text.splitlines())
        assert c.relation == f"sqlm_{name}"
        tenant = "current_setting('thunderline.tenant_id', true)" if c.materialized == "view" and dialect == "postgresql" \
            else "'a'"
        for rel in list(project[name].sources) + [f"sqlm_{r}" for r in project[name].refs]:
            assert c.sql.count(f"FROM {rel}") == c.sql.count(f"(SELECT * FROM {rel} WHERE tenant_id = {tenant})") > 0
    pg = project.compile("expert_stats", "postgresql", "a").sql
    lite = project.compile("expert_stats", "sqlite", "a").sql
    assert "jsonb_array_elements(to_jsonb(d.expert_actions)) AS a(value)" in pg and "json_each(d.expert_actions) AS a" in lite
    assert "(SELECT * FROM decision_traces WHERE tenant_id = 'a') AS d" in lite
    # for display the tenant is a placeholder; PostgreSQL views read the session's tenant setting
    assert "WHERE tenant_id = :tenant) AS d" in project.compile("expert_stats", "sqlite").sql
    assert "current_setting('thunderline.tenant_id', true)" in project.compile("decision_mix", "postgresql", "a").sql


# --------------------------------------------------------------------------- run (both backends)
def test_models_compute_the_hand_checked_values(seeded, project):
    runs = run_models(seeded, "a", project)
    assert [r.name for r in runs] == project.order()
    assert {r.name: r.rows for r in runs} == {"decision_mix": 2, "decision_outcomes": 6, "blend_quality": 4,
                                              "expert_stats": 4, "feature_window_counts": 3, "label_fill_latency": 2}

    out = by(rows(seeded, project, "decision_outcomes"), "trace_id")
    assert [out[f"dt-a-AMZN-{i}"]["pnl"] for i in range(4)] == pytest.approx([0.002, 0.003, 0.0, 0.001])
    assert out["dt-a-AMZN-4"]["pnl"] is None and out["dt-a-AMZN-4"]["next_window_id"] is None
    assert out["dt-a-AMZN-1"]["position"] == -1 and out["dt-a-AMZN-0"]["next_window_id"] == "fw-a-AMZN-1"

    es = by(rows(seeded, project, "expert_stats"), "expert", "day_utc")
    assert es[("momentum", "2024-01-02")]["success_rate"] == pytest.approx(0.8)  # abstained once
    assert es[("meanrev", "2024-01-02")]["success_rate"] == pytest.approx(0.6)  # abstained once, one error flag
    assert es[("nas7", "2024-01-02")]["avg_latency_ms"] == pytest.approx(10.0)
    jan5 = es[("momentum", "2024-01-05")]
    assert (jan5["n_actions"], jan5["rolling_actions"], jan5["rolling_success"]) == (1, 6, 5)
    assert jan5["rolling_success_rate"] == pytest.approx(5 / 6) and jan5["rolling_avg_latency_ms"] == pytest.approx(13 / 6)
    assert jan5["day_start_us"] == DAY0 + 3 * DAY

    fw = by(rows(seeded, project, "feature_window_counts"), "kind", "key")
    assert fw[("market", "AMZN")]["n_windows"] == 5 and fw[("market", "AMZN")]["hour_utc"] == "2024-01-02T14:00:00Z"
    assert fw[("edgar", "1018724")]["n_open"] == 1 and fw[("edgar", "1018724")]["n_filled"] == 0

    mix = by(rows(seeded, project, "decision_mix"), "symbol", "day_utc")[("AMZN", "2024-01-02")]
    assert [mix[k] for k in ("n_decisions", "n_buy", "n_sell", "n_hold", "n_abstain")] == [5, 2, 1, 1, 1]
    assert mix["abstain_share"] == pytest.approx(0.2)

    lat = by(rows(seeded, project, "label_fill_latency"), "symbol")
    assert (lat["AMZN"]["n_labelled"], lat["AMZN"]["n_pending"]) == (4, 1)
    assert lat["AMZN"]["avg_latency_s"] == pytest.approx(60.0) and lat["MSFT"]["avg_latency_s"] is None

    bq = by(rows(seeded, project, "blend_quality"), "expert")
    blend = bq["(blend)"]
    assert blend["n_decisions"] == 4 and blend["pnl_sum"] == pytest.approx(0.006)
    assert blend["pnl_variance"] == pytest.approx(5e-6 / 3) and blend["hit_rate"] == pytest.approx(0.75)
    assert bq["momentum"]["attributed_pnl"] == pytest.approx(0.0036)
    assert bq["meanrev"]["attributed_pnl"] == pytest.approx(0.0024) and bq["meanrev"]["pnl_sum"] == pytest.approx(0)
    assert bq["nas7"]["attributed_pnl"] == pytest.approx(0.0) and bq["nas7"]["pnl_sum"] == pytest.approx(0.0005)
    assert sum(r["attributed_pnl"] for k, r in bq.items() if k != "(blend)") == pytest.approx(blend["pnl_sum"])


def test_vars_change_the_rolling_window(seeded, project):
    run_models(seeded, "a", project, ["expert_stats"], vars={"expert_stats_days": 2})
    jan5 = by(rows(seeded, project, "expert_stats"), "expert", "day_utc")[("momentum", "2024-01-05")]
    assert (jan5["rolling_days"], jan5["rolling_actions"]) == (2, 1)


def test_outputs_are_per_tenant(seeded, project):
    first_a = run_models(seeded, "a", project)
    assert all(r.rebuilt for r in first_a)
    runs_b = run_models(seeded, "b", project)
    assert all(not r.rebuilt for r in runs_b if r.materialized == "table")  # b replaced only its slice
    rerun_a = {r.name: r.rows for r in run_models(seeded, "a", project)}
    assert rerun_a == {r.name: r.rows for r in first_a}  # b's run did not touch a's rows
    for name in ALL:
        a_rows, b_rows = rows(seeded, project, name, "a"), rows(seeded, project, name, "b")
        assert a_rows and {r["tenant_id"] for r in a_rows} == {"a"}
        assert {r["tenant_id"] for r in b_rows} <= {"b"}
    b_out = rows(seeded, project, "decision_outcomes", "b")
    assert [r["trace_id"] for r in b_out] == ["dt-b-AMZN-0"] and b_out[0]["pnl"] == pytest.approx(0.02)
    b_stats = rows(seeded, project, "expert_stats", "b")
    assert [(r["expert"], r["n_actions"], r["avg_latency_ms"]) for r in b_stats] == [("momentum", 1, 7.0)]
    with seeded.session("b") as s:
        assert s.count("decision_traces") == 1
        tables = materialize(s, project, "decision_outcomes")
        assert tables.rows == 1
    if seeded.is_postgres:
        # the database itself hides a's rows from b: RLS on the output table, tenant setting in the view
        with seeded.session("b") as s:
            assert s.execute("SELECT DISTINCT tenant_id FROM sqlm_decision_outcomes").scalars().all() == ["b"]
            assert s.execute("SELECT COUNT(*) FROM sqlm_decision_mix").scalar_one() == 1
            assert s.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class "
                             "WHERE relname = 'sqlm_expert_stats'").scalar_one() is True


def test_a_ref_must_be_materialised_first(seeded, project):
    with pytest.raises(SqlModelError) as err, seeded.session("a") as s:
        materialize(s, project, "blend_quality")
    assert err.value.model == "blend_quality" and err.value.line == 10
    assert "sqlm_decision_outcomes does not exist yet" in str(err.value)
    assert str(err.value).startswith(f"{MODELS / 'blend_quality.sql'}:10: model 'blend_quality'")


# --------------------------------------------------------------------------- broken models
def broken_project(tmp_path, name, body) -> SqlProject:
    d = tmp_path / "models"
    d.mkdir(exist_ok=True)
    shutil.copy(MODELS / "decision_outcomes.sql", d)
    (d / f"{name}.sql").write_text(body)
    return SqlProject.load(d)


BAD_COLUMN = """-- materialized: table
-- a model with a typo on line 5
SELECT
    d.symbol,
    d.blended_acton,
    COUNT(*) AS n
FROM {{ source('decision_traces') }} AS d
GROUP BY d.symbol
"""

BAD_SYNTAX = """-- materialized: view
SELECT
    d.symbol
FORM {{ source('decision_traces') }} AS d
"""

BAD_TABLE = """-- materialized: table
SELECT o.trace_id
FROM {{ ref('decision_outcomes') }} AS o
JOIN no_such_table AS t ON t.id = o.trace_id
"""


@pytest.mark.parametrize("body,line,words", [
    (BAD_COLUMN, 5, "blended_acton"),
    (BAD_SYNTAX, 4, "FORM"),
    (BAD_TABLE, 4, "no_such_table"),
])
def test_a_sql_error_names_the_model_file_and_line(seeded, tmp_path, body, line, words):
    project = broken_project(tmp_path, "broken", body)
    run_models(seeded, "a", project, ["decision_outcomes"])
    with pytest.raises(SqlModelError) as err:
        run_models(seeded, "a", project, ["broken"])
    e = err.value
    assert (e.model, e.line) == ("broken", line), str(e)
    text = str(e)
    assert text.startswith(f"{tmp_path / 'models' / 'broken.sql'}:{line}: model 'broken': ")
    assert words in text.splitlines()[0] or words in text  # the DB's reason
    assert f"{line:>4} | " in text.splitlines()[-1] and words in text.splitlines()[-1]  # the offending line
    with seeded.session("a") as s:  # nothing was left behind
        assert s.execute("SELECT COUNT(*) FROM sqlm_decision_outcomes").scalar_one() >= 1
    assert "sqlm_broken" not in sa.inspect(seeded.engine).get_table_names()
    assert "sqlm_broken" not in sa.inspect(seeded.engine).get_view_names()


@pytest.mark.parametrize("body,line,reason", [
    ("SELECT 1 AS x FROM {{ ref('nope') }} AS n", 1, "no model named 'nope'"),
    ("SELECT 1 AS x\nFROM {{ source('decision_trace') }} AS d", 2, "not a warehouse table"),
    ("SELECT 1 AS x\n\nFROM {{ source('decision_traces') }} d", 3, "must be followed by 'AS <alias>'"),
    ("SELECT {{ jsn_text('a', 'b') }} AS x", 1, "unknown template function jsn_text()"),
    ("SELECT {{ json_text(a.value, 'b') }} AS x", 1, "must be literals"),
    ("-- materialized: ephemeral\nSELECT 1 AS x", 1, "materialized must be one of table, view"),
    ("SELECT 1 AS x;\nSELECT 2 AS y", 1, "one statement"),
    ("SELECT {% if x %} 1 {% endif %} AS x", 1, "unsupported template syntax"),
    ("SELECT {{ var('missing') }} AS x", 1, "var('missing') is not set"),
])
def test_compile_errors_name_the_model_and_line(tmp_path, body, line, reason):
    with pytest.raises(SqlModelError) as err:
        broken_project(tmp_path, "broken", body).compile("broken", "sqlite", "a")
    assert (err.value.model, err.value.line) == ("broken", line), str(err.value)
    assert reason in str(err.value)


def test_ref_cycles_are_refused(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    (d / "one.sql").write_text("SELECT x.v FROM {{ ref('two') }} AS x")
    (d / "two.sql").write_text("SELECT y.v FROM {{ ref('one') }} AS y")
    with pytest.raises(SqlModelError, match="cycle among models: one, two"):
        SqlProject.load(d)


def test_selecting_tenant_id_is_refused(seeded, tmp_path):
    project = broken_project(tmp_path, "leaky", "SELECT o.* FROM {{ ref('decision_outcomes') }} AS o")
    run_models(seeded, "a", project, ["decision_outcomes"])
    with pytest.raises(SqlModelError, match="own tenant_id column"):
        run_models(seeded, "a", project, ["leaky"])


def test_changed_columns_rebuild_the_output(seeded, tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    (d / "m.sql").write_text("SELECT d.symbol FROM {{ source('decision_traces') }} AS d")
    project = SqlProject.load(d)
    assert run_models(seeded, "a", project)[0].rebuilt
    assert not run_models(seeded, "a", project)[0].rebuilt
    (d / "m.sql").write_text("SELECT d.symbol, d.router_version FROM {{ source('decision_traces') }} AS d")
    project = SqlProject.load(d)
    run = run_models(seeded, "a", project)[0]
    assert run.rebuilt and run.rows == 6
    assert set(rows(seeded, project, "m")[0]) == {"tenant_id", "symbol", "router_version"}
