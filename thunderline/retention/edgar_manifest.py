"""Restore a raw EDGAR month from its cold ``manifest.json`` alone: when the warehouse lost the month's records.

Why it is possible: a cold EDGAR batch holds every column of every document it tiered, and the month's
manifest (written beside the batches at each tiering) lists each batch with its sha256 and row count —
so a warehouse rebuilt empty, or one whose ``cold_files`` rows were lost, can get the documents back from
cold storage without any record of its own. What is checked instead of the warehouse's records: the
manifest names this tenant and month; each batch file's sha256 and row count equal the manifest's; and
every row's content recomputes to its own ``content_hash`` and ``id`` for this tenant (a document of
another tenant, or a changed one, is refused before anything is written). The batches' ``cold_files``
rows (status ``restored``) and their document memberships are recorded again, and a ``retention_audit``
row says the restore came from the manifest. Lake months cannot be restored this way: their index rows
(``raw_tick_batches``) hold what a manifest does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from thunderline.edgar.rows import row_doc
from thunderline.retention.coldstore import ColdStore, exists, open_cold, sha256_of
from thunderline.retention.edgar import CLASS, MEMBERS, SHA_CHUNK, TABLE, month_rel
from thunderline.retention.edgar_batch import iter_rows, open_batch
from thunderline.retention.tiering import RetentionError, _audit
from thunderline.store.schema import utcnow
from thunderline.store.warehouse import Warehouse


@dataclass
class ManifestRestoreReport:
    tenant_id: str
    month: str
    manifest_url: str
    batches: int = 0
    rows: int = 0
    verified: int = 0  # rows whose content recomputed to their own content_hash and id


def read_manifest(cold: ColdStore, tenant_id: str, month: str) -> tuple[str, dict]:
    """(URL, content) of the tenant's EDGAR manifest of ``month``; refused unless it names that tenant and month."""
    url = cold.url_of(f"{month_rel(tenant_id, month)}/manifest.json")
    path = cold.path_of(url)
    if not exists(cold.fs, path):
        raise RetentionError(f"{url}: no EDGAR manifest of {month} for tenant {tenant_id!r} in cold storage")
    with cold.fs.open_input_stream(path) as fin:
        manifest = json.loads(fin.read())
    got = (manifest.get("tenant_id"), manifest.get("month"), manifest.get("data_class"), manifest.get("table"))
    if got != (tenant_id, month, CLASS, TABLE):
        raise RetentionError(f"{url}: names (tenant, month, class, table) {got}, expected "
                             f"{(tenant_id, month, CLASS, TABLE)}; nothing restored")
    return url, manifest


def _check_file(cold: ColdStore, url: str, entry: dict) -> str:
    path = cold.path_of(url)
    if not exists(cold.fs, path):
        raise RetentionError(f"{url}: listed in the manifest but missing from cold storage; nothing restored")
    if sha256_of(cold.fs, path, SHA_CHUNK) != entry["sha256"]:
        raise RetentionError(f"{url}: sha256 differs from the manifest's {entry['sha256']}; nothing restored")
    if open_batch(cold, path).metadata.num_rows != entry["rows"]:
        raise RetentionError(f"{url}: row count differs from the manifest's {entry['rows']}; nothing restored")
    return path


def _check_rows(url: str, tenant_id: str, month: str, rows: list[dict]) -> None:
    """Every row's content recomputes to its own content_hash and id for this tenant, in this month."""
    for r in rows:
        doc = row_doc({**r, "tenant_id": tenant_id})
        if (doc.content_hash, doc.id, r["month"]) != (r["content_hash"], r["id"], month):
            raise RetentionError(f"{url}: document {r['id']} does not recompute to its content hash and id for "
                                 f"tenant {tenant_id!r} in {month} (changed, or another tenant's); nothing restored")


def restore_edgar_from_manifest(warehouse: Warehouse, tenant_id: str, month: str, cold_url: str, *,
                                actor: str = "cli:restore") -> ManifestRestoreReport:
    """Upsert the documents of every batch the manifest lists back, every file and row checked first."""
    cold = open_cold(cold_url)
    manifest_url, manifest = read_manifest(cold, tenant_id, month)
    report = ManifestRestoreReport(tenant_id, month, manifest_url)
    base = cold.url_of(month_rel(tenant_id, month))
    entries = [(f"{base}/{e['path']}", e) for e in manifest["files"] if e.get("status") in ("cold", "restored")]
    paths = [_check_file(cold, url, e) for url, e in entries]
    for (url, _), path in zip(entries, paths):  # every row checked before any is written
        for rows in iter_rows(cold, path):
            _check_rows(url, tenant_id, month, rows)
    with warehouse.session(tenant_id) as s:
        for (url, e), path in zip(entries, paths):
            for rows in iter_rows(cold, path):
                s.upsert(TABLE, rows)
                s.upsert(MEMBERS, [dict(id=r["id"], tier_batch=e["tier_batch"], month=month,
                                        content_hash=r["content_hash"]) for r in rows])
                report.rows += len(rows)
                report.verified += len(rows)
            c = s.table("cold_files")
            known = s.select("cold_files", c.c.id == e["tier_batch"])  # kept (its tiered_at) when still there
            s.upsert("cold_files", [{**(known[0] if known else dict(
                id=e["tier_batch"], data_class=CLASS, month=month, symbol="", tier_batch=e["tier_batch"],
                hot_path=f"warehouse:{TABLE}", cold_url=url, manifest_url=manifest_url, sha256=e["sha256"],
                bytes=e["bytes"], tiered_at=utcnow())), "status": "restored", "restored_at": utcnow()}])
            report.batches += 1
    _audit(warehouse, tenant_id, "restore", CLASS, month, actor,
           {"batches": report.batches, "rows": report.rows, "verified": report.verified, "cold_url": cold_url,
            "from_manifest": manifest_url})
    return report
