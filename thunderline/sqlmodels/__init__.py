"""dbt-like SQL models: ``models/*.sql`` with ``{{ ref() }}``/``{{ source() }}``, compiled per dialect, tenant-safe.

    project = SqlProject.load("dbt_like_sql/models")
    for run in run_models(warehouse, "tenant-a", project):
        print(run.relation, run.rows)

Every source and ref renders as a tenant-filtered subquery and every output row
is stamped with the tenant, so a model cannot mix tenants; see
:mod:`thunderline.sqlmodels.materialize` for how outputs are replaced per tenant.
"""

from thunderline.sqlmodels.materialize import ModelRun, materialize, read_model, run_models
from thunderline.sqlmodels.parse import MATERIALIZATIONS, SqlModel, SqlModelError, load_models, parse_model
from thunderline.sqlmodels.project import CompiledModel, SqlProject
from thunderline.sqlmodels.render import MACROS

__all__ = [
    "SqlProject", "SqlModel", "SqlModelError", "CompiledModel", "ModelRun", "MACROS", "MATERIALIZATIONS",
    "load_models", "parse_model", "materialize", "read_model", "run_models",
]
