"""PostgreSQL availability for tests (a module, not conftest, so any test folder can import it)."""

from __future__ import annotations

import os
import queue
import threading
import uuid

import pytest
from xdist_support import worker_tag

APP_ROLE = "thunderline_app"


def _pg_admin_url() -> str | None:
    return os.environ.get("THUNDERLINE_TEST_PG_URL") or None


_PG_STATE: dict[str, object] = {}


def pg_available() -> tuple[bool, str]:
    if "ok" not in _PG_STATE:
        url = _pg_admin_url()
        if not url:
            _PG_STATE.update(ok=False, why="THUNDERLINE_TEST_PG_URL is not set; PostgreSQL tests skipped")
        else:
            import sqlalchemy as sa

            try:
                eng = sa.create_engine(url)
                with eng.connect() as c:
                    c.execute(sa.text("SELECT 1"))
                eng.dispose()
                _PG_STATE.update(ok=True, why="")
            except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
                _PG_STATE.update(ok=False, why=f"PostgreSQL at THUNDERLINE_TEST_PG_URL unreachable: {exc}")
    return bool(_PG_STATE["ok"]), str(_PG_STATE["why"])


def require_pg() -> str:
    ok, why = pg_available()
    if not ok:
        if os.environ.get("CI") == "true" and _pg_admin_url():
            pytest.fail(why)
        pytest.skip(why)
    return _pg_admin_url()  # type: ignore[return-value]




def database_name(prefix: str = "tl_test") -> str:
    """A database name no other test, worker or concurrent run takes: ``<prefix>_<worker>_<random>`` (the worker
    id, ``gw0``… or ``main``, says whose a database left behind after a crash was)."""
    return f"{prefix}_{worker_tag()}_{uuid.uuid4().hex[:12]}"


# -- dropping test databases off the tests' path -------------------------------------------------------------
#
# Why: DROP DATABASE makes PostgreSQL 15 wait for a forced checkpoint, 1-5 s per database on a busy machine, and
# the suite drops ~135 of them; none of the tests waits for its own database to be gone. A background thread
# drops them while the next tests run; the session waits for it at the end (drain_drops), so every database is
# still dropped, by the session that made it.

_DROPS: "queue.Queue[tuple[str, str] | None]" = queue.Queue()
_DROPPER: list[threading.Thread] = []
_DROP_ERRORS: list[str] = []


def _drop_loop() -> None:
    from thunderline.store.postgres import drop_database

    while (item := _DROPS.get()) is not None:
        try:
            drop_database(*item)
        except Exception as exc:  # noqa: BLE001 - reported by drain_drops, never lost
            _DROP_ERRORS.append(f"{item[1]}: {exc}")
        finally:
            _DROPS.task_done()
    _DROPS.task_done()


def drop_database_later(admin_url: str, database: str) -> None:
    """Queue ``database`` for dropping by the background dropper (started on first use)."""
    if not _DROPPER:
        _DROPPER.append(threading.Thread(target=_drop_loop, name="pg-test-dropper", daemon=True))
        _DROPPER[0].start()
    _DROPS.put((admin_url, database))


def drain_drops() -> list[str]:
    """Wait until every queued database is dropped; the drops that failed."""
    if _DROPPER:
        _DROPS.join()
    return list(_DROP_ERRORS)


# -- a database already at the head migration, copied from a template ----------------------------------------
#
# Why: migrating an empty database to head takes 1-2 s on PostgreSQL; the ``warehouse`` fixture does it before
# every storage test. ``CREATE DATABASE … TEMPLATE`` copies a database migrated once per session in ~0.2 s,
# byte for byte what the migration made. Only for fixtures that migrate before the test begins: tests of the
# migration itself, and every other fixture, still get an empty database.

# Under pytest-xdist each worker (its own process and session) migrates its own template and drops it at its end:
# CREATE DATABASE … TEMPLATE refuses while another session is connected to the template, so workers never share.
_TEMPLATE: dict[str, str] = {}
_TEMPLATE_LOCK = threading.Lock()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def migrated_template(admin_url: str) -> str:
    """The name of this session's template database at the head migration (made on first use)."""
    with _TEMPLATE_LOCK:
        if "name" not in _TEMPLATE:
            from thunderline.store import Warehouse
            from thunderline.store.postgres import provision_database

            name = database_name("tl_tmpl")
            url = provision_database(admin_url, name, APP_ROLE)
            _TEMPLATE["name"] = name
            wh = Warehouse(url)
            try:
                wh.init_schema()
            finally:
                wh.dispose()  # CREATE DATABASE … TEMPLATE needs it without connections
        return _TEMPLATE["name"]


def provision_migrated_database(admin_url: str, database: str) -> str:
    """``database`` owned by the app role, copied from :func:`migrated_template`; its app-role URL."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    template = migrated_template(admin_url)
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {_quoted(database)} TEMPLATE {_quoted(template)} "
                                 f"OWNER {_quoted(APP_ROLE)}"))
    finally:
        engine.dispose()
    return make_url(admin_url).set(username=APP_ROLE, password=None, database=database) \
        .render_as_string(hide_password=False)


def drop_template() -> None:
    if "name" in _TEMPLATE and _pg_admin_url():
        drop_database_later(_pg_admin_url(), _TEMPLATE.pop("name"))
