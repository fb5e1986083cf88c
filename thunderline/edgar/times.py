"""EDGAR clock rules: every EDGAR time is US/Eastern wall-clock time; we store UTC µs.

Why this module exists: three sources give three shapes of the same instant and
two of them lie about their zone.

* SGML ``<ACCEPTANCE-DATETIME>20160412174428`` — naive, US/Eastern.
* submissions JSON ``"acceptanceDateTime": "2023-08-03T18:04:43.000Z"`` — the
  ``Z`` is **wrong**: the wall clock is US/Eastern (EDGAR opens 06:00 and closes
  22:00 Eastern; the hours in Apple's file run 06..22, 8-K earnings releases sit at
  16:30, and 10-Qs accepted at 18:0x carry the *next* day's filing date, which only
  the Eastern reading explains). ``tests/edgar/test_times.py`` checks this on the
  real file.
* companyfacts / bare documents: only a filing *date*. We then use the end of
  that day (23:59:59 US/Eastern), the earliest instant at which we are sure the
  filing was public, so a point-in-time join can never see it early.

The rule used is recorded as one of ``ACCEPTED_AT_RULES`` in ``EDGARDoc.meta``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

RULE_SGML = "sgml_acceptance_datetime"  # <ACCEPTANCE-DATETIME>, US/Eastern
RULE_SUBMISSIONS = "submissions_json_acceptance"  # acceptanceDateTime read as US/Eastern
RULE_FILED_EOD = "filed_date_end_of_day"  # 23:59:59 US/Eastern of the filing date
RULE_EXPLICIT = "explicit_accepted_at"  # passed by the caller (e.g. from an EDGAR index)
ACCEPTED_AT_RULES = (RULE_SGML, RULE_SUBMISSIONS, RULE_EXPLICIT, RULE_FILED_EOD)
#: Lower is more precise; used when documents of one filing disagree.
RULE_RANK = {RULE_SGML: 0, RULE_SUBMISSIONS: 0, RULE_EXPLICIT: 1, RULE_FILED_EOD: 2}


def to_us(ts: dt.datetime) -> int:
    """Aware datetime -> int µs since the Unix epoch (UTC)."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone first")
    delta = ts.astimezone(dt.timezone.utc) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=int(us))


def eastern_wall_to_us(wall: dt.datetime) -> int:
    """A naive US/Eastern wall-clock time -> UTC µs (fold=0 on the repeated autumn hour;
    EDGAR is closed between 22:00 and 06:00, so the ambiguity never arises in practice)."""
    if wall.tzinfo is not None:
        raise ValueError("expected a naive US/Eastern wall-clock time")
    return to_us(wall.replace(tzinfo=EASTERN))


def parse_sgml_acceptance(text: str) -> int:
    """``YYYYMMDDHHMMSS`` (US/Eastern) -> UTC µs. Raises ValueError on a malformed stamp."""
    s = text.strip()
    if len(s) != 14 or not s.isdigit():
        raise ValueError(f"ACCEPTANCE-DATETIME must be 14 digits YYYYMMDDHHMMSS, got {text!r}")
    return eastern_wall_to_us(dt.datetime.strptime(s, "%Y%m%d%H%M%S"))


def parse_submissions_acceptance(text: str) -> int:
    """submissions-JSON ``acceptanceDateTime`` -> UTC µs, reading the wall clock as US/Eastern
    and ignoring the (false) ``Z``/offset suffix."""
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1]
    wall = dt.datetime.fromisoformat(s)
    return eastern_wall_to_us(wall.replace(tzinfo=None))


def end_of_day_eastern_us(day: str | dt.date) -> int:
    """23:59:59 US/Eastern of ``day`` (ISO date) -> UTC µs."""
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return eastern_wall_to_us(dt.datetime(d.year, d.month, d.day, 23, 59, 59))


def start_of_day_eastern_us(day: str | dt.date) -> int:
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return eastern_wall_to_us(dt.datetime(d.year, d.month, d.day))


def sgml_date_to_iso(text: str) -> str:
    """``YYYYMMDD`` -> ``YYYY-MM-DD`` (ValueError if not a real date)."""
    s = text.strip()
    return dt.datetime.strptime(s, "%Y%m%d").date().isoformat()
