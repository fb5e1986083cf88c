"""Fixtures of the crash / disk-full / concurrency harness (tests/hardening/crash_harness.py).

Session-scoped: one small landing set, and one clean reference ingest per backend that
every crashed-and-re-run home is compared with (run in the test process, so that the
children forked from it later start with everything imported and compiled).
"""

from __future__ import annotations

import json

import pytest

from .crash_harness import Home, in_process_ingest, write_landing_set


@pytest.fixture(scope="session")
def crash_landing(tmp_path_factory):
    return write_landing_set(tmp_path_factory.mktemp("landing_set"))


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def crash_backend(request, tmp_path_factory):
    """Makes a fresh warehouse URL per home; yields (name, make_url)."""
    if request.param == "sqlite":
        yield "sqlite", lambda root: f"sqlite:///{root / 'warehouse.db'}"
        return
    from pg_support import APP_ROLE, database_name, drop_database_later, require_pg

    from thunderline.store.postgres import provision_database

    admin = require_pg()
    made: list[str] = []

    def make(root):
        name = database_name("tl_crash")
        made.append(name)
        return provision_database(admin, name, APP_ROLE)

    yield "postgres", make
    for name in made:
        drop_database_later(admin, name)  # pg_support's background dropper


@pytest.fixture(scope="session")
def crash_reference(crash_backend, crash_landing, tmp_path_factory):
    """One uninterrupted ingest per backend: the state every crashed-and-re-run home must equal.

    Run in this process, not forked: it also warms the process every crashed run is forked from."""
    _, make = crash_backend
    root = tmp_path_factory.mktemp(f"clean_{crash_backend[0]}")
    home = Home(root, make(root), crash_landing)
    out = root / "result.json"
    assert in_process_ingest(home, result_path=out) == 0
    result = json.loads(out.read_text())
    assert result["failed"] == [] and result["error"] is None
    # the set really exercises every stage
    tables = result["snapshot"]["tables"]
    for name in ("raw_tick_batches", "feature_windows", "raw_edgar_docs", "quarantine", "partition_steps",
                 "compacted_members"):
        assert tables[name][0] > 0, name
    return result
