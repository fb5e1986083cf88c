"""Shared fixtures: real datasets, real warehouses (SQLite and PostgreSQL), real Dagster instances.

PostgreSQL tests run when THUNDERLINE_TEST_PG_URL names a reachable server
(CI exports it); each test gets its own database owned by a non-superuser app
role (so row-level security applies), dropped afterwards by a background thread
that the session drains at its end (a DROP waits for a checkpoint); tests using
the ``warehouse`` fixture get theirs copied at the head migration from a
template migrated once per session (tests/pg_support.py). Without the
variable they skip with the reason; in CI (CI=true) an unreachable server fails.

Every module, and the session, ends with a check that no ``dagster api grpc`` code
server over one of the session's instances is left running (tests/proc_support.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests assert behaviour, never wall-clock time: Hypothesis's timing checks (a per-example deadline, the
# "input generation is slow" health check) fail on a loaded 2-core CI machine without any wrong answer.
# Tests that set their own settings still override these per key.
settings.register_profile("thunderline", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("thunderline")

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # MLflow 3.x's switch
os.environ.setdefault("DO_NOT_TRACK", "true")
# Monthly partitions span the months with data (thunderline.flow.data_months.partitions_span): pin them for tests so
# which partitions exist never depends on a developer's local ./.thunderline
os.environ.setdefault("THUNDERLINE_FIRST_MONTH", "2010-01")
os.environ.setdefault("THUNDERLINE_LAST_MONTH", "current")

REPO = Path(__file__).resolve().parents[1]
from demo_support import demo_home  # noqa: E402,F401  (one `thunderline demo` per session, shared)
from pg_support import (  # noqa: E402,F401
    APP_ROLE,
    _pg_admin_url,
    database_name,
    drain_drops,
    drop_database_later,
    drop_template,
    pg_available,
    provision_migrated_database,
    require_pg,
)
from proc_support import stop_leaked_code_servers  # noqa: E402
from xdist_support import run_root  # noqa: E402


def datasets_root() -> Path:
    env = os.environ.get("THUNDERLINE_DATASETS")
    return Path(env) if env else REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets() -> Path:
    root = datasets_root()
    if not root.is_dir():
        pytest.skip(f"real datasets not found at {root} (set THUNDERLINE_DATASETS)")
    return root


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """One MLflow tracking + registry store for the session (its migrations take seconds), shared by the
    orchestration and sources suites (each made its own); tests keep apart by registered-model name."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def trained(mlflow_uri):
    """Market experts trained once per session on synthetic history, registered as champions, and a seeded
    router state (tests/trained_pool.py)."""
    from trained_pool import trained_market_pool

    yield from trained_market_pool(mlflow_uri)


@pytest.fixture
def pg_database():
    """A fresh PostgreSQL database owned by the app role; yields (app_url, admin_url, dbname)."""
    from thunderline.store.postgres import provision_database

    admin = require_pg()
    name = database_name()
    app_url = provision_database(admin, name, APP_ROLE)
    try:
        yield app_url, admin, name
    finally:
        drop_database_later(admin, name)  # by the background dropper (pg_support): DROP waits for a checkpoint


@pytest.fixture
def pg_migrated_database():
    """Like ``pg_database``, already at the head migration (a copy of the session's template, pg_support)."""
    admin = require_pg()
    name = database_name()
    app_url = provision_migrated_database(admin, name)
    try:
        yield app_url, admin, name
    finally:
        drop_database_later(admin, name)


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_url(request, tmp_path):
    """Every storage test runs on both backends. When the test uses the ``warehouse`` fixture (which migrates
    its database to head before the test begins), the PostgreSQL database is copied at head from a template."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        migrated = "warehouse" in request.fixturenames
        db = request.getfixturevalue("pg_migrated_database" if migrated else "pg_database")
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


def _fail_on_leaked_code_servers(root: Path) -> None:
    """Fail (and kill them, so the next tests start clean) when ``dagster api grpc`` code servers over an
    instance under ``root`` are still running: an orphan's multiprocessing child spins at 50-60 % CPU long after
    the tests. A code server told to stop by its heartbeat gets two seconds to be on its way out."""
    what = stop_leaked_code_servers(root)
    if what:
        pytest.fail(f"{len(what)} process(es) left running over a Dagster instance of this session (a code "
                    f"server or its child): stop them in the fixture that started them (tests/proc_support.py) "
                    f"[{'; '.join(what)}]", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def session_cleanup(tmp_path_factory):
    """After the session's fixtures (the shared demo) are torn down: the code-server check once more, and every
    test database dropped (the background dropper drained, the template dropped)."""
    yield
    drop_template()
    failed = drain_drops()
    _fail_on_leaked_code_servers(tmp_path_factory.getbasetemp())
    assert not failed, f"test databases not dropped: {failed[:5]}"


@pytest.fixture(scope="module", autouse=True)
def no_code_server_left_behind(request, tmp_path_factory):
    """Fails the module that leaves a code server behind (autouse: set up first, so checked after the module's
    own fixtures are torn down). Only this worker's instances: those under its basetemp, and the shared demo's
    when this module reads it (the demo group runs on one worker, so no other worker is serving it then)."""
    yield
    _fail_on_leaked_code_servers(tmp_path_factory.getbasetemp())
    if any("demo_home" in item.fixturenames for item in request.session.items if item.module is request.module):
        _fail_on_leaked_code_servers(run_root(tmp_path_factory) / "demo")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups (--dist loadgroup; xdist_support)
def pytest_collection_modifyitems(config, items):
    """Tests that must not run beside each other on two xdist workers share a group (one worker runs it):
    every test reading the shared demo (it also changes that home: tests/demo_support.py), and the tests of a
    module with a module-scoped fixture that starts something only one of may exist (the Celery deployment
    consumes the broker's one ``dagster`` queue) or is worth building once (``XDIST_MODULE_GROUPS``)."""
    for item in items:
        if "demo_home" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("demo"))
        elif _module_group(item):
            item.add_marker(pytest.mark.xdist_group(_module_group(item)))


def _module_group(item) -> str | None:
    """``<module path>`` when the test uses a module-scoped fixture (other than the autouse process check)."""
    for name, defs in item._fixtureinfo.name2fixturedefs.items():
        if defs[-1].scope == "module" and name != "no_code_server_left_behind":
            return item.nodeid.split("::")[0]
    return None
