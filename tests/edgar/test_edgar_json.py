"""SEC JSON: submissions (acceptance times, US/Eastern -> UTC) and companyfacts (Snowflake)."""

from __future__ import annotations

import collections
import datetime as dt
import json
from decimal import Decimal

import pytest
from edgar_testdata import AAPL, SNOW, TENANT

from thunderline.edgar import EdgarParseError, parse_path
from thunderline.edgar.companyfacts import first_reported, parse_companyfacts, records_by_accession
from thunderline.edgar.submissions import parse_submissions_json
from thunderline.edgar.times import EASTERN, from_us, parse_submissions_acceptance

UTC = dt.timezone.utc


def test_submissions_acceptance_dst_and_standard_time(aapl_submissions):
    idx = aapl_submissions
    assert idx.cik == 320193 and idx.tickers == ["AAPL"] and len(idx.filings) == 1000
    k22 = idx.by_accession("0000320193-22-000108")  # 10-K FY2022, summer time (EDT, UTC-4)
    assert k22.acceptance_raw == "2022-10-27T18:01:14.000Z"
    assert from_us(k22.accepted_at_us) == dt.datetime(2022, 10, 27, 22, 1, 14, tzinfo=UTC)
    q1 = next(f for f in idx.filings if f.acceptance_raw == "2023-02-02T18:01:30.000Z")  # 10-Q, winter (EST, UTC-5)
    assert q1.form == "10-Q" and q1.filing_date == "2023-02-03"
    assert from_us(q1.accepted_at_us) == dt.datetime(2023, 2, 2, 23, 1, 30, tzinfo=UTC)


def test_submissions_z_suffix_is_eastern_wall_clock(aapl_submissions):
    """Evidence on the real file that SEC's 'Z' is false: read as UTC, 10-Qs accepted at 18:0x 'Z'
    would be 14:0x Eastern - before the 17:30 cut-off - yet carry the next day's filing date; read as
    Eastern, every 10-K/10-Q/8-K obeys the cut-off, and all acceptance hours lie in EDGAR's 06-22h."""
    hours = collections.Counter()
    consistent_et = consistent_utc = 0
    periodic = [f for f in aapl_submissions.filings if f.form in ("10-K", "10-Q")]
    for f in aapl_submissions.filings:
        hours[int(f.acceptance_raw[11:13])] += 1
    assert min(hours) >= 6 and max(hours) <= 22
    for f in periodic:
        wall = dt.datetime.fromisoformat(f.acceptance_raw[:19])
        as_utc = wall.replace(tzinfo=UTC).astimezone(EASTERN).replace(tzinfo=None)
        for t, bucket in ((wall, "et"), (as_utc, "utc")):
            day = t.date() + dt.timedelta(days=1) if t.time() > dt.time(17, 30) else t.date()
            while day.weekday() >= 5:
                day += dt.timedelta(days=1)
            ok = day.isoformat() == f.filing_date
            if bucket == "et":
                consistent_et += ok
            else:
                consistent_utc += ok
    assert consistent_et == len(periodic) == 42
    assert len(periodic) - consistent_utc == 18  # 18 of the 42 contradict the UTC reading


def test_parse_submissions_acceptance_ignores_suffix():
    a = parse_submissions_acceptance("2023-08-03T18:04:43.000Z")
    assert from_us(a) == dt.datetime(2023, 8, 3, 22, 4, 43, tzinfo=UTC)


def test_submissions_docs_and_lookup(aapl_submissions, edgar_dir):
    docs = parse_path(AAPL / "CIK0000320193.json", TENANT)
    assert {d.form for d in docs} <= {"10-K", "10-Q", "8-K", "8-K/A", "10-K/A", "10-Q/A"}
    assert all(d.doc_kind == "submissions_json" and d.cik == 320193 for d in docs)
    assert len([d for d in docs if d.form == "10-K"]) == 10
    assert aapl_submissions.lookup(cik=320193, form="10-K", report_date="2022-09-24").accession == "0000320193-22-000108"
    assert aapl_submissions.lookup(cik=1, form="10-K", report_date="2022-09-24") is None
    all_docs = parse_path(AAPL / "CIK0000320193.json", TENANT, forms=None)
    assert len(all_docs) == 1000


def test_submissions_malformed():
    with pytest.raises(EdgarParseError, match="unequal lengths"):
        parse_submissions_json({"cik": "1", "filings": {"recent": {"accessionNumber": ["a", "b"], "filingDate": ["2020-01-01"], "form": ["10-K", "10-K"]}}})
    with pytest.raises(EdgarParseError, match="numeric 'cik'"):
        parse_submissions_json({"cik": "abc", "filings": {"recent": {}}})


@pytest.fixture(scope="module")
def snow(edgar_dir):
    return parse_companyfacts((SNOW / "snow_facts.json").read_bytes(), "snow")


def test_companyfacts_records_and_dedup(snow):
    assert snow.cik == 1640147 and snow.entity_name == "SNOWFLAKE INC."
    assert len(snow.records) == 8163
    assert {r["concept"].split(":")[0] for r in snow.records} == {"dei", "us-gaap", "srt"}
    by = records_by_accession(snow.records)
    assert len(by) == 19
    first = first_reported(snow.records)
    assert len(first) == 4781  # one row per (concept, unit, period), from the earliest filing
    keys = collections.Counter((r["concept"], r["unit"], r["period_start"], r["period_end"]) for r in first)
    assert max(keys.values()) == 1
    # exact decimals, never floats: EPS values keep their digits
    eps = [r for r in snow.records if r["unit"] == "USD/shares"]
    assert eps and all(isinstance(r["value"], str) for r in eps)
    assert all(Decimal(r["value"]) == Decimal(r["value"]).normalize() or "." not in r["value"] for r in eps)


def test_companyfacts_docs_one_per_filing(edgar_dir):
    docs = parse_path(SNOW / "snow_facts.json", TENANT)
    assert len(docs) == 19
    assert sum(d.meta["records"] for d in docs) == 8163
    assert {d.form for d in docs} == {"10-K", "10-Q"}
    k = next(d for d in docs if d.accession == "0001640147-25-000052")
    assert k.form == "10-K" and k.period_of_report == "2025-01-31" and k.filed_date == "2025-03-21"
    assert k.meta["accepted_at_rule"] == "filed_date_end_of_day"
    assert from_us(k.accepted_at_us) == dt.datetime(2025, 3, 22, 3, 59, 59, tzinfo=UTC)  # 23:59:59 EDT
    assert all(d.cik == 1640147 and d.meta["cik_source"] == "companyfacts_json" for d in docs)
    facts = {(f["concept"], f["period_start"], f["period_end"]): f for f in k.xbrl_facts}
    assert facts[("us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax", "2024-02-01", "2025-01-31")]["value"] == "3626396000"


def test_companyfacts_json_parsed_with_decimals():
    payload = json.dumps({"cik": 5, "entityName": "X", "facts": {"us-gaap": {"EarningsPerShareBasic": {"units": {"USD/shares": [
        {"end": "2024-12-31", "start": "2024-01-01", "val": 0.1, "accn": "a", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2025-02-01"}]}}}}})
    cf = parse_companyfacts(payload.encode())
    assert cf.records[0]["value"] == "0.1"
    with pytest.raises(EdgarParseError, match="malformed record"):
        parse_companyfacts({"cik": 5, "facts": {"us-gaap": {"X": {"units": {"USD": [{"val": 1}]}}}}})
