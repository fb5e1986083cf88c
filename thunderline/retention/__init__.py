"""Retention and tiering: per-tenant horizons, lake months to cold storage and back, audited purges.

``thunderline.retention_policy`` parses THUNDERLINE_RETENTION (in the vocabulary layer, so ``config``
can read it); ``tiering`` moves a month's tick files to cold storage (``coldstore``: a directory or an
object store) with a manifest and a sha256 per file; ``edgar`` does the same for a month of the warehouse's
raw EDGAR documents (one zstd Parquet batch streamed a chunk at a time, rows deleted by the
(id, content hash) it holds once it is verified, each document's batch recorded for lineage); ``restore``
brings files back bit-identical;
``purge`` deletes past the keep horizon, only when asked, with an audit row per data class.
"""

from thunderline.retention.restore import RestoreReport, restore_month
from thunderline.retention.tiering import RetentionError, TierReport, tier_month
from thunderline.retention_policy import DATA_CLASSES, ClassPolicy, PolicyError, RetentionPolicy, parse_policy

__all__ = ["DATA_CLASSES", "ClassPolicy", "PolicyError", "RetentionPolicy", "parse_policy", "RestoreReport",
           "restore_month", "RetentionError", "TierReport", "tier_month"]
