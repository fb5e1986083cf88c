"""Months and partition labels: the one home of the calendar arithmetic every layer shares.

Time is int64 microseconds since the Unix epoch, UTC, computed in integers (no float
rounding at a month's last microsecond). A month is ``"YYYY-MM"``; where noted a Dagster
month key ``"YYYY-MM-01"`` is accepted too. A market partition label is ``"YYYY-MM|SYM"``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_US = dt.timedelta(microseconds=1)


def month_start(month: str) -> dt.date:
    """First day of ``"YYYY-MM"`` (or of the month of ``"YYYY-MM-DD"``)."""
    y, m = (int(x) for x in month.split("-")[:2])
    return dt.date(y, m, 1)


def month_bounds_us(month: str) -> tuple[int, int]:
    """``"2024-01"`` (or ``"2024-01-01"``) → [start, end) in UTC µs."""
    first = month_start(month)
    start = dt.datetime(first.year, first.month, 1, tzinfo=UTC)
    end = dt.datetime(first.year + (first.month == 12), first.month % 12 + 1, 1, tzinfo=UTC)
    return (start - _EPOCH) // _US, (end - _EPOCH) // _US


def month_of_us(ts_us: int) -> str:
    """``"YYYY-MM"`` of a UTC µs timestamp."""
    return (_EPOCH + dt.timedelta(microseconds=int(ts_us))).strftime("%Y-%m")


def months_of_us(ts_us: np.ndarray) -> np.ndarray:
    """``"YYYY-MM"`` per UTC µs timestamp (vectorised)."""
    return np.datetime_as_string(ts_us.astype("datetime64[us]"), unit="M")


def last_complete_month(t: dt.datetime) -> str:
    """``YYYY-MM-01`` of the month before the one ``t`` falls in (UTC)."""
    first = t.astimezone(UTC).date().replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1).isoformat()


def partition_label(month: str, symbol: str) -> str:
    """``"YYYY-MM|SYM"`` (``month`` may be a ``YYYY-MM-01`` month key)."""
    return f"{month[:7]}|{symbol}"


def split_label(label: str) -> tuple[str, str]:
    """(``"YYYY-MM"``, symbol) of a ``"YYYY-MM|SYM"`` label (or a ``"YYYY-MM-01|SYM"`` Dagster key string)."""
    month, sep, symbol = str(label).partition("|")
    if not sep or not symbol or "|" in symbol or len(month) < 7:
        raise ValueError(f"partition {label!r}: expected 'YYYY-MM|SYMBOL'")
    return month[:7], symbol


def symbol_bucket(symbol: str, buckets: int) -> int:
    """The bucket ``symbol`` falls in among ``buckets``: the first 8 bytes of its SHA-256, modulo ``buckets``.

    Why a content hash: a symbol's bucket never depends on which other symbols exist or on the order they
    arrived, so adding a listing moves nobody, and every host computes the same bucket. It is the second
    partition dimension of the bucketed design for more than ~4,000 symbols (docs/scaling.md, "Partitions
    that scale"), where months × symbols would pass Dagster's advised 100 k partitions per asset.
    """
    import hashlib

    if buckets < 1:
        raise ValueError(f"buckets={buckets}: expected at least 1")
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big") % buckets


def bucket_label(bucket: int, buckets: int) -> str:
    """``b007`` for bucket 7 of up to 1,000: fixed width, so labels sort as numbers."""
    return f"b{bucket:0{len(str(buckets - 1))}d}"
