"""``thunderline db init|upgrade|current|downgrade``: the warehouse schema's migrations.

Why these four: ``init`` is what operators already run (it is "upgrade to head"); ``upgrade``
and ``downgrade`` move an existing warehouse between revisions of
``thunderline/store/migrations/versions``; ``current`` says where a warehouse is. A bad
revision or a schema that is not what its history says ends in one line (WarehouseError).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="warehouse administration").add_subparsers(dest="db_command", required=True)
    db.add_parser("init", help="create or upgrade the schema to the newest migration (idempotent)").set_defaults(
        func=_db_upgrade, revision="head")
    up = db.add_parser("upgrade", help="upgrade the schema to REV (default: head, the newest)")
    up.add_argument("revision", nargs="?", default="head", help="target revision id (default: head)")
    up.set_defaults(func=_db_upgrade)
    down = db.add_parser("downgrade", help="downgrade the schema to REV (e.g. -1, or base to drop every table)")
    down.add_argument("revision", help="target revision id, -N for N steps back, or base")
    down.set_defaults(func=_db_downgrade)
    db.add_parser("current", help="print the warehouse's revision (and whether it is the head)").set_defaults(
        func=_db_current)


def _warehouse_label(settings, warehouse) -> str:
    url = warehouse.engine.url.render_as_string(hide_password=True)
    return settings.warehouse_url if not settings.is_postgres else f"postgresql ({url})"


def _db_upgrade(args) -> int:
    from thunderline.config import load_settings
    from thunderline.store import migrations
    from thunderline.stores import open_stores

    s = load_settings()
    with open_stores(s) as stores:
        notes = stores.warehouse.migrate("upgrade", args.revision)
        rev = migrations.current(stores.warehouse.engine)
        label = _warehouse_label(s, stores.warehouse)
    print(f"warehouse ready at revision {rev}: {label}")
    for n in notes:
        print(f"note: {n}")
    return 0


def _db_downgrade(args) -> int:
    from thunderline.config import load_settings
    from thunderline.store import migrations
    from thunderline.stores import open_stores

    with open_stores(load_settings()) as stores:
        stores.warehouse.migrate("downgrade", args.revision)
        rev = migrations.current(stores.warehouse.engine)
    print(f"warehouse downgraded to revision {rev or 'base (no tables)'}")
    return 0


def _db_current(args) -> int:
    from thunderline.config import load_settings
    from thunderline.store import migrations
    from thunderline.stores import open_stores

    with open_stores(load_settings(), check=True) as stores:
        rev = migrations.current(stores.warehouse.engine)
    head = migrations.head()
    state = "head" if rev == head else f"behind head {head}; run `thunderline db upgrade`"
    print(f"{rev or 'none (empty or created before migrations)'} ({state})")
    return 0
