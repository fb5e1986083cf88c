"""An ingress app on the parametrised warehouse (SQLite and PostgreSQL), with keys for two tenants.

``warehouse_url`` is overridden for the ingress, publish and dashboard tests: the PostgreSQL
database (owned by the non-superuser app role, so row-level security applies) is provisioned
once per module and emptied (TRUNCATE) before each test, instead of created per test.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from thunderline.flow.landing import candidate_files
from thunderline.ingress import ServeConfig, build_app, create_key
from thunderline.ingress.server import ServerThread
from thunderline.publish import InProcessPublisher
from thunderline.store import Warehouse


@pytest.fixture(scope="module")
def module_pg_url():
    from pg_support import APP_ROLE, database_name, drop_database_later, require_pg

    from thunderline.store.postgres import provision_database

    admin = require_pg()
    name = database_name()
    url = provision_database(admin, name, APP_ROLE)
    wh = Warehouse(url)
    wh.init_schema()
    wh.dispose()
    try:
        yield url
    finally:
        drop_database_later(admin, name)  # pg_support's background dropper


def _truncate_all(url: str) -> None:
    from thunderline.store import metadata

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE TABLE {names} CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_url(request, tmp_path):
    """Both backends, as in the root conftest; PostgreSQL shared per module and emptied per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        url = request.getfixturevalue("module_pg_url")
        _truncate_all(url)
        yield url


FAST = ServeConfig(relay=False, key_recheck_s=0.0, requests_per_s=10_000, request_burst=10_000, ticks_per_s=1e9, tick_burst=1e9)


@dataclass
class Api:
    client: httpx.Client
    url: str
    warehouse: Warehouse
    landing: Path
    keys: dict[str, str]
    settings: object
    publisher: InProcessPublisher

    def auth(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}

    def landed(self, tenant: str | None = None) -> list[Path]:
        base = self.landing / "ticks"
        if tenant:
            base = base / f"tenant={tenant}"
        return candidate_files(base)

    def all_landed(self) -> list[Path]:
        """Every file a landing consumer would see (hidden markers and temp files excluded)."""
        return candidate_files(self.landing)


def make_api(settings, config: ServeConfig = FAST):
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    keys = {t: create_key(wh, t, "test")[0] for t in ("acme", "beta")}
    pub = InProcessPublisher()
    app = build_app(settings, config, warehouse=wh, publisher=pub)
    return wh, keys, pub, app


@pytest.fixture
def api_factory(settings_env):
    made = []

    def make(**overrides) -> Api:
        wh, keys, pub, app = make_api(settings_env, replace(FAST, **overrides))
        server = ServerThread(app).start()
        client = httpx.Client(base_url=server.url, timeout=30)
        made.append((client, server, wh))
        return Api(client, server.url, wh, settings_env.landing_dir, keys, settings_env, pub)

    yield make
    for client, server, wh in made:
        client.close()
        server.stop()
        wh.dispose()


@pytest.fixture
def api(api_factory) -> Api:
    return api_factory()


@pytest.fixture
def sqlite_settings(tmp_path, monkeypatch):
    """Settings on SQLite only, for HTTP behaviour that touches no warehouse rows (limits, metrics)."""
    monkeypatch.setenv("THUNDERLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("THUNDERLINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.db'}")
    for k in ("THUNDERLINE_LAKE_DIR", "THUNDERLINE_LANDING_DIR", "THUNDERLINE_TENANT", "THUNDERLINE_NATS_URL"):
        monkeypatch.delenv(k, raising=False)
    from thunderline.config import load_settings

    return load_settings()


@pytest.fixture
def http_api_factory(sqlite_settings):
    made = []

    def make(**overrides) -> Api:
        wh, keys, pub, app = make_api(sqlite_settings, replace(FAST, **overrides))
        server = ServerThread(app).start()
        client = httpx.Client(base_url=server.url, timeout=30)
        made.append((client, server, wh))
        return Api(client, server.url, wh, sqlite_settings.landing_dir, keys, sqlite_settings, pub)

    yield make
    for client, server, wh in made:
        client.close()
        server.stop()
        wh.dispose()
