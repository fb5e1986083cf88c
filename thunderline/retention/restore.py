"""``thunderline restore``: bring a tiered month back into the lake, bit-identical.

Why from the ``cold_files`` table and checked against ``raw_tick_batches``: a restored file must
be the very bytes ingest wrote (same sha256), or windows rebuilt from it — and the decisions and
their replay hashes — could differ. Each file is copied to a temporary name beside its lake path,
its sha256 checked against both records, and only then renamed into place; the cold copy stays
(tiering the month again costs no copy of a file still there). Idempotent: a file already back
with the right sha256 is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from thunderline.hashing import file_sha256
from thunderline.retention.coldstore import copy_file, open_cold
from thunderline.retention.tiering import LOCAL, RetentionError, _audit, _hot_path
from thunderline.store.lake import Lake
from thunderline.store.schema import utcnow
from thunderline.store.warehouse import Warehouse


@dataclass
class RestoreReport:
    tenant_id: str
    month: str
    files: int = 0  # copied back by this run
    already_hot: int = 0
    bytes: int = 0
    verified: int = 0  # files whose lake sha256 equals the one ingest recorded


def restore_month(warehouse: Warehouse, lake: Lake, tenant_id: str, month: str, cold_url: str, *,
                  actor: str = "cli:restore") -> RestoreReport:
    """Copy ``tenant_id``'s cold files of ``month`` back to their lake paths; every sha256 checked."""
    cold = open_cold(cold_url)
    with warehouse.session(tenant_id) as s:
        c = s.table("cold_files")
        rows = s.select("cold_files", c.c.data_class == "raw_ticks", c.c.month == month,
                        c.c.status.in_(["cold", "restored"]),
                        order_by=[c.c.symbol, c.c.id])
        t = s.table("raw_tick_batches")
        batches = {r["id"]: r for r in s.select("raw_tick_batches", t.c.month == month)}
    if not rows:
        raise RetentionError(f"tenant {tenant_id!r} has nothing of {month} in cold storage (see `thunderline "
                             "retention status`)")
    report = RestoreReport(tenant_id, month)
    for row in rows:
        batch = batches.get(row["id"])
        if batch is None or batch["sha256"] != row["sha256"]:
            raise RetentionError(f"cold file {row['cold_url']}: its raw_tick_batches row is missing or records "
                                 "another sha256; not restored")
        hot = _hot_path(lake, tenant_id, batch)
        if hot.exists() and file_sha256(hot) == row["sha256"]:
            report.already_hot += 1
        else:
            staged = hot.parent / f".{hot.name}.restoring"  # not *.parquet: the lake never lists it
            sha, size = copy_file(cold.fs, cold.path_of(row["cold_url"]), LOCAL, str(staged))
            if sha != row["sha256"]:
                staged.unlink(missing_ok=True)
                raise RetentionError(f"{row['cold_url']}: sha256 {sha} differs from the recorded {row['sha256']}; "
                                     "the cold copy is damaged, nothing restored for it")
            staged.replace(hot)
            report.files += 1
            report.bytes += size
        report.verified += file_sha256(hot) == batch["sha256"]
        if row["status"] != "restored":
            with warehouse.session(tenant_id) as s:
                s.upsert("cold_files", [{**row, "status": "restored", "restored_at": utcnow()}])
    _audit(warehouse, tenant_id, "restore", "raw_ticks", month, actor,
           {"files": report.files, "already_hot": report.already_hot, "bytes": report.bytes,
            "verified": report.verified, "cold_url": cold_url})
    return report

