"""PostgreSQL availability for tests (a module, not conftest, so any test folder can import it)."""

from __future__ import annotations

import os

import pytest

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


