"""The SQL models as Dagster assets: graph from refs, what each asset says about itself, a real materialisation."""

import sys
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).parent))
from seed import seed  # noqa: E402

from resources import WarehouseResource  # noqa: E402
from thunderline.sqlmodels import SqlProject  # noqa: E402
from thunderline_assets.sql_models import build_sql_model_assets, load_project, model_key  # noqa: E402

PROJECT = load_project()  # what the definitions parse when they are built
SQL_MODEL_ASSETS = build_sql_model_assets(PROJECT)


def specs():
    return {spec.key: spec for a in SQL_MODEL_ASSETS for spec in a.specs}


def test_one_asset_per_model_with_deps_from_refs_and_sources():
    s = specs()
    assert set(s) == {model_key(n) for n in PROJECT.models}
    assert {d.asset_key for d in s[model_key("blend_quality")].deps} == {model_key("decision_outcomes"),
                                                                         dg.AssetKey("decision_traces")}
    assert {d.asset_key for d in s[model_key("label_fill_latency")].deps} == {model_key("decision_outcomes")}
    # {{ source('decision_traces') }} is an edge from the asset that writes the table
    assert {d.asset_key for d in s[model_key("expert_stats")].deps} == {dg.AssetKey("decision_traces")}
    assert {d.asset_key for d in s[model_key("feature_window_counts")].deps} == {
        dg.AssetKey("market_feature_windows"), dg.AssetKey("edgar_feature_windows")}
    for spec in s.values():
        assert spec.group_name == "observability"
        assert spec.kinds == {"sql"} and spec.owners == ["team:data-platform"] and spec.description
        assert spec.metadata["dagster/table_name"] == f"sqlm_{spec.key.path[-1]}"
    assert s[model_key("expert_stats")].metadata["sources"] == "decision_traces"


def test_catalog_registers_the_sql_assets():
    from thunderline_assets.definitions import build_definitions

    catalog = build_definitions(resources={})

    keys = {spec.key for a in catalog.assets for spec in getattr(a, "specs", [])}
    assert {model_key(n) for n in PROJECT.models} <= keys


def test_materialise_the_sql_assets(warehouse):
    seed(warehouse, "a")
    wh = WarehouseResource(url=warehouse.url, tenant_id="a")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(SQL_MODEL_ASSETS, instance=instance, resources={"warehouse": wh})
        assert result.success
        rows = {}
        for name in PROJECT.models:
            ev = instance.get_latest_materialization_event(model_key(name))
            md = ev.asset_materialization.metadata
            rows[name] = md["dagster/row_count"].value
            assert "SELECT CAST('a' AS VARCHAR(64)) AS tenant_id" in md["compiled_sql"].value or (
                warehouse.is_postgres and "current_setting" in md["compiled_sql"].value)
            assert md["tenant_id"].value == "a"
    assert rows == {"decision_mix": 2, "decision_outcomes": 6, "blend_quality": 4, "expert_stats": 4,
                    "feature_window_counts": 3, "label_fill_latency": 2}


def test_a_broken_model_fails_its_run_naming_file_and_line(warehouse, tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    (d / "bad.sql").write_text("SELECT\n    d.no_such_column\nFROM {{ source('decision_traces') }} AS d\n")
    assets = build_sql_model_assets(SqlProject.load(d))
    wh = WarehouseResource(url=warehouse.url, tenant_id="a")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, instance=instance, resources={"warehouse": wh}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.cause.message if failure.step_failure_data.error.cause else \
        failure.step_failure_data.error.message
    assert f"{d / 'bad.sql'}:2: model 'bad'" in message
