"""The expert registry with MLflow's tracking + registry store on PostgreSQL.

A fresh database per run, owned by the non-superuser app role (the ``pg_database`` fixture):
MLflow runs its alembic migrations as that role — it owns the database, so it may create
tables — through a ``postgresql+psycopg2://`` URL (a bare ``postgresql://`` would mean
psycopg 3 under SQLAlchemy 2.1, which is not installed).
"""

import pandas as pd
import pytest

from thunderline.experts import ExpertRegistry
from thunderline.experts.registry import ExpertRegistryError

from .conftest import renamed

pytestmark = pytest.mark.postgres


def test_register_alias_load_swap_and_retire_on_postgres(pg_database, tmp_path, pool, planted):
    app_url, _admin, _db = pg_database
    assert app_url.startswith("postgresql+psycopg2://thunderline_app@")
    a = renamed(pool["momentum_gbm_h1_shallow"], "pg_momentum")
    b = renamed(pool["momentum_gbm_h1"], "pg_momentum")
    x = planted.frame[planted.test].head(100)
    with ExpertRegistry(tracking_uri=app_url, artifact_location=str(tmp_path / "artifacts")) as reg:
        va = reg.register(a, alias="champion")
        vb = reg.register(b, alias="shadow")
        assert reg.aliases("pg_momentum") == {"champion": va.version, "shadow": vb.version}
        champ = reg.load("pg_momentum", "champion")
        shadow = reg.load("pg_momentum", "shadow")
        pd.testing.assert_frame_equal(champ.predict(x), a.predict(x), check_exact=True)
        assert shadow.is_shadow and shadow.version == vb.version
        reg.set_alias("pg_momentum", "champion", vb.version)  # promote the shadow
        events = reg.refresh()
        assert [(e.alias, e.new_version) for e in events] == [("champion", vb.version)]
        assert reg.get("pg_momentum", "champion").model is shadow.model  # same version: one cached model
        assert reg.cached_versions() == [("pg_momentum", vb.version)]
        reg.retire("pg_momentum", version=va.version)
        assert reg.version("pg_momentum", va.version).status == "retired"
        assert [e.name for e in reg.list_experts()] == ["pg_momentum"]
    # a new experiment on a server store needs an explicit artifact root (no silent ./mlruns in the cwd)
    with ExpertRegistry(tracking_uri=app_url, experiment_name="thunderline.experts.other") as reg:
        with pytest.raises(ExpertRegistryError, match="no artifact_location was given"):
            reg.register(renamed(pool["filing_logit_h10"], "pg_noroot"))
