"""``thunderline retention status|tier|purge`` and ``thunderline restore MONTH``.

``tier`` runs ``retention_tiering_job`` through the Dagster instance (the run and its metadata show in the
UI like the nightly schedule's); ``restore`` and ``purge`` call the core directly. ``purge`` without
``--yes`` only prints what the keep horizons would delete.
"""

from __future__ import annotations

import argparse
import datetime as dt

from thunderline.identifiers import InvalidIdentifier, check_month
from thunderline_cli.errors import CliError


def _month(text: str) -> str:
    try:
        return check_month(text)
    except InvalidIdentifier as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def register(sub) -> None:
    p = sub.add_parser("retention", help="retention: tier lake months to cold storage, show the policy, purge")
    rsub = p.add_subparsers(dest="retention_command", required=True)
    st = rsub.add_parser("status", help="the tenant's horizons and what is in cold storage")
    st.set_defaults(func=run_status)
    tier = rsub.add_parser("tier", help="tier months past the hot horizon (or --month) to THUNDERLINE_COLD_URL")
    tier.add_argument("--month", dest="months", action="append", type=_month, default=[],
                      help="YYYY-MM to tier whatever the policy says (repeatable)")
    tier.add_argument("-v", "--verbose", action="store_true", help="show Dagster's log lines")
    tier.set_defaults(func=run_tier)
    purge = rsub.add_parser("purge", help="delete data past the keep horizons (prints the plan unless --yes)")
    purge.add_argument("--yes", action="store_true", help="delete (default: only show what would go)")
    purge.add_argument("--today", type=_day, default=None, help="count horizons from this day (default: today)")
    purge.set_defaults(func=run_purge)
    r = sub.add_parser("restore", help="bring a tiered month back into the lake (sha256-checked, bit-identical)")
    r.add_argument("month", type=_month, help="YYYY-MM")
    r.add_argument("--from-manifest", action="store_true",
                   help="raw EDGAR only: restore from the month's cold manifest.json alone (the warehouse lost its "
                        "records of the month); every file and document checked against the manifest and itself")
    r.set_defaults(func=run_restore)


def tier_months(settings, months: list[str], *, source: str, verbose: bool = False,
                edgar: bool = False) -> list[dict]:
    """Run ``retention_tiering_job`` for ``months`` (empty: what the policy says is due); one dict per month and
    data class tiered. ``edgar``: named months are raw EDGAR months too (the demo names lake months only)."""
    from thunderline_cli.dagster_runs import RunSession

    session = RunSession(settings, source=source, verbose=verbose)
    ops = {"tier_lake_months": {"config": {"months": months}}}
    # a month named for the lake only: the EDGAR op tiers nothing it was not asked for
    ops["tier_edgar_months"] = {"config": {"months": months, "enabled": edgar or not months}}
    runs = session.run("retention_tiering_job", config={"ops": ops})
    if not runs.ok:
        raise CliError(f"retention_tiering_job failed: {runs.failure()}")
    from thunderline.stores import open_stores

    with open_stores(settings) as stores, stores.warehouse.session(settings.tenant_id) as s:
        a = s.table("retention_audit")
        rows = s.select("retention_audit", a.c.action == "tier", a.c.actor == f"dagster:{runs.results[0].run_id}",
                        order_by=[a.c.data_class.desc(), a.c.month])
    return [{"month": r["month"], "data_class": r["data_class"], **r["detail"]} for r in rows]


def run_tier(args) -> int:
    from thunderline.config import load_settings

    settings = load_settings()
    done = tier_months(settings, args.months, source="cli:retention", verbose=args.verbose, edgar=True)
    for d in done:
        stale = d.get("stale_temps_removed") or 0  # audit rows of earlier releases do not carry it
        swept = f"; {stale} stale temporaries of interrupted runs removed" if stale else ""
        if d["data_class"] == "raw_edgar":
            print(f"{d['month']}: {d['rows']} EDGAR documents ({d['bytes']:,} bytes) → {d['cold_url']}; "
                  f"manifest {d['manifest']}{swept}")
            continue
        print(f"{d['month']}: {d['files']} files ({d['bytes']:,} bytes) → {d['cold_url']}, {d['already_cold']} "
              f"already cold; manifest {d['manifest']}{swept}")
    if not done:
        print(f"nothing to tier for tenant {settings.tenant_id!r} (hot horizon: "
              f"{settings.retention.for_tenant(settings.tenant_id, 'raw_ticks').hot_days or 'none configured'})")
    return 0


def run_restore(args) -> int:
    from thunderline.config import load_settings
    from thunderline.retention import RetentionError, restore_month
    from thunderline.retention.edgar import restore_edgar_month
    from thunderline.stores import open_stores

    settings = load_settings()
    if args.from_manifest:
        return run_restore_from_manifest(settings, args.month)
    e = None
    with open_stores(settings, check=True) as stores:
        try:
            e = restore_edgar_month(stores.warehouse, settings.tenant_id, args.month, settings.cold_url)
            r = restore_month(stores.warehouse, stores.lake, settings.tenant_id, args.month, settings.cold_url)
        except RetentionError as exc:
            if e is None or "nothing of" not in str(exc):
                raise CliError(str(exc)) from None
            r = None
    if e is not None:
        print(f"{args.month}: {e.rows} EDGAR documents restored to the warehouse from {e.batches} cold batches; "
              f"ids and content hashes identical for {e.verified} of {e.rows}")
    if r is not None:
        print(f"{args.month}: {r.files} files ({r.bytes:,} bytes) restored to {settings.lake_dir}, {r.already_hot} "
              f"already there; sha256 identical to ingest for {r.verified} of {r.files + r.already_hot}")
    return 0


def run_restore_from_manifest(settings, month: str) -> int:
    from thunderline.retention import RetentionError
    from thunderline.retention.edgar_manifest import restore_edgar_from_manifest
    from thunderline.stores import open_stores

    with open_stores(settings, check=True) as stores:
        try:
            m = restore_edgar_from_manifest(stores.warehouse, settings.tenant_id, month, settings.cold_url)
        except RetentionError as exc:
            raise CliError(str(exc)) from None
    print(f"{month}: {m.rows} EDGAR documents restored to the warehouse from {m.batches} cold batches listed in "
          f"{m.manifest_url}; every content hash and id recomputed from the content ({m.verified} of {m.rows})")
    return 0


def run_purge(args) -> int:
    from thunderline.config import load_settings
    from thunderline.retention.purge import purge
    from thunderline.stores import open_stores

    settings = load_settings()
    today = args.today or dt.datetime.now(dt.timezone.utc).date()
    with open_stores(settings, check=True) as stores:
        plan = purge(stores.warehouse, stores.lake, settings.tenant_id, settings.retention, settings.cold_url,
                     today=today, execute=args.yes, actor="cli:purge")
    if not plan.items:
        print(f"no keep horizon configured for tenant {settings.tenant_id!r}: nothing is ever deleted")
    for i in plan.items:
        verb = "deleted" if plan.executed else "would delete"
        print(f"{i.data_class:10} before {i.before}: {verb} {i.rows:,} rows, {i.files:,} files")
    if plan.items and not plan.executed:
        print("(a plan: run again with --yes to delete; each deletion is logged and audited in retention_audit)")
    return 0


def run_status(args) -> int:
    from thunderline.config import load_settings
    from thunderline.stores import open_stores

    settings = load_settings()
    print(f"tenant {settings.tenant_id}, cold location {settings.cold_url}")
    for klass, p in settings.retention.describe(settings.tenant_id).items():
        print(f"  {klass:10} hot {p['hot_days'] or '-':>6} days   keep {p['keep_days'] or 'forever'}")
    with open_stores(settings, check=True) as stores, stores.warehouse.session(settings.tenant_id) as s:
        rows = s.select("cold_files", columns=["month", "status", "bytes", "data_class"])
    by = {}
    for r in rows:
        k = (r["data_class"], r["month"], r["status"])
        files, size = by.get(k, (0, 0))
        by[k] = (files + 1, size + r["bytes"])
    for (klass, month, status), (files, size) in sorted(by.items(), key=lambda kv: (kv[0][0] != "raw_ticks", kv[0])):
        what = "files" if klass == "raw_ticks" else "EDGAR batches"
        print(f"  {month} {status:9} {files} {what}, {size:,} bytes")
    return 0


def demo_retention(settings, month: str, *, verbose: bool = False) -> bool:
    """The demo's retention step: tier ``month`` through ``retention_tiering_job``, restore it, print both."""
    from thunderline.retention import restore_month
    from thunderline.stores import open_stores

    done = tier_months(settings, [month], source="cli:demo", verbose=verbose)
    if not done:
        print(f"[retention] {month}: no lake files to tier")
        return False
    d = done[0]
    print(f"[retention] {month} tiered to cold storage (retention_tiering_job): {d['files']} files, "
          f"{d['bytes'] / 1e6:.1f} MB → {d['cold_url']} (zstd Parquet, manifest.json with a sha256 per file)")
    with open_stores(settings) as stores:
        r = restore_month(stores.warehouse, stores.lake, settings.tenant_id, month, settings.cold_url,
                          actor="cli:demo")
    total = r.files + r.already_hot
    print(f"    thunderline restore {month}: {r.files} files back in the lake, sha256 identical to ingest for "
          f"{r.verified} of {total}")
    return r.verified == total
