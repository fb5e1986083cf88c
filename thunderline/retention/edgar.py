"""Tier a tenant's raw EDGAR month (``raw_edgar_docs`` rows accepted in it) to cold storage, and restore it.

Why a separate path from the lake's: raw EDGAR lives in the warehouse (one row per document: its
sections, XBRL facts and metadata as JSON), not as lake files, so there is no file to move. The
month's rows are streamed in chunks of ``chunk_rows`` into one zstd Parquet file
(``tenant=T/edgar/month=M/raw_edgar_docs-<batch>.parquet``, one row group a chunk, every column; JSON as its
text; :mod:`thunderline.retention.edgar_batch`), read back a row group at a time and checked (sha256, row
count and a digest of every column against what was written), and only then — in one transaction — its
``cold_files`` row and its documents' memberships (``cold_edgar_members``: which batch holds which document,
for lineage) are committed and the rows deleted. No step holds more than one chunk of documents.

The delete removes exactly what was tiered: each row is deleted by the (id, content_hash) the cold file
holds, and the transaction rolls back unless every tiered row was deleted. A re-ingest that stored another
version of a document between the select and the delete (or deleted one) therefore loses nothing: the
attempt is rolled back, its unrecorded cold file removed, and the month tiered again from what the
warehouse now holds (up to ``attempts`` times, then RetentionError with every row still hot). A crash
before the transaction leaves every row in the warehouse (a re-run writes the file again); after it, the
month is done; a ``kill -9`` mid-write leaves a hidden temporary, which the next run removes before it writes
(only temporaries created before it started: ``coldstore.sweep_stale_temps``) and counts in its report.
``manifest.json`` beside it lists every file of the month with its sha256, bytes and rows.
Documents accepted in the month after it was tiered form another batch (another file).

Restore reads each batch a row group at a time, checks its sha256 against ``cold_files``, and upserts the
rows back with the same ids and content hashes (checked), so EDGAR windows recomputed from them hash
identically. Tenant isolation: every select, delete and upsert runs in the tenant's own session (RLS on
PostgreSQL).
"""

from __future__ import annotations

import json
import logging
import posixpath
from dataclasses import dataclass

import sqlalchemy as sa

from thunderline.faults import fault_point
from thunderline.hashing import content_id
from thunderline.partitioning import month_of_us
from thunderline.retention.coldstore import (
    ColdStore,
    exists,
    now_us,
    open_cold,
    remove_quietly,
    sha256_of,
    sweep_stale_temps,
    temp_path,
    write_bytes,
)
from thunderline.retention.edgar_batch import TABLE, BatchWriter, content_digest, iter_rows, matching_rows, open_batch
from thunderline.retention.tiering import RetentionError, _audit
from thunderline.store.schema import utcnow
from thunderline.store.warehouse import TenantSession, Warehouse

log = logging.getLogger(__name__)
CLASS = "raw_edgar"
MEMBERS = "cold_edgar_members"
CHUNK_ROWS = 64  # documents fetched, written and read back at a time (a 10-K's row is ~0.2-0.4 MB of JSON)
ATTEMPTS = 3
SHA_CHUNK = 1 << 20  # bytes hashed at a time: a batch is checked without holding much more than a chunk of rows
_KEYS_PER_DELETE = 400  # (id, content_hash) pairs per DELETE: 2 bound parameters each


class _MonthChanged(Exception):
    """Rows tiered by this attempt were changed or removed by another writer before the delete."""


@dataclass
class EdgarTierReport:
    tenant_id: str
    month: str
    cold_url: str
    tier_batch: str = ""
    manifest_url: str = ""
    rows: int = 0  # moved by this run
    bytes: int = 0
    sha256: str = ""
    already_cold: int = 0  # batches of the month recorded cold by earlier runs
    chunk_rows: int = CHUNK_ROWS
    peak_rows_in_flight: int = 0  # the most documents held at once (one chunk)
    row_groups: int = 0
    attempts: int = 0  # 1, or more when another writer changed the month while it was tiered
    stale_temps_removed: int = 0  # temporaries of interrupted runs removed from the month's cold directory


@dataclass
class EdgarRestoreReport:
    tenant_id: str
    month: str
    batches: int = 0
    rows: int = 0
    verified: int = 0  # rows whose id and content_hash equal the ones tiered


def month_rel(tenant_id: str, month: str) -> str:
    return f"tenant={tenant_id}/edgar/month={month}"


def tier_edgar_month(warehouse: Warehouse, tenant_id: str, month: str, cold_url: str, *, actor: str = "cli",
                     chunk_rows: int = CHUNK_ROWS, attempts: int = ATTEMPTS) -> EdgarTierReport:
    """Move ``tenant_id``'s raw EDGAR documents accepted in ``month`` to ``cold_url`` (module docstring)."""
    if chunk_rows < 1 or attempts < 1:
        raise ValueError(f"chunk_rows and attempts must be >= 1 (got {chunk_rows}, {attempts})")
    started = now_us()
    cold = open_cold(cold_url)
    report = EdgarTierReport(tenant_id, month, cold_url, chunk_rows=chunk_rows,
                             manifest_url=cold.url_of(f"{month_rel(tenant_id, month)}/manifest.json"))
    with warehouse.session(tenant_id) as s:
        c = s.table("cold_files")
        report.already_cold = s.count("cold_files", c.c.data_class == CLASS, c.c.month == month,
                                      c.c.status == "cold")
    report.stale_temps_removed = sweep_stale_temps(cold, month_rel(tenant_id, month), started)
    for report.attempts in range(1, attempts + 1):
        try:
            dst = _tier_once(warehouse, cold, report)
            break
        except _MonthChanged as exc:
            log.warning("tiering %s raw EDGAR %s, attempt %d: %s", tenant_id, month, report.attempts, exc)
    else:
        raise RetentionError(f"{TABLE} {tenant_id} {month}: another writer changed the month's documents during "
                             f"each of {attempts} tiering attempts; every row is still in the warehouse")
    if dst is None:
        return report
    fault_point("retention.edgar_recorded")
    _write_manifest(warehouse, cold, tenant_id, month, report.manifest_url)
    _audit(warehouse, tenant_id, "tier", CLASS, month, actor,
           {"rows": report.rows, "bytes": report.bytes, "cold_url": dst, "manifest": report.manifest_url,
            "tier_batch": report.tier_batch, "sha256": report.sha256, "attempts": report.attempts,
            "stale_temps_removed": report.stale_temps_removed})
    log.info("tiered %s raw EDGAR %s: %d documents (%d bytes) to %s, %d stale temporaries removed", tenant_id, month,
             report.rows, report.bytes, dst, report.stale_temps_removed)
    return report


def _month_chunks(warehouse: Warehouse, tenant_id: str, month: str, chunk_rows: int):
    """The month's rows in id order, ``chunk_rows`` at a time, each chunk read in its own short transaction."""
    last = ""
    while True:
        with warehouse.session(tenant_id) as s:
            t = s.table(TABLE)
            rows = s.select(TABLE, t.c.month == month, t.c.id > last, order_by=[t.c.id], limit=chunk_rows)
        if rows:
            yield rows
        if len(rows) < chunk_rows:
            return
        last = rows[-1]["id"]


def _tier_once(warehouse: Warehouse, cold: ColdStore, report: EdgarTierReport) -> str | None:
    """One attempt: stream, verify, record and delete. The cold URL written, or None when nothing was hot."""
    tenant_id, month = report.tenant_id, report.month
    rel = month_rel(tenant_id, month)
    tmp = temp_path(cold.path_of(cold.url_of(f"{rel}/{TABLE}.parquet")))
    cold.fs.create_dir(posixpath.dirname(tmp), recursive=True)
    writer = BatchWriter(cold, tmp)
    try:
        for rows in _month_chunks(warehouse, tenant_id, month, report.chunk_rows):
            writer.write(rows)
        writer.close()
    except BaseException:
        writer.abort()
        remove_quietly(cold.fs, tmp)
        raise
    if writer.rows == 0:
        remove_quietly(cold.fs, tmp)
        return None
    report.tier_batch = content_id("cold_tier_edgar", [tenant_id, month, writer.ids.hexdigest()])
    dst = cold.url_of(f"{rel}/{TABLE}-{report.tier_batch[:16]}.parquet")
    cold.fs.move(tmp, cold.path_of(dst))
    try:
        sha = _verify_copy(cold, dst, writer)
        fault_point("retention.edgar_copied")
        _record_and_delete(warehouse, cold, report, dst, sha, writer.rows)
    except (_MonthChanged, RetentionError):
        _drop_unrecorded(warehouse, cold, tenant_id, report.tier_batch, dst)
        raise
    report.rows, report.bytes, report.sha256 = writer.rows, cold.fs.get_file_info(cold.path_of(dst)).size, sha
    report.peak_rows_in_flight, report.row_groups = writer.peak_rows, writer.row_groups
    return dst


def _verify_copy(cold: ColdStore, url: str, writer: BatchWriter) -> str:
    """The cold file as stored: its sha256, and its rows equal to the ones written (else nothing is deleted)."""
    path = cold.path_of(url)
    sha = sha256_of(cold.fs, path, SHA_CHUNK)
    n, digest = content_digest(cold, path)
    if (n, digest) != (writer.rows, writer.content.hexdigest()):
        raise RetentionError(f"{url}: the {n} rows read back differ from the {writer.rows} written; rows kept in "
                             "the warehouse")
    return sha


def _record_and_delete(warehouse: Warehouse, cold: ColdStore, report: EdgarTierReport, url: str, sha: str,
                       rows: int) -> None:
    """One transaction: delete every tiered (id, content_hash), record the batch and its members — or nothing."""
    tenant_id, month = report.tenant_id, report.month
    path = cold.path_of(url)
    with warehouse.session(tenant_id) as s:
        t = s.table(TABLE)
        deleted = 0
        for keys in iter_rows(cold, path, columns=["id", "content_hash"]):
            for i in range(0, len(keys), _KEYS_PER_DELETE):
                pairs = [(k["id"], k["content_hash"]) for k in keys[i:i + _KEYS_PER_DELETE]]
                deleted += s.delete(TABLE, t.c.month == month, sa.tuple_(t.c.id, t.c.content_hash).in_(pairs))
            s.upsert(MEMBERS, [dict(id=k["id"], tier_batch=report.tier_batch, month=month,
                                    content_hash=k["content_hash"]) for k in keys])
        if deleted != rows:
            raise _MonthChanged(f"{deleted} of the {rows} documents tiered to {url} still held the tiered "
                                "version at the delete; rolled back, nothing deleted")
        s.upsert("cold_files", [dict(
            id=report.tier_batch, data_class=CLASS, month=month, symbol="", tier_batch=report.tier_batch,
            hot_path=f"warehouse:{TABLE}", cold_url=url, manifest_url=report.manifest_url, sha256=sha,
            bytes=cold.fs.get_file_info(path).size, status="cold", tiered_at=utcnow(), restored_at=None)])


def _drop_unrecorded(warehouse: Warehouse, cold: ColdStore, tenant_id: str, tier_batch: str, url: str) -> None:
    """Remove a batch file no ``cold_files`` row records (an attempt rolled back): no orphan stays in cold storage."""
    with warehouse.session(tenant_id) as s:
        c = s.table("cold_files")
        if s.count("cold_files", c.c.id == tier_batch):
            return
    remove_quietly(cold.fs, cold.path_of(url))


def _write_manifest(warehouse: Warehouse, cold: ColdStore, tenant_id: str, month: str, manifest_url: str) -> None:
    with warehouse.session(tenant_id) as s:
        c = s.table("cold_files")
        rows = s.select("cold_files", c.c.data_class == CLASS, c.c.month == month,
                        c.c.status.in_(["cold", "restored"]), order_by=[c.c.id])
    base = cold.url_of(month_rel(tenant_id, month)) + "/"
    files = [{"tier_batch": r["id"], "path": r["cold_url"][len(base):], "sha256": r["sha256"], "bytes": r["bytes"],
              "rows": open_batch(cold, cold.path_of(r["cold_url"])).metadata.num_rows, "status": r["status"]}
             for r in rows]
    manifest = {"tenant_id": tenant_id, "month": month, "data_class": CLASS, "table": TABLE, "format": "parquet",
                "compression": "zstd", "files": files}
    write_bytes(cold.fs, cold.path_of(manifest_url), json.dumps(manifest, indent=1, sort_keys=True).encode())


def restore_edgar_month(warehouse: Warehouse, tenant_id: str, month: str, cold_url: str, *,
                        actor: str = "cli:restore") -> EdgarRestoreReport | None:
    """Upsert ``tenant_id``'s cold EDGAR batches of ``month`` back; None when the month has none."""
    cold = open_cold(cold_url)
    with warehouse.session(tenant_id) as s:
        c = s.table("cold_files")
        batches = s.select("cold_files", c.c.data_class == CLASS, c.c.month == month,
                           c.c.status.in_(["cold", "restored"]), order_by=[c.c.id])
    if not batches:
        return None
    report = EdgarRestoreReport(tenant_id, month)
    for b in batches:
        path = _checked_batch(cold, b, "nothing restored for it")
        with warehouse.session(tenant_id) as s:
            t = s.table(TABLE)
            for rows in iter_rows(cold, path):  # a row group at a time, in one transaction
                s.upsert(TABLE, rows)
                back = {r["id"]: r["content_hash"] for r in s.select(TABLE, t.c.id.in_([r["id"] for r in rows]),
                                                                       columns=["id", "content_hash"])}
                report.verified += sum(back.get(r["id"]) == r["content_hash"] for r in rows)
                report.rows += len(rows)
            s.upsert("cold_files", [{**b, "status": "restored", "restored_at": utcnow()}])
        report.batches += 1
    _audit(warehouse, tenant_id, "restore", CLASS, month, actor,
           {"batches": report.batches, "rows": report.rows, "verified": report.verified, "cold_url": cold_url})
    return report


def _checked_batch(cold: ColdStore, batch: dict, consequence: str) -> str:
    """The path of a recorded cold batch, after checking it is there with the recorded sha256."""
    path = cold.path_of(batch["cold_url"])
    if not exists(cold.fs, path):
        raise RetentionError(f"{batch['cold_url']}: cold EDGAR batch of {batch['month']} is missing; {consequence}")
    if sha256_of(cold.fs, path, SHA_CHUNK) != batch["sha256"]:
        raise RetentionError(f"{batch['cold_url']}: sha256 differs from the recorded {batch['sha256']}; the cold "
                             f"EDGAR batch is damaged, {consequence}")
    return path


def cold_doc_rows(session: TenantSession, ciks: list[int], before_us: int) -> list[dict]:
    """The tenant's ``raw_edgar_docs`` rows of ``ciks`` accepted before ``before_us`` that sit in cold storage.

    Why: an EDGAR window is built from every document of its CIK accepted before it, so rebuilding the
    windows of a new month must see the documents of tiered months too — without them the earlier
    windows would be recomputed from a shorter history and dropped as stale. Read from each cold batch
    (``cold_files.cold_url``, sha256 checked) a row group at a time, keeping only the wanted rows; the
    warehouse stays as tiering left it."""
    c = session.table("cold_files")
    batches = session.select("cold_files", c.c.data_class == CLASS, c.c.status == "cold",
                             c.c.month <= month_of_us(before_us - 1), order_by=[c.c.id])
    out = []
    for b in batches:
        store = open_cold(b["cold_url"].rsplit("/", 1)[0])
        path = _checked_batch(store, b, "windows not rebuilt from it")
        out += [{**r, "tenant_id": session.tenant_id} for r in matching_rows(store, path, ciks, before_us)]
    return out
