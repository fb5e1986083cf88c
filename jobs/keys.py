"""The names every Dagster piece agrees on: partitions, job names, run tags.

Almost a leaf: it imports only Dagster and ``thunderline.config`` (for the first month), so assets,
jobs, schedules and sensors can all import it without importing each other. One definition each, so keys always line up.

Market assets are month × symbol, symbols dynamic (added when first seen);
EDGAR assets and drift reports are monthly (the CIK is a column). Months start
at ``THUNDERLINE_FIRST_MONTH`` (default: the first month with data) and end at
``THUNDERLINE_LAST_MONTH`` (default: the current month when the data is recent, so live
data has a home, else the last month with data); with a data-derived start, the months in between
without data are no partitions (Dagster ``exclusions``), see
:func:`thunderline.flow.data_months.partitions_layout`: the UI shows the months that matter.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from thunderline.config import load_settings
from thunderline.flow.data_months import partitions_layout
from thunderline.timebounds import SUPPORTED_START

#: the first and the last month (thunderline.flow.data_months.partitions_span), never before the readers'
#: supported range (they quarantine earlier times, see thunderline.timebounds)
_START, _LAST, _GAPS = partitions_layout(load_settings(create_dirs=False))
PARTITIONS_START = max(SUPPORTED_START, _START)
PARTITIONS_LAST = max(PARTITIONS_START, _LAST)
#: months inside the span without data (no partition: the UI shows the months with data, see partitions_layout)
PARTITIONS_GAPS = tuple(m for m in _GAPS if PARTITIONS_START < m < PARTITIONS_LAST)
_EXCLUDED = [dt.datetime.fromisoformat(m).replace(tzinfo=dt.timezone.utc) for m in PARTITIONS_GAPS] or None
#: exclusive end: the month after the last (the current month's partition exists until then via end_offset)
_END = f"{int(PARTITIONS_LAST[:4]) + (PARTITIONS_LAST[5:7] == '12')}-{int(PARTITIONS_LAST[5:7]) % 12 + 1:02d}-01"

# Job names (sensors and the CLI launch jobs by name; the job modules define them).
MARKET_JOB = "market_partition_job"
EDGAR_JOB = "edgar_partition_job"
ROUTER_PROMOTION_JOB = "router_promotion_job"
LEARNING_LABELS_JOB = "learning_labels_job"
MONTHLY_RETRAIN_JOB = "monthly_retrain_job"
GATE_RETRAINING_JOB = "gate_retraining_job"

# Pools (Dagster op concurrency): the scale-out profile's dagster.yaml caps how many steps write the warehouse
# and how many load experts from MLflow at once, whatever the number of workers (thunderline deploy celery).
WAREHOUSE_POOL = "thunderline-warehouse"
MLFLOW_POOL = "thunderline-mlflow"

# Run tags.
MONTHLY_TAG = "thunderline/monthly_backfill"
PARTITION_TAG = "thunderline/partition"  # dagster.yaml limits runs per value to one: a partition never overlaps itself
TRIGGER_TAG = "thunderline/trigger"

months = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START, end_date=_END, end_offset=1, exclusions=_EXCLUDED)
symbols = dg.DynamicPartitionsDefinition(name="symbols")
month_symbol = dg.MultiPartitionsDefinition({"month": months, "symbol": symbols})


def month_symbol_key(month_start: str, symbol: str) -> dg.MultiPartitionKey:
    """``month_start`` is the month's first day, ``YYYY-MM-01``."""
    return dg.MultiPartitionKey({"month": month_start, "symbol": symbol})


def split_key(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(month as YYYY-MM, symbol) from a month × symbol partition key."""
    if not isinstance(key, dg.MultiPartitionKey):
        month, symbol = str(key).split("|")
        key = dg.MultiPartitionKey({"month": month, "symbol": symbol})
    dims = key.keys_by_dimension
    return dims["month"][:7], dims["symbol"]

#: Complete months only (no partition for the month in progress): training slices and NAS searches of the
#: learning loop look back from a month that has ended. Distinct from ``months`` on purpose, so the nightly
#: observability jobs (which pick up ``months`` assets) do not re-run a NAS search every night.
complete_months = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START, end_date=_END, end_offset=0,
                                                  exclusions=_EXCLUDED)


def in_range(month_starts: list[str], partitions: dg.PartitionsDefinition = months) -> list[str]:
    """The month keys (``YYYY-MM-01``) that are partitions: a schedule asking for a month after the last one (a
    historical dataset, see THUNDERLINE_LAST_MONTH) skips it instead of failing its tick."""
    return [m for m in month_starts if partitions.has_partition_key(m)]
