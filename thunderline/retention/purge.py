"""Deletion past the retention horizon: explicit, logged, audited.

Why never automatic: deleting is the one retention step that cannot be undone, so nothing
schedules it. ``thunderline retention purge`` shows what the tenant's keep horizons
(THUNDERLINE_RETENTION ``…keep=DAYS``) would delete; ``--yes`` deletes it, logs each
class and writes one ``retention_audit`` row per data class (with the cut-off and the counts)
in the same transaction as the deletion. A class without a keep horizon is never touched.

What goes, per class: ``raw_ticks`` — the lake and cold files of months wholly before the
cut-off (their ``raw_tick_batches`` index rows stay, and ``cold_files`` says ``deleted``, so
lineage still resolves to what existed); ``raw_edgar`` — ``raw_edgar_docs`` rows of those
months and their cold batches (``cold_files`` says ``deleted``); ``features`` / ``decisions`` — windows and traces starting before the cut-off;
``lineage`` — edges recorded before it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from thunderline.partitioning import month_bounds_us
from thunderline.retention.coldstore import open_cold
from thunderline.retention.tiering import _hot_path, record_audit
from thunderline.retention_policy import DATA_CLASSES, RetentionPolicy
from thunderline.store.lake import Lake
from thunderline.store.schema import utcnow
from thunderline.store.warehouse import TenantSession, Warehouse

log = logging.getLogger(__name__)


@dataclass
class PurgeItem:
    data_class: str
    before: str  # YYYY-MM: everything of earlier months goes
    rows: int = 0
    files: int = 0


@dataclass
class PurgePlan:
    tenant_id: str
    items: list[PurgeItem] = field(default_factory=list)
    executed: bool = False


def cutoff_month(keep_days: int, today: dt.date) -> str:
    """The first month kept: months ending on or before ``today - keep_days`` are past the horizon."""
    return (today - dt.timedelta(days=keep_days)).strftime("%Y-%m")


def purge(warehouse: Warehouse, lake: Lake, tenant_id: str, policy: RetentionPolicy, cold_url: str, *,
          today: dt.date, execute: bool = False, actor: str = "cli:purge") -> PurgePlan:
    """Plan (``execute=False``) or carry out the deletions the tenant's keep horizons call for."""
    plan = PurgePlan(tenant_id, executed=execute)
    for klass in DATA_CLASSES:
        keep = policy.for_tenant(tenant_id, klass).keep_days
        if keep is None:
            continue
        item = PurgeItem(klass, cutoff_month(keep, today))
        with warehouse.session(tenant_id) as s:
            _PURGERS[klass](s, lake, cold_url, item, execute)
            if execute and (item.rows or item.files):
                record_audit(s, "purge", klass, item.before, actor,
                             {"before": item.before, "rows": item.rows, "files": item.files, "keep_days": keep},
                             utcnow())
        if execute and (item.rows or item.files):
            log.warning("purged %s %s before %s: %d rows, %d files (keep %d days)", tenant_id, klass, item.before,
                        item.rows, item.files, keep)
        plan.items.append(item)
    return plan


def _raw_ticks(s: TenantSession, lake: Lake, cold_url: str, item: PurgeItem, execute: bool) -> None:
    t = s.table("raw_tick_batches")
    batches = s.select("raw_tick_batches", t.c.month < item.before)
    c = s.table("cold_files")
    cold_rows = {r["id"]: r for r in s.select("cold_files", c.c.data_class == "raw_ticks", c.c.month < item.before)}
    live = [b for b in batches if cold_rows.get(b["id"], {}).get("status") != "deleted"]
    item.files = len(live)
    if not execute:
        return
    cold = open_cold(cold_url)
    now = utcnow()
    for b in live:
        _hot_path(lake, s.tenant_id, b).unlink(missing_ok=True)
        prior = cold_rows.get(b["id"])
        if prior is not None:
            try:
                cold.fs.delete_file(cold.path_of(prior["cold_url"]))
            except FileNotFoundError:
                pass
        s.upsert("cold_files", [dict(
            id=b["id"], data_class="raw_ticks", month=b["month"], symbol=b["symbol"],
            tier_batch=prior["tier_batch"] if prior else "", hot_path=b["path"],
            cold_url=prior["cold_url"] if prior else "", manifest_url=prior["manifest_url"] if prior else "",
            sha256=b["sha256"], bytes=prior["bytes"] if prior else 0, status="deleted",
            tiered_at=prior["tiered_at"] if prior else now, restored_at=None)])


def _rows(table: str, where) -> callable:
    def purger(s: TenantSession, lake: Lake, cold_url: str, item: PurgeItem, execute: bool) -> None:
        cond = where(s.table(table), item.before)
        item.rows = s.delete(table, cond) if execute else s.count(table, cond)
    return purger


def _raw_edgar(s: TenantSession, lake: Lake, cold_url: str, item: PurgeItem, execute: bool) -> None:
    """Hot ``raw_edgar_docs`` rows of those months, and their tiered batches (cold file deleted, row ``deleted``)."""
    _rows("raw_edgar_docs", lambda t, m: t.c.month < m)(s, lake, cold_url, item, execute)
    c = s.table("cold_files")
    batches = s.select("cold_files", c.c.data_class == "raw_edgar", c.c.month < item.before,
                       c.c.status.in_(["cold", "restored"]))
    item.files = len(batches)
    if not execute:
        return
    cold = open_cold(cold_url)
    for b in batches:
        try:
            cold.fs.delete_file(cold.path_of(b["cold_url"]))
        except FileNotFoundError:
            pass
        s.upsert("cold_files", [{**b, "status": "deleted"}])


_PURGERS = {
    "raw_ticks": _raw_ticks,
    "raw_edgar": _raw_edgar,
    "features": _rows("feature_windows", lambda t, m: t.c.window_start < month_bounds_us(m)[0]),
    "decisions": _rows("decision_traces", lambda t, m: t.c.window_start < month_bounds_us(m)[0]),
    "lineage": _rows("lineage_edges", lambda t, m: t.c.inserted_at < dt.datetime.fromisoformat(f"{m}-01T00:00:00+00:00")),
}


