"""Each dbt-like SQL model (``dbt_like_sql/models/*.sql``) as an observability asset.

Asset key ``sql/<model>``, output table or view ``sqlm_<model>`` in the warehouse,
dependencies from ``ref()``. Warehouse tables a model reads through ``source()``
are listed in its metadata rather than declared as asset deps, because those
tables are written by assets of other domains whose keys do not map one-to-one
onto tables (``feature_windows`` is written by both market and EDGAR assets).
The project is parsed and checked when this module is imported, so a broken
model file fails the code location load with its file and line.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

import dbt_like_sql
from resources import WarehouseResource
from thunderline.sqlmodels import SqlProject, materialize

MODELS_DIR = Path(dbt_like_sql.__file__).resolve().parent / "models"
KEY_PREFIX = "sql"
OWNERS = ["team:data-platform"]


def model_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([KEY_PREFIX, name])


def build_sql_model_assets(project: SqlProject) -> list[dg.AssetsDefinition]:
    """One asset per model, in dependency order."""
    return [_model_asset(project, name) for name in project.order()]


def _model_asset(project: SqlProject, name: str) -> dg.AssetsDefinition:
    model = project[name]

    @dg.asset(
        key=model_key(name),
        deps=[model_key(r) for r in model.refs],
        group_name="observability",
        kinds={"sql"},
        owners=OWNERS,
        description=model.description or f"SQL model {name}",
        metadata={
            "dagster/table_name": model.relation,
            "materialized": model.materialized,
            "sources": ", ".join(model.sources) or "-",
            "model_file": f"dbt_like_sql/models/{model.path.name}",
        },
    )
    def _sql_model(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.session() as s:
            run = materialize(s, project, name)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(run.rows),
            "tenant_id": warehouse.tenant_id,
            "rebuilt": run.rebuilt,
            "compiled_sql": dg.MetadataValue.md(f"```sql\n{run.sql}\n```"),
        })

    return _sql_model


PROJECT = SqlProject.load(MODELS_DIR)
SQL_MODEL_ASSETS = build_sql_model_assets(PROJECT)
