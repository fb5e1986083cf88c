"""Raw EDGAR months to cold storage and back: size and CPU per month on the real filings, SQLite.

Usage: python bench/edgar_tiering.py [DATASETS_DIR]
       python bench/edgar_tiering.py --rss [--docs 200,800,3200] [--text-kb 50] [--chunk 64] [--baseline PATH]

Ingests the Worlds Inc. 10-Ks (three months, one document each) and the AAPL 10-Q of 2025-03-29 with its XBRL
instance (one month, two documents, dated by sidecars) for one tenant, then per month: the rows as JSON text
(what the warehouse holds, roughly) vs the zstd Parquet batch tiering writes, CPU seconds of
``tier_edgar_month`` (write, read back, compare, record, delete) and of ``restore_edgar_month``, and how many
restored rows kept their id and content hash. Ratios are what to compare; absolute CPU is noisy under load.

``--rss``: peak resident memory of tiering against month size. For each size a synthetic month of that many
10-Q-like documents (one ``--text-kb`` section each) is stored in a fresh SQLite warehouse, and a fresh
process tiers it and reports its peak RSS (``ru_maxrss``) above what it held before the call, and its
CPU-seconds. ``--baseline PATH`` runs the same months through another checkout's ``thunderline`` as well
(e.g. ``/work/main`` before chunked tiering), so before and after come from the same run. ``--pg ADMIN_URL``:
each month in its own PostgreSQL database (created, then dropped) instead of SQLite, whose 128 MB page
cache (the warehouse's setting) otherwise fills with the month and counts in the tiering process's RSS.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thunderline.flow.edgar_partition import ingest_filing_partition, landing_classifier, submissions_first
from thunderline.flow.landing import candidate_files, index_files
from thunderline.retention.edgar import restore_edgar_month, tier_edgar_month
from thunderline.store import Warehouse

FILES = {"worlds_inc": ["0001264931-16-000339.txt", "0001264931-17-000036.txt", "0001264931-18-000031.txt"],
         "aapl": ["aapl-20250329.htm", "aapl-20250329_htm.xml"]}
AAPL_SIDECAR = {"cik": 320193, "filed_date": "2025-05-02", "accession": "0000320193-25-000057"}


def real_months(datasets: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="edgar_tiering_"))
    landing = tmp / "landing"
    landing.mkdir()
    for company, names in FILES.items():
        for name in names:
            (landing / name).symlink_to(datasets / "edgar" / company / name)
            if company == "aapl":
                (landing / f"{name}.meta.json").write_text(json.dumps(AAPL_SIDECAR))
    wh = Warehouse(f"sqlite:///{tmp / 'warehouse.db'}")
    wh.init_schema()
    with wh.session("bench") as s:
        landed = index_files(s, "edgar", submissions_first(candidate_files(landing)), landing_classifier(s))
        months = sorted({p for f in landed for p in f.partitions})
        for m in months:
            ingest_filing_partition(s, m)
        rows = s.select("raw_edgar_docs")
    for m in months:
        in_month = [r for r in rows if r["month"] == m]
        as_json = sum(len(json.dumps(r, default=str)) for r in in_month)
        t0 = time.process_time()
        tiered = tier_edgar_month(wh, "bench", m, str(tmp / "cold"))
        t1 = time.process_time()
        back = restore_edgar_month(wh, "bench", m, str(tmp / "cold"))
        t2 = time.process_time()
        print(f"{m}: {tiered.rows} docs, rows as JSON {as_json:,} B -> zstd Parquet {tiered.bytes:,} B "
              f"({as_json / tiered.bytes:.1f}x smaller); tier {t1 - t0:.3f} CPU-s, restore {t2 - t1:.3f} CPU-s; "
              f"id and content hash identical for {back.verified} of {back.rows}")


def seed_month(url: str, docs: int, text_bytes: int) -> str:
    """``docs`` synthetic documents of 2024-05 for tenant ``bench``, written 100 at a time (as ingest stores them)."""
    from thunderline.contracts import EDGARDoc
    from thunderline.flow.edgar_partition import doc_row

    wh = Warehouse(url)
    wh.init_schema()
    t0 = 1_714_600_000_000_000  # 2024-05-01T21:46:40Z
    for lo in range(0, docs, 100):
        rows = []
        for i in range(lo, min(lo + 100, docs)):
            body = (f"Item 7. Management's discussion, filer {i}. " * (text_bytes // 40 + 1))[:text_bytes]
            rows.append(doc_row(EDGARDoc(
                tenant_id="bench", cik=900_000 + i, accession=f"0000900000-24-{i:06d}", form="10-Q",
                company_name=f"Filer {i} Inc", period_of_report="2024-03-31", filed_date="2024-05-02",
                accepted_at_us=t0 + i * 1_000_000, doc_kind="html", source=f"filer{i}.htm@{i:016x}",
                sections={"7": {"title": "MD&A", "text": body, "confidence": 1.0, "start": 0, "end": len(body)}})))
        with wh.session("bench") as s:
            s.upsert("raw_edgar_docs", rows)
    wh.dispose()
    return "2024-05"


def tier_child(url: str, month: str, cold: str, chunk: int) -> None:
    """In a fresh process: tier the month, print peak RSS above the pre-call peak and CPU-seconds (JSON)."""
    wh = Warehouse(url)
    with wh.session("bench") as s:
        s.count("raw_edgar_docs")  # connect and import before the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kw = {"chunk_rows": chunk} if "chunk_rows" in inspect.signature(tier_edgar_month).parameters else {}
    t0 = time.process_time()
    r = tier_edgar_month(wh, "bench", month, cold, **kw)
    cpu = time.process_time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": r.rows, "bytes": r.bytes, "rss_before_mb": before / 1024,
                      "rss_added_mb": (peak - before) / 1024, "cpu_s": cpu}))


def _database(args: argparse.Namespace, tmp: Path, name: str, drop: list) -> str:
    """A fresh warehouse URL: a SQLite file, or a PostgreSQL database created under ``--pg`` (dropped at the end)."""
    if not args.pg:
        return f"sqlite:///{tmp / f'{name}.db'}"
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    db = f"edgar_tiering_bench_{os.getpid()}_{name}"
    engine = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    engine.dispose()
    drop.append(db)
    return make_url(args.pg).set(database=db).render_as_string(hide_password=False)


def _drop(args: argparse.Namespace, dbs: list) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for db in dbs:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}"'))
    engine.dispose()


def rss_table(args: argparse.Namespace) -> None:
    tmp, dbs = Path(tempfile.mkdtemp(prefix="edgar_tiering_rss_")), []
    try:
        _rss_rows(args, tmp, dbs)
    finally:
        if dbs:
            _drop(args, dbs)


def _rss_rows(args: argparse.Namespace, tmp: Path, dbs: list) -> None:
    checkouts = [("this checkout", None)] + ([("baseline " + args.baseline, args.baseline)] if args.baseline else [])
    print(f"{'documents':>9} {'month JSON':>11} | " + " | ".join(f"{name}: RSS added, CPU-s" for name, _ in checkouts))
    for docs in [int(d) for d in args.docs.split(",")]:
        cells, size = [], 0
        for name, path in checkouts:
            url = _database(args, tmp, f"{docs}_{len(cells)}", dbs)
            seed_month(url, docs, args.text_kb * 1000)
            env = dict(os.environ, PYTHONPATH=path) if path else dict(os.environ)
            out = subprocess.run([sys.executable, __file__, "--tier-child", url, "2024-05",
                                  str(tmp / f"cold-{docs}-{len(cells)}"), str(args.chunk)],
                                 env=env, check=True, capture_output=True, text=True).stdout
            res = json.loads(out.strip().splitlines()[-1])
            size = docs * args.text_kb * 1000
            cells.append(f"{res['rss_added_mb']:7.1f} MB, {res['cpu_s']:5.2f} (rows {res['rows']})")
        print(f"{docs:>9} {size / 1e6:>8.1f} MB | " + " | ".join(cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="?", default="/work/shared/datasets")
    ap.add_argument("--rss", action="store_true")
    ap.add_argument("--docs", default="200,800,3200")
    ap.add_argument("--text-kb", type=int, default=50)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--baseline", default="")
    ap.add_argument("--pg", default="", help="PostgreSQL admin URL: one database per month instead of SQLite")
    ap.add_argument("--tier-child", nargs=4, metavar=("URL", "MONTH", "COLD", "CHUNK"))
    args = ap.parse_args()
    if args.tier_child:
        url, month, cold, chunk = args.tier_child
        tier_child(url, month, cold, int(chunk))
    elif args.rss:
        rss_table(args)
    else:
        real_months(Path(args.datasets))


if __name__ == "__main__":
    main()
