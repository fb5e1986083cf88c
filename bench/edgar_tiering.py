"""Raw EDGAR months to cold storage and back: size and CPU per month on the real filings, SQLite.

Usage: python bench/edgar_tiering.py [DATASETS_DIR]

Ingests the Worlds Inc. 10-Ks (three months, one document each) and the AAPL 10-Q of 2025-03-29 with its XBRL
instance (one month, two documents, dated by sidecars) for one tenant, then per month: the rows as JSON text
(what the warehouse holds, roughly) vs the zstd Parquet batch tiering writes, CPU seconds of
``tier_edgar_month`` (write, read back, compare, record, delete) and of ``restore_edgar_month``, and how many
restored rows kept their id and content hash. Ratios are what to compare; absolute CPU is noisy under load.
"""

from __future__ import annotations

import json
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


def main() -> None:
    datasets = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/datasets")
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


if __name__ == "__main__":
    main()
