"""Warehouse storage: schema, tenant-scoped sessions, PostgreSQL partitions and RLS."""

from thunderline.partitioning import month_of_us
from thunderline.store import (
    drift_tables,  # noqa: F401  (registers drift_profiles, drift_reports on metadata)
    flow_tables,  # noqa: F401  (registers flow_state on metadata)
    ingress_tables,  # noqa: F401  (registers api_keys, outbox on metadata)
    learning_tables,  # noqa: F401  (labels, pnl, evaluation_metrics, promotion_events)
    ledger_tables,  # noqa: F401  (partition_steps, landed_content)
    retention_tables,  # noqa: F401  (cold_files, retention_audit, cold_edgar_members)
    source_tables,  # noqa: F401  (edgar_downloads: the EDGAR poller's queue)
)
from thunderline.store.schema import metadata
from thunderline.store.warehouse import TenantSession, TenantViolation, Warehouse, WarehouseError

__all__ = ["metadata", "Warehouse", "TenantSession", "TenantViolation", "WarehouseError", "month_of_us"]
