"""Tier a tenant's raw EDGAR month (``raw_edgar_docs`` rows accepted in it) to cold storage, and restore it.

Why a separate path from the lake's: raw EDGAR lives in the warehouse (one row per document: its
sections, XBRL facts and metadata as JSON), not as lake files, so there is no file to move. The
month's rows are written as one zstd Parquet file (``tenant=T/edgar/month=M/raw_edgar_docs-<batch>.parquet``,
every column; JSON as its text), read back and compared row by row with what was selected, and only
then — in one transaction — its ``cold_files`` row is committed and the rows deleted. A crash before
that transaction leaves every row in the warehouse (a re-run writes the same file again); after it,
the month is done. ``manifest.json`` beside it lists every file of the month with its sha256, bytes
and rows. Documents accepted in the month after it was tiered form another batch (another file).

Restore reads each batch, checks its sha256 against ``cold_files``, and upserts the rows back with
the same ids and content hashes (checked), so EDGAR windows recomputed from them hash identically.
Tenant isolation: every select, delete and upsert runs in the tenant's own session (RLS on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from thunderline.faults import fault_point
from thunderline.hashing import content_id
from thunderline.partitioning import month_of_us
from thunderline.retention.coldstore import ColdStore, exists, open_cold, sha256_of, write_bytes
from thunderline.retention.tiering import RetentionError, _audit
from thunderline.store.schema import JSONType, raw_edgar_docs, utcnow
from thunderline.store.warehouse import TenantSession, Warehouse

log = logging.getLogger(__name__)
TABLE = "raw_edgar_docs"
CLASS = "raw_edgar"
_JSON = [c.name for c in raw_edgar_docs.columns if c.type is JSONType or isinstance(c.type, sa.JSON)]


@dataclass
class EdgarTierReport:
    tenant_id: str
    month: str
    cold_url: str
    tier_batch: str = ""
    manifest_url: str = ""
    rows: int = 0  # moved by this run
    bytes: int = 0
    already_cold: int = 0  # batches of the month recorded cold by earlier runs


@dataclass
class EdgarRestoreReport:
    tenant_id: str
    month: str
    batches: int = 0
    rows: int = 0
    verified: int = 0  # rows whose id and content_hash equal the ones tiered


def month_rel(tenant_id: str, month: str) -> str:
    return f"tenant={tenant_id}/edgar/month={month}"


def _arrow_type(col: sa.Column) -> pa.DataType:
    if col.name in _JSON:
        return pa.string()
    if isinstance(col.type, (sa.BigInteger, sa.Integer)):
        return pa.int64()
    if isinstance(col.type, sa.DateTime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


SCHEMA = pa.schema([pa.field(c.name, _arrow_type(c)) for c in raw_edgar_docs.columns if c.name != "tenant_id"])


def to_parquet(rows: list[dict]) -> bytes:
    """The rows as one zstd Parquet file (JSON columns as their text); deterministic for the same rows."""
    cols = {f.name: [json.dumps(r[f.name], sort_keys=True) if f.name in _JSON and r[f.name] is not None
                     else r[f.name] for r in rows] for f in SCHEMA}
    buf = io.BytesIO()
    pq.write_table(pa.table(cols, schema=SCHEMA), buf, compression="zstd")
    return buf.getvalue()


def from_parquet(data: bytes) -> list[dict]:
    rows = pq.read_table(io.BytesIO(data)).to_pylist()
    for r in rows:
        for name in _JSON:
            r[name] = json.loads(r[name]) if r[name] is not None else None
    return rows


def _same(a: dict, b: dict) -> bool:
    return all(json.dumps(a[k], sort_keys=True, default=str) == json.dumps(b[k], sort_keys=True, default=str)
               for k in SCHEMA.names if k != "inserted_at")


def tier_edgar_month(warehouse: Warehouse, tenant_id: str, month: str, cold_url: str, *,
                     actor: str = "cli") -> EdgarTierReport:
    """Move ``tenant_id``'s raw EDGAR documents accepted in ``month`` to ``cold_url`` (module docstring)."""
    cold = open_cold(cold_url)
    report = EdgarTierReport(tenant_id, month, cold_url,
                             manifest_url=cold.url_of(f"{month_rel(tenant_id, month)}/manifest.json"))
    with warehouse.session(tenant_id) as s:
        t = s.table(TABLE)
        rows = s.select(TABLE, t.c.month == month, order_by=[t.c.id])
        c = s.table("cold_files")
        report.already_cold = s.count("cold_files", c.c.data_class == CLASS, c.c.month == month,
                                      c.c.status == "cold")
    if not rows:
        return report
    report.tier_batch = content_id("cold_tier_edgar", [tenant_id, month, [r["id"] for r in rows]])
    data = to_parquet(rows)
    sha, dst = hashlib.sha256(data).hexdigest(), cold.url_of(f"{month_rel(tenant_id, month)}/"
                                                             f"{TABLE}-{report.tier_batch[:16]}.parquet")
    write_bytes(cold.fs, cold.path_of(dst), data)
    _verify_copy(cold, dst, sha, rows)
    fault_point("retention.edgar_copied")
    with warehouse.session(tenant_id) as s:
        s.upsert("cold_files", [dict(
            id=report.tier_batch, data_class=CLASS, month=month, symbol="", tier_batch=report.tier_batch,
            hot_path=f"warehouse:{TABLE}", cold_url=dst, manifest_url=report.manifest_url, sha256=sha,
            bytes=len(data), status="cold", tiered_at=utcnow(), restored_at=None)])
        t = s.table(TABLE)
        deleted = s.delete(TABLE, t.c.month == month, t.c.id.in_([r["id"] for r in rows]))
        if deleted != len(rows):
            raise RetentionError(f"{TABLE} {tenant_id} {month}: {deleted} rows to delete, {len(rows)} tiered; "
                                 "another writer changed the month — rolled back, nothing deleted")
    fault_point("retention.edgar_recorded")
    report.rows, report.bytes = len(rows), len(data)
    _write_manifest(warehouse, cold, tenant_id, month, report.manifest_url)
    _audit(warehouse, tenant_id, "tier", CLASS, month, actor,
           {"rows": report.rows, "bytes": report.bytes, "cold_url": dst, "manifest": report.manifest_url,
            "tier_batch": report.tier_batch, "sha256": sha})
    log.info("tiered %s raw EDGAR %s: %d documents (%d bytes) to %s", tenant_id, month, report.rows, report.bytes, dst)
    return report


def _verify_copy(cold: ColdStore, url: str, sha: str, rows: list[dict]) -> None:
    """The cold file as stored: its sha256, and its rows equal to the selected ones (else nothing is deleted)."""
    path = cold.path_of(url)
    got = sha256_of(cold.fs, path)
    if got != sha:
        raise RetentionError(f"{url}: sha256 {got} after writing, expected {sha}; rows kept in the warehouse")
    with cold.fs.open_input_stream(path) as fin:
        back = from_parquet(fin.read())
    if len(back) != len(rows) or not all(_same(a, b) for a, b in zip(back, rows)):
        raise RetentionError(f"{url}: the rows read back differ from the warehouse's; rows kept in the warehouse")


def _write_manifest(warehouse: Warehouse, cold: ColdStore, tenant_id: str, month: str, manifest_url: str) -> None:
    with warehouse.session(tenant_id) as s:
        c = s.table("cold_files")
        rows = s.select("cold_files", c.c.data_class == CLASS, c.c.month == month,
                        c.c.status.in_(["cold", "restored"]), order_by=[c.c.id])
    base = cold.url_of(month_rel(tenant_id, month)) + "/"
    files = []
    for r in rows:
        with cold.fs.open_input_stream(cold.path_of(r["cold_url"])) as fin:
            n = pq.ParquetFile(io.BytesIO(fin.read())).metadata.num_rows
        files.append({"tier_batch": r["id"], "path": r["cold_url"][len(base):], "sha256": r["sha256"],
                      "bytes": r["bytes"], "rows": n, "status": r["status"]})
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
        path = cold.path_of(b["cold_url"])
        if not exists(cold.fs, path):
            raise RetentionError(f"{b['cold_url']}: cold EDGAR batch of {month} is missing; nothing restored for it")
        with cold.fs.open_input_stream(path) as fin:
            data = fin.read()
        if hashlib.sha256(data).hexdigest() != b["sha256"]:
            raise RetentionError(f"{b['cold_url']}: sha256 differs from the recorded {b['sha256']}; the cold copy "
                                 "is damaged, nothing restored for it")
        rows = from_parquet(data)
        with warehouse.session(tenant_id) as s:
            s.upsert(TABLE, rows)
            t = s.table(TABLE)
            back = {r["id"]: r["content_hash"] for r in s.select(TABLE, t.c.id.in_([r["id"] for r in rows]),
                                                                   columns=["id", "content_hash"])}
            report.verified += sum(back.get(r["id"]) == r["content_hash"] for r in rows)
            s.upsert("cold_files", [{**b, "status": "restored", "restored_at": utcnow()}])
        report.batches += 1
        report.rows += len(rows)
    _audit(warehouse, tenant_id, "restore", CLASS, month, actor,
           {"batches": report.batches, "rows": report.rows, "verified": report.verified, "cold_url": cold_url})
    return report


def cold_doc_rows(session: TenantSession, ciks: list[int], before_us: int) -> list[dict]:
    """The tenant's ``raw_edgar_docs`` rows of ``ciks`` accepted before ``before_us`` that sit in cold storage.

    Why: an EDGAR window is built from every document of its CIK accepted before it, so rebuilding the
    windows of a new month must see the documents of tiered months too — without them the earlier
    windows would be recomputed from a shorter history and dropped as stale. Read from each cold batch
    (``cold_files.cold_url``, sha256 checked); the warehouse stays as tiering left it."""
    c = session.table("cold_files")
    batches = session.select("cold_files", c.c.data_class == CLASS, c.c.status == "cold",
                             c.c.month <= month_of_us(before_us - 1), order_by=[c.c.id])
    wanted, out = set(ciks), []
    for b in batches:
        store = open_cold(b["cold_url"].rsplit("/", 1)[0])
        with store.fs.open_input_stream(store.path_of(b["cold_url"])) as fin:
            data = fin.read()
        if hashlib.sha256(data).hexdigest() != b["sha256"]:
            raise RetentionError(f"{b['cold_url']}: sha256 differs from the recorded {b['sha256']}; the cold EDGAR "
                                 "batch is damaged (windows not rebuilt from it)")
        out += [{**r, "tenant_id": session.tenant_id} for r in from_parquet(data)
                if r["cik"] in wanted and r["accepted_at"] < before_us]
    return out

