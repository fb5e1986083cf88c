"""A/B of the per-test PostgreSQL database cost, interleaved in one run (not a test; run it by hand):

    THUNDERLINE_TEST_PG_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/test .venv/bin/python tests/pg_fixture_bench.py 8

old: provision + migrate to head + DROP inline (what every storage test paid); new: a copy of the session's
migrated template + DROP on the background dropper (tests/pg_support.py). Prints seconds per database and the
ratio; the final drain (the session's end) is printed separately.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg_support as P  # noqa: E402

from thunderline.store import Warehouse  # noqa: E402
from thunderline.store.postgres import drop_database, provision_database  # noqa: E402


def main(n: int) -> None:
    admin = os.environ["THUNDERLINE_TEST_PG_URL"]
    P.migrated_template(admin)
    old = new = 0.0
    for _ in range(n):
        t = time.perf_counter()
        name = f"tl_test_{uuid.uuid4().hex[:12]}"
        wh = Warehouse(provision_database(admin, name, P.APP_ROLE))
        wh.init_schema()
        wh.dispose()
        drop_database(admin, name)
        old += time.perf_counter() - t
        t = time.perf_counter()
        name = f"tl_test_{uuid.uuid4().hex[:12]}"
        wh = Warehouse(P.provision_migrated_database(admin, name))
        wh.init_schema()
        wh.dispose()
        P.drop_database_later(admin, name)
        new += time.perf_counter() - t
    t = time.perf_counter()
    P.drop_template()
    P.drain_drops()
    print(f"per test database: inline {old / n:.2f} s, template + background drop {new / n:.2f} s "
          f"(ratio {old / new:.1f}x); final drain {time.perf_counter() - t:.1f} s for {n} drops")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
