"""Tier a tenant's lake month to cold storage, and restore it bit-identical.

Why this order, file by file: copy to cold (temporary name, moved into place) → check the copy's
sha256 against the one ingest recorded → commit the ``cold_files`` row → only then remove the
hot file. A crash anywhere leaves every file in the lake, in cold storage, or both, and a
re-run finishes the month: a file already recorded cold only loses its hot copy (after its cold
copy is checked again); an unrecorded cold copy is simply written again. The manifest
(``manifest.json`` beside the month's files: every file, its sha256, size and rows) is rewritten
at the end of each run from the table, so it always lists what the month holds in cold storage.
A ``kill -9`` mid-copy leaves a hidden temporary in the month's cold directory; each run first removes
the ones created before it started (``coldstore.sweep_stale_temps``), and reports how many.

Tenant isolation: rows come from the tenant's own session (row-level security on PostgreSQL),
and every hot path must lie in the tenant's own lake partition (``Lake.partition_dir``) —
a row naming another place is refused, never followed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs

from thunderline.faults import fault_point
from thunderline.hashing import content_id
from thunderline.retention.coldstore import (
    ColdStore,
    copy_file,
    now_us,
    open_cold,
    sha256_of,
    sweep_stale_temps,
    write_bytes,
)
from thunderline.retention_policy import is_past
from thunderline.store.lake import Lake
from thunderline.store.schema import utcnow
from thunderline.store.warehouse import TenantSession, Warehouse

log = logging.getLogger(__name__)
LOCAL = pafs.LocalFileSystem()


class RetentionError(RuntimeError):
    """Tiering or restoring cannot proceed safely; the message names the file and what is wrong."""


@dataclass
class TierReport:
    tenant_id: str
    month: str
    cold_url: str
    tier_batch: str = ""
    manifest_url: str = ""
    files: int = 0  # tiered by this run
    already_cold: int = 0  # recorded cold by an earlier run
    bytes: int = 0
    symbols: list[str] = field(default_factory=list)
    stale_temps_removed: int = 0  # temporaries of interrupted runs removed from the month's cold directory


def month_rel(tenant_id: str, month: str) -> str:
    return f"tenant={tenant_id}/ticks/month={month}"


def _hot_path(lake: Lake, tenant_id: str, row: dict) -> Path:
    """The batch's lake file, refused unless it lies in the tenant's own partition directory."""
    path = Path(row["path"])
    if path.parent != lake.partition_dir(tenant_id, row["month"], row["symbol"]):
        raise RetentionError(f"raw_tick_batches {row['id']}: path {path} is not in tenant {tenant_id!r}'s lake "
                             f"partition {row['month']}|{row['symbol']} under {lake.root}; refusing to move it")
    return path


def tier_month(warehouse: Warehouse, lake: Lake, tenant_id: str, month: str, cold_url: str, *,
               actor: str = "cli") -> TierReport:
    """Move ``tenant_id``'s tick files of ``month`` to ``cold_url``; idempotent, crash-safe (module docstring)."""
    started = now_us()
    cold = open_cold(cold_url)
    with warehouse.session(tenant_id) as s:
        t = s.table("raw_tick_batches")
        batches = s.select("raw_tick_batches", t.c.month == month, order_by=[t.c.symbol, t.c.id])
        c = s.table("cold_files")
        recorded = {r["id"]: r for r in s.select("cold_files", c.c.data_class == "raw_ticks", c.c.month == month)}
    report = TierReport(tenant_id, month, cold_url, symbols=sorted({b["symbol"] for b in batches}))
    report.stale_temps_removed = sweep_stale_temps(cold, month_rel(tenant_id, month), started)
    if not batches:
        return report
    report.tier_batch = content_id("cold_tier", [tenant_id, month, [b["id"] for b in batches]])
    report.manifest_url = cold.url_of(f"{month_rel(tenant_id, month)}/manifest.json")
    for row in batches:
        hot = _hot_path(lake, tenant_id, row)
        rel = f"{month_rel(tenant_id, month)}/symbol={row['symbol']}/{hot.name}"
        prior = recorded.get(row["id"])
        if prior is not None and prior["status"] == "cold":
            _drop_hot_copy(cold, prior, hot)
            report.already_cold += 1
            continue
        _tier_file(warehouse, cold, tenant_id, row, hot, rel, report)
    _write_manifest(warehouse, cold, tenant_id, month, report)
    _audit(warehouse, tenant_id, "tier", "raw_ticks", month, actor,
           {"files": report.files, "already_cold": report.already_cold, "bytes": report.bytes,
            "cold_url": cold.url_of(month_rel(tenant_id, month)), "manifest": report.manifest_url,
            "tier_batch": report.tier_batch, "stale_temps_removed": report.stale_temps_removed})
    log.info("tiered %s %s: %d files (%d bytes) to %s, %d already cold, %d stale temporaries removed", tenant_id,
             month, report.files, report.bytes, cold_url, report.already_cold, report.stale_temps_removed)
    return report


def _tier_file(warehouse: Warehouse, cold: ColdStore, tenant_id: str, row: dict, hot: Path, rel: str,
               report: TierReport) -> None:
    if not hot.exists():
        raise RetentionError(f"raw_tick_batches {row['id']}: lake file {hot} is missing and no cold copy is "
                             "recorded; nothing was moved for it (re-ingest the month, then tier again)")
    dst = cold.url_of(rel)
    sha, size = copy_file(LOCAL, str(hot), cold.fs, cold.path_of(dst))
    if sha != row["sha256"]:
        raise RetentionError(f"{hot}: sha256 {sha} differs from the {row['sha256']} ingest recorded; the lake file "
                             "changed since ingest — left in place, not tiered")
    fault_point("retention.copied")
    with warehouse.session(tenant_id) as s:
        s.upsert("cold_files", [dict(
            id=row["id"], data_class="raw_ticks", month=row["month"], symbol=row["symbol"],
            tier_batch=report.tier_batch, hot_path=str(hot), cold_url=dst, manifest_url=report.manifest_url,
            sha256=sha, bytes=size, status="cold", tiered_at=utcnow(), restored_at=None)])
    fault_point("retention.recorded")
    hot.unlink()
    report.files += 1
    report.bytes += size
    fault_point("retention.file_tiered")


def _drop_hot_copy(cold: ColdStore, prior: dict, hot: Path) -> None:
    """A file recorded cold by an earlier (interrupted) run: remove its hot copy once the cold one checks out."""
    if not hot.exists():
        return
    got = sha256_of(cold.fs, cold.path_of(prior["cold_url"]))
    if got != prior["sha256"]:
        raise RetentionError(f"{prior['cold_url']}: cold copy's sha256 {got} differs from the recorded "
                             f"{prior['sha256']}; the hot file {hot} is kept")
    hot.unlink()


def _write_manifest(warehouse: Warehouse, cold: ColdStore, tenant_id: str, month: str, report: TierReport) -> None:
    with warehouse.session(tenant_id) as s:
        c = s.table("cold_files")
        rows = s.select("cold_files", c.c.data_class == "raw_ticks", c.c.month == month, c.c.status == "cold",
                        order_by=[c.c.symbol, c.c.id])
        t = s.table("raw_tick_batches")
        counts = {r["id"]: r["rows"] for r in s.select("raw_tick_batches", t.c.month == month,
                                                          columns=["id", "rows"])}
    base = cold.url_of(month_rel(tenant_id, month)) + "/"
    manifest = {
        "tenant_id": tenant_id, "month": month, "data_class": "raw_ticks", "format": "parquet",
        "compression": "zstd", "tier_batch": report.tier_batch,
        "files": [{"batch_id": r["id"], "symbol": r["symbol"], "path": r["cold_url"][len(base):],
                   "sha256": r["sha256"], "bytes": r["bytes"], "rows": counts.get(r["id"])} for r in rows],
    }
    write_bytes(cold.fs, cold.path_of(report.manifest_url), json.dumps(manifest, indent=1, sort_keys=True).encode())


def _audit(warehouse: Warehouse, tenant_id: str, action: str, data_class: str, month: str, actor: str,
           detail: dict) -> None:
    at = utcnow()
    with warehouse.session(tenant_id) as s:
        record_audit(s, action, data_class, month, actor, detail, at)


def record_audit(s: TenantSession, action: str, data_class: str, month: str, actor: str, detail: dict,
                 at: dt.datetime) -> None:
    s.insert("retention_audit", [dict(
        id=content_id("retention_audit", [s.tenant_id, action, data_class, month, actor, at.isoformat()]),
        action=action, data_class=data_class, month=month, actor=actor, detail=detail, at=at)])



def months_due(warehouse: Warehouse, tenant_id: str, hot_days: int | None, today: dt.date) -> list[str]:
    """Months of ``tenant_id``'s lake past the hot horizon that still hold a file not recorded cold."""
    if hot_days is None:
        return []
    with warehouse.session(tenant_id) as s:
        c = s.table("cold_files")
        cold = {r["id"] for r in s.select("cold_files", c.c.status == "cold", columns=["id"])}
        months = {r["month"] for r in s.select("raw_tick_batches", columns=["id", "month"]) if r["id"] not in cold}
    return sorted(m for m in months if is_past(m, hot_days, today))


def edgar_months_due(warehouse: Warehouse, tenant_id: str, hot_days: int | None, today: dt.date) -> list[str]:
    """Months past the ``raw_edgar`` hot horizon whose documents are still in the warehouse."""
    if hot_days is None:
        return []
    with warehouse.session(tenant_id) as s:
        months = {r["month"] for r in s.select("raw_edgar_docs", columns=["month"])}
    return sorted(m for m in months if is_past(m, hot_days, today))
