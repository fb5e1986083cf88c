"""The event times Thunderline has a home for: 2010-01 up to the end of the current UTC month.

Why a module: every month-partitioned asset (market month × symbol, EDGAR months, drift
reports) uses a Dagster partitions definition that starts in ``SUPPORTED_START`` and ends
with the month in progress. A time outside that range has no partition; turning it into a
partition key fails the run and every later run. Readers therefore check times against
:func:`supported_range_us` and quarantine the rows outside it, naming the rule.

The end moves with the wall clock (the month in progress is the last partition), so a
row that is "in the future" today is admitted once its month begins.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np

SUPPORTED_START = "2010-01-01"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
SUPPORTED_START_US = (dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc) - _EPOCH) // dt.timedelta(microseconds=1)


def supported_end_us(now_s: float | None = None) -> int:
    """Start of the month after the current UTC month, µs since the epoch (exclusive bound)."""
    now = dt.datetime.fromtimestamp(time.time() if now_s is None else now_s, tz=dt.timezone.utc)
    y, m = now.year + (now.month == 12), now.month % 12 + 1
    return (dt.datetime(y, m, 1, tzinfo=dt.timezone.utc) - _EPOCH) // dt.timedelta(microseconds=1)


def supported_range_us(now_s: float | None = None) -> tuple[int, int]:
    """[start, end) of the event times that have a partition, UTC µs."""
    return SUPPORTED_START_US, supported_end_us(now_s)


def out_of_range_reason(lo: int, hi: int) -> str:
    """The rule, in words, for a time outside [lo, hi)."""
    return (f"ts_supported_range: time must lie in [{_iso(lo)}, {_iso(hi)}) UTC "
            f"(partitions run from {SUPPORTED_START[:7]} to the current month)")


def _iso(us: int) -> str:
    return np.datetime_as_string(np.datetime64(int(us), "us"), unit="D")


def in_range(ts_us: np.ndarray, now_s: float | None = None) -> np.ndarray:
    lo, hi = supported_range_us(now_s)
    return (ts_us >= lo) & (ts_us < hi)


def partition_problem(label: str, now_s: float | None = None) -> str | None:
    """Why ``"YYYY-MM"`` or ``"YYYY-MM|SYMBOL"`` cannot be a partition (None when it can).

    The readers never produce such a label; this guards the step that turns landing-index
    entries into runs, so an entry written before these rules existed cannot block ingest.
    """
    from thunderline.identifiers import InvalidIdentifier, check_month, check_symbol

    month, sep, symbol = str(label).partition("|")
    try:
        check_month(month)
        if sep:
            check_symbol(symbol)
    except InvalidIdentifier as exc:
        return f"partition {label!r}: {exc.rule}"
    y, m = int(month[:4]), int(month[5:7])
    start = (dt.datetime(y, m, 1, tzinfo=dt.timezone.utc) - _EPOCH) // dt.timedelta(microseconds=1)
    lo, hi = supported_range_us(now_s)
    if not lo <= start < hi:
        return f"partition {label!r}: {out_of_range_reason(lo, hi)}"
    return None
