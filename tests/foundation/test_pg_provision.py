"""Provisioning tolerates another process creating the app role at the same moment (parallel test workers,
two operators): the CREATE ROLE that waited on the other's uncommitted one gets a unique violation, not an
"already exists", and must still go on to create the database."""

from __future__ import annotations

import threading
import time
import uuid

import sqlalchemy as sa
from pg_support import database_name, require_pg

from thunderline.store.postgres import drop_database, provision_database


def _waiting_on_a_lock(admin: str, role: str) -> bool:
    eng = sa.create_engine(admin)
    try:
        with eng.connect() as c:
            return bool(c.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                          "AND query LIKE :q"), {"q": f"CREATE ROLE %{role}%"}).scalar_one())
    finally:
        eng.dispose()


def test_a_role_created_concurrently_by_another_session_is_tolerated():
    admin = require_pg()
    role, db = f"tl_role_{uuid.uuid4().hex[:10]}", database_name()
    other = sa.create_engine(admin)
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(_provision(admin, db, role)), daemon=True)
    try:
        with other.connect() as conn:  # the other process: its CREATE ROLE is not committed yet
            conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS'))
            worker.start()
            deadline = time.monotonic() + 60
            while not _waiting_on_a_lock(admin, role) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _waiting_on_a_lock(admin, role), "provision_database never waited on the other CREATE ROLE"
            conn.commit()
        worker.join(60)
        assert outcome and isinstance(outcome[0], str), outcome
        eng = sa.create_engine(outcome[0])
        try:
            with eng.connect() as c:
                assert c.execute(sa.text("SELECT current_user, current_database()")).one() == (role, db)
        finally:
            eng.dispose()
    finally:
        worker.join(60)  # whatever happened, its database (if any) exists before it is dropped
        drop_database(admin, db)
        with other.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
            conn.commit()
        other.dispose()


def _provision(admin: str, db: str, role: str) -> object:
    try:
        return provision_database(admin, db, role)
    except Exception as exc:  # noqa: BLE001 - handed to the test thread, which asserts on it
        return exc
