"""Shared fixtures: real datasets, real warehouses (SQLite and PostgreSQL), real Dagster instances.

PostgreSQL tests run when THUNDERLINE_TEST_PG_URL names a reachable server
(CI exports it); each test gets its own database owned by a non-superuser app
role (so row-level security applies) and drops it afterwards. Without the
variable they skip with the reason; in CI (CI=true) an unreachable server fails.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # MLflow 3.x's switch
os.environ.setdefault("DO_NOT_TRACK", "true")
# Monthly partitions span the months with data (thunderline.flow.data_months.partitions_span): pin them for tests so
# which partitions exist never depends on a developer's local ./.thunderline
os.environ.setdefault("THUNDERLINE_FIRST_MONTH", "2010-01")
os.environ.setdefault("THUNDERLINE_LAST_MONTH", "current")

REPO = Path(__file__).resolve().parents[1]
from demo_support import demo_home  # noqa: E402,F401  (one `thunderline demo` per session, shared)
from pg_support import APP_ROLE, _pg_admin_url, pg_available, require_pg  # noqa: E402,F401


def datasets_root() -> Path:
    env = os.environ.get("THUNDERLINE_DATASETS")
    return Path(env) if env else REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets() -> Path:
    root = datasets_root()
    if not root.is_dir():
        pytest.skip(f"real datasets not found at {root} (set THUNDERLINE_DATASETS)")
    return root


@pytest.fixture
def pg_database():
    """A fresh PostgreSQL database owned by the app role; yields (app_url, admin_url, dbname)."""
    from thunderline.store.postgres import drop_database, provision_database

    admin = require_pg()
    name = f"tl_test_{uuid.uuid4().hex[:12]}"
    app_url = provision_database(admin, name, APP_ROLE)
    try:
        yield app_url, admin, name
    finally:
        drop_database(admin, name)


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_url(request, tmp_path):
    """Every storage test runs on both backends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        db = request.getfixturevalue("pg_database")
        yield db[0]


@pytest.fixture
def warehouse(warehouse_url):
    from thunderline.store import Warehouse

    wh = Warehouse(warehouse_url)
    wh.init_schema()
    yield wh
    wh.dispose()


@pytest.fixture
def settings_env(tmp_path, warehouse_url, monkeypatch):
    """Environment for a complete Thunderline home under tmp_path, on the parametrised warehouse."""
    env = {
        "THUNDERLINE_HOME": str(tmp_path / "home"),
        "THUNDERLINE_WAREHOUSE_URL": warehouse_url,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}",
        "DAGSTER_HOME": str(tmp_path / "home" / "dagster"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("THUNDERLINE_LAKE_DIR", "THUNDERLINE_LANDING_DIR", "THUNDERLINE_TENANT"):
        monkeypatch.delenv(k, raising=False)
    from thunderline.config import load_settings

    return load_settings()
