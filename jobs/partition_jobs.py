"""Jobs that materialize one partition of a data path end to end.

Selected by asset group so that a new asset in a group joins its job without
editing this file. ``ingest``, the sensors and backfills launch these.
"""

from __future__ import annotations

import dagster as dg

from jobs.keys import EDGAR_JOB, MARKET_JOB

market_partition_job = dg.define_asset_job(
    MARKET_JOB,
    selection=dg.AssetSelection.groups("market", "decisions"),
    description="raw_ticks → market_feature_windows → decision_traces for one month × symbol.",
)

edgar_partition_job = dg.define_asset_job(
    EDGAR_JOB,
    selection=dg.AssetSelection.groups("edgar"),
    description="raw_filings → edgar_feature_windows for one month of acceptance times.",
)

JOBS = [market_partition_job, edgar_partition_job]
