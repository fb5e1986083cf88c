"""The names every Dagster piece agrees on: partitions, job names, run tags.

Almost a leaf: it imports only Dagster and the core (for the first month), so assets, jobs, schedules and
sensors can all import it without importing each other. One definition each, so keys always line up.

Market assets are month × symbol, symbols dynamic (added when first seen);
EDGAR assets and drift reports are monthly (the CIK is a column). Months start
at ``THUNDERLINE_FIRST_MONTH`` (default: the first month with data) and end at
``THUNDERLINE_LAST_MONTH`` (default: the current month when the data is recent, so live
data has a home, else the last month with data); with a data-derived start, the months in between
without data are no partitions (Dagster ``exclusions``), see
:func:`thunderline.flow.data_months.partitions_layout`: the UI shows the months that matter.

Nothing here reads settings when imported: the monthly partitions depend on a :class:`Settings` (its
months, its lake and landing index), so :func:`build_partitions` makes them for the settings a
``Definitions`` is built for (``thunderline_assets.definitions.build_definitions``), and two
``Definitions`` built for two settings in one process carry their own months.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from thunderline.config import Settings
from thunderline.flow.data_months import partitions_layout
from thunderline.timebounds import SUPPORTED_START

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

symbols = dg.DynamicPartitionsDefinition(name="symbols")


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


@dataclass(frozen=True)
class Partitions:
    """The monthly partitions of one :class:`Settings` (:func:`build_partitions`).

    ``months`` runs to the current month (``end_offset=1``: live data has a home); ``complete_months``
    has no partition for the month in progress: training slices and NAS searches of the learning loop
    look back from a month that has ended. Distinct on purpose, so the nightly observability jobs (which
    pick up ``months`` assets) do not re-run a NAS search every night.
    """

    start: str  #: first month's first day, YYYY-MM-01, never before the readers' supported range
    last: str  #: last month's first day
    gaps: tuple[str, ...]  #: months inside the span without data (no partition, see partitions_layout)
    months: dg.MonthlyPartitionsDefinition
    complete_months: dg.MonthlyPartitionsDefinition
    month_symbol: dg.MultiPartitionsDefinition

    def in_range(self, month_starts: list[str], partitions: dg.PartitionsDefinition | None = None) -> list[str]:
        """The month keys (``YYYY-MM-01``) that are partitions of ``partitions`` (default ``months``): a
        schedule asking for a month after the last one (a historical dataset, see THUNDERLINE_LAST_MONTH)
        skips it instead of failing its tick."""
        partitions = partitions or self.months
        return [m for m in month_starts if partitions.has_partition_key(m)]


def build_partitions(settings: Settings) -> Partitions:
    """The months of ``settings`` (thunderline.flow.data_months.partitions_span: its months with data, or
    THUNDERLINE_FIRST_MONTH / THUNDERLINE_LAST_MONTH), read now: the lake's month directories and the
    landing index, so a Definitions built after an ingest indexed new months has them."""
    start, last, gaps = partitions_layout(settings)
    start = max(SUPPORTED_START, start)
    last = max(start, last)
    gaps = tuple(m for m in gaps if start < m < last)
    excluded = [dt.datetime.fromisoformat(m).replace(tzinfo=dt.timezone.utc) for m in gaps] or None
    # exclusive end: the month after the last (the current month's partition exists until then via end_offset)
    end = f"{int(last[:4]) + (last[5:7] == '12')}-{int(last[5:7]) % 12 + 1:02d}-01"
    months = dg.MonthlyPartitionsDefinition(start_date=start, end_date=end, end_offset=1, exclusions=excluded)
    complete = dg.MonthlyPartitionsDefinition(start_date=start, end_date=end, end_offset=0, exclusions=excluded)
    return Partitions(start, last, gaps, months, complete, dg.MultiPartitionsDefinition({"month": months,
                                                                                          "symbol": symbols}))
