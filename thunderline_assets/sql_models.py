"""Each dbt-like SQL model (``dbt_like_sql/models/*.sql``) as an observability asset.

Asset key ``sql/<model>``, output table or view ``sqlm_<model>`` in the warehouse,
dependencies from ``ref()`` and from ``source()``: each warehouse table maps to the
assets that write it (:data:`SOURCE_ASSETS`; ``feature_windows`` is written by both
the market and the EDGAR windows), so the lineage graph shows
``decision_traces → sql/decision_mix``. A source no asset writes stays in metadata.
The project is parsed and checked when the definitions are built (:func:`load_project`), so a broken
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


#: warehouse table read through ``{{ source('...') }}`` → the asset(s) that write it
SOURCE_ASSETS: dict[str, tuple[str, ...]] = {
    "decision_traces": ("decision_traces",),
    "feature_windows": ("market_feature_windows", "edgar_feature_windows"),
    "raw_edgar_docs": ("raw_filings",),
    "labels": ("labels",),
    "pnl": ("pnl",),
    "drift_reports": ("drift_reports",),
}


def source_deps(sources) -> list[dg.AssetKey]:
    return [dg.AssetKey(a) for src in sources for a in SOURCE_ASSETS.get(src, ())]


def model_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([KEY_PREFIX, name])


def build_sql_model_assets(project: SqlProject) -> list[dg.AssetsDefinition]:
    """One asset per model, in dependency order."""
    return [_model_asset(project, name) for name in project.order()]


def _model_asset(project: SqlProject, name: str) -> dg.AssetsDefinition:
    model = project[name]

    @dg.asset(
        key=model_key(name),
        deps=[*(model_key(r) for r in model.refs), *source_deps(model.sources)],
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


def load_project() -> SqlProject:
    """The dbt-like project, parsed and checked (a broken model fails the code location load)."""
    return SqlProject.load(MODELS_DIR)
