"""Which months hold data: where the monthly partitions of the UI begin.

Read from what is cheap and always present: the lake's hive directories
(``tenant=*/ticks/month=YYYY-MM``, every tenant) and the landing index of the
configured tenant (tick and EDGAR partitions of every indexed file, so a first
``ingest`` sees its months before anything is materialized). Best effort: an
unreachable or missing warehouse contributes nothing, it never fails a load.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Callable, Iterable

from thunderline.config import _MONTH_RE, Settings

_MONTH_DIR = re.compile(r"^month=(\d{4}-\d{2})$")


def lake_months(lake_dir: Path) -> set[str]:
    """``YYYY-MM`` of every tick month directory in the lake, all tenants."""
    if not lake_dir.is_dir():
        return set()
    return {m.group(1) for d in lake_dir.glob("tenant=*/ticks/month=*") if (m := _MONTH_DIR.match(d.name))}


def indexed_months(partition_keys: Iterable[str]) -> set[str]:
    """Months of landing-index partition keys (``YYYY-MM|SYMBOL`` for ticks, ``YYYY-MM`` for EDGAR)."""
    return {str(k)[:7] for k in partition_keys if re.match(r"^\d{4}-\d{2}", str(k))}


def landing_index_months(settings: Settings) -> set[str]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from thunderline.store import Warehouse, WarehouseError

    url = make_url(settings.warehouse_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return set()
    wh = Warehouse(settings.warehouse_url)
    try:
        with wh.session(settings.tenant_id) as s:
            t = s.table("landing_files")
            rows = s.select("landing_files", t.c.status != "rejected", columns=["partitions"])
    except (WarehouseError, SQLAlchemyError):  # best effort by contract (module docstring): e.g. no schema yet
        return set()
    finally:
        wh.dispose()
    return indexed_months(k for r in rows for k in (r["partitions"] or []))


def months_with_data(settings: Settings) -> set[str]:
    return lake_months(settings.lake_dir) | landing_index_months(settings)


_months_in_home = months_with_data


def _month_start(month: str) -> str:
    return f"{month[:7]}-01"


def _this_month(today: dt.date | None) -> str:
    return (today or dt.datetime.now(dt.timezone.utc).date()).replace(day=1).isoformat()


def _previous_month(month_start: str) -> str:
    y, m = int(month_start[:4]), int(month_start[5:7])
    return f"{y - (m == 1):04d}-{(m - 2) % 12 + 1:02d}-01"


def partitions_start(settings: Settings, months_with_data: Callable[[Settings], Iterable[str]] | None = None,
                     today: dt.date | None = None) -> str:
    """First day (``YYYY-MM-01``) of the first monthly partition.

    Why not a fixed year: a partition per month since 2010 is hundreds of empty
    partitions in the UI. ``THUNDERLINE_FIRST_MONTH`` wins; otherwise the first
    month with data (``months_with_data``, default
    :func:`thunderline.flow.data_months.months_with_data`); with no data at all,
    the current month (UTC) — live data always has a home.
    """
    return partitions_span(settings, months_with_data, today)[0]


def partitions_end(settings: Settings, months_with_data: Callable[[Settings], Iterable[str]] | None = None,
                   today: dt.date | None = None) -> str:
    """First day (``YYYY-MM-01``) of the last monthly partition: see :func:`partitions_span`."""
    return partitions_span(settings, months_with_data, today)[1]


def partitions_span(settings: Settings, months_with_data: Callable[[Settings], Iterable[str]] | None = None,
                    today: dt.date | None = None) -> tuple[str, str]:
    """(first, last) monthly partition as ``YYYY-MM-01``: see :func:`partitions_layout`."""
    first, last, _ = partitions_layout(settings, months_with_data, today)
    return first, last


def _month_starts(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}-01" <= last:
        out.append(f"{y:04d}-{m:02d}-01")
        y, m = y + (m == 12), m % 12 + 1
    return out


def partitions_layout(settings: Settings, months_with_data: Callable[[Settings], Iterable[str]] | None = None,
                      today: dt.date | None = None) -> tuple[str, str, list[str]]:
    """(first, last, gaps): the monthly partitions' span and the months inside it that are no partition.

    Gaps: when the first month comes from the data (no ``THUNDERLINE_FIRST_MONTH``), the months between the
    first and the last without data, except the current month (live data needs a home) — a dataset with
    filings in 2024-02 and 2025-02..05 shows five partitions, not sixteen mostly empty ones. A pinned first
    month keeps every month of the span (whoever pins it wants those partitions, e.g. to backfill them).
    """
    this_month = _this_month(today)
    found = sorted({m[:7] for m in (months_with_data or _months_in_home)(settings) if _MONTH_RE.match(m)})
    first, last = _span(settings, found, this_month)
    if settings.first_month:
        return first, last, []
    have = {_month_start(m) for m in found} | {this_month}
    return first, last, [m for m in _month_starts(first, last) if m not in have]


def _span(settings: Settings, found: list[str], this_month: str) -> tuple[str, str]:
    """(first, last) monthly partition as ``YYYY-MM-01``, reading the months with data once.

    The last: ``THUNDERLINE_LAST_MONTH`` (a month, or ``current``); otherwise the current
    month when the data is recent (its last month is this month or the one before: a live
    deployment, whose new data needs a home), else the last month with data — a historical
    dataset (the demo's 2025, a research month of 2012) ends where its data ends instead of
    trailing empty months up to today. No data at all: the current month. Never before the first.
    """
    first = _month_start(settings.first_month) if settings.first_month else \
        (_month_start(found[0]) if found else this_month)
    if settings.last_month == "current":
        last = this_month
    elif settings.last_month:
        last = _month_start(settings.last_month)
    elif not found or _month_start(found[-1]) >= _previous_month(this_month):
        last = this_month
    else:
        last = _month_start(found[-1])
    return first, max(first, last)
